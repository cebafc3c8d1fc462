//! The Foundation tracing guide's patterns as plugins (`plugins/*`), run
//! through the `wasmtrace` binary: each test asserts the span tree the guide
//! describes on spans received over OTLP/gRPC by the in-process receiver.

use std::process::Output;
use std::time::Duration;

use wasmtrace_test_artifacts::{
    BATCH, CACHE, CIRCUIT_BREAKER, LONG_OPERATION, REQUEST_HANDLER, RETRY, SAMPLING,
};
use wasmtrace_test_support::{
    AttrValue, OtlpReceiver, ReceivedSpan, SpanKind, SpanTree, StatusCode, Transport,
};

use crate::cli::wasmtrace;

const WAIT: Duration = Duration::from_secs(20);

/// A finished run of a plugin exported over OTLP/gRPC.
pub(crate) struct Run {
    pub(crate) out: Output,
    pub(crate) spans: Vec<ReceivedSpan>,
}

impl Run {
    /// The plugin's output, without the CLI's final newline.
    pub(crate) fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout)
            .trim_end()
            .to_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }

    fn tree(&self) -> SpanTree<'_> {
        SpanTree::new(&self.spans)
    }
}

/// Runs `wasmtrace run <component> <args>` exporting over gRPC to a fresh
/// receiver, and returns once the invocation span (the last to end) arrived.
pub(crate) fn run_over_otlp(plugin: &str, component: &str, args: &[&str]) -> Run {
    let rx = OtlpReceiver::start().unwrap();
    let mut argv = vec!["run", component];
    argv.extend_from_slice(args);
    let out = wasmtrace(&argv, &rx.exporter_env(Transport::Grpc));
    let invoke = format!("invoke {plugin}");
    let spans = rx
        .wait_for_spans(|s| s.iter().any(|s| s.name == invoke), WAIT)
        .unwrap_or_else(|e| panic!("{e}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr)));
    assert!(rx.errors().is_empty(), "{:?}", rx.errors());
    Run { out, spans }
}

/// The expected `render_redacted` text: one line per span, two spaces of
/// indentation per level.
pub(crate) fn shape(lines: &[&str]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// Asserts the shape of the trace, that it is one trace, and that every
/// guest span carries `plugin`'s identity; returns the invocation span.
#[track_caller]
fn assert_shape<'a>(tree: &SpanTree<'a>, plugin: &str, expected: &[&str]) -> &'a ReceivedSpan {
    assert_eq!(tree.render_redacted(), shape(expected));
    tree.assert_single_trace();
    let invoke = tree
        .find(&format!("invoke {plugin}"))
        .expect("invocation span");
    assert_eq!(invoke.parent_span_id, None);
    for span in tree.spans().iter().filter(|s| s.span_id != invoke.span_id) {
        assert_eq!(span.scope.name, plugin, "{}", span.name);
        assert_eq!(span.scope.version, "0.1.0", "{}", span.name);
        assert!(
            span.attr("wasmtrace.component.sha256").is_some(),
            "{}",
            span.name
        );
    }
    invoke
}

/// The only span named `name`.
#[track_caller]
fn only<'a>(tree: &SpanTree<'a>, name: &str) -> &'a ReceivedSpan {
    let found = tree.find_all(name);
    assert_eq!(found.len(), 1, "{name}:\n{}", tree.render_redacted());
    found[0]
}

#[track_caller]
fn assert_child_of(child: &ReceivedSpan, parent: &ReceivedSpan) {
    assert_eq!(
        child.parent_span_id.as_deref(),
        Some(parent.span_id.as_str()),
        "{} should be a child of {}",
        child.name,
        parent.name
    );
}

fn str_attr<'a>(span: &'a ReceivedSpan, key: &str) -> Option<&'a str> {
    span.attr(key).and_then(AttrValue::as_str)
}

fn int_attr(span: &ReceivedSpan, key: &str) -> Option<i64> {
    span.attr(key).and_then(AttrValue::as_i64)
}

/// Asserts an `exception` event whose type contains `type_part`.
#[track_caller]
fn assert_exception(span: &ReceivedSpan, type_part: &str) {
    let exception = span
        .event("exception")
        .unwrap_or_else(|| panic!("{} has no exception event: {:?}", span.name, span.events));
    let ty = exception
        .attr("exception.type")
        .and_then(AttrValue::as_str)
        .unwrap_or_default();
    assert!(ty.contains(type_part), "{}: exception.type {ty}", span.name);
    assert!(
        exception
            .attr("exception.message")
            .and_then(AttrValue::as_str)
            .is_some_and(|m| !m.is_empty()),
        "{}",
        span.name
    );
}

#[test]
fn request_handler_nests_validate_process_and_send_under_handle_request() {
    let run = run_over_otlp("request-handler", REQUEST_HANDLER, &[]);
    assert!(run.out.status.success(), "{}", run.stderr());
    assert!(run.stdout().contains("total $32.96"), "{}", run.stdout());

    let tree = run.tree();
    let invoke = assert_shape(
        &tree,
        "request-handler",
        &[
            "invoke request-handler",
            "  handle_request",
            "    validate_request",
            "    process_business_logic",
            "    send_response",
        ],
    );
    let request = only(&tree, "handle_request");
    assert_child_of(request, invoke);
    let request_id = str_attr(request, "request_id").expect("request_id");
    assert!(
        request_id.starts_with("req-") && request_id.len() == 12,
        "{request_id}"
    );
    assert_eq!(
        request.attr("request.defaulted"),
        Some(&AttrValue::Bool(true))
    );

    for name in [
        "validate_request",
        "process_business_logic",
        "send_response",
    ] {
        let step = only(&tree, name);
        assert_child_of(step, request);
        assert_eq!(step.status_code, StatusCode::Unset, "{name}");
    }
    // Attributes added mid-span with `add_attributes`, typed.
    let logic = only(&tree, "process_business_logic");
    assert_eq!(logic.attr("items_processed"), Some(&AttrValue::Int(3)));
    assert_eq!(str_attr(logic, "processing_status"), Some("success"));
    assert_eq!(logic.attr("order.units"), Some(&AttrValue::Int(6)));
    assert_eq!(logic.attr("order.total_cents"), Some(&AttrValue::Int(3296)));
    let send = only(&tree, "send_response");
    assert!(int_attr(send, "response.size").is_some_and(|n| n > 0));
    assert_eq!(invoke.status_code, StatusCode::Unset);
}

#[test]
fn request_handler_records_a_failed_validation() {
    let run = run_over_otlp(
        "request-handler",
        REQUEST_HANDLER,
        &["--input", "widget:two"],
    );
    assert_eq!(run.out.status.code(), Some(1), "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("error: plugin returned an error: invalid request: quantity `two`"),
        "{}",
        run.stderr()
    );

    let tree = run.tree();
    let invoke = assert_shape(
        &tree,
        "request-handler",
        &[
            "invoke request-handler",
            "  handle_request",
            "    validate_request",
        ],
    );
    let validate = only(&tree, "validate_request");
    assert_eq!(validate.status_code, StatusCode::Error);
    assert_exception(validate, "ValidationError");
    let request = only(&tree, "handle_request");
    assert_eq!(request.status_code, StatusCode::Error);
    assert!(
        request.status_message.starts_with("invalid request:"),
        "{}",
        request.status_message
    );
    assert_eq!(invoke.status_code, StatusCode::Error);
}

#[test]
fn long_operation_marks_its_checkpoints_with_typed_events() {
    let run = run_over_otlp("long-operation", LONG_OPERATION, &["--input", "5000"]);
    assert!(run.out.status.success(), "{}", run.stderr());
    assert!(
        run.stdout().starts_with("5000 readings in "),
        "{}",
        run.stdout()
    );

    let tree = run.tree();
    let invoke = assert_shape(
        &tree,
        "long-operation",
        &["invoke long-operation", "  long_operation"],
    );
    let op = only(&tree, "long_operation");
    assert_child_of(op, invoke);
    assert_eq!(op.status_code, StatusCode::Unset);
    assert_eq!(op.attr("records.requested"), Some(&AttrValue::Int(5000)));

    let names: Vec<&str> = op.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        ["started_processing", "data_fetched", "processing_complete"]
    );
    // Timestamps: in order, inside the span.
    let times: Vec<u64> = op.events.iter().map(|e| e.time_unix_nano).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert!(times[0] >= op.start_time_unix_nano && times[2] <= op.end_time_unix_nano);

    assert_eq!(
        op.events[0].attr("records.requested"),
        Some(&AttrValue::Int(5000))
    );
    assert_eq!(
        op.events[1].attr("record_count"),
        Some(&AttrValue::Int(5000))
    );
    let complete = &op.events[2];
    let duration_ms = complete
        .attr("duration_ms")
        .and_then(AttrValue::as_f64)
        .expect("duration_ms is a double");
    let span_ms = op.duration_nanos() as f64 / 1e6;
    assert!(
        duration_ms > 0.0 && duration_ms <= span_ms,
        "duration_ms {duration_ms} vs span {span_ms} ms"
    );
    // The readings are the sum of two uniform draws: mean near 50.
    let mean = complete
        .attr("result.mean")
        .and_then(AttrValue::as_f64)
        .unwrap();
    assert!((45.0..55.0).contains(&mean), "{mean}");
    assert_eq!(op.attr("result.mean"), Some(&AttrValue::Double(mean)));
    for key in ["result.stddev", "result.min", "result.max", "result.p95"] {
        assert!(matches!(op.attr(key), Some(AttrValue::Double(_))), "{key}");
    }
}

#[test]
fn long_operation_rejects_a_bad_record_count() {
    let run = run_over_otlp("long-operation", LONG_OPERATION, &["--input", "lots"]);
    assert_eq!(run.out.status.code(), Some(1), "{}", run.stderr());
    let tree = run.tree();
    assert_shape(
        &tree,
        "long-operation",
        &["invoke long-operation", "  long_operation"],
    );
    let op = only(&tree, "long_operation");
    assert_eq!(op.status_code, StatusCode::Error);
    assert_exception(op, "BadRecordCount");
    assert_eq!(op.events.len(), 1, "no checkpoints: {:?}", op.events);
}

/// The `retry_attempt` events of `data_processing` as `(attempt, backoff_ms,
/// time)`.
fn retry_events(span: &ReceivedSpan) -> Vec<(i64, i64, u64)> {
    span.events
        .iter()
        .filter(|e| e.name == "retry_attempt")
        .map(|e| {
            (
                e.attr("attempt").and_then(AttrValue::as_i64).unwrap(),
                e.attr("backoff_ms").and_then(AttrValue::as_i64).unwrap(),
                e.time_unix_nano,
            )
        })
        .collect()
}

/// Checks the attempts of a retry run: one `retry_attempt` event on
/// `data_processing` and one `process_attempt` child per attempt, numbered
/// from 1, each event just before its span, the waits doubling from 10 ms.
#[track_caller]
fn assert_attempts<'a>(tree: &SpanTree<'a>, attempts: i64) -> Vec<&'a ReceivedSpan> {
    let processing = only(tree, "data_processing");
    assert_eq!(
        processing.attr("retry_enabled"),
        Some(&AttrValue::Bool(true))
    );
    assert_eq!(
        processing.attr("retry.attempts"),
        Some(&AttrValue::Int(attempts))
    );
    let events = retry_events(processing);
    let numbers: Vec<i64> = events.iter().map(|e| e.0).collect();
    assert_eq!(numbers, (1..=attempts).collect::<Vec<_>>());
    let backoffs: Vec<i64> = events.iter().map(|e| e.1).collect();
    let expected: Vec<i64> = (0..attempts)
        .map(|i| if i == 0 { 0 } else { 10 << (i - 1) })
        .collect();
    assert_eq!(backoffs, expected);
    for pair in events.windows(2) {
        let waited_ms = (pair[1].2 - pair[0].2) / 1_000_000;
        assert!(
            waited_ms >= pair[1].1 as u64,
            "attempt {} came {waited_ms} ms after the previous one",
            pair[1].0
        );
    }

    let spans = tree.children_of(&processing.span_id);
    assert_eq!(spans.len(), attempts as usize);
    for (i, span) in spans.iter().enumerate() {
        assert_eq!(span.name, "process_attempt");
        assert_eq!(span.attr("attempt"), Some(&AttrValue::Int(i as i64 + 1)));
        assert!(
            events[i].2 <= span.start_time_unix_nano,
            "event before span"
        );
    }
    spans
}

#[test]
fn retry_backs_off_exponentially_and_succeeds_on_the_third_attempt() {
    let run = run_over_otlp("retry", RETRY, &[]);
    assert!(run.out.status.success(), "{}", run.stderr());
    assert!(
        run.stdout()
            .starts_with("processed 5 ledger records on attempt 3 of 4"),
        "{}",
        run.stdout()
    );

    let tree = run.tree();
    let invoke = assert_shape(
        &tree,
        "retry",
        &[
            "invoke retry",
            "  data_processing",
            "    process_attempt",
            "    process_attempt",
            "    process_attempt",
        ],
    );
    let processing = only(&tree, "data_processing");
    assert_child_of(processing, invoke);
    assert_eq!(processing.status_code, StatusCode::Unset);
    assert_eq!(str_attr(processing, "retry.outcome"), Some("success"));
    assert_eq!(str_attr(processing, "retry.backoff"), Some("exponential"));
    assert!(processing.event("exception").is_none());

    let attempts = assert_attempts(&tree, 3);
    for failed in &attempts[..2] {
        assert_eq!(failed.status_code, StatusCode::Error);
        assert!(failed.status_message.contains("simulated 503"));
        assert_exception(failed, "TransientError");
    }
    let last = attempts[2];
    assert_eq!(last.status_code, StatusCode::Unset);
    assert!(last.events.is_empty());
    assert_eq!(last.attr("records.processed"), Some(&AttrValue::Int(5)));
}

#[test]
fn retry_records_the_final_error_when_every_attempt_fails() {
    let run = run_over_otlp("retry", RETRY, &["--input", "always-fail"]);
    assert_eq!(run.out.status.code(), Some(1), "{}", run.stderr());
    let last_line = run.stderr().lines().last().unwrap_or_default().to_owned();
    assert!(
        last_line.starts_with("error: plugin returned an error: all 4 attempts failed"),
        "{last_line}"
    );

    let tree = run.tree();
    let invoke = assert_shape(
        &tree,
        "retry",
        &[
            "invoke retry",
            "  data_processing",
            "    process_attempt",
            "    process_attempt",
            "    process_attempt",
            "    process_attempt",
        ],
    );
    for attempt in assert_attempts(&tree, 4) {
        assert_eq!(attempt.status_code, StatusCode::Error);
        assert_exception(attempt, "TransientError");
    }
    let processing = only(&tree, "data_processing");
    assert_eq!(processing.status_code, StatusCode::Error);
    assert!(
        processing.status_message.starts_with(
            "all 4 attempts failed; last error: storage backend unavailable on attempt 4"
        ),
        "{}",
        processing.status_message
    );
    assert_exception(processing, "RetriesExhausted");
    assert_eq!(str_attr(processing, "retry.outcome"), Some("exhausted"));
    assert_eq!(invoke.status_code, StatusCode::Error);
}

#[test]
fn batch_marks_failing_items_and_counts_them_on_the_batch() {
    let run = run_over_otlp("batch", BATCH, &[]);
    assert!(run.out.status.success(), "{}", run.stderr());
    assert!(
        run.stdout().starts_with("6 items, 4 succeeded, 2 failed"),
        "{}",
        run.stdout()
    );

    let tree = run.tree();
    let mut expected = vec!["invoke batch", "  batch_processing"];
    expected.extend(["    process_item"; 6]);
    let invoke = assert_shape(&tree, "batch", &expected);
    let batch = only(&tree, "batch_processing");
    assert_child_of(batch, invoke);
    assert_eq!(batch.status_code, StatusCode::Unset);
    assert_eq!(batch.attr("batch_size"), Some(&AttrValue::Int(6)));
    assert_eq!(batch.attr("failure_count"), Some(&AttrValue::Int(2)));
    assert_eq!(batch.attr("success_count"), Some(&AttrValue::Int(4)));

    let items = tree.children_of(&batch.span_id);
    let items_in_input = ["3", "7", "oops", "12", "x", "5"];
    for (index, (span, item)) in items.iter().zip(items_in_input).enumerate() {
        assert_eq!(span.name, "process_item");
        assert_eq!(span.attr("item_index"), Some(&AttrValue::Int(index as i64)));
        assert_eq!(str_attr(span, "item"), Some(item));
        if item.parse::<u64>().is_ok() {
            assert_eq!(str_attr(span, "status"), Some("success"), "{item}");
            assert_eq!(span.status_code, StatusCode::Unset, "{item}");
            assert!(span.events.is_empty(), "{item}");
        } else {
            assert_eq!(str_attr(span, "status"), Some("error"), "{item}");
            assert_eq!(span.status_code, StatusCode::Error, "{item}");
            assert!(
                str_attr(span, "error").is_some_and(|e| e.contains("is not a number")),
                "{item}"
            );
            assert_exception(span, "ItemError");
        }
    }
    assert_eq!(
        items[3].attr("factors"),
        Some(&AttrValue::from(vec![2_i64, 2, 3]))
    );
    assert_eq!(invoke.status_code, StatusCode::Unset);
}

/// What one `external_api_call` of the circuit-breaker plugin shows.
#[derive(Debug, PartialEq)]
struct Call {
    /// `circuit_breaker.state` when the call was decided.
    state: String,
    /// `circuit_breaker.decision`.
    decision: String,
    /// The `http_request` child's status code, if the call went out.
    http_status: Option<i64>,
    /// State changes recorded on the call, as `from->to`.
    changes: Vec<String>,
    /// Whether a `circuit_breaker.rejected` event was recorded.
    rejected: bool,
}

fn call(state: &str, decision: &str, http_status: Option<i64>, changes: &[&str]) -> Call {
    Call {
        state: state.to_owned(),
        decision: decision.to_owned(),
        http_status,
        changes: changes.iter().map(|c| (*c).to_owned()).collect(),
        rejected: decision == "reject",
    }
}

/// Checks the circuit-breaker trace and returns what each call shows.
#[track_caller]
fn breaker_calls(tree: &SpanTree<'_>) -> Vec<Call> {
    let driver = only(tree, "charge_payments");
    let calls = tree.children_of(&driver.span_id);
    assert_eq!(calls.len(), 7, "{}", tree.render_redacted());
    let mut out = Vec::new();
    for (i, span) in calls.iter().enumerate() {
        assert_eq!(span.name, "external_api_call");
        assert_eq!(str_attr(span, "service"), Some("payment_api"));
        assert_eq!(span.attr("call.index"), Some(&AttrValue::Int(i as i64 + 1)));
        let state = str_attr(span, "circuit_breaker.state").unwrap().to_owned();
        let decision = str_attr(span, "circuit_breaker.decision")
            .unwrap()
            .to_owned();
        // The decision is also an event carrying the same attributes.
        let event = span
            .event("circuit_breaker.decision")
            .expect("decision event");
        assert_eq!(
            event
                .attr("circuit_breaker.state")
                .and_then(AttrValue::as_str),
            Some(state.as_str())
        );
        assert_eq!(
            event
                .attr("circuit_breaker.decision")
                .and_then(AttrValue::as_str),
            Some(decision.as_str())
        );

        let http = tree.children_of(&span.span_id);
        assert!(http.len() <= 1);
        let http_status = http.first().map(|h| {
            assert_eq!(h.name, "http_request");
            assert_eq!(h.kind, SpanKind::Client);
            assert_eq!(str_attr(h, "http.request.method"), Some("POST"));
            let status = int_attr(h, "http.response.status_code").unwrap();
            if status >= 500 {
                assert_eq!(h.status_code, StatusCode::Error);
                assert_eq!(str_attr(h, "error.type"), Some("503"));
                assert_exception(h, "UpstreamError");
            } else {
                assert_eq!(h.status_code, StatusCode::Unset);
            }
            status
        });
        let rejected = span.event("circuit_breaker.rejected");
        if let Some(rejected) = rejected {
            assert_eq!(
                rejected
                    .attr("circuit_breaker.state")
                    .and_then(AttrValue::as_str),
                Some("open")
            );
            assert!(
                rejected
                    .attr("circuit_breaker.retry_in_ms")
                    .and_then(AttrValue::as_i64)
                    .is_some_and(|ms| (0..=50).contains(&ms))
            );
        }
        // A call that failed or was rejected is an error; a success is not.
        let expect_error = http_status != Some(200);
        assert_eq!(
            span.status_code == StatusCode::Error,
            expect_error,
            "call {}: {:?} {}",
            i + 1,
            span.status_code,
            span.status_message
        );
        let changes = span
            .events
            .iter()
            .filter(|e| e.name == "circuit_breaker.state_change")
            .map(|e| {
                format!(
                    "{}->{}",
                    e.attr("circuit_breaker.previous_state")
                        .and_then(AttrValue::as_str)
                        .unwrap(),
                    e.attr("circuit_breaker.state")
                        .and_then(AttrValue::as_str)
                        .unwrap()
                )
            })
            .collect();
        out.push(Call {
            state,
            decision,
            http_status,
            changes,
            rejected: rejected.is_some(),
        });
    }
    out
}

#[test]
fn circuit_breaker_opens_rejects_and_closes_after_a_half_open_probe() {
    let run = run_over_otlp("circuit-breaker", CIRCUIT_BREAKER, &[]);
    assert!(run.out.status.success(), "{}", run.stderr());
    assert!(
        run.stdout()
            .ends_with("2 charged, 3 failed, 2 rejected; breaker closed"),
        "{}",
        run.stdout()
    );

    let tree = run.tree();
    let invoke = assert_shape(
        &tree,
        "circuit-breaker",
        &[
            "invoke circuit-breaker",
            "  charge_payments",
            "    external_api_call",
            "      http_request",
            "    external_api_call",
            "      http_request",
            "    external_api_call",
            "      http_request",
            "    external_api_call",
            "    external_api_call",
            "    external_api_call",
            "      http_request",
            "    external_api_call",
            "      http_request",
        ],
    );
    let driver = only(&tree, "charge_payments");
    assert_child_of(driver, invoke);
    assert_eq!(
        str_attr(driver, "circuit_breaker.final_state"),
        Some("closed")
    );
    assert_eq!(driver.attr("payments.rejected"), Some(&AttrValue::Int(2)));
    let waiting = driver
        .event("circuit_breaker.waiting")
        .expect("cooldown wait");
    assert_eq!(waiting.attr("wait_ms"), Some(&AttrValue::Int(50)));

    assert_eq!(
        breaker_calls(&tree),
        [
            call("closed", "allow", Some(503), &[]),
            call("closed", "allow", Some(503), &[]),
            call("closed", "allow", Some(503), &["closed->open"]),
            call("open", "reject", None, &[]),
            call("open", "reject", None, &[]),
            call(
                "half_open",
                "probe",
                Some(200),
                &["open->half_open", "half_open->closed"]
            ),
            call("closed", "allow", Some(200), &[]),
        ]
    );
}

#[test]
fn circuit_breaker_reopens_when_the_half_open_probe_fails() {
    let run = run_over_otlp("circuit-breaker", CIRCUIT_BREAKER, &["--input", "4"]);
    assert!(run.out.status.success(), "{}", run.stderr());
    let tree = run.tree();
    assert_eq!(
        breaker_calls(&tree),
        [
            call("closed", "allow", Some(503), &[]),
            call("closed", "allow", Some(503), &[]),
            call("closed", "allow", Some(503), &["closed->open"]),
            call("open", "reject", None, &[]),
            call("open", "reject", None, &[]),
            call(
                "half_open",
                "probe",
                Some(503),
                &["open->half_open", "half_open->open"]
            ),
            call("open", "reject", None, &[]),
        ]
    );
    assert_eq!(
        str_attr(
            only(&tree, "charge_payments"),
            "circuit_breaker.final_state"
        ),
        Some("open")
    );
}

/// Runs the sampling plugin with `sampler` variables and `args` and asserts
/// that nothing was exported and that the plugin skipped the expensive work.
#[track_caller]
fn assert_unsampled(sampler: &[(&str, &str)], args: &[&str]) {
    let rx = OtlpReceiver::start().unwrap();
    let mut env = rx.exporter_env(Transport::Grpc);
    env.extend(sampler.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let mut argv = vec!["run", SAMPLING];
    argv.extend_from_slice(args);
    let out = wasmtrace(&argv, &env);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{sampler:?}");
    assert!(
        stdout
            .trim_end()
            .ends_with("sampled: no, skipped the expensive report details"),
        "{sampler:?}: {stdout}"
    );
    // The CLI flushed before exiting: anything exported has arrived.
    assert!(
        rx.wait_for_span_count(1, Duration::from_millis(500))
            .is_err(),
        "{sampler:?}: spans were exported: {:?}",
        rx.spans().iter().map(|s| &s.name).collect::<Vec<_>>()
    );
}

#[test]
fn sampling_attaches_expensive_details_only_when_recording() {
    // Sampled (the default parent-based always-on sampler).
    let run = run_over_otlp("sampling", SAMPLING, &[]);
    assert!(run.out.status.success(), "{}", run.stderr());
    assert!(
        run.stdout()
            .ends_with("sampled: yes, details attached (70 bytes)"),
        "{}",
        run.stdout()
    );
    let tree = run.tree();
    let invoke = assert_shape(&tree, "sampling", &["invoke sampling", "  handle_request"]);
    let request = only(&tree, "handle_request");
    assert_child_of(request, invoke);
    assert!(request.is_sampled());
    assert_eq!(request.attr("sampled"), Some(&AttrValue::Bool(true)));
    assert_eq!(request.attr("report.words"), Some(&AttrValue::Int(13)));
    let details = str_attr(request, "report.details").expect("report.details");
    assert!(details.starts_with("the=3 dog=2 "), "{details}");
    let computed = request
        .event("report.details_computed")
        .expect("details event");
    assert_eq!(computed.attr("details.bytes"), Some(&AttrValue::Int(70)));

    // Not sampled: nothing is exported and the plugin skips the work.
    assert_unsampled(&[("OTEL_TRACES_SAMPLER", "always_off")], &[]);
    assert_unsampled(
        &[
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "1.0"),
        ],
        &[
            "--traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
        ],
    );

    // A sampled caller wins over a zero ratio with the parent-based sampler:
    // the guide's "sample 10%" applies to new traces only.
    let rx = OtlpReceiver::start().unwrap();
    let mut env = rx.exporter_env(Transport::Grpc);
    env.push(("OTEL_TRACES_SAMPLER", "parentbased_traceidratio".into()));
    env.push(("OTEL_TRACES_SAMPLER_ARG", "0.0".into()));
    let sampled_parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let out = wasmtrace(&["run", SAMPLING, "--traceparent", sampled_parent], &env);
    assert!(String::from_utf8_lossy(&out.stdout).contains("sampled: yes"));
    let spans = rx.wait_for_span_count(2, WAIT).unwrap();
    assert!(
        spans
            .iter()
            .all(|s| s.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736")
    );
    let tree = SpanTree::new(&spans);
    assert!(
        only(&tree, "handle_request")
            .attr("report.details")
            .is_some()
    );
}

#[test]
fn every_pattern_prints_its_tree_on_the_embedded_default() {
    let cases: [(&str, &str, &[&str]); 6] = [
        (
            "request-handler",
            REQUEST_HANDLER,
            &[
                "   └─ handle_request",
                "      ├─ validate_request",
                "      ├─ process_business_logic",
                "items_processed=3  processing_status=\"success\"",
                "      └─ send_response",
            ],
        ),
        (
            "long-operation",
            LONG_OPERATION,
            &[
                "   └─ long_operation",
                "• started_processing",
                "• data_fetched",
                "record_count=20000",
                "• processing_complete",
                "duration_ms=",
            ],
        ),
        (
            "retry",
            RETRY,
            &[
                "   └─ data_processing",
                "retry_enabled=true",
                "• retry_attempt",
                "attempt=3  backoff_ms=20",
                "      ├─ process_attempt",
                "[ERROR: storage backend unavailable on attempt 1",
                "      └─ process_attempt",
            ],
        ),
        (
            "batch",
            BATCH,
            &[
                "   └─ batch_processing  ",
                "batch_size=6",
                "failure_count=2",
                "      ├─ process_item",
                "item_index=2  item=\"oops\"  status=\"error\"",
                "• exception",
                "      └─ process_item",
            ],
        ),
        (
            "circuit-breaker",
            CIRCUIT_BREAKER,
            &[
                "   └─ charge_payments",
                "      ├─ external_api_call",
                "└─ http_request",
                "• circuit_breaker.rejected",
                "circuit_breaker.state=\"half_open\"",
                "circuit_breaker.final_state=\"closed\"",
            ],
        ),
        (
            "sampling",
            SAMPLING,
            &[
                "   └─ handle_request",
                "sampled=true",
                "report.details=\"the=3",
                "• report.details_computed",
            ],
        ),
    ];
    for (plugin, component, needles) in cases {
        let out = wasmtrace(&["run", component], &[("WASMTRACE_CONSOLE", "tree".into())]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{plugin}: {err}");
        assert!(!out.stdout.is_empty(), "{plugin}: no output");
        assert!(
            err.contains(&format!("└─ invoke {plugin}  ")),
            "{plugin}:\n{err}"
        );
        for needle in needles {
            assert!(
                err.contains(needle),
                "{plugin}: missing {needle:?} in:\n{err}"
            );
        }
    }
}

#[test]
fn cache_misses_fetches_and_puts_then_hits() {
    let run = run_over_otlp("cache", CACHE, &[]);
    assert!(run.out.status.success(), "{}", run.stderr());
    assert_eq!(run.stdout(), "42 -> edsger-42\n9 -> ken-9\n42 -> edsger-42");

    let tree = run.tree();
    assert_eq!(
        tree.render_redacted(),
        shape(&[
            "invoke cache",
            "  parse_ids",
            "  get_user",
            "    cache.get",
            "    fetch_from_source",
            "      cache.put",
            "  get_user",
            "    cache.get",
            "    fetch_from_source",
            "      cache.put",
            "  get_user",
            "    cache.get",
        ])
    );
    tree.assert_single_trace();
    // The cache spans are the host's (its instrumentation scope), the rest
    // the plugin's.
    for span in tree.spans() {
        let expected = if span.name.starts_with("cache.") || span.name.starts_with("invoke ") {
            "wasmtrace"
        } else {
            "cache"
        };
        assert_eq!(span.scope.name, expected, "{}", span.name);
    }
    let gets = tree.find_all("cache.get");
    let hits: Vec<Option<&AttrValue>> = gets.iter().map(|s| s.attr("cache.hit")).collect();
    assert_eq!(
        hits,
        [
            Some(&AttrValue::Bool(false)),
            Some(&AttrValue::Bool(false)),
            Some(&AttrValue::Bool(true)),
        ]
    );
    assert_eq!(str_attr(gets[2], "cache.key"), Some("user:42"));
    assert_eq!(int_attr(gets[2], "cache.item.size"), Some(9));
    let users = tree.find_all("get_user");
    assert_eq!(str_attr(users[0], "user.source"), Some("origin"));
    assert_eq!(str_attr(users[2], "user.source"), Some("cache"));
    for put in tree.find_all("cache.put") {
        let fetch = tree.parent_of(put).expect("parent of cache.put");
        assert_eq!(fetch.name, "fetch_from_source");
        assert!(int_attr(put, "cache.item.size").is_some_and(|n| n > 0));
        assert_eq!(int_attr(put, "cache.evicted"), Some(0));
    }
}
