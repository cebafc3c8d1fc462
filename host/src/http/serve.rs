//! Serving HTTP with a plugin: `wasmtrace serve`.
//!
//! A plugin that exports `wasi:http/incoming-handler` (the `wasi:http/proxy`
//! world) handles HTTP/1.1 and HTTP/2 (h2c) requests, one fresh instance per request, from
//! the component the [`Runtime`] compiled and pre-instantiated once. The
//! plugin runs on the runtime's synchronous engine and linker (the sync
//! `wasi:http` bindings), each call on a Tokio blocking thread, so a plugin
//! may serve and call `wasi:http/outgoing-handler` exactly as with
//! `wasmtrace run`, under the same fuel, deadline and memory limits.
//!
//! Each request is traced:
//!
//! ```text
//! GET                          kind Server, a child of the incoming trace
//! │                            context (W3C `traceparent`/`tracestate`,
//! │                            `baggage`, as OTEL_PROPAGATORS says; missing
//! │                            or invalid: a new trace)
//! └── invoke <plugin>          the invocation, as `Runtime::invoke` records it
//!     └── ...                  the guest's spans
//!         └── POST             outgoing wasi:http requests: client spans,
//!                              with the trace headers injected
//! ```
//!
//! The server span follows the HTTP semantic conventions: named after the
//! method (`HTTP` for a non-standard one; plugins have no route template to
//! add), with `http.request.method`, `url.path`, `url.query`, `url.scheme`,
//! `server.address`, `server.port`, `network.peer.address`,
//! `network.peer.port`, `user_agent.original` and
//! `http.response.status_code`; its status is Error for 5xx responses only,
//! and when the guest crashed. A guest that traps, runs out of fuel or
//! passes its deadline before answering gives a 500; its open spans are
//! ended as `Runtime::invoke` ends them. The server span ends when the
//! guest's handler returned (the response body may still be on its way).

use crate::budget::Budget;
use crate::runtime::{Invocation, Plugin, PluginState, Shared};
use crate::{InvocationError, Runtime};
use anyhow::bail;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use wasmtime::Store;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// The export the invocation span names.
const EXPORT: &str = "wasi:http/incoming-handler.handle";

/// How long [`HttpServer::serve`] waits for requests in flight after the
/// shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What the guest answered through its `response-outparam`.
type GuestResponse = Result<hyper::Response<HyperOutgoingBody>, ErrorCode>;

/// Serves HTTP requests with a `wasi:http/proxy` plugin, tracing each one
/// as a server span (see the [module documentation](self)).
pub struct HttpServer {
    shared: Arc<Shared>,
    plugin: Plugin,
}

impl std::fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServer")
            .field("plugin", &self.plugin)
            .finish_non_exhaustive()
    }
}

/// HTTP/1.1 and HTTP/2 on the same port: h2c with prior knowledge (a
/// connection that opens with the HTTP/2 preface) or HTTP/1.1, whose
/// `Upgrade: h2c` requests are served over HTTP/1.1 (hyper does not
/// implement the h2c upgrade, which RFC 9113 deprecates).
fn connection_builder() -> hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor> {
    let mut builder =
        hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    // The timer lets hyper enforce its header-read timeout (slowloris) and
    // HTTP/2 keep-alive.
    builder.http1().timer(hyper_util::rt::TokioTimer::new());
    builder.http2().timer(hyper_util::rt::TokioTimer::new());
    builder
}

impl HttpServer {
    /// A server for `plugin`, loaded by `runtime`; an error if the plugin
    /// does not export `wasi:http/incoming-handler`.
    pub fn new(runtime: &Runtime, plugin: &Plugin) -> anyhow::Result<Self> {
        if plugin.proxy_pre().is_none() {
            bail!(
                "plugin {:?} does not export wasi:http/incoming-handler (the wasi:http/proxy world), so it cannot serve HTTP; use `wasmtrace run`",
                plugin.identity().name
            );
        }
        Ok(Self {
            shared: runtime.shared().clone(),
            plugin: plugin.clone(),
        })
    }

    /// Accepts HTTP/1.1 and HTTP/2 (h2c) connections on `listener` until `shutdown`
    /// completes, then stops accepting, lets the requests in flight finish
    /// (for up to [`SHUTDOWN_GRACE`]) and returns. Must run inside a
    /// multi-threaded Tokio runtime.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let local = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut connections = tokio::task::JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                accepted = listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(accepted) => accepted,
                        Err(err) => {
                            eprintln!("wasmtrace serve: accept failed: {err}");
                            // E.g. out of file descriptors: do not spin.
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    // Without it, Nagle's algorithm holds back a response
                    // written in more than one segment until the client's
                    // delayed ACK (~40 ms): every request of a keep-alive
                    // client at low concurrency would wait that long.
                    if let Err(err) = stream.set_nodelay(true) {
                        eprintln!("wasmtrace serve: TCP_NODELAY: {err}");
                    }
                    let server = self.clone();
                    let mut stopped = stopped.clone();
                    connections.spawn(async move {
                        let service = hyper::service::service_fn(move |req| {
                            let server = server.clone();
                            async move { Ok::<_, Infallible>(server.handle(req, peer, local).await) }
                        });
                        let builder = connection_builder();
                        let conn = builder.serve_connection(
                            hyper_util::rt::TokioIo::new(stream),
                            service,
                        );
                        tokio::pin!(conn);
                        tokio::select! {
                            _ = conn.as_mut() => {}
                            () = async { drop(stopped.wait_for(|s| *s).await) } => {
                                conn.as_mut().graceful_shutdown();
                                let _ = conn.await;
                            }
                        }
                    });
                }
            }
        }
        drop(listener);
        let _ = stop.send(true);
        let drained = async { while connections.join_next().await.is_some() {} };
        if tokio::time::timeout(SHUTDOWN_GRACE, drained).await.is_err() {
            eprintln!(
                "wasmtrace serve: {} connections still busy after {SHUTDOWN_GRACE:?}; closing them",
                connections.len()
            );
        }
        Ok(())
    }

    /// Handles one request: extracts the incoming trace context, starts the
    /// server span, runs a fresh instance of the plugin on a blocking thread
    /// and returns its response (a 500 if it crashed or gave none).
    pub async fn handle(
        self: &Arc<Self>,
        mut req: hyper::Request<Incoming>,
        peer: SocketAddr,
        local: SocketAddr,
    ) -> hyper::Response<HyperOutgoingBody> {
        // wasi:http needs an authority; HTTP/1.0 clients may send no Host.
        if req.uri().authority().is_none()
            && !req.headers().contains_key(http::header::HOST)
            && let Ok(host) = http::HeaderValue::from_str(&local.to_string())
        {
            req.headers_mut().insert(http::header::HOST, host);
        }
        // Every value of every header, names as received: the propagators
        // compare names case-insensitively and reject a repeated
        // `traceparent`. A value that is not visible ASCII is skipped.
        let carrier: Vec<(String, String)> = req
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let parent = self.shared.propagators.extract(&carrier);
        let (name, mut attributes) = request_attributes(&req, peer, local);
        attributes.push(KeyValue::new(
            crate::sampling::ATTR_PLUGIN_NAME,
            self.plugin.identity().name.clone(),
        ));
        let tracer = &self.shared.host_tracer;
        let span = tracer
            .span_builder(name)
            .with_kind(SpanKind::Server)
            .with_attributes(attributes)
            .start_with_context(tracer, &parent);
        let cx = crate::propagation::mark_new_trace(&parent, parent.with_span(span));

        let (tx, rx) = tokio::sync::oneshot::channel();
        let server = self.clone();
        // Detached: it ends the spans whether or not the client waits.
        drop(tokio::task::spawn_blocking(move || {
            server.run_guest(req, &cx, tx)
        }));
        match rx.await {
            Ok(Ok(response)) => response,
            // The guest answered with an error code, crashed or never
            // answered.
            Ok(Err(_)) | Err(_) => internal_error(),
        }
    }

    /// Runs the guest's handler for `req` in a fresh instance under the
    /// server span `cx`, sends its response on `tx`, and ends the spans.
    fn run_guest(
        &self,
        req: hyper::Request<Incoming>,
        cx: &Context,
        tx: tokio::sync::oneshot::Sender<GuestResponse>,
    ) {
        // What the guest answered: the status, or the error code.
        let answered: Arc<Mutex<Option<Result<u16, String>>>> = Arc::default();
        let invocation = Invocation {
            parent: Some(cx.clone()),
            call_depth: 0,
            span_depth: 0,
            budget: Budget::new(self.plugin.limits(), self.shared.config.deadline),
            fuel: self.shared.config.fuel,
        };
        let (mut store, invocation) =
            self.shared
                .begin_invocation(&self.plugin, invocation, EXPORT);
        let result = self.call_guest(&mut store, req, tx, answered.clone());
        let outcome = self
            .shared
            .finish_invocation(
                store,
                &invocation,
                result.map(|()| Ok(String::new())),
                false,
            )
            .outcome;
        // The store is gone: an outparam the guest never set was dropped
        // with it, and the client got a 500.
        let answered = answered.lock().unwrap_or_else(|e| e.into_inner()).take();
        let span = cx.span();
        let status = match &answered {
            Some(Ok(status)) => *status,
            _ => 500,
        };
        span.set_attribute(KeyValue::new(
            "http.response.status_code",
            i64::from(status),
        ));
        let error = match (&outcome, &answered) {
            (Err(InvocationError::Crashed(failure)), _) => Some((
                failure.kind.clone(),
                format!("the plugin crashed: {}", failure.message),
            )),
            (_, Some(Err(code))) => Some((
                "500".to_owned(),
                format!("the plugin answered with an error: {code}"),
            )),
            (_, None) => Some((
                "500".to_owned(),
                "the plugin did not set a response".to_owned(),
            )),
            _ if status >= 500 => Some((status.to_string(), format!("HTTP {status}"))),
            _ => None,
        };
        if let Some((error_type, message)) = error {
            span.set_attribute(KeyValue::new("error.type", error_type));
            span.set_status(Status::error(message));
        }
        span.end();
    }

    /// Instantiates the plugin in `store` and calls its handler.
    fn call_guest(
        &self,
        store: &mut Store<PluginState>,
        req: hyper::Request<Incoming>,
        tx: tokio::sync::oneshot::Sender<GuestResponse>,
        answered: Arc<Mutex<Option<Result<u16, String>>>>,
    ) -> wasmtime::Result<()> {
        let pre = self
            .plugin
            .proxy_pre()
            .expect("HttpServer::new checked the export");
        let (request, response) = {
            let mut http = store.data_mut().http();
            let request = http.new_incoming_request(Scheme::Http, req)?;
            let response = http.new_response_outparam_from_callback(move |response| {
                let seen = match &response {
                    Ok(r) => Ok(r.status().as_u16()),
                    Err(code) => Err(format!("{code:?}")),
                };
                *answered.lock().unwrap_or_else(|e| e.into_inner()) = Some(seen);
                // The client may be gone already.
                let _ = tx.send(response);
            })?;
            (request, response)
        };
        let proxy = pre.instantiate(&mut *store)?;
        proxy
            .wasi_http_incoming_handler()
            .call_handle(&mut *store, request, response)
    }
}

/// The server span's name and request attributes, per the HTTP semantic
/// conventions.
fn request_attributes(
    req: &hyper::Request<Incoming>,
    peer: SocketAddr,
    local: SocketAddr,
) -> (String, Vec<KeyValue>) {
    use http::Method;
    let method = req.method();
    let known = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
        Method::PATCH,
        Method::TRACE,
        Method::CONNECT,
    ]
    .contains(method);
    let mut attributes = Vec::with_capacity(12);
    let name = if known {
        attributes.push(KeyValue::new("http.request.method", method.to_string()));
        method.to_string()
    } else {
        attributes.push(KeyValue::new("http.request.method", "_OTHER"));
        attributes.push(KeyValue::new(
            "http.request.method_original",
            method.to_string(),
        ));
        "HTTP".to_owned()
    };
    attributes.push(KeyValue::new("url.path", req.uri().path().to_owned()));
    if let Some(query) = req.uri().query() {
        attributes.push(KeyValue::new("url.query", query.to_owned()));
    }
    attributes.push(KeyValue::new("url.scheme", "http"));
    // The server as the client named it (Host), else the local address.
    let authority = req
        .uri()
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| {
            req.headers()
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        })
        .and_then(|a| a.parse::<http::uri::Authority>().ok());
    let (address, port) = match &authority {
        Some(a) => (
            a.host()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            a.port_u16().unwrap_or(80),
        ),
        None => (local.ip().to_string(), local.port()),
    };
    attributes.push(KeyValue::new("server.address", address));
    attributes.push(KeyValue::new("server.port", i64::from(port)));
    attributes.push(KeyValue::new("network.peer.address", peer.ip().to_string()));
    attributes.push(KeyValue::new("network.peer.port", i64::from(peer.port())));
    attributes.push(KeyValue::new(
        "network.protocol.version",
        match req.version() {
            http::Version::HTTP_10 => "1.0",
            http::Version::HTTP_2 => "2",
            _ => "1.1",
        },
    ));
    if let Some(agent) = req
        .headers()
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
    {
        attributes.push(KeyValue::new("user_agent.original", agent.to_owned()));
    }
    (name, attributes)
}

/// The 500 sent when the plugin crashed or gave no response.
fn internal_error() -> hyper::Response<HyperOutgoingBody> {
    let body = Full::new(Bytes::from_static(b"internal server error\n"))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut response = hyper::Response::new(body);
    *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain"),
    );
    response
}
