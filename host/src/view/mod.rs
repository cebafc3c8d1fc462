//! Seeing traces without a backend: one trace model ([`TraceSet`]) and the
//! three ways it is drawn, the terminal [waterfall](render_waterfall), the
//! plain [tree](render_tree) and a self-contained [HTML page](html).
//!
//! The model is built from the SDK's spans as they end (the embedded
//! console and `--export-html`, see [`crate::telemetry`]) and from OTLP/JSON
//! files ([`read_otlp_json`], `wasmtrace view`), through the same OTLP
//! conversion, so that a trace is drawn the same either way. Log records
//! have their place in it ([`Span::logs`]): ticks on the bar, lines in the
//! tree, entries in the HTML detail pane.

pub mod html;
mod model;
mod read;
mod terminal;
pub(crate) mod text;
mod tree;
mod waterfall;

pub use model::{
    Attribute, Event, Link, LogRecord, Node, Resource, Scope, Span, SpanKind, Status, Trace,
    TraceSet, TraceSetBuilder, Value,
};
pub use read::{Problem, Reading, read_otlp_json};
pub use terminal::{DEFAULT_WIDTH, Terminal};
pub use tree::{TreeOptions, render_tree};
pub use waterfall::{WaterfallOptions, render_waterfall};

/// Which text rendering the console (and `wasmtrace view`) prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TextFormat {
    /// A bar per span on the trace's time axis ([`render_waterfall`]).
    #[default]
    Waterfall,
    /// Indented spans with their attributes and events ([`render_tree`]).
    Tree,
}

/// `WASMTRACE_CONSOLE`: `waterfall` (the default) or `tree`, what the CLI's
/// embedded console and `wasmtrace view` print.
pub const WASMTRACE_CONSOLE: &str = "WASMTRACE_CONSOLE";

impl TextFormat {
    /// Renders `set` for `terminal`.
    pub fn render(self, set: &TraceSet, terminal: &Terminal) -> String {
        match self {
            Self::Waterfall => render_waterfall(
                set,
                &WaterfallOptions {
                    width: terminal.width,
                    color: terminal.color,
                },
            ),
            Self::Tree => render_tree(set, &TreeOptions::default()),
        }
    }
}
