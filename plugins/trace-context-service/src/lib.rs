//! The trace-context-service plugin: the service the W3C Trace Context test
//! suite (<https://github.com/w3c/trace-context/tree/main/test>) drives,
//! served by `wasmtrace serve` (it exports `wasi:http/incoming-handler`).
//!
//! `POST /test` takes a JSON array of `{"url": ..., "arguments": [...]}`;
//! for each element, in order, it `POST`s `arguments` (as JSON) to `url`
//! through `wasi:http/outgoing-handler`, then answers 200. Anything else is
//! a 404; a body that is not such an array is a 400. (`/crash` panics inside
//! a `crash` span, to show how the host reports a crashing guest: a 500,
//! and the span ended with status Error. `GET /state?VALUE` shows what a
//! request can see of the ones before it: it answers with what its
//! instance's memory held, then stores VALUE there, in a `state` span.
//! Each request gets a fresh instance, so the answer is always `calls=0
//! held=`.)
//!
//! The plugin never touches trace headers: the host extracts the incoming
//! `traceparent`/`tracestate` into its server span, the guest's spans nest
//! under it, and the host injects the headers of each outgoing request's
//! client span. So every callback carries the incoming trace id (or a new
//! one when the incoming `traceparent` was missing or invalid), the client
//! span's id as the parent id, and the incoming `tracestate`.
//!
//! Trace shape:
//!
//! ```text
//! POST                          the host's server span (kind Server)
//! └── invoke trace-context-service
//!     └── test_case             one per element: test.index, url.full;
//!         │                     http.response.status_code or error.type
//!         └── POST              the host's client span (kind Client)
//! ```
//!
//! The callbacks must be allowed: `wasmtrace serve ... --allow-http
//! HOST:PORT` with the test harness's address.

use serde_json::Value;
use wasi::exports::http::incoming_handler::Guest;
use wasi::http::outgoing_handler;
use wasi::http::types::{
    ErrorCode, Fields, IncomingBody, IncomingRequest, Method, OutgoingBody, OutgoingRequest,
    OutgoingResponse, ResponseOutparam, Scheme,
};
use wasi::io::streams::StreamError;
use wasmtrace_sdk::{Span, attrs};

wasi::http::proxy::export!(Service);

/// The plugin's identity (`name@version`) in the `wasmtrace-plugin` custom
/// section, as `wasmtrace_sdk::plugin!` writes it for handler plugins: the
/// host names the `invoke` span and the instrumentation scope after it.
const IDENTITY: &str = concat!(env!("CARGO_PKG_NAME"), "@", env!("CARGO_PKG_VERSION"));

#[cfg_attr(target_family = "wasm", unsafe(link_section = "wasmtrace-plugin"))]
#[used]
static WASMTRACE_PLUGIN: [u8; IDENTITY.len()] = {
    let mut out = [0u8; IDENTITY.len()];
    let mut i = 0;
    while i < out.len() {
        out[i] = IDENTITY.as_bytes()[i];
        i += 1;
    }
    out
};

struct Service;

impl Guest for Service {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let (status, body) = answer(&request);
        drop(request);
        respond(response_out, status, &body);
    }
}

/// The status and body for a request.
fn answer(request: &IncomingRequest) -> (u16, String) {
    let path = request.path_with_query().unwrap_or_default();
    let path = path.split('?').next().unwrap_or_default();
    if path == "/crash" {
        // Shows how the host reports a crashing guest: the client gets a
        // 500, the open span ends with status Error.
        let _span = Span::builder("crash").start();
        panic!("crash requested");
    }
    if path == "/state" {
        return (200, remember(&query(request)));
    }
    if path != "/test" || !matches!(request.method(), Method::Post) {
        return (404, "not found\n".to_owned());
    }
    let body = match read_body(request) {
        Ok(body) => body,
        Err(why) => return (400, format!("cannot read the body: {why}\n")),
    };
    let cases = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Array(cases)) => cases,
        Ok(_) => return (400, "expected a JSON array\n".to_owned()),
        Err(err) => return (400, format!("invalid JSON: {err}\n")),
    };
    for (index, case) in cases.iter().enumerate() {
        run_case(index, case);
    }
    (200, String::new())
}

/// What this instance's memory held from earlier calls, then `value`
/// stored in it.
fn remember(value: &str) -> String {
    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    static HELD: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());
    let calls = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
    let seen = format!("calls={calls} held={held}");
    let _span = Span::builder("state")
        .attributes(attrs! { "state.seen" => seen.clone(), "state.stored" => value.to_owned() })
        .start();
    value.clone_into(&mut held);
    seen
}

/// The request's query string (after `?`), if any.
fn query(request: &IncomingRequest) -> String {
    let path = request.path_with_query().unwrap_or_default();
    path.split_once('?')
        .map(|(_, q)| q.to_owned())
        .unwrap_or_default()
}

/// POSTs the case's `arguments` to its `url`, in a `test_case` span. A
/// failed callback is recorded on the span; the test still answers 200, as
/// the harness expects.
fn run_case(index: usize, case: &Value) {
    let url = case.get("url").and_then(Value::as_str).unwrap_or_default();
    let arguments = case.get("arguments").cloned().unwrap_or(Value::Null);
    let span = Span::builder("test_case")
        .attributes(attrs! {
            "test.index" => index as i64,
            "url.full" => url,
        })
        .start();
    match post_json(url, &arguments) {
        Ok(status) => {
            span.set_attribute("http.response.status_code", i64::from(status));
            if status >= 400 {
                span.set_attribute("error.type", status.to_string());
                span.set_error(format!("the callback answered HTTP {status}"));
            }
        }
        Err(why) => {
            span.set_attribute("error.type", "CallbackFailed");
            span.record_error(&why);
            span.set_error(&why);
        }
    }
}

/// Reads the whole body of `request`.
fn read_body(request: &IncomingRequest) -> Result<Vec<u8>, String> {
    let body = request.consume().map_err(|()| "no body".to_owned())?;
    let bytes = read_all(&body)?;
    drop(IncomingBody::finish(body));
    Ok(bytes)
}

fn read_all(body: &IncomingBody) -> Result<Vec<u8>, String> {
    let stream = body.stream().map_err(|()| "no body stream".to_owned())?;
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(StreamError::Closed) => return Ok(bytes),
            Err(StreamError::LastOperationFailed(err)) => return Err(err.to_debug_string()),
        }
    }
}

/// `POST url` with `json` as the body; the response status (the body is
/// read and discarded).
fn post_json(url: &str, json: &Value) -> Result<u16, String> {
    let (https, rest) = if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else {
        return Err(format!("{url:?} is not an http(s) URL"));
    };
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    let path = if path.is_empty() { "/" } else { path };

    let payload = json.to_string();
    let headers = Fields::new();
    for (name, value) in [
        ("content-type", "application/json".to_owned()),
        ("content-length", payload.len().to_string()),
    ] {
        headers
            .append(name, value.as_bytes())
            .map_err(|e| format!("{e:?}"))?;
    }
    let request = OutgoingRequest::new(headers);
    let bad = |what: &str| format!("the host rejected the {what} of {url:?}");
    request
        .set_method(&Method::Post)
        .map_err(|()| bad("method"))?;
    request
        .set_scheme(Some(if https { &Scheme::Https } else { &Scheme::Http }))
        .map_err(|()| bad("scheme"))?;
    request
        .set_authority(Some(authority))
        .map_err(|()| bad("authority"))?;
    request
        .set_path_with_query(Some(path))
        .map_err(|()| bad("path"))?;
    let body = request.body().map_err(|()| "no request body".to_owned())?;

    let pending = outgoing_handler::handle(request, None).map_err(describe)?;
    write_all(&body, payload.as_bytes())?;
    OutgoingBody::finish(body, None).map_err(describe)?;
    pending.subscribe().block();
    let response = pending
        .get()
        .ok_or("the response never arrived")?
        .map_err(|()| "the response was already taken")?
        .map_err(describe)?;
    let status = response.status();
    let body = response.consume().map_err(|()| "no response body")?;
    read_all(&body)?;
    drop(IncomingBody::finish(body));
    Ok(status)
}

fn write_all(body: &OutgoingBody, bytes: &[u8]) -> Result<(), String> {
    let stream = body.write().map_err(|()| "no body stream".to_owned())?;
    for chunk in bytes.chunks(4096) {
        stream
            .blocking_write_and_flush(chunk)
            .map_err(|e| format!("writing the body: {e:?}"))?;
    }
    Ok(())
}

fn describe(code: ErrorCode) -> String {
    match code {
        ErrorCode::HttpRequestDenied => {
            "the host denied the request (allow it with `wasmtrace serve --allow-http HOST:PORT`)"
                .to_owned()
        }
        other => format!("request failed: {other:?}"),
    }
}

/// Sends the response: `status`, and `body` as text when not empty.
fn respond(out: ResponseOutparam, status: u16, body: &str) {
    let headers = Fields::new();
    if !body.is_empty() {
        let _ = headers.append("content-type", b"text/plain");
    }
    let response = OutgoingResponse::new(headers);
    let _ = response.set_status_code(status);
    let Ok(outgoing) = response.body() else {
        ResponseOutparam::set(out, Err(ErrorCode::InternalError(None)));
        return;
    };
    ResponseOutparam::set(out, Ok(response));
    if !body.is_empty() {
        let _ = write_all(&outgoing, body.as_bytes());
    }
    let _ = OutgoingBody::finish(outgoing, None);
}
