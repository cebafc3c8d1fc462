//! Parent/child structure of a set of received spans.

use std::collections::{BTreeSet, HashSet};
use std::fmt::Write as _;

use super::span::ReceivedSpan;

/// The spans of one or more traces arranged by parent/child relation.
///
/// Siblings (and roots) are ordered by start time, then name, then span id,
/// so rendering is deterministic for a given set of spans.
#[derive(Clone, Debug)]
pub struct SpanTree<'a> {
    spans: Vec<&'a ReceivedSpan>,
}

impl<'a> SpanTree<'a> {
    /// Builds the tree of `spans`.
    pub fn new(spans: &'a [ReceivedSpan]) -> Self {
        let mut spans: Vec<&ReceivedSpan> = spans.iter().collect();
        spans.sort_by(|a, b| order_key(a).cmp(&order_key(b)));
        SpanTree { spans }
    }

    /// All spans, in sibling order.
    pub fn spans(&self) -> &[&'a ReceivedSpan] {
        &self.spans
    }

    fn contains(&self, trace_id: &str, span_id: &str) -> bool {
        self.spans
            .iter()
            .any(|s| s.trace_id == trace_id && s.span_id == span_id)
    }

    /// Spans without a parent, or whose parent is not among the spans
    /// (for example a remote parent from propagated context).
    pub fn roots(&self) -> Vec<&'a ReceivedSpan> {
        self.spans
            .iter()
            .copied()
            .filter(|s| match &s.parent_span_id {
                None => true,
                Some(p) => !self.contains(&s.trace_id, p),
            })
            .collect()
    }

    /// Direct children of the span with id `span_id` (lowercase hex).
    pub fn children_of(&self, span_id: &str) -> Vec<&'a ReceivedSpan> {
        let traces: BTreeSet<&str> = self
            .spans
            .iter()
            .filter(|s| s.span_id == span_id)
            .map(|s| s.trace_id.as_str())
            .collect();
        self.spans
            .iter()
            .copied()
            .filter(|s| {
                s.parent_span_id.as_deref() == Some(span_id) && traces.contains(s.trace_id.as_str())
            })
            .collect()
    }

    /// The parent of `span`, if it is among the spans.
    pub fn parent_of(&self, span: &ReceivedSpan) -> Option<&'a ReceivedSpan> {
        let parent = span.parent_span_id.as_deref()?;
        self.spans
            .iter()
            .copied()
            .find(|s| s.trace_id == span.trace_id && s.span_id == parent)
    }

    /// The first span (in sibling order) named `name`.
    pub fn find(&self, name: &str) -> Option<&'a ReceivedSpan> {
        self.spans.iter().copied().find(|s| s.name == name)
    }

    /// Every span named `name`.
    pub fn find_all(&self, name: &str) -> Vec<&'a ReceivedSpan> {
        self.spans
            .iter()
            .copied()
            .filter(|s| s.name == name)
            .collect()
    }

    /// The distinct trace ids.
    pub fn trace_ids(&self) -> BTreeSet<&'a str> {
        self.spans.iter().map(|s| s.trace_id.as_str()).collect()
    }

    /// Asserts that there is at least one span and that all spans share one
    /// trace id, and returns it.
    ///
    /// # Panics
    ///
    /// When there are no spans or more than one trace id; the message shows
    /// the rendered tree.
    #[track_caller]
    pub fn assert_single_trace(&self) -> &'a str {
        let ids = self.trace_ids();
        match ids.len() {
            1 => ids.into_iter().next().unwrap_or_default(),
            0 => panic!("expected spans of a single trace, got no spans"),
            n => panic!(
                "expected spans of a single trace, got {n} traces {ids:?}:\n{}",
                self.render_redacted()
            ),
        }
    }

    /// Renders the tree as indented span names, two spaces per level, one
    /// span per line. Ids and times are left out so the text can be compared
    /// literally. A root whose parent was not received is marked
    /// `(parent not received)`; with several traces, each starts with a
    /// `trace #N` line (traces ordered by their first span).
    pub fn render_redacted(&self) -> String {
        self.render_with(|s| s.name.clone())
    }

    /// Like [`render_redacted`](Self::render_redacted), labelling each span
    /// with `label(span)` instead of its name.
    pub fn render_with(&self, label: impl Fn(&ReceivedSpan) -> String) -> String {
        let mut out = String::new();
        let roots = self.roots();
        let mut trace_order: Vec<&str> = Vec::new();
        for s in &self.spans {
            if !trace_order.contains(&s.trace_id.as_str()) {
                trace_order.push(&s.trace_id);
            }
        }
        let multi = trace_order.len() > 1;
        let mut visited: HashSet<(&str, &str)> = HashSet::new();
        for (n, trace) in trace_order.iter().enumerate() {
            if multi {
                let _ = writeln!(out, "trace #{}", n + 1);
            }
            let base = usize::from(multi);
            for root in roots.iter().filter(|r| r.trace_id == *trace) {
                self.render_node(root, base, &label, &mut visited, &mut out);
            }
        }
        let unreachable: Vec<&&ReceivedSpan> = self
            .spans
            .iter()
            .filter(|s| !visited.contains(&(s.trace_id.as_str(), s.span_id.as_str())))
            .collect();
        if !unreachable.is_empty() {
            out.push_str("(unreachable: parent cycle or duplicate span id)\n");
            for s in unreachable {
                let _ = writeln!(out, "  {}", label(s));
            }
        }
        out
    }

    /// Renders the tree for snapshot tests: like
    /// [`render_redacted`](Self::render_redacted), with each span's kind,
    /// status, attributes (sorted) and events (in order, after `|`) on its
    /// line, and no ids or times. Values of the `volatile` attributes are
    /// written as `<redacted>` and the host's per-build and per-instance
    /// attributes (`wasmtrace.component.sha256`, `wasmtrace.instance.id`)
    /// are left out, so two runs of the same plugin render the same text.
    pub fn render_snapshot(&self, volatile: &[&str]) -> String {
        const PER_INSTANCE: [&str; 2] = ["wasmtrace.instance.id", "wasmtrace.component.sha256"];
        let attrs = |attributes: &std::collections::BTreeMap<String, super::AttrValue>| {
            attributes
                .iter()
                .filter(|(k, _)| !PER_INSTANCE.contains(&k.as_str()))
                .map(|(k, v)| {
                    if volatile.contains(&k.as_str()) {
                        format!(" {k}=<redacted>")
                    } else {
                        format!(" {k}={v}")
                    }
                })
                .collect::<String>()
        };
        self.render_with(|s| {
            let mut label = format!("{} [{:?}", s.name, s.kind);
            if s.status_code != super::StatusCode::Unset {
                let _ = write!(label, ", {:?}", s.status_code);
                if !s.status_message.is_empty() {
                    let _ = write!(label, " {:?}", s.status_message);
                }
            }
            label.push(']');
            label.push_str(&attrs(&s.attributes));
            for event in &s.events {
                let _ = write!(label, " | event {}{}", event.name, attrs(&event.attributes));
            }
            label
        })
    }

    fn render_node(
        &self,
        span: &'a ReceivedSpan,
        depth: usize,
        label: &impl Fn(&ReceivedSpan) -> String,
        visited: &mut HashSet<(&'a str, &'a str)>,
        out: &mut String,
    ) {
        if !visited.insert((span.trace_id.as_str(), span.span_id.as_str())) {
            return;
        }
        let indent = "  ".repeat(depth);
        let orphan = match &span.parent_span_id {
            Some(p) if !self.contains(&span.trace_id, p) => " (parent not received)",
            _ => "",
        };
        let _ = writeln!(out, "{indent}{}{orphan}", label(span));
        for child in self.children_of(&span.span_id) {
            if child.trace_id == span.trace_id {
                self.render_node(child, depth + 1, label, visited, out);
            }
        }
    }
}

fn order_key(s: &ReceivedSpan) -> (u64, &str, &str) {
    (s.start_time_unix_nano, s.name.as_str(), s.span_id.as_str())
}
