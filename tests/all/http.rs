//! Outbound HTTP (`wasi:http`) from plugins: the `http-client` plugin run
//! through the `wasmtrace` binary against a real local HTTP server, with the
//! trace exported over OTLP/gRPC to the in-process receiver.
//!
//! What is asserted: the host's client span (`GET`, kind Client) nests under
//! the guest's `http.request` span in one trace; the server receives a
//! `traceparent` naming that client span; status code and body size are
//! integer attributes; 5xx responses and hosts that are not allowed are
//! errors on both spans.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use wasmtrace_test_artifacts::HTTP_CLIENT;
use wasmtrace_test_support::{
    AttrValue, OtlpReceiver, ReceivedSpan, SpanKind, SpanTree, StatusCode, Transport,
};

use crate::cli::wasmtrace;

const WAIT: Duration = Duration::from_secs(20);

/// The body `/ok` answers with.
const OK_BODY: &str = "hello from the test server\n";

/// How long `/slow` takes to answer: far past any deadline in the tests.
const SLOW: Duration = Duration::from_secs(30);

/// A request the test server received: its path and headers (lowercase
/// names).
#[derive(Clone, Debug)]
pub(crate) struct Received {
    pub(crate) path: String,
    pub(crate) headers: BTreeMap<String, String>,
}

/// A local HTTP/1.1 server on 127.0.0.1: `/ok` answers 200 with
/// [`OK_BODY`], `/fail` answers 500, anything else 404. It records every
/// request and stops when dropped.
pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    _runtime: tokio::runtime::Runtime,
}

impl TestServer {
    pub(crate) fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let log = received.clone();
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let log = log.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let log = log.clone();
                        async move {
                            if req.uri().path() == "/slow" {
                                tokio::time::sleep(SLOW).await;
                            }
                            Ok::<_, Infallible>(answer(&req, &log))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            received,
            _runtime: runtime,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `--allow-http` for this server.
    pub(crate) fn allow(&self) -> String {
        self.addr.to_string()
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn answer(req: &Request<Incoming>, log: &Mutex<Vec<Received>>) -> Response<Full<Bytes>> {
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    log.lock().unwrap().push(Received {
        path: req.uri().path().to_owned(),
        headers,
    });
    let (status, body) = match req.uri().path() {
        "/ok" => (200, OK_BODY),
        "/fail" => (500, "boom\n"),
        _ => (404, "not found\n"),
    };
    Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

/// A finished run of the plugin exported over OTLP/gRPC.
struct Run {
    out: Output,
    spans: Vec<ReceivedSpan>,
}

impl Run {
    fn tree(&self) -> SpanTree<'_> {
        SpanTree::new(&self.spans)
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }

    /// The spans of the expected tree, checked: one trace, `invoke
    /// http-client` > `http.request` > `GET` (a client span).
    #[track_caller]
    fn spans(&self) -> (&ReceivedSpan, &ReceivedSpan, &ReceivedSpan) {
        let tree = self.tree();
        assert_eq!(
            tree.render_redacted(),
            "invoke http-client\n  http.request\n    GET\n",
            "stderr:\n{}",
            self.stderr()
        );
        tree.assert_single_trace();
        let invoke = tree.find("invoke http-client").unwrap();
        let request = tree.find("http.request").unwrap();
        let client = tree.find("GET").unwrap();
        assert_eq!(
            request.parent_span_id.as_deref(),
            Some(invoke.span_id.as_str())
        );
        assert_eq!(
            client.parent_span_id.as_deref(),
            Some(request.span_id.as_str())
        );
        assert_eq!(client.kind, SpanKind::Client);
        assert_eq!(client.scope.name, "wasmtrace", "host work, host scope");
        assert_eq!(request.scope.name, "http-client");
        assert!(
            client.duplicate_attribute_keys.is_empty(),
            "{:?}",
            client.duplicate_attribute_keys
        );
        (invoke, request, client)
    }
}

/// Runs `wasmtrace run http-client.wasm <args>` exporting to a fresh
/// receiver; returns once the invocation span arrived.
fn run(args: &[&str]) -> Run {
    let rx = OtlpReceiver::start().unwrap();
    let mut argv = vec!["run", HTTP_CLIENT];
    argv.extend_from_slice(args);
    let out = wasmtrace(&argv, &rx.exporter_env(Transport::Grpc));
    let spans = rx
        .wait_for_spans(|s| s.iter().any(|s| s.name == "invoke http-client"), WAIT)
        .unwrap_or_else(|e| panic!("{e}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr)));
    assert!(rx.errors().is_empty(), "{:?}", rx.errors());
    Run { out, spans }
}

fn str_attr<'a>(span: &'a ReceivedSpan, key: &str) -> Option<&'a str> {
    span.attr(key).and_then(AttrValue::as_str)
}

fn int_attr(span: &ReceivedSpan, key: &str) -> Option<i64> {
    span.attr(key).and_then(AttrValue::as_i64)
}

/// The request attributes both spans carry.
#[track_caller]
fn assert_request_attributes(span: &ReceivedSpan, url: &str, port: u16) {
    assert_eq!(
        str_attr(span, "http.request.method"),
        Some("GET"),
        "{}",
        span.name
    );
    assert_eq!(str_attr(span, "url.full"), Some(url), "{}", span.name);
    assert_eq!(
        str_attr(span, "server.address"),
        Some("127.0.0.1"),
        "{}",
        span.name
    );
    assert_eq!(
        int_attr(span, "server.port"),
        Some(i64::from(port)),
        "{}",
        span.name
    );
}

#[test]
fn get_nests_a_client_span_under_the_guest_span_and_propagates_it() {
    let server = TestServer::start();
    let url = server.url("/ok");
    let run = run(&["--allow-http", &server.allow(), "--input", &url]);
    assert!(run.out.status.success(), "stderr:\n{}", run.stderr());
    let stdout = String::from_utf8_lossy(&run.out.stdout);
    assert!(stdout.contains("HTTP 200"), "{stdout}");
    assert!(stdout.contains("hello from the test server"), "{stdout}");

    let (_, request, client) = run.spans();
    let size = OK_BODY.len() as i64;
    for span in [request, client] {
        assert_request_attributes(span, &url, server.addr.port());
        assert_eq!(
            span.attr("http.response.status_code"),
            Some(&AttrValue::Int(200)),
            "{}",
            span.name
        );
        assert_eq!(
            span.attr("http.response.body.size"),
            Some(&AttrValue::Int(size)),
            "{}",
            span.name
        );
        assert_eq!(span.status_code, StatusCode::Unset, "{}", span.name);
        assert_eq!(span.attr("error.type"), None, "{}", span.name);
    }
    // The client span lasts until the body was read: it ends after it
    // started and within the guest's span.
    assert!(client.end_time_unix_nano >= client.start_time_unix_nano);
    assert!(client.end_time_unix_nano <= request.end_time_unix_nano);

    // The server saw the client span as the parent, in the same trace.
    let received = server.received();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].path, "/ok");
    let traceparent = received[0]
        .headers
        .get("traceparent")
        .unwrap_or_else(|| panic!("no traceparent: {:?}", received[0].headers));
    // Sampled, and random (W3C Level 2): the host started the trace.
    assert_eq!(
        traceparent,
        &format!("00-{}-{}-03", client.trace_id, client.span_id)
    );
}

#[test]
fn a_server_error_marks_both_spans_failed() {
    let server = TestServer::start();
    let url = server.url("/fail");
    let run = run(&["--allow-http", &server.allow(), "--input", &url]);
    assert!(!run.out.status.success());
    assert!(run.stderr().contains("HTTP 500"), "{}", run.stderr());

    let (invoke, request, client) = run.spans();
    for span in [request, client] {
        assert_request_attributes(span, &url, server.addr.port());
        assert_eq!(
            span.attr("http.response.status_code"),
            Some(&AttrValue::Int(500)),
            "{}",
            span.name
        );
        assert_eq!(
            span.attr("http.response.body.size"),
            Some(&AttrValue::Int(5))
        );
        assert_eq!(span.status_code, StatusCode::Error, "{}", span.name);
        assert_eq!(str_attr(span, "error.type"), Some("500"), "{}", span.name);
    }
    assert!(request.event("exception").is_some(), "{:?}", request.events);
    assert_eq!(invoke.status_code, StatusCode::Error);
    assert_eq!(server.received().len(), 1);
}

/// A request cannot outlive the invocation's `--timeout-ms`: the epoch
/// deadline cannot interrupt a guest blocked in the host, so the host bounds
/// the request itself.
#[test]
fn a_request_is_bounded_by_the_invocation_deadline() {
    let server = TestServer::start();
    let url = server.url("/slow");
    let started = Instant::now();
    let run = run(&[
        "--allow-http",
        &server.allow(),
        // Long enough for a loaded machine to reach the request (else the
        // connect, not the response, is what times out), far below SLOW.
        "--timeout-ms",
        "3000",
        "--input",
        &url,
    ]);
    assert!(!run.out.status.success());
    // The server answers after SLOW; the run must not have waited for it.
    assert!(
        started.elapsed() < SLOW / 2,
        "took {:?}; stderr:\n{}",
        started.elapsed(),
        run.stderr()
    );
    let (_, _, client) = run.spans();
    assert_eq!(client.status_code, StatusCode::Error);
    // What wasi:http calls a timeout waiting for the response.
    assert_eq!(
        str_attr(client, "error.type"),
        Some("ConnectionReadTimeout")
    );
}

#[test]
fn a_host_that_is_not_allowed_is_denied_and_recorded_as_an_error() {
    let server = TestServer::start();
    let url = server.url("/ok");
    // Another port of the same host is not this one.
    let other = format!("127.0.0.1:{}", server.addr.port().wrapping_add(1).max(1));
    let run = run(&["--allow-http", &other, "--input", &url]);
    assert!(!run.out.status.success());
    assert!(run.stderr().contains("denied"), "{}", run.stderr());
    assert!(server.received().is_empty(), "{:?}", server.received());

    let (_, request, client) = run.spans();
    for span in [request, client] {
        assert_request_attributes(span, &url, server.addr.port());
        assert_eq!(span.status_code, StatusCode::Error, "{}", span.name);
        assert_eq!(
            str_attr(span, "error.type"),
            Some("HttpRequestDenied"),
            "{}",
            span.name
        );
        assert_eq!(span.attr("http.response.status_code"), None);
    }
    assert!(
        client.status_message.contains("not allowed"),
        "{}",
        client.status_message
    );
    let exception = request.event("exception").expect("exception event");
    assert!(
        exception
            .attr("exception.message")
            .and_then(AttrValue::as_str)
            .is_some_and(|m| m.contains("denied")),
        "{exception:?}"
    );
}

#[test]
fn with_no_input_and_no_allowed_hosts_the_default_request_is_denied() {
    // The default URL (example.com) is denied before any connection: no
    // network needed.
    let run = run(&[]);
    assert!(!run.out.status.success());
    let (_, request, client) = run.spans();
    assert_eq!(str_attr(client, "url.full"), Some("http://example.com/"));
    assert_eq!(str_attr(client, "server.address"), Some("example.com"));
    assert_eq!(int_attr(client, "server.port"), Some(80));
    for span in [request, client] {
        assert_eq!(span.status_code, StatusCode::Error, "{}", span.name);
        assert_eq!(str_attr(span, "error.type"), Some("HttpRequestDenied"));
    }
}

#[test]
fn an_invalid_allow_http_entry_is_a_clear_error() {
    let out = wasmtrace(
        &["run", HTTP_CLIENT, "--allow-http", "http://127.0.0.1:8080/"],
        &[("OTEL_TRACES_EXPORTER", "none".to_owned())],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error:") && stderr.contains("without a scheme"),
        "{stderr}"
    );
}
