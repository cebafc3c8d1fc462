//! End to end through the `wasmtrace` binary: real components, real OTLP
//! over gRPC and HTTP into the in-process receiver, and a real external
//! collector (rotel).

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use wasmtrace_test_artifacts::{CRASHING, QUICKSTART};
use wasmtrace_test_support::{
    AttrValue, OtlpReceiver, ReceivedSpan, Rotel, SpanTree, StatusCode, Transport,
};

const WAIT: Duration = Duration::from_secs(20);

/// The CLI binary, built by cargo for these tests.
pub(crate) fn wasmtrace_bin() -> &'static str {
    env!("CARGO_BIN_EXE_wasmtrace")
}

/// Runs `wasmtrace` with a clean OTEL_* environment plus `env`.
pub(crate) fn wasmtrace(args: &[&str], env: &[(&str, String)]) -> Output {
    wasmtrace_command(args, env)
        .output()
        .expect("running wasmtrace")
}

/// A `wasmtrace` command with a clean OTEL_* environment plus `env`.
pub(crate) fn wasmtrace_command(args: &[&str], env: &[(&str, String)]) -> Command {
    let mut cmd = Command::new(wasmtrace_bin());
    cmd.args(args);
    for (key, _) in std::env::vars() {
        if key.starts_with("OTEL_") {
            cmd.env_remove(key);
        }
    }
    // The console's format and width are the test's to choose.
    cmd.env_remove("WASMTRACE_CONSOLE").env_remove("COLUMNS");
    // The tests' own compile cache: shared by the CLI runs of one test
    // binary (the same plugins load many times), not the user's.
    cmd.env(
        "WASMTRACE_CACHE_DIR",
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-compile-cache"),
    );
    // Short batch delay: the CLI flushes at exit anyway.
    cmd.env("OTEL_BSP_SCHEDULE_DELAY", "100");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `wasmtrace run` of the quickstart with the input it rejects (`fail`),
/// writing the spans to `file` as OTLP/JSON, with `flags` after.
pub(crate) fn run_failing_quickstart(
    file: &Path,
    flags: &[&str],
    env: &[(&str, String)],
) -> Output {
    let file = file.to_str().unwrap();
    let mut args = vec!["run", QUICKSTART, "--input", "fail", "--export-json", file];
    args.extend_from_slice(flags);
    wasmtrace(&args, env)
}

fn grpc_env(rx: &OtlpReceiver) -> Vec<(&'static str, String)> {
    rx.exporter_env(Transport::Grpc)
}

/// Checks the quickstart trace: one trace, the invocation span as root (or
/// child of `parent`), guest spans nested under it with typed attributes,
/// an event and the plugin identity on every guest span.
pub(crate) fn assert_quickstart_trace(spans: &[ReceivedSpan], parent: Option<&str>) {
    let tree = SpanTree::new(spans);
    let trace_id = tree.assert_single_trace();
    let invoke = tree.find("invoke quickstart").expect("invocation span");
    assert_eq!(
        invoke.parent_span_id.as_deref(),
        parent,
        "{}",
        tree.render_redacted()
    );
    assert_eq!(invoke.scope.name, "wasmtrace");

    let request = tree.find("handle_request").expect("handle_request span");
    assert_eq!(
        request.parent_span_id.as_deref(),
        Some(invoke.span_id.as_str())
    );
    let children: Vec<&str> = tree
        .children_of(&request.span_id)
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(
        children,
        [
            "validate_request",
            "process_business_logic",
            "send_response"
        ]
    );

    // Typed attributes arrive typed, not as strings.
    assert!(matches!(
        request.attr("request.size"),
        Some(AttrValue::Int(_))
    ));
    assert_eq!(
        request.attr("request.defaulted"),
        Some(&AttrValue::Bool(false))
    );
    let logic = tree.find("process_business_logic").unwrap();
    assert!(
        matches!(logic.attr("items_processed"), Some(AttrValue::Int(3))),
        "{:?}",
        logic.attributes
    );
    assert!(matches!(
        logic.attr("processing.avg_word_length"),
        Some(AttrValue::Double(_))
    ));
    assert!(matches!(
        logic.attr("processing.word_lengths"),
        Some(AttrValue::Array(_))
    ));
    let event = logic.event("data_fetched").expect("data_fetched event");
    assert!(matches!(
        event.attr("record_count"),
        Some(AttrValue::Int(_))
    ));

    for span in tree.spans().iter().filter(|s| s.scope.name == "quickstart") {
        assert_eq!(span.trace_id, trace_id);
        assert_eq!(span.scope.version, "0.1.0");
        // The scope is name and version only; the hash is a span attribute.
        assert!(span.scope.attributes.is_empty(), "{:?}", span.scope);
        let sha = span
            .attr("wasmtrace.component.sha256")
            .and_then(AttrValue::as_str);
        assert_eq!(
            sha.map(str::len),
            Some(64),
            "{}: {:?}",
            span.name,
            span.attributes
        );
        assert!(
            span.attr("wasmtrace.instance.id").is_some(),
            "{}",
            span.name
        );
        assert_eq!(
            span.resource_attr("service.name")
                .and_then(AttrValue::as_str),
            Some("wasmtrace")
        );
    }
    assert_eq!(
        tree.spans()
            .iter()
            .filter(|s| s.scope.name == "quickstart")
            .count(),
        4
    );
}

#[test]
fn quickstart_over_grpc() {
    let rx = OtlpReceiver::start().unwrap();
    let out = wasmtrace(
        &["run", QUICKSTART, "--input", "one two three"],
        &grpc_env(&rx),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains('3'));
    let spans = rx.wait_for_span_count(5, WAIT).unwrap();
    assert_quickstart_trace(&spans, None);
    let counts = rx.requests_by_transport();
    assert!(counts.grpc > 0 && counts.http() == 0, "{counts:?}");
}

#[test]
fn quickstart_over_http_protobuf() {
    let rx = OtlpReceiver::start().unwrap();
    let env = rx.exporter_env(Transport::HttpProtobuf);
    let out = wasmtrace(&["run", QUICKSTART, "--input", "one two three"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let spans = rx.wait_for_span_count(5, WAIT).unwrap();
    assert_quickstart_trace(&spans, None);
    let counts = rx.requests_by_transport();
    assert!(counts.grpc == 0 && counts.http_protobuf > 0, "{counts:?}");
}

#[test]
fn traces_endpoint_variable_is_a_full_url() {
    let rx = OtlpReceiver::start().unwrap();
    let env = [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".to_owned()),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", rx.http_traces_url()),
    ];
    let out = wasmtrace(&["run", QUICKSTART, "--input", "a b c"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(rx.wait_for_span_count(5, WAIT).unwrap().len(), 5);
}

#[test]
fn traceparent_continues_the_callers_trace() {
    let rx = OtlpReceiver::start().unwrap();
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let out = wasmtrace(
        &[
            "run",
            QUICKSTART,
            "--input",
            "x y z",
            "--traceparent",
            tp,
            "--tracestate",
            "congo=t61rcWkgMzE",
        ],
        &grpc_env(&rx),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let spans = rx.wait_for_span_count(5, WAIT).unwrap();
    assert_quickstart_trace(&spans, Some("00f067aa0ba902b7"));
    assert!(
        spans
            .iter()
            .all(|s| s.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736")
    );
    assert!(spans.iter().all(|s| s.trace_state == "congo=t61rcWkgMzE"));
}

#[test]
fn invalid_traceparent_is_a_clear_error() {
    let out = wasmtrace(&["run", QUICKSTART, "--traceparent", "00-zz-00-01"], &[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not a valid W3C traceparent"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn failing_plugin_exits_non_zero_and_exports_the_error() {
    let rx = OtlpReceiver::start().unwrap();
    let out = wasmtrace(&["run", QUICKSTART, "--input", "fail"], &grpc_env(&rx));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let last = stderr(&out).lines().last().unwrap_or_default().to_owned();
    assert!(
        last.starts_with("error: plugin returned an error: validation failed"),
        "{last}"
    );

    let spans = rx
        .wait_for_spans(|s| s.iter().any(|s| s.name == "invoke quickstart"), WAIT)
        .unwrap();
    let tree = SpanTree::new(&spans);
    tree.assert_single_trace();
    let validate = tree.find("validate_request").unwrap();
    assert_eq!(validate.status_code, StatusCode::Error);
    let exception = validate.event("exception").expect("exception event");
    assert!(
        exception
            .attr("exception.message")
            .and_then(AttrValue::as_str)
            .is_some()
    );
    let invoke = tree.find("invoke quickstart").unwrap();
    assert_eq!(invoke.status_code, StatusCode::Error);
    assert!(
        invoke.status_message.contains("validation failed"),
        "{}",
        invoke.status_message
    );
    assert_eq!(
        invoke.attr("wasmtrace.outcome").and_then(AttrValue::as_str),
        Some("error")
    );
}

#[test]
fn trapping_plugin_exports_its_open_spans_ended_with_error() {
    let rx = OtlpReceiver::start().unwrap();
    let out = wasmtrace(&["run", CRASHING, "--input", "trap"], &grpc_env(&rx));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: plugin crashed (wasm.trap)"),
        "{err}"
    );

    let spans = rx.wait_for_span_count(4, WAIT).unwrap();
    let tree = SpanTree::new(&spans);
    tree.assert_single_trace();
    for name in ["outer", "middle", "inner"] {
        let span = tree.find(name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(span.status_code, StatusCode::Error, "{name}");
        assert!(span.end_time_unix_nano >= span.start_time_unix_nano);
        let exception = span.event("exception").expect("exception event");
        assert_eq!(
            exception.attr("exception.type").and_then(AttrValue::as_str),
            Some("wasm.trap")
        );
        let stack = exception
            .attr("exception.stacktrace")
            .and_then(AttrValue::as_str);
        assert!(
            stack.is_some_and(|s| s.contains("crashing")),
            "{name}: {stack:?}"
        );
    }
    // Nesting survived the crash.
    let outer = tree.find("outer").unwrap();
    let middle = tree.find("middle").unwrap();
    assert_eq!(
        middle.parent_span_id.as_deref(),
        Some(outer.span_id.as_str())
    );
    let invoke = tree.find("invoke crashing").unwrap();
    assert_eq!(
        invoke.attr("wasmtrace.outcome").and_then(AttrValue::as_str),
        Some("crash")
    );
    assert_eq!(
        invoke.attr("wasmtrace.open_spans_ended"),
        Some(&AttrValue::Int(3))
    );
}

#[test]
fn infinite_loop_is_stopped_at_the_deadline() {
    let rx = OtlpReceiver::start().unwrap();
    let out = wasmtrace(
        &["run", CRASHING, "--input", "loop", "--timeout-ms", "200"],
        &grpc_env(&rx),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("wasm.deadline_exceeded"),
        "{}",
        stderr(&out)
    );
    let spans = rx.wait_for_span_count(4, WAIT).unwrap();
    assert!(spans.iter().all(|s| s.status_code == StatusCode::Error));
}

#[test]
fn memory_bomb_is_stopped_at_its_limit() {
    let rx = OtlpReceiver::start().unwrap();
    let out = wasmtrace(
        &[
            "run",
            CRASHING,
            "--input",
            "grow",
            "--max-memory",
            "16777216",
        ],
        &grpc_env(&rx),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("wasm.memory_limit"),
        "{}",
        stderr(&out)
    );
    let spans = rx.wait_for_span_count(4, WAIT).unwrap();
    assert!(spans.iter().all(|s| s.status_code == StatusCode::Error));
}

#[test]
fn invalid_components_are_clear_errors() {
    let dir = std::env::temp_dir().join(format!("wasmtrace-invalid-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        (
            "garbage.wasm",
            b"not wasm at all".to_vec(),
            "not a WebAssembly component",
        ),
        (
            "core.wasm",
            b"\0asm\x01\0\0\0".to_vec(),
            "core WebAssembly module, not a component",
        ),
        (
            "truncated.wasm",
            b"\0asm\x0d\0\x01\0\x01".to_vec(),
            "invalid component",
        ),
    ];
    for (name, bytes, expected) in cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = wasmtrace(&["run", path.to_str().unwrap()], &[]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "one line for {name}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(expected),
            "{name}: {err}"
        );
    }
    let out = wasmtrace(&["run", "/nonexistent/plugin.wasm"], &[]);
    assert!(stderr(&out).contains("cannot read /nonexistent/plugin.wasm"));
}

#[test]
fn embedded_default_prints_the_tree_and_writes_otlp_json() {
    let file = std::env::temp_dir().join(format!("wasmtrace-{}.json", std::process::id()));
    let out = run_failing_quickstart(&file, &["--console", "tree"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    for needle in [
        "└─ invoke quickstart",
        "└─ validate_request",
        "[ERROR: validation failed",
        "• exception",
        "request.size=4",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    // The file is OTLP/JSON as the Collector's file exporter writes it.
    let text = std::fs::read_to_string(&file).unwrap();
    let mut names = Vec::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v.get("resourceLogs").is_some() {
            // The plugin's log record, in a line of its own.
            continue;
        }
        for rs in v["resourceSpans"].as_array().unwrap() {
            for ss in rs["scopeSpans"].as_array().unwrap() {
                for s in ss["spans"].as_array().unwrap() {
                    assert_eq!(s["traceId"].as_str().unwrap().len(), 32);
                    names.push(s["name"].as_str().unwrap().to_owned());
                }
            }
        }
    }
    names.sort();
    assert_eq!(
        names,
        ["handle_request", "invoke quickstart", "validate_request"]
    );
}

#[test]
fn service_name_and_resource_attributes_come_from_the_environment() {
    let rx = OtlpReceiver::start().unwrap();
    let mut env = grpc_env(&rx);
    env.push(("OTEL_SERVICE_NAME", "checkout".into()));
    env.push((
        "OTEL_RESOURCE_ATTRIBUTES",
        "deployment.environment=test,service.version=9.9".into(),
    ));
    let out = wasmtrace(&["run", QUICKSTART], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let spans = rx.wait_for_span_count(5, WAIT).unwrap();
    for s in &spans {
        assert_eq!(
            s.resource_attr("service.name").and_then(AttrValue::as_str),
            Some("checkout")
        );
        assert_eq!(
            s.resource_attr("service.version")
                .and_then(AttrValue::as_str),
            Some("9.9")
        );
        assert_eq!(
            s.resource_attr("deployment.environment")
                .and_then(AttrValue::as_str),
            Some("test")
        );
    }
}

#[test]
fn sdk_disabled_exports_nothing_and_still_runs() {
    let rx = OtlpReceiver::start().unwrap();
    let mut env = grpc_env(&rx);
    env.push(("OTEL_SDK_DISABLED", "true".into()));
    let out = wasmtrace(&["run", QUICKSTART, "--input", "a b"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        rx.wait_for_span_count(1, Duration::from_millis(500))
            .is_err()
    );
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

#[test]
fn through_a_real_collector_rotel() {
    let rx = OtlpReceiver::start().unwrap();
    let rotel = Rotel::start_forwarding_to(&rx).unwrap();
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", rotel.grpc_endpoint()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
    ];
    let out = wasmtrace(&["run", QUICKSTART, "--input", "one two three"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let spans = rx.wait_for_span_count(5, WAIT).unwrap_or_else(|e| {
        panic!(
            "{e}\nrotel: {}\nlogs:\n{}",
            rotel.command_line(),
            rotel.logs()
        )
    });
    assert_quickstart_trace(&spans, None);
}

#[test]
fn collector_down_for_the_whole_run_still_completes_and_reports() {
    let rx = OtlpReceiver::start().unwrap();
    let started = std::time::Instant::now();
    let out = wasmtrace(&["run", QUICKSTART, "--input", "a b"], &grpc_env(&rx));
    let up = started.elapsed();
    assert!(out.status.success());
    let dead = rx.grpc_endpoint();
    drop(rx);
    for protocol in ["grpc", "http/protobuf"] {
        let env = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", dead.clone()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.to_owned()),
        ];
        let started = std::time::Instant::now();
        let out = wasmtrace(&["run", QUICKSTART, "--input", "a b"], &env);
        let down = started.elapsed();
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("warning: 5 of 5 spans could not be delivered"),
            "{protocol}: {}",
            stderr(&out)
        );
        // Not a benchmark: only that a dead collector does not hold the run
        // hostage (the exporter's retries are bounded, about a second).
        assert!(
            down < up + Duration::from_secs(3),
            "{protocol}: {up:?} up, {down:?} down"
        );
    }
}

#[test]
fn limits_from_flags_and_file_hold_and_are_reported() {
    let rx = OtlpReceiver::start().unwrap();
    let file = std::env::temp_dir().join(format!("wasmtrace-limits-{}.json", std::process::id()));
    std::fs::write(&file, r#"{"max_spans": 3, "max_name_length": 8}"#).unwrap();
    let out = wasmtrace(
        &[
            "run",
            QUICKSTART,
            "--limits",
            file.to_str().unwrap(),
            "--limit",
            "max_spans=2",
        ],
        &grpc_env(&rx),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("4 spans started, 2 ended, 2 dropped"),
        "{}",
        stderr(&out)
    );
    let spans = rx.wait_for_span_count(3, WAIT).unwrap();
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    assert!(
        names.contains(&"handle_r") && names.contains(&"validate"),
        "{names:?}"
    );

    let out = wasmtrace(&["run", QUICKSTART, "--limit", "max_spanz=2"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("unknown field `max_spanz`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn running_out_of_fuel_is_a_clear_error_and_spans_are_kept() {
    let rx = OtlpReceiver::start().unwrap();
    let out = wasmtrace(
        &["run", CRASHING, "--input", "loop", "--fuel", "5000000"],
        &grpc_env(&rx),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(
        err.lines().last(),
        Some("error: plugin crashed (wasm.out_of_fuel): the plugin ran out of fuel"),
        "{err}"
    );
    let spans = rx.wait_for_span_count(4, WAIT).unwrap();
    assert!(spans.iter().all(|s| s.status_code == StatusCode::Error));
}

#[test]
fn version_and_help_name_the_otel_variables() {
    let out = Command::new(wasmtrace_bin())
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("wasmtrace {}", env!("CARGO_PKG_VERSION"))
    );
    let out = Command::new(wasmtrace_bin())
        .args(["run", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in ["--traceparent", "--export-json", "--limit", "OTEL_"] {
        assert!(help.contains(needle), "{needle} missing from:\n{help}");
    }
}

#[test]
fn usage_errors_exit_with_status_2() {
    let out = Command::new(wasmtrace_bin())
        .args(["run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
