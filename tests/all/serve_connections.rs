//! `wasmtrace serve` as clients connect to it: a keep-alive HTTP/1.1 client
//! gets each response without waiting on a delayed ACK, HTTP/2 with prior
//! knowledge (h2c) is served and traced like HTTP/1.1, and nothing of one
//! request is visible to the next (memory or telemetry).

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use wasmtrace_test_artifacts::{HELLO_HTTP, TRACE_CONTEXT_SERVICE};
use wasmtrace_test_support::{AttrValue, OtlpReceiver, SpanKind, SpanTree};

use crate::serve::Served;

const WAIT: Duration = Duration::from_secs(30);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn get(served: &Served, path: &str) -> hyper::Request<Empty<Bytes>> {
    hyper::Request::get(format!("http://{}{path}", served.addr()))
        .body(Empty::new())
        .unwrap()
}

/// Sends `requests` one after another on one keep-alive HTTP/1.1
/// connection; returns each answer's status and how long it took.
async fn keep_alive(served: &Served, requests: usize) -> Vec<(u16, Duration)> {
    let stream = tokio::net::TcpStream::connect(served.addr()).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut answers = Vec::new();
    for _ in 0..requests {
        let started = Instant::now();
        let response = sender.send_request(get(served, "/state?x")).await.unwrap();
        let status = response.status().as_u16();
        response.into_body().collect().await.unwrap();
        answers.push((status, started.elapsed()));
    }
    answers
}

/// Linux delays an ACK by at least 40 ms; with Nagle's algorithm on, a
/// response written as a head and then a body waits for it on every
/// request of a keep-alive connection. The median of 20 requests is far
/// below that once TCP_NODELAY is set, and at or above it otherwise, on any
/// machine that can serve a request in well under 40 ms.
#[test]
fn a_keep_alive_client_does_not_wait_on_delayed_acks() {
    let rx = OtlpReceiver::start().unwrap();
    let served = Served::plugin(TRACE_CONTEXT_SERVICE, &[], &rx);
    let answers = runtime().block_on(keep_alive(&served, 20));
    assert!(
        answers.iter().all(|(status, _)| *status == 200),
        "{answers:?}"
    );
    let mut times: Vec<Duration> = answers.iter().map(|(_, t)| *t).collect();
    times.sort();
    let median = times[times.len() / 2];
    assert!(
        median < Duration::from_millis(30),
        "median {median:?} per request on one keep-alive connection (the delayed-ACK stall is \
         40 ms): {times:?}\nstderr:\n{}",
        served.stderr()
    );
}

/// An HTTP/2 client with prior knowledge (no upgrade) is answered over
/// HTTP/2, and the request is traced with the same server span.
#[test]
fn http2_with_prior_knowledge_is_served_and_traced() {
    let rx = OtlpReceiver::start().unwrap();
    let mut served = Served::plugin(TRACE_CONTEXT_SERVICE, &[], &rx);
    let (version, status, body) = runtime().block_on(async {
        let stream = tokio::net::TcpStream::connect(served.addr()).await.unwrap();
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(conn);
        let response = sender
            .send_request(get(&served, "/state?h2"))
            .await
            .unwrap();
        let version = response.version();
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (version, status, String::from_utf8_lossy(&body).into_owned())
    });
    assert_eq!((version, status), (hyper::Version::HTTP_2, 200), "{body}");
    assert_eq!(body, "calls=0 held=");
    served.stop("TERM");
    let spans = rx.wait_for_span_count(3, WAIT).unwrap();
    let server = spans
        .iter()
        .find(|s| s.kind == SpanKind::Server)
        .unwrap_or_else(|| panic!("no server span in {spans:#?}"));
    assert_eq!(server.name, "GET");
    assert_eq!(
        server.attr("url.path"),
        Some(&AttrValue::String("/state".into()))
    );
    assert_eq!(
        server.attr("network.protocol.version"),
        Some(&AttrValue::String("2".into()))
    );
    let state = spans
        .iter()
        .find(|s| s.name == "state")
        .expect("the state span");
    assert_eq!(state.trace_id, server.trace_id);
}

/// Two requests on one connection, the second after the first stored a
/// value in its instance's memory: the second sees fresh memory, and its
/// spans are in their own trace with nothing of the first's.
#[test]
fn nothing_of_one_request_is_visible_to_the_next() {
    let rx = OtlpReceiver::start().unwrap();
    let mut served = Served::plugin(TRACE_CONTEXT_SERVICE, &[], &rx);
    let bodies = runtime().block_on(async {
        let stream = tokio::net::TcpStream::connect(served.addr()).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        let mut bodies = Vec::new();
        for secret in ["first-secret", "second"] {
            let response = sender
                .send_request(get(&served, &format!("/state?{secret}")))
                .await
                .unwrap();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            bodies.push(String::from_utf8_lossy(&body).into_owned());
        }
        bodies
    });
    assert_eq!(bodies, ["calls=0 held=", "calls=0 held="]);
    served.stop("TERM");
    let spans = rx.wait_for_span_count(6, WAIT).unwrap();
    let states: Vec<_> = spans.iter().filter(|s| s.name == "state").collect();
    assert_eq!(states.len(), 2, "{spans:#?}");
    assert_ne!(states[0].trace_id, states[1].trace_id);
    for state in &states {
        assert_eq!(
            state.attr("state.seen"),
            Some(&AttrValue::String("calls=0 held=".into()))
        );
        let in_trace = spans.iter().filter(|s| s.trace_id == state.trace_id);
        for span in in_trace {
            let leaked = span
                .attributes
                .values()
                .any(|v| matches!(v, AttrValue::String(s) if s.contains("first-secret")));
            let own = state.attr("state.stored") == Some(&AttrValue::String("first-secret".into()));
            assert!(
                !leaked || own,
                "{span:#?} carries the other request's value"
            );
        }
    }
}

/// A component with nothing but `wasi:http/proxy` (no wasmtrace import, as
/// `wasmtime serve` runs it: the serve bench's component) is served, and
/// each request is still traced: its server span and invocation span (named
/// after the file: the component has no identity section).
#[test]
fn a_plain_wasi_http_component_is_served_and_traced() {
    let rx = OtlpReceiver::start().unwrap();
    let mut served = Served::plugin(HELLO_HTTP, &[], &rx);
    let (status, length, body) = runtime().block_on(async {
        let stream = tokio::net::TcpStream::connect(served.addr()).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        let response = sender.send_request(get(&served, "/")).await.unwrap();
        let status = response.status().as_u16();
        let length = response.headers().get("content-length").cloned();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, length, String::from_utf8_lossy(&body).into_owned())
    });
    assert_eq!((status, body.as_str()), (200, "hello, world\n"));
    assert_eq!(length.as_ref().map(|v| v.as_bytes()), Some(&b"13"[..]));
    served.stop("TERM");
    let spans = rx.wait_for_span_count(2, WAIT).unwrap();
    let tree = SpanTree::new(&spans);
    assert_eq!(tree.render_redacted(), "GET\n  invoke hello_http\n");
    assert_eq!(tree.roots()[0].kind, SpanKind::Server);
}
