//! Plugin-to-plugin calls (`wasmtrace_sdk::plugins::call`): the callee's
//! spans join the caller's trace under the caller's current span, each
//! plugin with its own identity.

use std::time::Duration;

use wasmtrace_test_artifacts::{CALLER, REQUEST_HANDLER};
use wasmtrace_test_support::{
    AttrValue, OtlpReceiver, ReceivedSpan, SpanKind, SpanTree, StatusCode, Transport,
};

use crate::cli::wasmtrace;

/// Runs the caller guest with `input` (and the request-handler plugin
/// registered) and returns its exit code, stderr and spans once the outer
/// invocation span arrived.
fn run_caller(input: &str) -> (Option<i32>, String, Vec<ReceivedSpan>) {
    let rx = OtlpReceiver::start().unwrap();
    let out = wasmtrace(
        &["run", CALLER, "--plugin", REQUEST_HANDLER, "--input", input],
        &rx.exporter_env(Transport::Grpc),
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let spans = rx
        .wait_for_spans(
            |s| {
                s.iter()
                    .any(|s| s.name == "invoke caller" && s.attr("wasmtrace.call.depth").is_none())
            },
            Duration::from_secs(20),
        )
        .unwrap_or_else(|e| panic!("{e}\n{stderr}"));
    (out.status.code(), stderr, spans)
}

#[test]
fn the_callees_spans_nest_under_the_callers_current_span() {
    let (code, stderr, spans) = run_caller("request-handler|widget:2");
    assert_eq!(code, Some(0), "{stderr}");
    let tree = SpanTree::new(&spans);
    assert_eq!(
        tree.render_redacted(),
        "invoke caller\n  call_plugin\n    invoke request-handler\n      handle_request\n        validate_request\n        process_business_logic\n        send_response\n"
    );
    tree.assert_single_trace();
    let call = tree.find("call_plugin").unwrap();
    assert_eq!(call.kind, SpanKind::Client);
    assert_eq!(call.scope.name, "caller");
    let callee = tree.find("invoke request-handler").unwrap();
    assert_eq!(
        callee.attr("wasmtrace.call.depth"),
        Some(&AttrValue::Int(1))
    );
    assert_eq!(
        callee
            .attr("wasmtrace.plugin.name")
            .and_then(AttrValue::as_str),
        Some("request-handler")
    );
    // Each plugin's identity on its own spans.
    let caller_sha = tree
        .find("call_plugin")
        .unwrap()
        .attr("wasmtrace.component.sha256");
    let handler = tree.find("handle_request").unwrap();
    assert_eq!(handler.scope.name, "request-handler");
    assert!(handler.attr("wasmtrace.component.sha256").is_some());
    assert_ne!(handler.attr("wasmtrace.component.sha256"), caller_sha);
}

#[test]
fn an_unknown_plugin_is_an_error_the_caller_sees() {
    let (code, stderr, spans) = run_caller("nobody|x");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("no plugin named \"nobody\" is loaded"),
        "{stderr}"
    );
    let tree = SpanTree::new(&spans);
    let call = tree.find("call_plugin").unwrap();
    assert_eq!(call.status_code, StatusCode::Error);
}

#[test]
fn a_plugin_calling_itself_stops_at_the_depth_limit_in_one_trace() {
    let input = format!("{}end", "caller|".repeat(20));
    let (code, stderr, spans) = run_caller(&input);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("nested 8 deep already"), "{stderr}");
    let tree = SpanTree::new(&spans);
    tree.assert_single_trace();
    // The outer invocation and eight nested ones.
    assert_eq!(tree.find_all("invoke caller").len(), 1 + 8);
    assert_eq!(tree.find_all("call_plugin").len(), 9);
}

#[test]
fn a_callee_can_be_sampled_out_with_its_own_sampler() {
    let rx = OtlpReceiver::start().unwrap();
    let out = wasmtrace(
        &[
            "run",
            CALLER,
            "--plugin",
            REQUEST_HANDLER,
            "--sampler",
            "request-handler=always_off",
            "--input",
            "request-handler|widget:2",
        ],
        &rx.exporter_env(Transport::Grpc),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let spans = rx
        .wait_for_spans(
            |s| s.iter().any(|s| s.name == "invoke caller"),
            Duration::from_secs(20),
        )
        .unwrap();
    // The callee still ran (its output is the caller's), unrecorded.
    assert!(String::from_utf8_lossy(&out.stdout).contains("total $5.00"));
    let tree = SpanTree::new(&spans);
    assert_eq!(tree.render_redacted(), "invoke caller\n  call_plugin\n");

    let bad = wasmtrace(
        &["run", CALLER, "--sampler", "request-handler=sometimes"],
        &[],
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown sampler \"sometimes\""));
}
