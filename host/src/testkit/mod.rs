//! The plugin author's test kit: run a plugin component against an
//! in-memory exporter and assert on the span tree it produced.
//!
//! Enable it in the plugin's (or embedder's) dev-dependencies:
//!
//! ```toml
//! [dev-dependencies]
//! # not on crates.io: a path (or git) dependency on this repository's host/
//! wasmtrace = { path = "../wasmtrace/host", features = ["testkit"] }
//! ```
//!
//! Plugins are `wasm32-wasip2` components, so a test needs the built
//! component: build it first (`cargo build --target wasm32-wasip2 --release`)
//! or from a `build.rs`, then load it by path. The spans are the ones an
//! OTLP collector would receive: they go through the same OTLP conversion
//! as the OTLP exporter, into the same typed [`ReceivedSpan`] view the
//! project's own tests use on spans received over the wire.
//!
//! (`tests/all/testkit.rs` runs this example:
//! `the_testkit_documentation_example_runs`.)
//!
//! ```ignore
//! use wasmtrace::testkit::{AttrValue, PluginTest};
//!
//! let test = PluginTest::load("target/wasm32-wasip2/release/request_handler.wasm")?;
//! let run = test.invoke("widget:2");
//! assert!(run.output.is_ok());
//!
//! let tree = run.tree();
//! tree.assert_single_trace();
//! assert_eq!(
//!     tree.render_redacted(),
//!     "invoke request-handler\n  handle_request\n    validate_request\n    process_business_logic\n    send_response\n",
//! );
//! let logic = tree.find("process_business_logic").unwrap();
//! assert_eq!(logic.attr("items_processed"), Some(&AttrValue::Int(1)));
//! // Or compare everything but ids and times with a stored snapshot:
//! println!("{}", run.snapshot(&["request_id"]));
//! # Ok::<(), anyhow::Error>(())
//! ```

pub mod span;
pub mod tree;

pub use span::{
    AnyValueKind, AttrValue, ReceivedEvent, ReceivedLink, ReceivedScope, ReceivedSpan, SpanKind,
    StatusCode, Transport,
};
pub use tree::SpanTree;

use crate::{InvocationError, Plugin, Runtime, RuntimeConfig};
use opentelemetry::Context;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SimpleSpanProcessor};
use std::path::Path;

/// A loaded plugin whose invocations record into memory.
pub struct PluginTest {
    exporter: InMemorySpanExporter,
    resource: Resource,
    provider: SdkTracerProvider,
    runtime: Runtime,
    plugin: Plugin,
}

impl std::fmt::Debug for PluginTest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginTest")
            .field("plugin", &self.plugin)
            .finish_non_exhaustive()
    }
}

/// One invocation's result and every span it produced.
#[derive(Debug)]
pub struct TestRun {
    /// What the handler returned, or how the invocation failed.
    pub output: Result<String, InvocationError>,
    /// The spans, as an OTLP receiver would see them.
    pub spans: Vec<ReceivedSpan>,
}

impl PluginTest {
    /// Loads the component at `path` with the default runtime settings.
    pub fn load(path: impl AsRef<Path>) -> anyhow::Result<Self> {
        Self::with_config(path, RuntimeConfig::default())
    }

    /// Loads the component at `path` with `config` (limits, fuel, ...).
    pub fn with_config(path: impl AsRef<Path>, config: RuntimeConfig) -> anyhow::Result<Self> {
        let exporter = InMemorySpanExporter::default();
        let resource = Resource::builder()
            .with_service_name("wasmtrace-testkit")
            .build();
        // Spans are exported synchronously as they end, so an invocation's
        // spans are all there when `invoke` returns.
        let provider = SdkTracerProvider::builder()
            .with_resource(resource.clone())
            .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
            .with_id_generator(crate::telemetry::GuestIdGenerator::default())
            .build();
        let runtime = Runtime::new(&provider, config)?;
        let plugin = runtime.load_file(path.as_ref())?;
        Ok(Self {
            exporter,
            resource,
            provider,
            runtime,
            plugin,
        })
    }

    /// The plugin, e.g. for [`Plugin::set_limits`] or [`Plugin::stats`].
    pub fn plugin_mut(&mut self) -> &mut Plugin {
        &mut self.plugin
    }

    /// The runtime it runs in.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The provider spans are recorded with: start a span of your own with
    /// it and pass its context to [`PluginTest::invoke_with_parent`].
    pub fn provider(&self) -> &SdkTracerProvider {
        &self.provider
    }

    /// Invokes the plugin with `input` as a root (a new trace).
    pub fn invoke(&self, input: &str) -> TestRun {
        self.invoke_with_parent(input, &Context::new())
    }

    /// Invokes the plugin with `input` under `parent`. Only the spans of
    /// this invocation are returned.
    pub fn invoke_with_parent(&self, input: &str, parent: &Context) -> TestRun {
        self.exporter.reset();
        let output = self.runtime.invoke(&self.plugin, input, parent);
        TestRun {
            output,
            spans: self.take_spans(),
        }
    }

    /// Spans finished since the last call (or invocation), e.g. ones the
    /// test recorded itself around an invocation.
    pub fn take_spans(&self) -> Vec<ReceivedSpan> {
        let spans = self.exporter.get_finished_spans().unwrap_or_default();
        self.exporter.reset();
        let request = ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(
                spans,
                &ResourceAttributesWithSchema::from(&self.resource),
            ),
        };
        ReceivedSpan::flatten(&request, Transport::InMemory)
    }
}

impl TestRun {
    /// The spans as a tree.
    pub fn tree(&self) -> SpanTree<'_> {
        SpanTree::new(&self.spans)
    }

    /// The tree as text with ids, times and per-instance values left out:
    /// see [`SpanTree::render_snapshot`]. `volatile` names attributes whose
    /// values change between runs (random ids, measured durations).
    pub fn snapshot(&self, volatile: &[&str]) -> String {
        self.tree().render_snapshot(volatile)
    }
}
