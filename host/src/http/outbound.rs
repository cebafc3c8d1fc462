//! The allow list and the traced `send_request` hook.

use crate::ctx::WasmtraceCtx;
use bytes::Bytes;
use http::uri::{Authority, Scheme};
use http::{HeaderName, HeaderValue, Request, Response};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::SdkTracer;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

/// Which hosts plugins may send HTTP requests to.
///
/// Entries are exact (no wildcards), host names compared case-insensitively:
///
/// - `HOST:PORT` (`api.example.com:8443`, `127.0.0.1:8080`, `[::1]:8080`)
///   allows that host on that port only, over `http` or `https`;
/// - `HOST` alone allows that host on the default port of the request's
///   scheme only (80 for `http`, 443 for `https`).
///
/// An empty list (the default) denies every request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    /// Lowercase host (IPv6 in brackets) and port, `None` for the default.
    entries: Vec<(String, Option<u16>)>,
}

impl AllowedHosts {
    /// Parses entries as `--allow-http` takes them. An entry with a scheme,
    /// a path, user info, a wildcard or a bad port is an error.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> anyhow::Result<Self> {
        let mut parsed = Vec::new();
        for entry in entries {
            let entry = entry.as_ref().trim();
            let bad = |why: &str| {
                anyhow::anyhow!(
                    "allowed HTTP host {entry:?}: {why} (expected HOST or HOST:PORT, e.g. api.example.com or 127.0.0.1:8080)"
                )
            };
            if entry.is_empty() {
                return Err(bad("empty"));
            }
            if entry.contains("://") || entry.contains('/') {
                return Err(bad("give the host only, without a scheme or path"));
            }
            if entry.contains('*') {
                return Err(bad("wildcards are not supported"));
            }
            if entry.contains('@') {
                return Err(bad("user info is not allowed"));
            }
            let authority: Authority = entry.parse().map_err(|_| bad("not a host"))?;
            if authority.host().is_empty() {
                return Err(bad("no host"));
            }
            // No user info, so the authority is the host, then ":PORT" or nothing.
            let rest = &authority.as_str()[authority.host().len()..];
            let port = match (rest, authority.port_u16()) {
                ("", _) => None,
                (_, Some(port)) if port != 0 => Some(port),
                _ => return Err(bad("invalid port")),
            };
            parsed.push((authority.host().to_ascii_lowercase(), port));
        }
        Ok(Self { entries: parsed })
    }

    /// Whether nothing is allowed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether a request to `host` (as in a URI: IPv6 in brackets) on `port`
    /// is allowed; `default_port` is the port of the request's scheme.
    pub fn allows(&self, host: &str, port: u16, default_port: u16) -> bool {
        self.entries
            .iter()
            .any(|(h, p)| h.eq_ignore_ascii_case(host) && p.unwrap_or(default_port) == port)
    }
}

/// How a store's outbound `wasi:http` requests are traced and which hosts
/// they may reach. Cheap to clone; give it to
/// [`WasmtraceCtxBuilder::with_outbound_http`](crate::WasmtraceCtxBuilder::with_outbound_http):
/// the store's [`WasmtraceCtx`] is then its `WasiHttpHooks`.
///
/// For each request, a [`SpanKind::Client`] span named after the method
/// (`GET`, or `HTTP` for a non-standard one) starts as a child of the
/// guest's current context, admitted by the store's span budget like the
/// guest's own spans, with `http.request.method`, `url.full` (user info
/// redacted), `server.address` and `server.port`; the trace headers of that
/// span are written into the request, replacing any the guest set. Then:
///
/// - a host not on the list: the request is not sent, the guest gets
///   `HTTP-request-denied`, and the span has status Error and
///   `error.type="HttpRequestDenied"`;
/// - a connection or protocol failure: status Error and `error.type` the
///   wasi:http error code (e.g. `ConnectionRefused`);
/// - a response: `http.response.status_code`, `network.protocol.version`,
///   and `http.response.body.size` from `Content-Length` when present; 4xx
///   and 5xx give status Error and `error.type` the status code.
///
/// The span stays open while the guest reads the response body and ends when
/// the body is complete (then `http.response.body.size` is the number of
/// bytes received), fails, or is dropped unread. Every timeout is bounded by
/// the invocation's deadline: a guest blocked in the host cannot be
/// interrupted by the epoch deadline, so the host times the request out.
#[derive(Clone)]
pub struct OutboundHttp {
    tracer: SdkTracer,
    allowed: Arc<AllowedHosts>,
}

impl std::fmt::Debug for OutboundHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundHttp")
            .field("allowed", &self.allowed)
            .finish_non_exhaustive()
    }
}

impl OutboundHttp {
    /// Client spans recorded with `tracer`, requests sent only to `allowed`
    /// hosts.
    pub fn new(tracer: SdkTracer, allowed: AllowedHosts) -> Self {
        Self {
            tracer,
            allowed: Arc::new(allowed),
        }
    }
}

/// HTTP methods the semantic conventions know; others are `_OTHER`.
const KNOWN_METHODS: &[&str] = &[
    "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE", "QUERY",
];

type SendResult = Result<
    (
        Response<WasiBody>,
        Box<dyn Future<Output = Result<(), Error>> + Send>,
    ),
    Error,
>;

impl WasiHttpHooks for WasmtraceCtx {
    fn send_request(
        &mut self,
        mut request: Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        drop(fut);
        let Some(http) = self.http.clone() else {
            return Box::new(async { Err(Error::HttpRequestDenied) });
        };
        let uri = request.uri();
        let https = uri.scheme() == Some(&Scheme::HTTPS);
        let default_port = if https { 443 } else { 80 };
        let host = uri.host().unwrap_or_default().to_owned();
        let port = uri.port_u16().unwrap_or(default_port);
        let method = request.method().as_str();
        let known = KNOWN_METHODS.contains(&method);
        let mut attributes = vec![
            KeyValue::new(
                "http.request.method",
                if known {
                    method.to_owned()
                } else {
                    "_OTHER".to_owned()
                },
            ),
            KeyValue::new("url.full", redacted_url(uri)),
            KeyValue::new(
                "server.address",
                host.trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_owned(),
            ),
            KeyValue::new("server.port", i64::from(port)),
        ];
        if !known {
            attributes.push(KeyValue::new(
                "http.request.method_original",
                method.to_owned(),
            ));
        }
        let name = if known {
            method.to_owned()
        } else {
            "HTTP".to_owned()
        };
        let table = &mut self.table;
        let span = match table.admit_host_span(None) {
            Some(parent) => {
                table.host_span_ended();
                let span = http
                    .tracer
                    .span_builder(name)
                    .with_kind(SpanKind::Client)
                    .with_attributes(attributes)
                    .start_with_context(&http.tracer, &parent.cx);
                let cx = parent.cx.with_span(span);
                ClientSpan::new(crate::propagation::mark_new_trace(&parent.cx, cx))
            }
            // Past the span budget the request still goes, untraced, and
            // carries the guest's current context on.
            None => ClientSpan::new(table.current_context()),
        };

        if !http.allowed.allows(&host, port, default_port) {
            let allow = if port == default_port {
                host.clone()
            } else {
                format!("{host}:{port}")
            };
            span.fail(
                "HttpRequestDenied",
                format!(
                    "outbound HTTP to {host}:{port} is not allowed (allow it with --allow-http {allow})"
                ),
            );
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }

        let remaining = table.budget.time_left();
        if remaining.is_some_and(|r| r.is_zero()) {
            span.fail(
                "ConnectionTimeout",
                "the invocation's deadline passed before the request".to_owned(),
            );
            return Box::new(async { Err(Error::ConnectionTimeout) });
        }
        let options = bound_options(options, remaining);

        for (key, value) in table.propagators.inject(&span.cx) {
            if let (Ok(k), Ok(v)) = (HeaderName::try_from(key), HeaderValue::try_from(value)) {
                request.headers_mut().insert(k, v);
            }
        }

        Box::new(async move {
            let sent = wasmtime_wasi_http::default_send_request(request, options);
            // Connecting and waiting for the head each have the remaining
            // time; together they must not have more (give or take a grace
            // that lets the more specific timeout of the two report first).
            let sent = match remaining {
                Some(r) => tokio::time::timeout(r + Duration::from_millis(50), sent)
                    .await
                    .unwrap_or(Err(Error::ConnectionTimeout)),
                None => sent.await,
            };
            match sent {
                Ok((response, io)) => {
                    let mut span = span;
                    span.response(&response);
                    let response = response.map(|body| {
                        TracedBody {
                            inner: body.boxed_unsync(),
                            span: Some(span),
                            received: 0,
                        }
                        .boxed_unsync()
                    });
                    Ok((response, Box::new(io) as Box<dyn Future<Output = _> + Send>))
                }
                Err(err) => {
                    span.fail(error_type(&err), err.to_string());
                    Err(err)
                }
            }
        })
    }
}

/// `options` with every timeout at most `remaining` (the guest's own are
/// kept when shorter).
fn bound_options(
    options: Option<RequestOptions>,
    remaining: Option<Duration>,
) -> Option<RequestOptions> {
    let Some(remaining) = remaining else {
        return options;
    };
    let options = options.unwrap_or_default();
    let bound = |t: Option<Duration>| Some(t.map_or(remaining, |t| t.min(remaining)));
    Some(RequestOptions {
        connect_timeout: bound(options.connect_timeout),
        first_byte_timeout: bound(options.first_byte_timeout),
        between_bytes_timeout: bound(options.between_bytes_timeout),
    })
}

/// The URL with any user info replaced, as the semantic conventions ask.
fn redacted_url(uri: &http::Uri) -> String {
    match uri.authority() {
        Some(a) if a.as_str().contains('@') => {
            let rest = &a.as_str()[a.as_str().rfind('@').map_or(0, |i| i + 1)..];
            let mut url = String::new();
            if let Some(s) = uri.scheme_str() {
                url.push_str(s);
                url.push_str("://");
            }
            url.push_str("REDACTED:REDACTED@");
            url.push_str(rest);
            url.push_str(uri.path_and_query().map_or("", |p| p.as_str()));
            url
        }
        _ => uri.to_string(),
    }
}

/// A low-cardinality `error.type`: the name of the wasi:http error code the
/// guest gets.
fn error_type(err: &Error) -> String {
    match err {
        Error::Connect(io) => match io.kind() {
            std::io::ErrorKind::AddrNotAvailable => "DnsError",
            _ if io.to_string().starts_with("failed to lookup address") => "DnsError",
            _ => "ConnectionRefused",
        }
        .to_owned(),
        Error::Hyper(_) => "HttpProtocolError".to_owned(),
        Error::Tls(_) => "TlsProtocolError".to_owned(),
        Error::InvalidDnsNameError(_) => "DnsError".to_owned(),
        other => {
            let debug = format!("{other:?}");
            debug
                .split(['(', ' ', '{'])
                .next()
                .unwrap_or("_OTHER")
                .to_owned()
        }
    }
}

/// A client span that is ended exactly once: explicitly, or when dropped
/// (a request abandoned before its response, e.g. the store was dropped).
struct ClientSpan {
    cx: Context,
    ended: bool,
    /// The response's `Content-Length`, recorded as the body size when the
    /// body is not read to the end.
    content_length: Option<i64>,
}

impl ClientSpan {
    fn new(cx: Context) -> Self {
        Self {
            cx,
            ended: false,
            content_length: None,
        }
    }

    /// Marks the span failed and ends it.
    fn fail(mut self, error_type: impl Into<String>, message: String) {
        let span = self.cx.span();
        span.set_attribute(KeyValue::new("error.type", error_type.into()));
        span.set_status(Status::error(message));
        self.end();
    }

    /// Records what the response headers say.
    fn response<B>(&mut self, response: &Response<B>) {
        let span = self.cx.span();
        let status = response.status();
        span.set_attribute(KeyValue::new(
            "http.response.status_code",
            i64::from(status.as_u16()),
        ));
        let version = match response.version() {
            http::Version::HTTP_09 => "0.9",
            http::Version::HTTP_10 => "1.0",
            http::Version::HTTP_11 => "1.1",
            http::Version::HTTP_2 => "2",
            http::Version::HTTP_3 => "3",
            _ => "",
        };
        if !version.is_empty() {
            span.set_attribute(KeyValue::new("network.protocol.version", version));
        }
        let length = response
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<i64>().ok());
        self.content_length = length;
        if status.is_client_error() || status.is_server_error() {
            span.set_attribute(KeyValue::new("error.type", status.as_str().to_owned()));
            span.set_status(Status::error(format!("HTTP {status}",)));
        }
    }

    /// Ends the span, with the body size when known.
    fn end(&mut self) {
        if !self.ended {
            self.ended = true;
            let span = self.cx.span();
            if let Some(size) = self.content_length {
                span.set_attribute(KeyValue::new("http.response.body.size", size));
            }
            span.end();
        }
    }
}

impl Drop for ClientSpan {
    fn drop(&mut self) {
        if !self.ended {
            let span = self.cx.span();
            span.set_attribute(KeyValue::new("error.type", "cancelled"));
            span.set_status(Status::error(
                "the request was abandoned before its response",
            ));
            self.end();
        }
    }
}

/// A response body that keeps the client span open until it is read to the
/// end, fails, or is dropped.
struct TracedBody {
    inner: WasiBody,
    span: Option<ClientSpan>,
    received: u64,
}

impl Body for TracedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        let poll = Pin::new(&mut this.inner).poll_frame(cx);
        match &poll {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                }
            }
            Poll::Ready(Some(Err(err))) => {
                if let Some(span) = this.span.take() {
                    span.fail(error_type(err), format!("reading the response body: {err}"));
                }
            }
            Poll::Ready(None) => {
                if let Some(mut span) = this.span.take() {
                    span.content_length = Some(i64::try_from(this.received).unwrap_or(i64::MAX));
                    span.end();
                }
            }
            Poll::Pending => {}
        }
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for TracedBody {
    fn drop(&mut self) {
        // Dropped unread (or partly read): not an error of the request.
        if let Some(mut span) = self.span.take() {
            span.end();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AllowedHosts;

    #[test]
    fn entries_are_exact_hosts_and_ports() {
        let allowed =
            AllowedHosts::parse(&["api.example.com", "127.0.0.1:8080", "[::1]:9000", "[::2]"])
                .unwrap();
        assert!(allowed.allows("api.example.com", 443, 443));
        assert!(allowed.allows("API.example.com", 80, 80));
        assert!(!allowed.allows("api.example.com", 8443, 443));
        assert!(!allowed.allows("www.example.com", 443, 443));
        assert!(allowed.allows("127.0.0.1", 8080, 80));
        assert!(!allowed.allows("127.0.0.1", 8081, 80));
        assert!(!allowed.allows("127.0.0.1", 80, 80));
        assert!(allowed.allows("[::1]", 9000, 80));
        assert!(allowed.allows("[::2]", 80, 80));
        assert!(!AllowedHosts::default().allows("localhost", 80, 80));
    }

    #[test]
    fn bad_entries_are_errors() {
        for bad in [
            "",
            "http://example.com",
            "example.com/path",
            "*.example.com",
            "user@example.com",
            "example.com:port",
            "example.com:99999",
        ] {
            assert!(AllowedHosts::parse(&[bad]).is_err(), "{bad:?}");
        }
    }
}
