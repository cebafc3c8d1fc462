//! An embedder: a "service" that handles requests with a plugin, each inside
//! its own `handle request` span, so that the plugin's spans land in the
//! service's traces.
//!
//! ```sh
//! cargo build --target wasm32-wasip2 -p quickstart
//! cargo run -p embedding -- target/wasm32-wasip2/debug/quickstart.wasm "first request" "second request"
//! ```
//!
//! With no `OTEL_EXPORTER_OTLP_ENDPOINT`, traces print as trees on stderr.

use anyhow::Context as _;
use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, KeyValue};
use std::time::Duration;
use wasmtrace::telemetry::Telemetry;
use wasmtrace::{Runtime, RuntimeConfig};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let plugin_path = args
        .next()
        .context("usage: embedding PLUGIN.wasm [REQUEST...]")?;
    let requests: Vec<String> = args.collect();

    let telemetry = Telemetry::builder("embedding-example", env!("CARGO_PKG_VERSION")).build()?;
    let runtime = Runtime::new(telemetry.providers(), RuntimeConfig::default())?;
    let plugin = runtime.load_file(plugin_path.as_ref())?;
    // The service's own spans, under its own instrumentation scope.
    let tracer = telemetry.provider().tracer("embedding-example");

    for (i, request) in requests.iter().enumerate() {
        let span = tracer
            .span_builder("handle request")
            .with_kind(SpanKind::Server)
            .with_attributes([KeyValue::new("request.index", i as i64)])
            .start(&tracer);
        let cx = Context::current_with_span(span);
        match runtime.invoke(&plugin, request, &cx) {
            Ok(output) => println!("{output}"),
            Err(err) => {
                cx.span()
                    .set_status(opentelemetry::trace::Status::error(err.to_string()));
                eprintln!("request {i} failed: {err}");
            }
        }
        cx.span().end();
    }
    telemetry.shutdown(Duration::from_secs(10))
}
