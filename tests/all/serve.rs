//! `wasmtrace serve`: the `trace-context-service` plugin served by the
//! `wasmtrace` binary (a child process on an ephemeral port), called over
//! raw HTTP/1.1 (so that header-name case, repeated headers and whitespace
//! reach the server as written), calling back a local HTTP server that
//! records the trace headers it receives, with the trace exported over
//! OTLP/gRPC to the in-process receiver.
//!
//! What is asserted: the server span continues the incoming trace and the
//! plugin's spans and the outgoing client span nest under it; the callback
//! carries the incoming trace id, the client span's id and the incoming
//! `tracestate`; cases of the W3C Trace Context test suite (main branch,
//! Level 2; `w3c_suite.rs` runs the suite itself: invalid `traceparent`s
//! restart the trace with the random flag set, a future version is
//! accepted, the random flag is propagated, bad `tracestate`s are dropped,
//! Level 2 keys and repeated keys are kept, header names are
//! case-insensitive, whitespace around values is ignored) with every
//! request answered 200; a clean shutdown on SIGINT that flushes the spans.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmtrace_test_artifacts::{QUICKSTART, TRACE_CONTEXT_SERVICE};
use wasmtrace_test_support::{
    AttrValue, OtlpReceiver, ReceivedSpan, SpanKind, SpanTree, StatusCode, Transport,
};

use crate::cli::{wasmtrace, wasmtrace_command};
use crate::http::TestServer;

const WAIT: Duration = Duration::from_secs(30);

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";
const ZERO_TRACE_ID: &str = "00000000000000000000000000000000";

/// A `wasmtrace serve` child process, killed when dropped.
pub(crate) struct Served {
    child: Child,
    addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

impl Served {
    /// Serves the trace-context-service plugin on `127.0.0.1:0`, exporting
    /// to `rx`, allowed to call `allow`; returns once it listens.
    fn start(rx: &OtlpReceiver, allow: &str) -> Self {
        Self::plugin(TRACE_CONTEXT_SERVICE, &["--allow-http", allow], rx)
    }

    /// Serves `plugin` on `127.0.0.1:0` with `args`, exporting to `rx`;
    /// returns once it listens.
    pub(crate) fn plugin(plugin: &str, args: &[&str], rx: &OtlpReceiver) -> Self {
        Self::plugin_within(plugin, args, rx, WAIT)
    }

    /// [`Served::plugin`], waiting up to `wait` for it to listen (a large
    /// component compiles first).
    pub(crate) fn plugin_within(
        plugin: &str,
        args: &[&str],
        rx: &OtlpReceiver,
        wait: Duration,
    ) -> Self {
        let mut argv = vec!["serve", plugin, "--listen", "127.0.0.1:0"];
        argv.extend_from_slice(args);
        let mut cmd = wasmtrace_command(&argv, &rx.exporter_env(Transport::Grpc));
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting wasmtrace serve");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, addr_rx) = mpsc::channel();
        let pipe = child.stderr.take().unwrap();
        let log = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("listening on http://") {
                    let _ = tx.send(addr.trim().to_owned());
                }
                let mut log = log.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let mut served = Self {
            child,
            addr: "0.0.0.0:0".parse().unwrap(),
            stderr,
        };
        match addr_rx.recv_timeout(wait) {
            Ok(addr) => served.addr = addr.parse().expect("listening address"),
            Err(_) => panic!("wasmtrace serve did not listen:\n{}", served.stderr()),
        }
        assert_ne!(served.addr.port(), 0, "the actual port is printed");
        served
    }

    pub(crate) fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The address it listens on.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the server is still running.
    pub(crate) fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// `GET path` over a fresh connection: the status code and body.
    pub(crate) fn get(&self, path: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(self.addr).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let head = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        );
        stream.write_all(head.as_bytes()).unwrap();
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .unwrap_or_else(|e| panic!("reading the response: {e}\nstderr:\n{}", self.stderr()));
        let response = String::from_utf8_lossy(&response).into_owned();
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad response {response:?}\nstderr:\n{}", self.stderr()));
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    /// Sends `POST /test` calling back `callback` once, with `headers`
    /// written as given; returns the status code.
    fn post_test(&self, callback: &str, headers: &[(&str, &str)]) -> u16 {
        let body = format!(r#"[{{"url": "{callback}", "arguments": [1, "two"]}}]"#);
        self.request("POST", "/test", headers, &body)
    }

    /// One request over a fresh connection (`Connection: close`), the
    /// header lines written exactly as given; returns the status code.
    fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> u16 {
        let mut stream = TcpStream::connect(self.addr).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}:{value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body.as_bytes()).unwrap();
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .unwrap_or_else(|e| panic!("reading the response: {e}\nstderr:\n{}", self.stderr()));
        response
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad response {response:?}\nstderr:\n{}", self.stderr()))
    }

    /// Sends SIGINT and waits for a clean exit.
    fn interrupt(&mut self) {
        self.stop("INT");
    }

    /// Sends SIG`signal` (`INT`, `TERM`) and waits for a clean exit.
    pub(crate) fn stop(&mut self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "{status:?}\nstderr:\n{}", self.stderr());
                return;
            }
            assert!(
                Instant::now() < deadline,
                "still running after SIG{signal}:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `(version, trace id, parent id, flags)` of a `traceparent`.
fn parse_traceparent(value: &str) -> (String, String, String, String) {
    let parts: Vec<&str> = value.split('-').collect();
    assert_eq!(parts.len(), 4, "{value:?}");
    (
        parts[0].to_owned(),
        parts[1].to_owned(),
        parts[2].to_owned(),
        parts[3].to_owned(),
    )
}

#[test]
fn a_request_continues_the_incoming_trace_and_the_callback_continues_it() {
    let rx = OtlpReceiver::start().unwrap();
    let callbacks = TestServer::start();
    let mut served = Served::start(&rx, &callbacks.allow());
    let traceparent = format!("00-{TRACE_ID}-{PARENT_ID}-01");
    let tracestate = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";
    let status = served.post_test(
        &callbacks.url("/ok"),
        &[
            ("traceparent", &traceparent),
            ("tracestate", tracestate),
            ("User-Agent", "serve-test/1"),
        ],
    );
    assert_eq!(status, 200, "stderr:\n{}", served.stderr());
    // Anything else is a 404, in a trace of its own.
    assert_eq!(served.request("GET", "/other?x=1", &[], ""), 404);

    // A clean stop flushes the spans.
    served.interrupt();
    let stderr = served.stderr();
    assert!(stderr.contains("stopped"), "{stderr}");
    let spans = rx
        .wait_for_spans(
            |s| s.iter().filter(|s| s.kind == SpanKind::Server).count() == 2,
            WAIT,
        )
        .unwrap_or_else(|e| panic!("{e}\nstderr:\n{stderr}"));
    assert!(rx.errors().is_empty(), "{:?}", rx.errors());
    let ours = in_our_trace(&spans);
    let tree = SpanTree::new(&ours);
    assert_eq!(
        tree.render_redacted(),
        // The server span's parent is the caller's, not exported here.
        "POST (parent not received)\n  invoke trace-context-service\n    test_case\n      POST\n",
        "stderr:\n{stderr}"
    );
    let server = tree.roots()[0];
    let invoke = tree.find("invoke trace-context-service").unwrap();
    let case = tree.find("test_case").unwrap();
    let client = tree.find_all("POST")[1];
    assert_eq!(server.kind, SpanKind::Server);
    assert_eq!(server.parent_span_id.as_deref(), Some(PARENT_ID));
    assert_eq!(server.trace_state, tracestate);
    assert_eq!(
        invoke.parent_span_id.as_deref(),
        Some(server.span_id.as_str())
    );
    assert_eq!(
        case.parent_span_id.as_deref(),
        Some(invoke.span_id.as_str())
    );
    assert_eq!(
        client.parent_span_id.as_deref(),
        Some(case.span_id.as_str())
    );
    assert_eq!(client.kind, SpanKind::Client);
    assert_eq!(case.scope.name, "trace-context-service");

    let str_attr = |key: &str| server.attr(key).and_then(AttrValue::as_str);
    let int_attr = |key: &str| server.attr(key).and_then(AttrValue::as_i64);
    assert_eq!(str_attr("http.request.method"), Some("POST"));
    assert_eq!(str_attr("url.path"), Some("/test"));
    assert_eq!(str_attr("url.query"), None);
    assert_eq!(str_attr("url.scheme"), Some("http"));
    assert_eq!(str_attr("server.address"), Some("127.0.0.1"));
    assert_eq!(int_attr("server.port"), Some(i64::from(served.addr.port())));
    assert_eq!(str_attr("network.peer.address"), Some("127.0.0.1"));
    assert_eq!(str_attr("user_agent.original"), Some("serve-test/1"));
    assert_eq!(int_attr("http.response.status_code"), Some(200));
    assert_eq!(server.status_code, StatusCode::Unset);
    assert!(server.end_time_unix_nano >= invoke.end_time_unix_nano);

    // The callback names the client span as its parent, in the incoming
    // trace, with the incoming tracestate.
    let received = callbacks.received();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(
        received[0].headers.get("traceparent").map(String::as_str),
        Some(format!("00-{TRACE_ID}-{}-01", client.span_id).as_str())
    );
    assert_eq!(
        received[0].headers.get("tracestate").map(String::as_str),
        Some(tracestate)
    );

    // The 404: a new trace, named after the method, with the query.
    let other = spans
        .iter()
        .find(|s| s.kind == SpanKind::Server && s.trace_id != TRACE_ID)
        .unwrap();
    assert_eq!(other.name, "GET");
    assert_eq!(other.parent_span_id, None);
    assert_eq!(
        other.attr("url.query").and_then(AttrValue::as_str),
        Some("x=1")
    );
    assert_eq!(
        other
            .attr("http.response.status_code")
            .and_then(AttrValue::as_i64),
        Some(404)
    );
    assert_eq!(
        other.status_code,
        StatusCode::Unset,
        "4xx is not a server error"
    );
}

/// What the callback's trace headers must show.
enum Expect<'a> {
    /// The incoming `traceparent` was invalid: a new trace, sampled, with
    /// the random flag (the host's trace ids are random): flags `03`.
    NewTrace,
    /// It was valid: the incoming trace id, these flags, and this
    /// `tracestate` (`None`: no header).
    Continued(&'a str, Option<&'a str>),
}

/// A W3C case: its name, the headers sent, what the callback must show.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Expect<'a>);

#[test]
fn w3c_trace_context_cases() {
    let rx = OtlpReceiver::start().unwrap();
    let callbacks = TestServer::start();
    let served = Served::start(&rx, &callbacks.allow());
    let valid = format!("00-{TRACE_ID}-{PARENT_ID}-01");
    let upper = format!("00-{}-{PARENT_ID}-01", TRACE_ID.to_uppercase());
    let bad_version = format!("ff-{TRACE_ID}-{PARENT_ID}-01");
    let zero_trace = format!("00-{ZERO_TRACE_ID}-{PARENT_ID}-01");
    let zero_parent = format!("00-{TRACE_ID}-0000000000000000-01");
    let short_trace = format!("00-{}-{PARENT_ID}-01", &TRACE_ID[1..]);
    let long_parent = format!("00-{TRACE_ID}-{PARENT_ID}0-01");
    let other_parent = format!("00-{TRACE_ID}-b7ad6b7169203331-01");
    let future = format!("cc-{TRACE_ID}-{PARENT_ID}-01-what-the-future-will-be-like");
    let too_many: String = (0..33)
        .map(|i| format!("k{i}=v{i}"))
        .collect::<Vec<_>>()
        .join(",");
    let padded = format!(" \t{valid}\t ");
    let unsampled = format!("00-{TRACE_ID}-{PARENT_ID}-00");
    let random_unsampled = format!("00-{TRACE_ID}-{PARENT_ID}-02");
    let random_sampled = format!("00-{TRACE_ID}-{PARENT_ID}-03");
    let unknown_flags = format!("00-{TRACE_ID}-{PARENT_ID}-ff");
    let long_key = format!("{}@{}=1", "t".repeat(241), "v".repeat(14));
    let long_key_state = format!("foo=1,{long_key}");
    let cases: Vec<Case<'_>> = vec![
        (
            "no traceparent",
            vec![("tracestate", "foo=1")],
            Expect::NewTrace,
        ),
        (
            "version ff",
            vec![("traceparent", &bad_version), ("tracestate", "foo=1")],
            Expect::NewTrace,
        ),
        ("uppercase", vec![("traceparent", &upper)], Expect::NewTrace),
        (
            "zero trace id",
            vec![("traceparent", &zero_trace)],
            Expect::NewTrace,
        ),
        (
            "zero parent id",
            vec![("traceparent", &zero_parent)],
            Expect::NewTrace,
        ),
        (
            "short trace id",
            vec![("traceparent", &short_trace)],
            Expect::NewTrace,
        ),
        (
            "long parent id",
            vec![("traceparent", &long_parent)],
            Expect::NewTrace,
        ),
        ("garbage", vec![("traceparent", "00-xyz")], Expect::NewTrace),
        (
            "duplicated traceparent",
            vec![("traceparent", &valid), ("traceparent", &other_parent)],
            Expect::NewTrace,
        ),
        (
            "future version with extra fields",
            vec![("traceparent", &future), ("tracestate", "foo=1")],
            Expect::Continued("01", Some("foo=1")),
        ),
        (
            "more than 32 tracestate members",
            vec![("traceparent", &valid), ("tracestate", &too_many)],
            Expect::Continued("01", None),
        ),
        (
            "invalid tracestate key",
            vec![("traceparent", &valid), ("tracestate", "foo=1,@bar=2")],
            Expect::Continued("01", None),
        ),
        (
            "header names in mixed case",
            vec![("TraceParent", &valid), ("TraceState", "foo=1")],
            Expect::Continued("01", Some("foo=1")),
        ),
        (
            "whitespace around values and members",
            vec![("traceparent", &padded), ("tracestate", " foo=1 ,\tbar=2 ")],
            Expect::Continued("01", Some("foo=1,bar=2")),
        ),
        (
            "tracestate over two headers",
            vec![
                ("traceparent", &valid),
                ("tracestate", "foo=1"),
                ("tracestate", "bar=2"),
            ],
            Expect::Continued("01", Some("foo=1,bar=2")),
        ),
        (
            "unsampled",
            vec![("traceparent", &unsampled), ("tracestate", "foo=1")],
            Expect::Continued("00", Some("foo=1")),
        ),
        (
            "random flag, unsampled (Level 2)",
            vec![("traceparent", &random_unsampled), ("tracestate", "foo=1")],
            Expect::Continued("02", Some("foo=1")),
        ),
        (
            "random flag, sampled (Level 2)",
            vec![("traceparent", &random_sampled)],
            Expect::Continued("03", None),
        ),
        (
            "unknown flags are zeroed",
            vec![("traceparent", &unknown_flags)],
            Expect::Continued("03", None),
        ),
        (
            "empty tracestate headers",
            vec![
                ("traceparent", &valid),
                ("tracestate", ""),
                ("tracestate", "foo=1"),
                ("tracestate", ""),
            ],
            Expect::Continued("01", Some("foo=1")),
        ),
        (
            "repeated keys keep the first (Level 2)",
            vec![
                ("traceparent", &valid),
                ("tracestate", "foo=1,bar=2"),
                ("tracestate", "foo=3"),
            ],
            Expect::Continued("01", Some("foo=1,bar=2")),
        ),
        (
            "keys with several @ (Level 2)",
            vec![("traceparent", &valid), ("tracestate", "foo@@bar=1,bar=2")],
            Expect::Continued("01", Some("foo@@bar=1,bar=2")),
        ),
        (
            "a 256-character key with @ (Level 2)",
            vec![
                ("traceparent", &valid),
                ("tracestate", "foo=1"),
                ("tracestate", &long_key),
            ],
            Expect::Continued("01", Some(long_key_state.as_str())),
        ),
    ];
    for (name, headers, expect) in &cases {
        let before = callbacks.received().len();
        let status = served.post_test(&callbacks.url("/ok"), headers);
        assert_eq!(status, 200, "{name}: stderr:\n{}", served.stderr());
        let received = callbacks.received();
        assert_eq!(received.len(), before + 1, "{name}: {received:?}");
        let headers = &received[before].headers;
        let traceparent = headers
            .get("traceparent")
            .unwrap_or_else(|| panic!("{name}: no traceparent in {headers:?}"));
        let (version, trace_id, parent_id, flags) = parse_traceparent(traceparent);
        assert_eq!(version, "00", "{name}: {traceparent}");
        assert_ne!(parent_id, PARENT_ID, "{name}: a fresh parent id");
        assert_ne!(parent_id, "0000000000000000", "{name}");
        let tracestate = headers
            .get("tracestate")
            .map(String::as_str)
            .filter(|s| !s.is_empty());
        match expect {
            Expect::NewTrace => {
                assert_eq!(flags, "03", "{name}: sampled, random: {traceparent}");
                assert_ne!(trace_id, TRACE_ID, "{name}: a new trace");
                assert_ne!(trace_id, TRACE_ID.to_lowercase(), "{name}");
                assert_ne!(trace_id, ZERO_TRACE_ID, "{name}");
                assert_eq!(tracestate, None, "{name}: no tracestate without a parent");
            }
            Expect::Continued(expected_flags, state) => {
                assert_eq!(flags, *expected_flags, "{name}: {traceparent}");
                assert_eq!(trace_id, TRACE_ID, "{name}: the incoming trace");
                assert_eq!(tracestate, *state, "{name}");
            }
        }
    }
}

#[test]
fn serving_a_plugin_that_is_not_an_http_handler_is_a_clear_error() {
    let out = wasmtrace(
        &["serve", QUICKSTART, "--listen", "127.0.0.1:0"],
        &[("OTEL_TRACES_EXPORTER", "none".to_owned())],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error:") && stderr.contains("wasi:http/incoming-handler"),
        "{stderr}"
    );
}

#[test]
fn a_crashing_guest_gives_a_500_and_its_open_spans_end_as_errors() {
    let rx = OtlpReceiver::start().unwrap();
    let callbacks = TestServer::start();
    let served = Served::start(&rx, &callbacks.allow());
    let traceparent = format!("00-{TRACE_ID}-{PARENT_ID}-01");
    assert_eq!(
        served.request("GET", "/crash", &[("traceparent", &traceparent)], ""),
        500,
        "stderr:\n{}",
        served.stderr()
    );
    // The server keeps serving.
    assert_eq!(served.request("GET", "/other", &[], ""), 404);
    let spans = rx
        .wait_for_spans(|s| s.iter().any(|s| s.name == "crash"), WAIT)
        .unwrap_or_else(|e| panic!("{e}\nstderr:\n{}", served.stderr()));
    let ours = in_our_trace(&spans);
    let tree = SpanTree::new(&ours);
    assert_eq!(
        tree.render_redacted(),
        "GET (parent not received)\n  invoke trace-context-service\n    crash\n"
    );
    let server = tree.roots()[0];
    let invoke = tree.find("invoke trace-context-service").unwrap();
    let crash = tree.find("crash").unwrap();
    assert_eq!(
        server
            .attr("http.response.status_code")
            .and_then(AttrValue::as_i64),
        Some(500)
    );
    assert_eq!(server.status_code, StatusCode::Error);
    assert_eq!(
        server.attr("error.type").and_then(AttrValue::as_str),
        Some("wasm.trap")
    );
    assert_eq!(invoke.status_code, StatusCode::Error);
    assert_eq!(
        invoke.attr("wasmtrace.outcome").and_then(AttrValue::as_str),
        Some("crash")
    );
    assert_eq!(crash.status_code, StatusCode::Error);
    assert!(crash.event("exception").is_some(), "{:?}", crash.events);
}

/// The spans of the trace the tests send in their `traceparent`.
fn in_our_trace(spans: &[ReceivedSpan]) -> Vec<ReceivedSpan> {
    spans
        .iter()
        .filter(|s| s.trace_id == TRACE_ID)
        .cloned()
        .collect()
}
