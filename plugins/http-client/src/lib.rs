//! The http-client plugin: the guide's "HTTP client" pattern. It sends a
//! `GET` through `wasi:http/outgoing-handler` inside an `http.request` span
//! and reports the status and the size of the body.
//!
//! Trace shape (under the host's invocation span):
//!
//! ```text
//! http.request        http.request.method, url.full, server.address, server.port;
//! │                   then http.response.status_code, http.response.body.size
//! │                   (or error.type, status Error + `exception` event)
//! └── GET             the host's client span (kind Client): the same
//!                     attributes, as the host saw the request and response
//! ```
//!
//! The plugin does not write trace headers itself: the host injects
//! `traceparent` (and `tracestate`, `baggage` as `OTEL_PROPAGATORS` says)
//! into every `wasi:http` request, naming its `GET` client span as the
//! parent, so the server's spans join this trace. A guest that speaks HTTP
//! over raw sockets instead would add `wasmtrace_sdk::trace_headers()` to its
//! request.
//!
//! Input: the URL to `GET` (`http://` or `https://`). Outbound HTTP is off by
//! default: the host must allow the host with `wasmtrace run --allow-http
//! HOST[:PORT]`. With no input the plugin fetches `http://example.com/`,
//! which, unless the operator allowed `example.com`, the host denies without
//! touching the network: that run shows the error path (`http.request` and
//! `GET` with status Error, `error.type="HttpRequestDenied"`, an `exception`
//! event on `http.request`) and the CLI exits 1.
//!
//! A response with status 4xx or 5xx is an error too (`error.type` is the
//! status code, as the HTTP semantic conventions say for client spans); its
//! body is still read and counted.

use std::fmt;

use wasi::http::outgoing_handler;
use wasi::http::types::{ErrorCode, Fields, Method, OutgoingRequest, Scheme};
use wasi::io::streams::StreamError;
use wasmtrace_sdk::{Span, attrs};

/// What the plugin fetches when run with no input.
const DEFAULT_URL: &str = "http://example.com/";

/// How much of the body the output shows.
const PREVIEW_CHARS: usize = 60;

/// Why a request failed.
#[derive(Debug)]
enum HttpError {
    /// The input is not an `http(s)://host[:port]/path` URL.
    InvalidUrl(String),
    /// The request could not be made (the host's `wasi:http` error code).
    Request(ErrorCode),
    /// The server answered with 4xx or 5xx.
    Status(u16),
    /// The response body could not be read.
    Body(String),
}

impl HttpError {
    /// The `error.type` attribute: low-cardinality, per the conventions.
    fn error_type(&self) -> String {
        match self {
            Self::InvalidUrl(_) => "InvalidUrl".to_owned(),
            Self::Request(code) => {
                // `ErrorCode::HttpRequestDenied`, `ErrorCode::DnsError(..)`:
                // the variant's name.
                let debug = format!("{code:?}");
                let name = debug.split(['(', ' ', '{']).next().unwrap_or_default();
                name.rsplit("::").next().unwrap_or(name).to_owned()
            }
            Self::Status(code) => code.to_string(),
            Self::Body(_) => "ResponseBody".to_owned(),
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidUrl(why) => write!(f, "invalid URL: {why}"),
            Self::Request(ErrorCode::HttpRequestDenied) => write!(
                f,
                "the host denied the request (allow it with `wasmtrace run --allow-http HOST[:PORT]`)"
            ),
            Self::Request(_) => write!(f, "request failed: {}", self.error_type()),
            Self::Status(code) => write!(f, "the server answered HTTP {code}"),
            Self::Body(why) => write!(f, "reading the response body failed: {why}"),
        }
    }
}

impl std::error::Error for HttpError {}

/// A URL split the way `wasi:http` takes it.
struct Url<'a> {
    https: bool,
    authority: &'a str,
    host: &'a str,
    port: u16,
    path_with_query: &'a str,
}

fn parse_url(url: &str) -> Result<Url<'_>, HttpError> {
    let (https, rest) = if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else {
        return Err(HttpError::InvalidUrl(format!(
            "{url:?} does not start with http:// or https://"
        )));
    };
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    if authority.is_empty() {
        return Err(HttpError::InvalidUrl(format!("{url:?} has no host")));
    }
    let default_port = if https { 443 } else { 80 };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => {
            let port = port
                .parse()
                .map_err(|_| HttpError::InvalidUrl(format!("bad port in {url:?}")))?;
            (host, port)
        }
        _ => (authority, default_port),
    };
    Ok(Url {
        https,
        authority,
        host: host.trim_start_matches('[').trim_end_matches(']'),
        port,
        path_with_query: if path.is_empty() { "/" } else { path },
    })
}

/// A received response: its status and body.
struct Response {
    status: u16,
    body: Vec<u8>,
}

/// Sends `GET url` through `wasi:http` and reads the whole body.
fn get(url: &Url<'_>) -> Result<Response, HttpError> {
    let request = OutgoingRequest::new(Fields::new());
    let invalid = |what: &str| HttpError::InvalidUrl(format!("the host rejected the {what}"));
    request
        .set_method(&Method::Get)
        .map_err(|()| invalid("method"))?;
    request
        .set_scheme(Some(if url.https {
            &Scheme::Https
        } else {
            &Scheme::Http
        }))
        .map_err(|()| invalid("scheme"))?;
    request
        .set_authority(Some(url.authority))
        .map_err(|()| invalid("authority"))?;
    request
        .set_path_with_query(Some(url.path_with_query))
        .map_err(|()| invalid("path"))?;

    let pending = outgoing_handler::handle(request, None).map_err(HttpError::Request)?;
    pending.subscribe().block();
    let response = pending
        .get()
        .ok_or_else(|| HttpError::Body("the response never arrived".to_owned()))?
        .map_err(|()| HttpError::Body("the response was already taken".to_owned()))?
        .map_err(HttpError::Request)?;
    let status = response.status();

    let body = response
        .consume()
        .map_err(|()| HttpError::Body("no body".to_owned()))?;
    let stream = body
        .stream()
        .map_err(|()| HttpError::Body("no body stream".to_owned()))?;
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(err)) => {
                return Err(HttpError::Body(err.to_debug_string()));
            }
        }
    }
    drop(stream);
    drop(wasi::http::types::IncomingBody::finish(body));
    Ok(Response {
        status,
        body: bytes,
    })
}

fn handle(input: String) -> Result<String, String> {
    let url = match input.trim() {
        "" => DEFAULT_URL,
        url => url,
    };
    let span = Span::builder("http.request")
        .attributes(attrs! {
            "http.request.method" => "GET",
            "url.full" => url,
        })
        .start();

    let result = parse_url(url).and_then(|parsed| {
        span.set_attributes(attrs! {
            "server.address" => parsed.host,
            "server.port" => i64::from(parsed.port),
        });
        let response = get(&parsed)?;
        span.set_attributes(attrs! {
            "http.response.status_code" => i64::from(response.status),
            "http.response.body.size" => i64::try_from(response.body.len()).unwrap_or(i64::MAX),
        });
        if response.status >= 400 {
            return Err(HttpError::Status(response.status));
        }
        Ok(response)
    });

    match result {
        Ok(response) => {
            let text = String::from_utf8_lossy(&response.body);
            let preview: String = text.chars().take(PREVIEW_CHARS).collect();
            let more = if text.chars().count() > PREVIEW_CHARS {
                "..."
            } else {
                ""
            };
            Ok(format!(
                "GET {url}: HTTP {}, {} bytes: {}{more}",
                response.status,
                response.body.len(),
                preview.trim_end()
            ))
        }
        Err(error) => {
            span.set_attribute("error.type", error.error_type());
            span.record_error(&error);
            span.set_error(&error);
            Err(format!("GET {url}: {error}"))
        }
    }
}

wasmtrace_sdk::plugin!(handle);
