//! The hostile suite (`cargo test hostile`): each test runs one abuse of the
//! tracing API against a live host, with a well-behaved plugin run before
//! and after it, and checks that the host survived, the limits held, the
//! neighbour's traces are intact and every exported span is well-formed.

use opentelemetry::Context;
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider};
use std::time::Duration;
use wasmtrace::telemetry::DroppedCounts;
use wasmtrace::{InvocationError, Limits, Runtime, RuntimeConfig};
use wasmtrace_test_artifacts::{CRASHING, HOSTILE, QUICKSTART};
use wasmtrace_test_support::{AttrValue, OtlpReceiver, ReceivedSpan, SpanTree, StatusCode};

/// What one hostile run left behind.
struct Outcome {
    result: Result<String, InvocationError>,
    /// The hostile plugin's spans (scope `hostile`/`crashing`, plus its
    /// invocation span).
    spans: Vec<ReceivedSpan>,
    spans_dropped: u64,
    contexts_dropped: u64,
}

fn limits() -> Limits {
    Limits {
        max_spans: 500,
        max_open_spans: 100,
        max_depth: 32,
        max_contexts: 64,
        max_name_length: 64,
        max_attribute_value_length: 256,
        ..Limits::default()
    }
}

/// The SDK's own batch processor, wrapped so that spans carry the counts
/// of what the host's limits dropped (as an embedder would wrap its own).
fn batch_provider(rx: &OtlpReceiver) -> SdkTracerProvider {
    let batch = BatchSpanProcessor::builder(crate::embedding::http_exporter(rx)).build();
    SdkTracerProvider::builder()
        .with_span_processor(DroppedCounts(batch))
        .build()
}

fn run_hostile(plugin_path: &str, mode: &str, config: RuntimeConfig) -> Outcome {
    let rx = OtlpReceiver::start().unwrap();
    let provider = batch_provider(&rx);
    let runtime = Runtime::new(&provider, config).unwrap();
    let neighbour = runtime.load_file(QUICKSTART.as_ref()).unwrap();
    let mut hostile = runtime.load_file(plugin_path.as_ref()).unwrap();
    hostile.set_limits(limits());

    assert!(
        runtime
            .invoke(&neighbour, "before", &Context::new())
            .is_ok()
    );
    let result = runtime.invoke(&hostile, mode, &Context::new());
    assert!(runtime.invoke(&neighbour, "after", &Context::new()).is_ok());
    provider.shutdown().unwrap();

    let all = rx.spans();
    for span in &all {
        assert_well_formed(span);
    }
    // The neighbour's two traces are whole and untouched.
    let theirs: Vec<ReceivedSpan> = all
        .iter()
        .filter(|s| s.scope.name == "quickstart" || s.name == "invoke quickstart")
        .cloned()
        .collect();
    let tree = SpanTree::new(&theirs);
    assert_eq!(tree.trace_ids().len(), 2, "{}", tree.render_redacted());
    assert_eq!(theirs.len(), 10, "{}", tree.render_redacted());
    assert!(theirs.iter().all(|s| s.status_code == StatusCode::Unset));
    let name = hostile.identity().name.clone();
    let spans = all
        .into_iter()
        .filter(|s| s.scope.name == name || s.name == format!("invoke {name}"))
        .collect();
    Outcome {
        result,
        spans,
        spans_dropped: hostile.stats().spans_dropped(),
        contexts_dropped: hostile.stats().contexts_dropped(),
    }
}

fn assert_well_formed(span: &ReceivedSpan) {
    let hex = |s: &str, n: usize| s.len() == n && s.chars().all(|c| c.is_ascii_hexdigit());
    assert!(
        hex(&span.trace_id, 32) && span.trace_id != "0".repeat(32),
        "{span:?}"
    );
    assert!(
        hex(&span.span_id, 16) && span.span_id != "0".repeat(16),
        "{span:?}"
    );
    assert!(
        span.end_time_unix_nano >= span.start_time_unix_nano,
        "{}",
        span.name
    );
    assert!(span.end_time_unix_nano > 0, "{} never ended", span.name);
    assert!(
        span.attributes.len() <= 128,
        "{}: {}",
        span.name,
        span.attributes.len()
    );
    assert!(
        span.events.len() <= 128,
        "{}: {}",
        span.name,
        span.events.len()
    );
    if span.scope.name != "wasmtrace" && span.scope.name != "quickstart" {
        assert!(span.name.len() <= 64, "name of {} bytes", span.name.len());
        for (key, value) in &span.attributes {
            assert!(key.len() <= 64, "key of {} bytes", key.len());
            if let AttrValue::String(s) = value {
                assert!(s.len() <= 256 || key == "wasmtrace.component.sha256");
            }
        }
        // Identity cannot be forged.
        assert_ne!(
            span.attr("wasmtrace.instance.id")
                .and_then(AttrValue::as_str),
            Some("forged")
        );
        assert_ne!(
            span.resource_attr("service.name")
                .and_then(AttrValue::as_str),
            Some("evil")
        );
    }
}

fn guest_spans(outcome: &Outcome) -> Vec<&ReceivedSpan> {
    outcome
        .spans
        .iter()
        .filter(|s| s.scope.name != "wasmtrace")
        .collect()
}

#[test]
fn hostile_span_bomb_is_capped_and_counted() {
    let out = run_hostile(HOSTILE, "span-bomb", RuntimeConfig::default());
    assert_eq!(out.result.as_ref().unwrap(), "survived");
    assert_eq!(guest_spans(&out).len(), 500);
    assert_eq!(out.spans_dropped, 100_000 - 500);
}

#[test]
fn hostile_open_span_bomb_is_capped() {
    let out = run_hostile(HOSTILE, "open-bomb", RuntimeConfig::default());
    assert_eq!(out.result.as_ref().unwrap(), "survived");
    assert_eq!(guest_spans(&out).len(), 100);
    assert_eq!(out.spans_dropped, 100_000 - 100);
}

#[test]
fn hostile_attribute_bomb_drops_and_counts() {
    let out = run_hostile(HOSTILE, "attribute-bomb", RuntimeConfig::default());
    assert_eq!(out.result.as_ref().unwrap(), "survived");
    let spans = guest_spans(&out);
    assert_eq!(spans.len(), 1);
    let span = spans[0];
    assert_eq!(span.attributes.len(), 128);
    assert!(
        span.dropped_attributes_count > 10_000,
        "{}",
        span.dropped_attributes_count
    );
    assert_eq!(span.events.len(), 128);
    assert_eq!(span.dropped_events_count, 10_000 - 128);
}

#[test]
fn hostile_huge_strings_are_truncated() {
    let out = run_hostile(HOSTILE, "huge-strings", RuntimeConfig::default());
    assert_eq!(out.result.as_ref().unwrap(), "survived");
    let spans = guest_spans(&out);
    assert_eq!(spans.len(), 1);
    let span = spans[0];
    assert_eq!(span.name, "x".repeat(64));
    assert_eq!(span.status_code, StatusCode::Error);
    assert_eq!(span.status_message.len(), 256);
    let list = span.attr("list").and_then(AttrValue::as_array).unwrap();
    assert!(list.iter().all(|v| v.as_str().map(str::len) == Some(256)));
    let exception = span.event("exception").unwrap();
    assert_eq!(
        exception
            .attr("exception.stacktrace")
            .and_then(AttrValue::as_str)
            .map(str::len),
        Some(256)
    );
}

#[test]
fn hostile_deep_nesting_is_capped_at_the_depth_limit() {
    let out = run_hostile(HOSTILE, "deep-nesting", RuntimeConfig::default());
    assert_eq!(out.result.as_ref().unwrap(), "survived");
    let spans = guest_spans(&out);
    assert_eq!(spans.len(), 32);
    assert_eq!(out.spans_dropped, 10_000 - 32);
    // A chain: each span but the first is the child of the previous one.
    let tree = SpanTree::new(&out.spans);
    tree.assert_single_trace();
    let deepest = tree.find("d31").unwrap();
    let mut depth = 0;
    let mut cur = deepest;
    while let Some(parent) = tree.parent_of(cur) {
        depth += 1;
        cur = parent;
    }
    assert_eq!(depth, 32, "d31 -> ... -> d0 -> invocation");
}

#[test]
fn hostile_double_end_and_use_after_end_are_no_ops() {
    let out = run_hostile(HOSTILE, "double-end", RuntimeConfig::default());
    assert_eq!(out.result.as_ref().unwrap(), "recording after end: false");
    let tree = SpanTree::new(&out.spans);
    let parent = tree.find("parent").unwrap();
    assert!(parent.attr("after").is_none() && parent.events.is_empty());
    assert_eq!(parent.status_code, StatusCode::Unset);
    let child = tree.find("child").unwrap();
    assert_eq!(
        child.parent_span_id.as_deref(),
        Some(parent.span_id.as_str())
    );
    let invoke = tree.find("invoke hostile").unwrap();
    let after = tree.find("after-misuse").unwrap();
    assert_eq!(
        after.parent_span_id.as_deref(),
        Some(invoke.span_id.as_str())
    );
    // An ended span can still be named as a parent: it is the parent.
    let orphan = tree.find("child-of-ended").unwrap();
    assert_eq!(
        orphan.parent_span_id.as_deref(),
        Some(parent.span_id.as_str())
    );
}

#[test]
fn hostile_garbage_carriers_start_new_traces_and_never_fail() {
    let out = run_hostile(HOSTILE, "garbage-carriers", RuntimeConfig::default());
    assert_eq!(out.result.as_ref().unwrap(), "survived");
    let from_garbage: Vec<_> = out
        .spans
        .iter()
        .filter(|s| s.name == "from-garbage")
        .collect();
    assert_eq!(from_garbage.len(), 7);
    for span in from_garbage {
        assert_eq!(
            span.parent_span_id, None,
            "garbage must not become a parent"
        );
        assert_eq!(span.attr("remote"), Some(&AttrValue::Bool(false)));
    }
}

#[test]
fn hostile_context_bomb_is_capped() {
    let out = run_hostile(HOSTILE, "context-bomb", RuntimeConfig::default());
    assert_eq!(out.result.as_ref().unwrap(), "survived");
    assert_eq!(out.contexts_dropped, (5_000 - 64) + (2_000 - 32));
    let tree = SpanTree::new(&out.spans);
    let invoke = tree.find("invoke hostile").unwrap();
    assert_eq!(
        tree.find("after-context-bomb")
            .unwrap()
            .parent_span_id
            .as_deref(),
        Some(invoke.span_id.as_str())
    );
}

#[test]
fn hostile_trap_with_open_spans_ends_them() {
    let out = run_hostile(CRASHING, "trap", RuntimeConfig::default());
    assert!(matches!(out.result, Err(InvocationError::Crashed(ref f)) if f.kind == "wasm.trap"));
    let guest = guest_spans(&out);
    assert_eq!(guest.len(), 3);
    assert!(
        guest
            .iter()
            .all(|s| s.status_code == StatusCode::Error && s.event("exception").is_some())
    );
}

#[test]
fn hostile_infinite_loop_stops_at_the_deadline() {
    let config = RuntimeConfig {
        deadline: Some(Duration::from_millis(100)),
        ..RuntimeConfig::default()
    };
    let out = run_hostile(CRASHING, "loop", config);
    assert!(
        matches!(out.result, Err(InvocationError::Crashed(ref f)) if f.kind == "wasm.deadline_exceeded"),
        "{:?}",
        out.result
    );
    assert!(
        guest_spans(&out)
            .iter()
            .all(|s| s.status_code == StatusCode::Error)
    );
}

#[test]
fn hostile_memory_grow_stops_at_the_limit() {
    let config = RuntimeConfig {
        max_memory: Some(32 << 20),
        ..RuntimeConfig::default()
    };
    let out = run_hostile(CRASHING, "grow", config);
    assert!(
        matches!(out.result, Err(InvocationError::Crashed(ref f)) if f.kind == "wasm.memory_limit"),
        "{:?}",
        out.result
    );
    assert_eq!(guest_spans(&out).len(), 3);
}

// ---------------------------------------------------------------------------
// The attacks of issue 11, each through the release binary's code paths
// (the CLI, default limits) or a runtime with shared budgets.

/// What a `wasmtrace` child process did: its output and its peak resident
/// memory (the kernel's `ru_maxrss` of that child alone).
struct Measured {
    status: std::process::ExitStatus,
    stderr: String,
    peak_rss: u64,
}

/// Forks `argv[2..]` from this small process and writes that child's own
/// `ru_maxrss` (KiB) to the file `argv[1]`. A child spawned straight from the
/// test process reports the test process's peak too: at `exec` the kernel
/// keeps the high-water mark of the address space being replaced, which a
/// spawned (or forked) child shares with (or copies from) its parent, and
/// the test process may hold hundreds of MiB by then.
const MAXRSS_HELPER: &str = r#"
import os, signal, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(str(usage.ru_maxrss))
if os.WIFSIGNALED(status):
    signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
    os.kill(os.getpid(), os.WTERMSIG(status))
os._exit(os.WEXITSTATUS(status))
"#;

/// `cmd` run through [`MAXRSS_HELPER`] (when `python3` is there), which
/// writes its peak RSS to `file`.
fn through_maxrss_helper(
    cmd: &std::process::Command,
    file: &std::path::Path,
) -> Option<std::process::Command> {
    let python = std::process::Command::new("python3")
        .args(["-c", ""])
        .status()
        .is_ok_and(|s| s.success());
    if !python {
        return None;
    }
    let mut wrapped = std::process::Command::new("python3");
    wrapped
        .arg("-c")
        .arg(MAXRSS_HELPER)
        .arg(file)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => wrapped.env(key, value),
            None => wrapped.env_remove(key),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        wrapped.current_dir(dir);
    }
    Some(wrapped)
}

/// Runs `cmd` to completion, reading its output, and measures its peak RSS
/// with `wait4` (so concurrent tests' children do not mix in), through
/// [`MAXRSS_HELPER`] so that the test process's own peak does not either.
// `wait4` reaps the child, which `Child::wait` would then fail to.
#[allow(clippy::zombie_processes)]
fn run_measured(cmd: std::process::Command) -> Measured {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let rss_file = scratch(&format!("maxrss-{n}"));
    let mut cmd = through_maxrss_helper(&cmd, &rss_file).unwrap_or(cmd);
    use std::io::Read as _;
    use std::os::unix::process::ExitStatusExt as _;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting wasmtrace");
    let read = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let out = read(Box::new(child.stdout.take().unwrap()));
    let err = read(Box::new(child.stderr.take().unwrap()));
    let mut status = 0;
    // SAFETY: an all-zero `rusage` is valid; `wait4` fills it in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, whose pid we hold; `status` and
    // `usage` are valid for writes. The `Child` is never waited on again.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32, "wait4 failed");
    let helper_kib = std::fs::read_to_string(&rss_file)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    let _ = std::fs::remove_file(&rss_file);
    Measured {
        status: std::process::ExitStatus::from_raw(status),
        stderr: {
            drop(out.join());
            err.join().unwrap()
        },
        peak_rss: helper_kib.unwrap_or(usage.ru_maxrss as u64) * 1024,
    }
}

/// A scratch file path unique to this test process and `name`.
fn scratch(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("wasmtrace-hostile-{}-{name}", std::process::id()))
}

/// The spans of an `--export-json` file.
pub(crate) fn spans_in_json_file(path: &std::path::Path) -> Vec<ReceivedSpan> {
    use wasmtrace_test_support::opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .flat_map(|line| {
            let request: ExportTraceServiceRequest =
                serde_json::from_str(line).expect("a line of OTLP/JSON");
            ReceivedSpan::flatten(&request, wasmtrace_test_support::Transport::HttpJson)
        })
        .collect()
}

/// `wasmtrace run hostile.wasm --input MODE` on the embedded default
/// (console tree) with `--export-json FILE`, measured.
fn run_cli(mode: &str, extra: &[&str], file: &std::path::Path) -> Measured {
    let mut args = vec![
        "run",
        HOSTILE,
        "--input",
        mode,
        "--export-json",
        file.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run_measured(crate::cli::wasmtrace_command(&args, &[]))
}

/// The deepest chain of parents among `spans` (iteratively: no recursion).
fn max_depth(spans: &[ReceivedSpan]) -> usize {
    let parent: std::collections::HashMap<&str, Option<&str>> = spans
        .iter()
        .map(|s| (s.span_id.as_str(), s.parent_span_id.as_deref()))
        .collect();
    spans
        .iter()
        .map(|s| {
            let mut depth = 0;
            let mut cur = s.parent_span_id.as_deref();
            while let Some(id) = cur {
                depth += 1;
                cur = parent.get(id).copied().flatten();
            }
            depth
        })
        .max()
        .unwrap_or(0)
}

/// Every span's parent is in the same set, except the one root.
fn assert_no_orphans(spans: &[ReceivedSpan]) {
    let ids: std::collections::HashSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    let orphans: Vec<&str> = spans
        .iter()
        .filter(|s| {
            s.parent_span_id
                .as_deref()
                .is_some_and(|p| !ids.contains(p))
        })
        .map(|s| s.name.as_str())
        .collect();
    assert!(
        orphans.is_empty(),
        "{} of {} spans have no parent in the export, e.g. {:?}",
        orphans.len(),
        spans.len(),
        &orphans[..orphans.len().min(5)]
    );
}

/// Runs `mode`: it succeeds, and the spans it exported (returned) nest no
/// deeper than the default `max_depth` allows.
fn assert_depth_bounded(mode: &str) -> Vec<ReceivedSpan> {
    let file = scratch(&format!("{mode}.json"));
    let out = run_cli(mode, &[], &file);
    assert!(out.status.success(), "{:?}\n{}", out.status, out.stderr);
    let spans = spans_in_json_file(&file);
    assert!(
        max_depth(&spans) <= Limits::default().max_depth as usize + 1,
        "chain {} deep",
        max_depth(&spans)
    );
    spans
}

/// Finding 1: a 7,000-span chain through explicit parents must neither
/// crash the host (the console renders without recursion) nor escape
/// `max_depth`.
#[test]
fn hostile_explicit_parent_chain_is_bounded_by_the_depth_limit() {
    let spans = assert_depth_bounded("explicit-chain");
    assert_no_orphans(&spans);
}

/// Finding 1: nine nested self-calls of 2,000-span chains.
#[test]
fn hostile_self_call_chains_are_bounded_by_the_depth_limit() {
    assert_depth_bounded("self-call-chain");
}

/// The bound `BENCHMARKS.md` documents for one invocation's host memory at
/// default limits, plus the CLI's own footprint; see `max_recorded_bytes`.
const PEAK_RSS_BOUND: u64 = 256 << 20;

/// Runs `mode`: it succeeds, its peak RSS within [`PEAK_RSS_BOUND`].
fn assert_memory_bounded(mode: &str) {
    let file = scratch(&format!("{mode}.json"));
    let out = run_cli(mode, &[], &file);
    let _ = std::fs::remove_file(&file);
    assert!(
        out.peak_rss <= PEAK_RSS_BOUND,
        "{mode}: peak RSS {} MiB > {} MiB\n{}",
        out.peak_rss >> 20,
        PEAK_RSS_BOUND >> 20,
        &out.stderr[out.stderr.len().saturating_sub(2000)..]
    );
    assert!(out.status.success(), "{}", out.stderr);
}

/// Finding 2: 8 spans x 128 events x 128 attributes x 4 KiB values.
#[test]
fn hostile_event_flood_memory_is_bounded() {
    assert_memory_bounded("event-flood");
}

/// Finding 2: 8 spans x 128 links x 128 attributes x 4 KiB values.
#[test]
fn hostile_link_flood_memory_is_bounded() {
    assert_memory_bounded("link-flood");
}

/// Finding 2: a 30,000-element string array of one shared 4 KiB, on 8 spans.
#[test]
fn hostile_array_flood_memory_is_bounded() {
    assert_memory_bounded("array-flood");
}

/// Finding 2: 8 MiB names and status message, truncated and released.
#[test]
fn hostile_name_flood_memory_is_bounded() {
    assert_memory_bounded("name-flood");
}

/// Finding 2: a 100 MiB handler error is truncated on the invocation span
/// and on stderr.
#[test]
fn hostile_huge_handler_error_is_truncated() {
    let file = scratch("huge-error.json");
    let out = run_cli("huge-error", &[], &file);
    assert_eq!(out.status.code(), Some(1), "{:?}", out.status);
    assert!(
        out.peak_rss <= PEAK_RSS_BOUND,
        "peak RSS {} MiB",
        out.peak_rss >> 20
    );
    assert!(
        out.stderr.len() < 64 << 10,
        "stderr of {} bytes",
        out.stderr.len()
    );
    let spans = spans_in_json_file(&file);
    let invoke = spans.iter().find(|s| s.name == "invoke hostile").unwrap();
    assert_eq!(invoke.status_code, StatusCode::Error);
    assert!(
        invoke.status_message.len() <= 4096 + 64,
        "status message of {} bytes",
        invoke.status_message.len()
    );
}

/// A runtime whose `hostile` plugin can call itself.
fn self_calling(
    config: RuntimeConfig,
    limits: Limits,
) -> (OtlpReceiver, SdkTracerProvider, Runtime, wasmtrace::Plugin) {
    let rx = OtlpReceiver::start().unwrap();
    let provider = batch_provider(&rx);
    let runtime = Runtime::new(&provider, config).unwrap();
    let mut hostile = runtime.load_file(HOSTILE.as_ref()).unwrap();
    hostile.set_limits(limits);
    runtime.register(&hostile).unwrap();
    (rx, provider, runtime, hostile)
}

/// Finding 3: 100 self-calls of 10,000 spans each share one span budget,
/// and the number of calls is a budget too.
#[test]
fn hostile_call_fanout_shares_the_span_budget() {
    let limits = Limits {
        max_spans: 500,
        ..Limits::default()
    };
    let calls = u64::from(limits.max_plugin_calls);
    let (rx, provider, runtime, hostile) = self_calling(RuntimeConfig::default(), limits);
    let result = runtime.invoke(&hostile, "call-fanout", &Context::new());
    assert!(result.is_ok(), "{result:?}");
    provider.shutdown().unwrap();
    let spans = rx.spans();
    let guest = spans.iter().filter(|s| s.scope.name == "hostile").count();
    let invocations = spans.iter().filter(|s| s.name == "invoke hostile").count();
    assert!(
        guest + invocations <= 501,
        "{guest} guest and {invocations} invocation spans under a budget of 500"
    );
    // Each call that was made tried 10,000 spans; the budget refused them.
    assert!(
        hostile.stats().spans_dropped() >= calls * 10_000 - 500,
        "{} dropped",
        hostile.stats().spans_dropped()
    );
}

/// Finding 3: a chain of self-calls burning 900 ms each stops at the
/// top-level deadline, and that is the caller's failure too.
#[test]
fn hostile_call_chain_shares_the_deadline() {
    let config = RuntimeConfig {
        deadline: Some(Duration::from_millis(1000)),
        ..RuntimeConfig::default()
    };
    let (_rx, provider, runtime, hostile) = self_calling(config, Limits::default());
    let started = std::time::Instant::now();
    let result = runtime.invoke(&hostile, "call-chain-burn 0", &Context::new());
    let took = started.elapsed();
    provider.shutdown().unwrap();
    assert!(
        matches!(result, Err(InvocationError::Crashed(ref f)) if f.kind == "wasm.deadline_exceeded"),
        "{result:?}"
    );
    assert!(
        took < Duration::from_millis(2500),
        "ran {took:?} under a 1 s deadline"
    );
}

/// Finding 3: callees that exhaust the fuel exhaust the caller's too.
#[test]
fn hostile_call_fuel_is_shared() {
    let config = RuntimeConfig {
        fuel: Some(50_000_000),
        ..RuntimeConfig::default()
    };
    let (_rx, provider, runtime, hostile) = self_calling(config, Limits::default());
    let result = runtime.invoke(&hostile, "call-fuel", &Context::new());
    provider.shutdown().unwrap();
    assert!(
        matches!(result, Err(InvocationError::Crashed(ref f)) if f.kind == "wasm.out_of_fuel"),
        "{result:?}"
    );
}

/// Finding 4: 10,000 spans (the default `max_spans`) all reach the
/// in-process sinks, the invocation span among them, with no orphans.
#[test]
fn hostile_span_flood_reaches_the_local_sinks_whole() {
    let file = scratch("span-flood.json");
    let out = run_cli("span-flood", &[], &file);
    assert!(out.status.success(), "{}", out.stderr);
    let spans = spans_in_json_file(&file);
    assert_eq!(
        spans.len(),
        10_001,
        "10,000 guest spans and the invocation span"
    );
    assert!(spans.iter().any(|s| s.name == "invoke hostile"));
    assert_no_orphans(&spans);
    assert!(
        !out.stderr.contains("continues parent span"),
        "the console tree is whole"
    );
    assert!(
        out.stderr.contains("10000 ended, 0 dropped"),
        "{}",
        &out.stderr[out.stderr.len().saturating_sub(500)..]
    );
}

/// Finding 5: a closed stdout (`| head`) is not a panic.
#[test]
fn hostile_closed_stdout_is_not_a_panic() {
    use std::process::Stdio;
    let mut child = crate::cli::wasmtrace_command(&["run", QUICKSTART], &[])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader went away
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(101), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Finding 5: status follows OpenTelemetry's rules: `ok` is final, `unset`
/// never overrides, and a later error replaces an earlier one.
#[test]
fn hostile_status_follows_otel_rules() {
    let out = run_hostile(HOSTILE, "status-order", RuntimeConfig::default());
    assert_eq!(out.result.as_ref().unwrap(), "survived");
    let tree = SpanTree::new(&out.spans);
    let status = |name: &str| {
        let span = tree.find(name).unwrap();
        (span.status_code, span.status_message.clone())
    };
    assert_eq!(status("error-then-ok"), (StatusCode::Ok, String::new()));
    assert_eq!(status("ok-then-error"), (StatusCode::Ok, String::new()));
    assert_eq!(
        status("error-then-error"),
        (StatusCode::Error, "a".to_owned())
    );
    assert_eq!(
        status("error-then-unset"),
        (StatusCode::Error, "b".to_owned())
    );
}

/// Every hostile mode under `wasmtrace serve`: each request is answered
/// (200, or 500 for a guest that failed or crashed), the well-behaved
/// request after it is answered correctly, the server never dies, its
/// memory stays bounded, and every request's invocation span is exported.
#[test]
fn hostile_modes_under_serve_leave_the_server_serving() {
    let rx = OtlpReceiver::start().unwrap();
    let mut served = crate::serve::Served::plugin(HOSTILE, &["--timeout-ms", "3000"], &rx);
    let modes = [
        "span-bomb",
        "open-bomb",
        "attribute-bomb",
        "huge-strings",
        "deep-nesting",
        "double-end",
        "forged-handles",
        "garbage-carriers",
        "context-bomb",
        "explicit-chain",
        "self-call-chain",
        "event-flood",
        "link-flood",
        "array-flood",
        "name-flood",
        "huge-error",
        "call-fanout",
        "span-flood",
        "call-chain-burn",
        "call-fuel",
        "spin",
        "status-order",
        "log-flood",
        "instrument-flood",
        "series-flood",
    ];
    for mode in modes {
        let (status, body) = served.get(&format!("/{mode}"));
        assert!(status == 200 || status == 500, "{mode}: {status} {body}");
        assert!(
            served.is_running(),
            "{mode} ended the server:\n{}",
            served.stderr()
        );
        let (status, body) = served.get("/ok");
        assert_eq!(status, 200, "the request after {mode}: {body}");
        assert!(body.contains("ok"), "the request after {mode}: {body}");
    }
    // Memory: what the hostile requests made the server hold at most.
    let status = std::fs::read_to_string(format!("/proc/{}/status", served.pid())).unwrap();
    let peak_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    assert!(
        peak_kib << 10 <= 2 * PEAK_RSS_BOUND,
        "serve peaked at {} MiB",
        peak_kib >> 10
    );
    // Every request (hostile and well-behaved) has its server span.
    let spans = rx
        .wait_for_spans(
            |s| s.iter().filter(|s| s.name == "GET").count() >= 2 * modes.len(),
            Duration::from_secs(60),
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", served.stderr()));
    let invocations = spans
        .iter()
        .filter(|s| s.name == "invoke hostile" && s.attr("wasmtrace.call.depth").is_none())
        .count();
    assert!(
        invocations >= 2 * modes.len(),
        "{invocations} invocation spans"
    );
}

/// The hostile guest under in-memory log and metric pipelines, with
/// [`limits`].
fn run_signals(mode: &str) -> (crate::signals::Pipelines, wasmtrace::Plugin, String) {
    let p = crate::signals::Pipelines::new();
    let runtime = Runtime::new(p.providers(), RuntimeConfig::default()).unwrap();
    let mut hostile = runtime.load_file(HOSTILE.as_ref()).unwrap();
    hostile.set_limits(limits());
    let output = runtime
        .invoke(&hostile, mode, &Context::new())
        .expect("the host refuses what it cannot take without failing the guest");
    p.meter_provider.force_flush().unwrap();
    (p, hostile, output)
}

#[test]
fn hostile_log_flood_is_capped_by_the_log_and_byte_budgets() {
    let (p, hostile, _) = run_signals("log-flood");
    let stats = hostile.stats();
    assert_eq!(stats.logs() + stats.logs_dropped(), 100_000);
    assert!(stats.logs() <= u64::from(limits().max_log_records));
    assert!(stats.logs() > 0);
    let logs = p.logs.get_emitted_logs().unwrap();
    assert_eq!(logs.len() as u64, stats.logs());
    for log in &logs {
        let record = &log.record;
        // Severity 200 is not one: unspecified.
        assert_eq!(record.severity_number(), None);
        // Strings cut to their limits.
        assert!(record.severity_text().is_none_or(|t| t.len() <= 64));
        assert!(record.event_name().is_none_or(|t| t.len() <= 64));
        if let Some(opentelemetry::logs::AnyValue::String(body)) = record.body() {
            assert!(body.as_str().len() <= 256);
        }
        assert!(record.attributes_iter().count() <= 128 + 2);
    }
}

#[test]
fn hostile_instruments_are_capped_and_bad_ones_refused() {
    let (p, hostile, refused) = run_signals("instrument-flood");
    let max = Limits::default().max_instruments as usize;
    // Past the cap, four invalid names, backwards boundaries, and a name
    // taken by another kind.
    let expected = 10_000 - max + 4 + 1 + 1;
    assert_eq!(refused, expected.to_string());
    assert_eq!(hostile.stats().instruments_refused(), expected as u64);
    drop(p);
}

#[test]
fn hostile_series_flood_is_capped_per_instrument() {
    let (p, hostile, _) = run_signals("series-flood");
    let max = u64::from(Limits::default().max_series_per_instrument);
    let stats = hostile.stats();
    assert_eq!(stats.measurements(), max);
    // The rest of the flood, a negative and a fractional amount, a NaN, and
    // two unknown instruments.
    assert_eq!(stats.measurements_dropped(), 100_000 - max + 5);
    let metrics = p.metrics.get_finished_metrics().unwrap();
    let series: usize = metrics
        .last()
        .unwrap()
        .scope_metrics()
        .filter(|s| s.scope().name() == "hostile")
        .flat_map(|s| s.metrics())
        .filter(|m| m.name() == "series")
        .map(|m| match m.data() {
            opentelemetry_sdk::metrics::data::AggregatedMetrics::U64(
                opentelemetry_sdk::metrics::data::MetricData::Sum(sum),
            ) => sum.data_points().count(),
            other => panic!("series is a u64 sum: {other:?}"),
        })
        .sum();
    assert_eq!(series as u64, max);
}
