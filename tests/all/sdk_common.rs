//! What the JavaScript and Python SDK tests (`sdk_js.rs`, `sdk_py.rs`)
//! share: building each guest once per test run, loading it once, the tests
//! both languages run ([`sdk_tests!`], over an [`Sdk`] naming what differs)
//! and their assertions (the Rust quickstart's trace shape, its logs and
//! metrics, its HTTP service, and each SDK feature's spans). `signals.rs`
//! checks the Rust quickstart's logs and metrics with the same assertions.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry::logs::{AnyValue, Severity};
use opentelemetry::trace::{SpanContext, SpanId};
use opentelemetry_sdk::logs::SdkLogRecord;
use opentelemetry_sdk::logs::in_memory_exporter::LogDataWithResource;
use opentelemetry_sdk::metrics::data::{
    AggregatedMetrics, MetricData, ResourceMetrics, ScopeMetrics,
};
use wasmtrace::testkit::{
    AttrValue, PluginTest, ReceivedSpan, SpanKind, SpanTree, StatusCode, TestRun,
};
use wasmtrace::{Plugin, Runtime, RuntimeConfig};
use wasmtrace_test_support::OtlpReceiver;
use wasmtrace_test_support::toolchains::{self, BuildError};

use crate::serve::Served;
use crate::signals::Pipelines;

/// Where the tests write components.
pub(crate) fn out(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

/// A guest built at most once per test run (componentize takes 10-50 s).
pub(crate) struct Guest {
    build: OnceLock<Result<PathBuf, BuildError>>,
    loaded: OnceLock<Mutex<PluginTest>>,
}

impl Guest {
    pub(crate) const fn new() -> Self {
        Self {
            build: OnceLock::new(),
            loaded: OnceLock::new(),
        }
    }

    /// The component, built on first use; `None` (the test skips, saying
    /// why) when the toolchain is missing; a failed build fails the test.
    pub(crate) fn path(
        &self,
        test: &str,
        build: impl FnOnce() -> Result<PathBuf, BuildError>,
    ) -> Option<PathBuf> {
        BuildError::or_skip(self.build.get_or_init(build).clone(), test)
    }

    /// The component loaded into a test kit, compiled once (12-17 s) and
    /// shared by the tests of this guest, one at a time.
    pub(crate) fn test_kit(
        &self,
        test: &str,
        build: impl FnOnce() -> Result<PathBuf, BuildError>,
    ) -> Option<MutexGuard<'_, PluginTest>> {
        let path = self.path(test, build)?;
        let kit = self.loaded.get_or_init(|| {
            Mutex::new(PluginTest::load(&path).unwrap_or_else(|e| panic!("{test}: {e:#}")))
        });
        // A test that failed while holding it leaves nothing half-done.
        Some(kit.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Invokes `input` in the test kit, which must return `expected`.
#[track_caller]
pub(crate) fn returning(kit: &PluginTest, input: &str, expected: &str) -> TestRun {
    let run = kit.invoke_with_parent(input, &Context::new());
    assert_eq!(
        run.output.as_deref().ok(),
        Some(expected),
        "{:?}",
        run.output
    );
    run
}

/// The only span named `name`.
#[track_caller]
pub(crate) fn only<'a>(tree: &SpanTree<'a>, name: &str) -> &'a ReceivedSpan {
    let found = tree.find_all(name);
    assert_eq!(found.len(), 1, "{name}:\n{}", tree.render_redacted());
    found[0]
}

#[track_caller]
pub(crate) fn assert_child_of(child: &ReceivedSpan, parent: &ReceivedSpan) {
    assert_eq!(
        child.parent_span_id.as_deref(),
        Some(parent.span_id.as_str()),
        "{} should be a child of {}",
        child.name,
        parent.name
    );
}

fn strings(items: &[&str]) -> AttrValue {
    AttrValue::Array(items.iter().map(|&s| s.into()).collect())
}

fn ints(items: &[i64]) -> AttrValue {
    AttrValue::Array(items.iter().map(|&i| i.into()).collect())
}

/// The plugin's identity on its spans: the invocation span named after it,
/// every guest span in its instrumentation scope with its version.
#[track_caller]
pub(crate) fn assert_identity(tree: &SpanTree<'_>, plugin: &str, version: &str) {
    let invoke = only(tree, &format!("invoke {plugin}"));
    assert_eq!(invoke.scope.name, "wasmtrace");
    for span in tree.spans() {
        if span.span_id == invoke.span_id || span.name.starts_with("cache.") {
            continue;
        }
        assert_eq!(span.scope.name, plugin, "{}", span.name);
        assert_eq!(span.scope.version, version, "{}", span.name);
        assert!(
            span.attr("wasmtrace.component.sha256").is_some(),
            "{}",
            span.name
        );
    }
}

/// An `exception` event as the semantic conventions have it: the type
/// (ending in `type_suffix`), the message, a stack trace mentioning
/// `frame`; the span's status Error with the message.
#[track_caller]
pub(crate) fn assert_exception(span: &ReceivedSpan, ty: &str, message: &str, frame: &str) {
    let exception = span
        .event("exception")
        .unwrap_or_else(|| panic!("{} has no exception event: {:?}", span.name, span.events));
    let attr = |key: &str| {
        exception
            .attr(key)
            .and_then(AttrValue::as_str)
            .unwrap_or_default()
    };
    assert_eq!(attr("exception.type"), ty, "{}", span.name);
    assert_eq!(attr("exception.message"), message, "{}", span.name);
    let stack = attr("exception.stacktrace");
    assert!(
        stack.contains(frame) && stack.contains(message),
        "{}: stacktrace {stack:?}",
        span.name
    );
    assert_eq!(span.status_code, StatusCode::Error, "{}", span.name);
    assert_eq!(span.status_message, message, "{}", span.name);
}

/// A guest SDK under the tests both languages run: how its guests are
/// built, the guests (each built once per test run), and the names that
/// differ by language. A plugin's name is also its component's file name.
pub(crate) struct Sdk {
    /// The SDK's builder: a source file, builder flags, the component.
    pub(crate) componentize: fn(&Path, &[&str], &Path) -> Result<PathBuf, BuildError>,
    /// The quickstart example's plugin, from its source and (with `--http`)
    /// its HTTP service's, under the repository root.
    pub(crate) quickstart: &'static str,
    pub(crate) quickstart_source: &'static str,
    pub(crate) quickstart_http_source: &'static str,
    /// The exception type the quickstart rejects `fail` with, and the file
    /// its stack trace names.
    pub(crate) validation_type: &'static str,
    pub(crate) quickstart_frame: &'static str,
    /// The SDK's test guest, from its source.
    pub(crate) sdk_guest: &'static str,
    pub(crate) sdk_guest_source: &'static str,
    /// The test guest's exception types (`throw`, `reject`), and the file
    /// its stack traces name.
    pub(crate) exception_types: [&'static str; 2],
    pub(crate) sdk_frame: &'static str,
    /// The span of a concurrent task's second step.
    pub(crate) step: &'static str,
    /// How the language prints "no value" and "true".
    pub(crate) none: &'static str,
    pub(crate) truth: &'static str,
    pub(crate) guests: Guests,
}

/// An SDK's guests, each built and loaded at most once per test run.
pub(crate) struct Guests {
    quickstart: Guest,
    quickstart_http: Guest,
    sdk: Guest,
}

impl Guests {
    pub(crate) const fn new() -> Self {
        Self {
            quickstart: Guest::new(),
            quickstart_http: Guest::new(),
            sdk: Guest::new(),
        }
    }
}

/// The tests both SDKs run: each `name => flow` is a `#[test]` calling
/// `SDK.flow(name)` (the name is for the skip message).
macro_rules! sdk_tests {
    ($sdk:ident: $($name:ident => $flow:ident,)*) => {
        $(
            #[test]
            fn $name() {
                $sdk.$flow(stringify!($name));
            }
        )*
    };
}
pub(crate) use sdk_tests;

impl Sdk {
    fn build(&self, source: &str, args: &[&str], plugin: &str) -> Result<PathBuf, BuildError> {
        let source = toolchains::repo_root().join(source);
        (self.componentize)(&source, args, &out(&format!("{plugin}.wasm")))
    }

    fn build_quickstart(&self) -> Result<PathBuf, BuildError> {
        self.build(self.quickstart_source, &[], self.quickstart)
    }

    fn quickstart_kit(&self, test: &str) -> Option<MutexGuard<'_, PluginTest>> {
        self.guests
            .quickstart
            .test_kit(test, || self.build_quickstart())
    }

    fn build_sdk_guest(&self) -> Result<PathBuf, BuildError> {
        self.build(self.sdk_guest_source, &[], self.sdk_guest)
    }

    /// The SDK test guest's `logs` scenario, run in process (`None`: the
    /// test skips, see [`Guest::path`]): its log records, and the id of the
    /// `logging` span they were recorded under.
    pub(crate) fn run_logs_scenario(
        &self,
        test: &str,
    ) -> Option<(Vec<LogDataWithResource>, SpanId)> {
        let component = self.guests.sdk.path(test, || self.build_sdk_guest())?;
        let p = Pipelines::new();
        let runtime = Runtime::new(p.providers(), RuntimeConfig::default()).unwrap();
        let plugin = runtime.load_file(&component).unwrap();
        assert_eq!(
            runtime.invoke(&plugin, "logs", &Context::new()).unwrap(),
            "logged"
        );
        let spans = p.spans.get_finished_spans().unwrap();
        let logging = spans.iter().find(|s| s.name == "logging").expect("span");
        Some((
            p.logs.get_emitted_logs().unwrap(),
            logging.span_context.span_id(),
        ))
    }

    /// The SDK test guest in its test kit (see [`Guest::test_kit`]).
    pub(crate) fn sdk_kit(&self, test: &str) -> Option<MutexGuard<'_, PluginTest>> {
        self.guests.sdk.test_kit(test, || self.build_sdk_guest())
    }

    /// The quickstart's trace, as the Rust plugin records it
    /// (`plugins/quickstart`): `a b a` counted in nested, typed spans, and
    /// `fail` rejected by `validate_request` with an exception of
    /// `validation_type`, the failure on every span above it.
    pub(crate) fn assert_quickstart(&self, test: &str) {
        let Some(kit) = self.quickstart_kit(test) else {
            return;
        };
        let plugin = self.quickstart;
        let run = returning(
            &kit,
            "a b a",
            "3 words, 2 unique; most frequent: a (2), b (1)",
        );
        let tree = run.tree();
        tree.assert_single_trace();
        assert_eq!(
            tree.render_redacted(),
            format!(
                "invoke {plugin}\n  handle_request\n    validate_request\n    process_business_logic\n    send_response\n"
            )
        );
        assert_identity(&tree, plugin, "0.1.0");
        let request = only(&tree, "handle_request");
        assert_child_of(request, only(&tree, &format!("invoke {plugin}")));
        assert_eq!(request.kind, SpanKind::Internal);
        assert_eq!(request.attr("request.size"), Some(&AttrValue::Int(5)));
        assert_eq!(
            request.attr("request.defaulted"),
            Some(&AttrValue::Bool(false))
        );
        assert_eq!(
            request.attr("request.source"),
            Some(&AttrValue::String("stdin".into()))
        );
        assert_eq!(request.attr("response.words"), Some(&AttrValue::Int(3)));
        assert_eq!(
            only(&tree, "validate_request").attr("validation.rules"),
            Some(&strings(&["non_empty", "not_fail"]))
        );
        let logic = only(&tree, "process_business_logic");
        assert_eq!(logic.attr("items_processed"), Some(&AttrValue::Int(3)));
        assert_eq!(
            logic.attr("processing_status"),
            Some(&AttrValue::String("completed".into()))
        );
        // An average of exactly 1 is still a double.
        assert_eq!(
            logic.attr("processing.avg_word_length"),
            Some(&AttrValue::Double(1.0))
        );
        assert_eq!(
            logic.attr("processing.top_words"),
            Some(&strings(&["a", "b"]))
        );
        assert_eq!(
            logic.attr("processing.word_lengths"),
            Some(&ints(&[1, 1, 1]))
        );
        let fetched = logic.event("data_fetched").expect("data_fetched event");
        assert_eq!(fetched.attr("record_count"), Some(&AttrValue::Int(3)));
        assert_eq!(
            only(&tree, "send_response").attr("response.size"),
            Some(&AttrValue::Int(46))
        );
        for span in tree.spans() {
            assert_eq!(span.status_code, StatusCode::Unset, "{}", span.name);
        }

        let run = kit.invoke_with_parent("fail", &Context::new());
        let message = "input `fail` is rejected by the quickstart plugin";
        let error = run.output.as_ref().expect_err("`fail` is rejected");
        assert!(error.to_string().contains(message), "{error}");
        let tree = run.tree();
        assert_eq!(
            tree.render_redacted(),
            format!("invoke {plugin}\n  handle_request\n    validate_request\n")
        );
        assert_exception(
            only(&tree, "validate_request"),
            self.validation_type,
            message,
            self.quickstart_frame,
        );
        // Recorded once, where it was thrown; the spans it passed through fail.
        let request = only(&tree, "handle_request");
        assert!(request.event("exception").is_none(), "{:?}", request.events);
        assert_eq!(request.status_code, StatusCode::Error);
        assert_eq!(request.status_message, message);
        let invoke = only(&tree, &format!("invoke {plugin}"));
        assert_eq!(invoke.status_code, StatusCode::Error);
        assert!(
            invoke.status_message.contains(message),
            "{}",
            invoke.status_message
        );
    }

    /// The quickstart's logs (under the span current when emitted) and metrics
    /// (aggregated per plugin), as `signals.rs` checks the Rust plugin's.
    pub(crate) fn assert_quickstart_signals(&self, test: &str) {
        let Some(component) = self
            .guests
            .quickstart
            .path(test, || self.build_quickstart())
        else {
            return;
        };
        let p = Pipelines::new();
        let (_runtime, loaded) = run_quickstart(&p, &component);
        assert_quickstart_logs(&p, self.quickstart);
        let metrics = p.metrics.get_finished_metrics().unwrap();
        assert_quickstart_metrics(&metrics, self.quickstart);
        let stats = loaded.stats();
        assert_eq!(stats.logs_dropped() + stats.measurements_dropped(), 0);
    }

    /// The quickstart's HTTP service under `wasmtrace serve`: each request a
    /// server span with the invocation and the quickstart's spans under it.
    pub(crate) fn assert_quickstart_serves(&self, test: &str) {
        let http = format!("{}-http", self.quickstart);
        let build = || self.build(self.quickstart_http_source, &["--http"], &http);
        let Some(component) = self.guests.quickstart_http.path(test, build) else {
            return;
        };
        let plugin = self.quickstart;
        let rx = OtlpReceiver::start().unwrap();
        let component = component.to_str().expect("UTF-8 path");
        // A 13-21 MB component compiles for 12-17 s first, longer on a loaded
        // machine.
        let mut served = Served::plugin_within(component, &[], &rx, Duration::from_secs(180));
        assert_eq!(
            served.get("/words?text=a%20b%20a"),
            (
                200,
                "3 words, 2 unique; most frequent: a (2), b (1)\n".to_owned()
            ),
            "{}",
            served.stderr()
        );
        let (status, body) = served.get("/words?text=fail");
        assert_eq!(status, 422, "{body}\n{}", served.stderr());
        assert_eq!(body, "input `fail` is rejected by the quickstart plugin\n");
        assert_eq!(served.get("/nothing-here").0, 404);
        let invoke = format!("invoke {plugin}");
        let spans = rx
            .wait_for_spans(
                |s| s.iter().filter(|s| s.name == invoke).count() == 3,
                Duration::from_secs(30),
            )
            .unwrap_or_else(|e| panic!("{e}\nstderr:\n{}", served.stderr()));
        served.stop("INT");

        let tree = SpanTree::new(&spans);
        let counted: Vec<_> = tree
            .find_all("handle_request")
            .into_iter()
            .filter(|s| s.status_code != StatusCode::Error)
            .collect();
        assert_eq!(counted.len(), 1, "{}", tree.render_redacted());
        let request = counted[0];
        assert_eq!(
            request.attr("request.source"),
            Some(&AttrValue::String("http".into()))
        );
        let invocation = tree.parent_of(request).expect("the invocation span");
        assert_eq!(invocation.name, invoke);
        let server = tree.parent_of(invocation).expect("the server span");
        assert_eq!(server.name, "GET");
        assert_eq!(server.kind, SpanKind::Server);
        assert_eq!(
            server.attr("http.response.status_code"),
            Some(&AttrValue::Int(200))
        );
        let steps: Vec<&str> = tree
            .children_of(&request.span_id)
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(
            steps,
            [
                "validate_request",
                "process_business_logic",
                "send_response"
            ]
        );
        for span in [request, tree.find("process_business_logic").unwrap()] {
            assert_eq!(span.scope.name, plugin);
            assert_eq!(span.scope.version, "0.1.0");
        }
        let failed = tree
            .find_all("validate_request")
            .into_iter()
            .find(|s| s.status_code == StatusCode::Error)
            .expect("the failed validation");
        assert!(failed.event("exception").is_some());
    }

    /// The `types` scenario: plain values of the language, recorded with the
    /// OpenTelemetry type each stands for.
    pub(crate) fn assert_typed_attributes(&self, test: &str) {
        let Some(kit) = self.sdk_kit(test) else {
            return;
        };
        let plugin = self.sdk_guest;
        let run = returning(&kit, "types", "typed");
        let tree = run.tree();
        assert_eq!(
            tree.render_redacted(),
            format!("invoke {plugin}\n  typed\n    child\n")
        );
        assert_identity(&tree, plugin, "0.3.1");
        let typed = only(&tree, "typed");
        assert_eq!(typed.kind, SpanKind::Server);
        let expected = [
            ("s", AttrValue::String("text".into())),
            ("b", AttrValue::Bool(true)),
            ("i", AttrValue::Int(42)),
            ("big", AttrValue::Int(i64::MIN)),
            ("f", AttrValue::Double(1.5)),
            ("forced", AttrValue::Double(2.0)),
            ("sa", strings(&["a", "b"])),
            ("ba", AttrValue::Array(vec![true.into(), false.into()])),
            ("ia", ints(&[1, 2])),
            ("bia", ints(&[1, i64::MAX])),
            ("fa", AttrValue::Array(vec![0.5.into(), 2.5.into()])),
            ("mixed", AttrValue::Array(vec![1.0.into(), 2.5.into()])),
        ];
        for (key, value) in expected {
            assert_eq!(typed.attr(key), Some(&value), "{key}");
        }
        assert_eq!(typed.attr("skipped"), None, "a null value is dropped");
        let event = typed.event("typed.event").expect("typed.event");
        assert_eq!(event.attr("n"), Some(&AttrValue::Int(7)));
        assert_eq!(event.attr("ratio"), Some(&AttrValue::Double(0.25)));
    }

    /// The `throw` and `reject` scenarios: an exception thrown in a nested span
    /// (synchronously, and after an `await`) is recorded once, where it was
    /// thrown, fails every span above it and the invocation, and never traps.
    pub(crate) fn assert_exceptions(&self, test: &str) {
        let Some(kit) = self.sdk_kit(test) else {
            return;
        };
        let (plugin, types, frame) = (self.sdk_guest, self.exception_types, self.sdk_frame);
        let run = kit.invoke_with_parent("throw", &Context::new());
        let error = run.output.as_ref().expect_err("the handler's error");
        assert!(error.to_string().contains("input rejected"), "{error}");
        let tree = run.tree();
        assert_eq!(
            tree.render_redacted(),
            format!("invoke {plugin}\n  outer\n    inner\n")
        );
        assert_exception(only(&tree, "inner"), types[0], "input rejected", frame);
        let outer = only(&tree, "outer");
        assert!(outer.event("exception").is_none(), "{:?}", outer.events);
        assert_eq!(outer.status_code, StatusCode::Error);
        assert_eq!(outer.status_message, "input rejected");
        let invoke = only(&tree, &format!("invoke {plugin}"));
        assert_eq!(invoke.status_code, StatusCode::Error);
        assert!(
            invoke.status_message.contains("input rejected"),
            "{}",
            invoke.status_message
        );

        let run = kit.invoke_with_parent("reject", &Context::new());
        let error = run.output.as_ref().expect_err("the handler's error");
        assert!(error.to_string().contains("rejected later"), "{error}");
        let tree = run.tree();
        assert_exception(
            only(&tree, "async outer"),
            types[1],
            "rejected later",
            frame,
        );
        assert_eq!(
            only(&tree, &format!("invoke {plugin}")).status_code,
            StatusCode::Error
        );
    }

    /// The `concurrent` scenario: two tasks of one invocation, interleaved at
    /// every `await` (the output says in which order they ran), each make
    /// their own subtree: child spans opened after an `await` land under their
    /// own task's span.
    pub(crate) fn assert_concurrent_subtrees(&self, test: &str) {
        let Some(kit) = self.sdk_kit(test) else {
            return;
        };
        let (plugin, step) = (self.sdk_guest, self.step);
        let run = returning(
            &kit,
            "concurrent",
            "a,b: a start; b start; a after first await; b after first await; a end; b end",
        );
        let tree = run.tree();
        tree.assert_single_trace();
        let subtree = format!("      step 1\n        leaf\n      {step}\n        leaf\n");
        assert_eq!(
            tree.render_redacted(),
            format!("invoke {plugin}\n  concurrent\n    task a\n{subtree}    task b\n{subtree}")
        );
        for task in ["a", "b"] {
            let task_span = only(&tree, &format!("task {task}"));
            let mut below = vec![task_span];
            let mut i = 0;
            while i < below.len() {
                below.extend(tree.children_of(&below[i].span_id));
                i += 1;
            }
            // Every leaf under this task records this task's name.
            for leaf in below.iter().filter(|s| s.name == "leaf") {
                let named = leaf
                    .attr("task")
                    .or_else(|| leaf.event("leaf.done").and_then(|e| e.attr("task")));
                if let Some(named) = named {
                    assert_eq!(named.as_str(), Some(task), "a leaf of task {task}");
                }
            }
            assert_eq!(below.len(), 5, "task {task}: {}", tree.render_redacted());
        }
        // They really overlapped: each started before the other ended.
        let (a, b) = (only(&tree, "task a"), only(&tree, "task b"));
        assert!(a.start_time_unix_nano < b.end_time_unix_nano);
        assert!(b.start_time_unix_nano < a.end_time_unix_nano);
    }

    /// The `propagation`, `cache` and `call` scenarios.
    pub(crate) fn assert_propagation_cache_and_calls(&self, test: &str) {
        let Some(kit) = self.sdk_kit(test) else {
            return;
        };
        let plugin = self.sdk_guest;
        let run = kit.invoke_with_parent("propagation", &Context::new());
        let output = run.output.as_deref().expect("propagation");
        let json: serde_json::Value = serde_json::from_str(output).unwrap();
        let tree = run.tree();
        let span = only(&tree, "propagation");
        assert_eq!(json["own"], span.span_id.as_str());
        let traceparent = json["headers"]["traceparent"].as_str().unwrap_or_default();
        assert!(
            traceparent.starts_with(&format!("00-{}-{}-", span.trace_id, span.span_id)),
            "{output}"
        );
        assert_eq!(json["headers"]["baggage"], "tenant=acme", "{output}");
        assert_eq!(json["headers"]["seen"], "acme", "{output}");
        assert_eq!(
            json["pairs"], 1,
            "no baggage outside with_baggage: {output}"
        );
        assert_eq!(json["remote"], "4bf92f3577b34da6a3ce929d0e0e4736");
        let continued = only(&tree, "continued");
        assert_eq!(continued.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(
            continued.parent_span_id.as_deref(),
            Some("00f067aa0ba902b7")
        );

        let run = kit.invoke_with_parent("cache", &Context::new());
        let (none, truth) = (self.none, self.truth);
        assert_eq!(
            run.output.as_deref().ok(),
            Some(format!("{none}|v1|{truth}|{none}").as_str())
        );
        let tree = run.tree();
        assert_eq!(
            tree.render_redacted(),
            format!(
                "invoke {plugin}\n  cached\n    cache.get\n    cache.put\n    cache.get\n    cache.delete\n    cache.get\n"
            )
        );
        let hits: Vec<_> = tree
            .find_all("cache.get")
            .iter()
            .map(|s| s.attr("cache.hit").and_then(AttrValue::as_bool))
            .collect();
        assert_eq!(hits, [Some(false), Some(true), Some(false)]);

        let run = kit.invoke_with_parent("call", &Context::new());
        assert_eq!(
            run.output.as_deref().ok(),
            Some("PluginCallError:unknown-plugin")
        );
    }
}

/// The quickstart runs whose logs and metrics the signal tests check: two
/// inputs counted, `fail` rejected, the meter flushed. The runtime is
/// returned to outlive the plugin's stats.
pub(crate) fn run_quickstart(p: &Pipelines, component: &Path) -> (Runtime, Plugin) {
    let runtime = Runtime::new(p.providers(), RuntimeConfig::default()).unwrap();
    let loaded = runtime.load_file(component).unwrap();
    for input in ["a b a", "c d"] {
        runtime
            .invoke(&loaded, input, &Context::new())
            .expect("counting words");
    }
    runtime
        .invoke(&loaded, "fail", &Context::new())
        .expect_err("`fail` is rejected");
    p.meter_provider.force_flush().unwrap();
    (runtime, loaded)
}

/// The attribute `key` of a log record.
pub(crate) fn log_attr(record: &SdkLogRecord, key: &str) -> Option<AnyValue> {
    record
        .attributes_iter()
        .find(|(k, _)| k.as_str() == key)
        .map(|(_, v)| v.clone())
}

/// The log records of [`run_quickstart`]: a `counted the words` INFO record
/// in `plugin`'s scope under each counting run's `process_business_logic`
/// span, with the first run's counts, and one WARN record under the failing
/// validation. Returns the counted records, each with its span.
pub(crate) fn assert_quickstart_logs(
    p: &Pipelines,
    plugin: &str,
) -> Vec<(LogDataWithResource, SpanContext)> {
    let spans = p.spans.get_finished_spans().unwrap();
    let span_contexts = |name: &str| -> Vec<_> {
        spans
            .iter()
            .filter(|s| s.name == name)
            .map(|s| s.span_context.clone())
            .collect()
    };
    let logs = p.logs.get_emitted_logs().unwrap();
    let counted: Vec<_> = logs
        .iter()
        .filter(|l| l.record.body() == Some(&AnyValue::from("counted the words")))
        .collect();
    assert_eq!(counted.len(), 2, "{logs:#?}");
    let with_spans: Vec<_> = counted
        .iter()
        .map(|&log| log.clone())
        .zip(span_contexts("process_business_logic"))
        .collect();
    for (log, span) in &with_spans {
        let record = &log.record;
        assert_eq!(record.severity_number(), Some(Severity::Info));
        assert_eq!(record.trace_context().unwrap().span_id, span.span_id());
        assert_eq!(log.instrumentation.name(), plugin);
        assert_eq!(log.instrumentation.version(), Some("0.1.0"));
    }
    let first = &counted[0].record;
    assert_eq!(log_attr(first, "words"), Some(AnyValue::Int(3)));
    assert_eq!(log_attr(first, "unique"), Some(AnyValue::Int(2)));
    let warned: Vec<_> = logs
        .iter()
        .filter(|l| l.record.severity_number() == Some(Severity::Warn))
        .collect();
    assert_eq!(warned.len(), 1, "{logs:#?}");
    assert_eq!(
        warned[0].record.trace_context().unwrap().span_id,
        span_contexts("validate_request").last().unwrap().span_id(),
        "the WARN record belongs to the failing validation"
    );
    with_spans
}

/// The metrics of [`run_quickstart`] in `plugin`'s own scope:
/// `quickstart.words` summed over the plugin's instances (3 words, then 2),
/// `quickstart.request.size` a histogram of the three requests. Returns
/// that scope.
pub(crate) fn assert_quickstart_metrics<'a>(
    metrics: &'a [ResourceMetrics],
    plugin: &str,
) -> &'a ScopeMetrics {
    let last = metrics.last().expect("metrics were exported");
    let scope = last
        .scope_metrics()
        .find(|s| s.scope().name() == plugin)
        .expect("the plugin's own scope");
    assert_eq!(scope.scope().version(), Some("0.1.0"));
    let metric = |name: &str| {
        scope
            .metrics()
            .find(|m| m.name() == name)
            .unwrap_or_else(|| panic!("no metric {name}"))
    };
    let words = metric("quickstart.words");
    assert_eq!(words.unit(), "{word}");
    let AggregatedMetrics::U64(MetricData::Sum(sum)) = words.data() else {
        panic!("quickstart.words is an integer sum: {:?}", words.data());
    };
    assert!(sum.is_monotonic());
    let points: Vec<_> = sum.data_points().collect();
    assert_eq!(points.len(), 1, "one series");
    assert_eq!(points[0].value(), 5);
    let size = metric("quickstart.request.size");
    let AggregatedMetrics::U64(MetricData::Histogram(histogram)) = size.data() else {
        panic!(
            "quickstart.request.size is an integer histogram: {:?}",
            size.data()
        );
    };
    let point = histogram.data_points().next().unwrap();
    assert_eq!(point.count(), 3);
    assert_eq!(point.sum(), 5 + 3 + 4);
    assert_eq!(
        point.bounds().collect::<Vec<_>>(),
        [16.0, 64.0, 256.0, 1024.0]
    );
    scope
}
