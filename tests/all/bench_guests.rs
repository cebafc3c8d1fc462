//! The guests the benches time (`tests/guests/bench`, `bench-plugin`) do
//! what the benches assume: every mode returns its count, each span mode
//! records its spans, and none is refused.

use opentelemetry::Context;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use wasmtrace::{Runtime, RuntimeConfig};
use wasmtrace_test_support::bench_guest::{Guest, component, linker};

#[test]
fn every_bench_guest_mode_does_what_the_benches_time() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let engine = wasmtime::Engine::default();
    let linker = linker(&engine);
    let bench = component(&engine, wasmtrace_test_artifacts::BENCH);
    let mut guest = Guest::new(&linker, &bench, &provider, Context::new());
    for (mode, spans) in [
        ("span", 3),
        ("span_bare", 3),
        ("nop", 0),
        ("string", 0),
        ("str", 0),
        ("resource", 0),
        ("empty", 0),
    ] {
        exporter.reset();
        // `run` asserts the output and that nothing was refused.
        guest.run(mode, 3);
        let got = exporter.get_finished_spans().unwrap();
        assert_eq!(got.len(), spans, "{mode}");
        assert!(
            got.iter()
                .all(|s| s.name == "bench" && s.attributes.len() >= 2)
        );
    }
}

#[test]
fn the_bench_plugin_records_k_spans() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let runtime = Runtime::new(&provider, RuntimeConfig::default()).unwrap();
    let plugin = runtime
        .load_file(wasmtrace_test_artifacts::BENCH_PLUGIN.as_ref())
        .unwrap();
    let output = runtime.invoke(&plugin, "10", &Context::new());
    assert_eq!(output.unwrap(), "10");
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(spans.iter().filter(|s| s.name == "bench").count(), 10);
    assert!(spans.iter().any(|s| s.name == "invoke bench-plugin"));
}
