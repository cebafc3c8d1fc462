//! The plain tree: each trace as indented spans with their durations,
//! attributes and status, and their events and log records under them.

use super::model::{Attribute, Event, LogRecord, Span, Status, Trace, TraceSet};
use super::text::{duration, printable};
use std::fmt::Write as _;

/// How [`render_tree`] draws.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TreeOptions {
    /// Also print span ids, dropped counts and the runtime's own
    /// `wasmtrace.*` attributes (kinds other than internal and links are
    /// always printed).
    pub verbose: bool,
}

/// Levels of indentation drawn; deeper spans are drawn at this level with
/// their depth, so that a guest's deep chain cannot make the output grow as
/// the square of its depth.
const MAX_INDENT: usize = 32;

/// Renders every trace of `set` as a tree.
pub fn render_tree(set: &TraceSet, options: &TreeOptions) -> String {
    let mut out = String::new();
    for trace in &set.traces {
        render_trace(&mut out, trace, options);
    }
    render_untraced_logs(&mut out, set);
    out
}

/// The log records of `set` that belong to none of its traces.
pub(crate) fn render_untraced_logs(out: &mut String, set: &TraceSet) {
    if !set.logs.is_empty() {
        let _ = writeln!(out, "log records of no trace here:");
        for log in &set.logs {
            out.push_str("  ");
            render_log(out, log, None, &TreeOptions::default());
        }
    }
}

fn render_trace(out: &mut String, trace: &Trace, options: &TreeOptions) {
    let _ = writeln!(out, "trace {}", trace.trace_id);
    // Whether each ancestor level of the current span was a last child.
    let mut lasts: Vec<bool> = Vec::new();
    for (i, (span, node)) in trace.spans.iter().zip(&trace.nodes).enumerate() {
        if node.depth == 0
            && let Some(parent) = span.parent_span_id
        {
            let _ = writeln!(out, "  (continues parent span {parent})");
        }
        lasts.truncate(node.depth);
        let mut prefix = String::new();
        for &last in lasts.iter().take(MAX_INDENT) {
            prefix.push_str(if last { "   " } else { "│  " });
        }
        let shown = if node.depth > MAX_INDENT {
            format!("{prefix}[{}] ", node.depth)
        } else {
            prefix.clone()
        };
        let has_kids = node.end > i + 1;
        render_span(out, span, &shown, &prefix, node.last, has_kids, options);
        lasts.push(node.last);
    }
    for log in &trace.logs {
        let _ = write!(out, "  ");
        render_log(out, log, Some(trace.start_unix_nano()), options);
    }
}

fn render_span(
    out: &mut String,
    span: &Span,
    shown: &str,
    prefix: &str,
    last: bool,
    has_kids: bool,
    options: &TreeOptions,
) {
    let branch = if last { "└─ " } else { "├─ " };
    let _ = write!(
        out,
        "{shown}{branch}{}  {}",
        printable(&span.name),
        duration(span.duration_nanos())
    );
    if options.verbose {
        let _ = write!(out, "  span={}", span.span_id);
    }
    if span.kind.is_marked() {
        let _ = write!(out, "  kind={}", span.kind.as_str());
    }
    write_attributes(out, &span.attributes, options);
    if options.verbose {
        write_dropped(out, "attributes", span.dropped_attributes_count);
        write_dropped(out, "events", span.dropped_events_count);
        write_dropped(out, "links", span.dropped_links_count);
    }
    match &span.status {
        Status::Error(description) => {
            let _ = write!(out, "  [ERROR: {}]", printable(description));
        }
        Status::Ok => out.push_str("  [OK]"),
        Status::Unset => {}
    }
    out.push('\n');
    let child_prefix = format!("{prefix}{}", if last { "   " } else { "│  " });
    let rail = if has_kids { "│  " } else { "   " };
    for link in &span.links {
        let _ = write!(
            out,
            "{child_prefix}{rail}→ link {}/{}",
            link.trace_id, link.span_id
        );
        write_attributes(out, &link.attributes, options);
        out.push('\n');
    }
    // Events and log records by time (each list already is).
    let (mut events, mut logs) = (span.events.iter().peekable(), span.logs.iter().peekable());
    loop {
        let event_first = match (events.peek(), logs.peek()) {
            (Some(e), Some(l)) => e.time_unix_nano <= l.time(),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        out.push_str(&child_prefix);
        out.push_str(rail);
        if event_first {
            render_event(out, events.next().expect("peeked"), span, options);
        } else {
            render_log(
                out,
                logs.next().expect("peeked"),
                Some(span.start_unix_nano),
                options,
            );
        }
    }
}

fn render_event(out: &mut String, event: &Event, span: &Span, options: &TreeOptions) {
    let at = event.time_unix_nano.saturating_sub(span.start_unix_nano);
    let _ = write!(out, "• {} +{}", printable(&event.name), duration(at));
    for kv in &event.attributes {
        let value = kv.value.to_string();
        // A multi-line value (a stack trace) shows its first line.
        let value = match value.split_once('\n') {
            Some((first, _)) => format!("{first}…"),
            None => value,
        };
        let _ = write!(out, "  {}={}", printable(&kv.key), value);
    }
    if options.verbose {
        write_dropped(out, "attributes", event.dropped_attributes_count);
    }
    out.push('\n');
}

/// `▪ INFO "body" +12µs  k=v`: a log record, with its offset from
/// `start` when it has one to be drawn against (the runtime's own
/// `wasmtrace.*` attributes only when verbose, as for spans).
pub(crate) fn render_log(
    out: &mut String,
    log: &LogRecord,
    start: Option<u64>,
    options: &TreeOptions,
) {
    let _ = write!(out, "▪ {} {}", log.severity(), log.body);
    if let Some(start) = start {
        let _ = write!(out, " +{}", duration(log.time().saturating_sub(start)));
    }
    if !log.event_name.is_empty() {
        let _ = write!(out, "  event={}", printable(&log.event_name));
    }
    write_attributes(out, &log.attributes, options);
    out.push('\n');
}

fn write_attributes(out: &mut String, attributes: &[Attribute], options: &TreeOptions) {
    for kv in attributes
        .iter()
        .filter(|kv| options.verbose || !kv.key.starts_with("wasmtrace."))
    {
        let _ = write!(out, "  {}={}", printable(&kv.key), kv.value);
    }
}

fn write_dropped(out: &mut String, what: &str, count: u32) {
    if count > 0 {
        let _ = write!(out, "  ({count} {what} dropped)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::model::{SpanKind, Value};

    fn span(name: &str, id: u64, parent: u64, start_ms: u64, end_ms: u64) -> Span {
        let mut span = Span::for_test(name, id, parent, start_ms * 1_000_000, end_ms * 1_000_000);
        span.attributes = vec![
            Attribute {
                key: "n".into(),
                value: Value::Int(3),
            },
            Attribute {
                key: "wasmtrace.instance.id".into(),
                value: Value::String("x".into()),
            },
        ];
        span
    }

    fn set(spans: Vec<Span>) -> TraceSet {
        TraceSet::of(spans)
    }

    #[test]
    fn renders_nested_spans_in_start_order() {
        let mut failed = span("b", 3, 1, 5, 6);
        failed.status = Status::Error("boom".into());
        failed.events.push(Event {
            time_unix_nano: 5_500_000,
            name: "exception".into(),
            attributes: vec![Attribute {
                key: "exception.stacktrace".into(),
                value: Value::Array(vec![Value::Int(1)]),
            }],
            dropped_attributes_count: 0,
        });
        let text = render_tree(
            &set(vec![
                span("a", 2, 1, 2, 3),
                failed,
                span("root", 1, 0, 0, 10),
            ]),
            &TreeOptions::default(),
        );
        assert_eq!(
            text,
            "trace 00000000000000000000000000000007\n\
             └─ root  10.00ms  n=3\n   \
                ├─ a  1.00ms  n=3\n   \
                └─ b  1.00ms  n=3  [ERROR: boom]\n         \
                         • exception +500µs  exception.stacktrace=[1]\n"
        );
    }

    #[test]
    fn verbose_adds_ids_kinds_and_runtime_attributes() {
        let mut root = span("root", 1, 0, 0, 10);
        root.kind = SpanKind::Server;
        root.dropped_events_count = 2;
        let text = render_tree(&set(vec![root]), &TreeOptions { verbose: true });
        assert_eq!(
            text,
            "trace 00000000000000000000000000000007\n\
             └─ root  10.00ms  span=0000000000000001  kind=server  n=3  \
             wasmtrace.instance.id=\"x\"  (2 events dropped)\n"
        );
    }

    #[test]
    fn the_plain_tree_marks_kinds_and_links() {
        let mut root = span("root", 1, 0, 0, 10);
        root.kind = SpanKind::Consumer;
        root.links.push(crate::view::model::Link {
            trace_id: opentelemetry::trace::TraceId::from(0xab_u128),
            span_id: opentelemetry::trace::SpanId::from(0xcd_u64),
            trace_state: String::new(),
            attributes: Vec::new(),
            dropped_attributes_count: 0,
        });
        let text = render_tree(&set(vec![root]), &TreeOptions::default());
        assert_eq!(
            text,
            "trace 00000000000000000000000000000007\n\
             └─ root  10.00ms  kind=consumer  n=3\n\
             \x20     → link 000000000000000000000000000000ab/00000000000000cd\n"
        );
    }

    #[test]
    fn a_chain_deeper_than_any_stack_renders() {
        let spans: Vec<Span> = (1..=50_000u64)
            .map(|i| span(&format!("s{i}"), i, i - 1, i, i + 1))
            .collect();
        let text = render_tree(&set(spans), &TreeOptions::default());
        assert_eq!(text.lines().count(), 50_001);
        let last = text.lines().last().unwrap();
        assert!(last.trim_start().starts_with("[49999] └─ s50000"), "{last}");
        assert!(
            last.len() < 200,
            "indentation is capped: {} bytes",
            last.len()
        );
    }

    #[test]
    fn an_orphan_says_which_parent_it_continues() {
        let text = render_tree(&set(vec![span("o", 2, 9, 0, 1)]), &TreeOptions::default());
        assert_eq!(
            text,
            "trace 00000000000000000000000000000007\n  \
               (continues parent span 0000000000000009)\n\
             └─ o  1.00ms  n=3\n"
        );
    }
}
