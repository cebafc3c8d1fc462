//! The self-contained HTML page: the waterfall of every trace with
//! collapsible subtrees, a detail pane (every attribute, event, link and
//! log record, the plugin's identity and the resource), search by name or
//! attribute, deep links (`#span=<span id>`). Inline CSS and JavaScript, no
//! network: it works from `file://` and offline.
//!
//! The page is written in three parts so that a sink can write it as spans
//! finish: [`head`] (a complete page with no traces), then one
//! [`data_block`] per batch of finished traces, then [`TAIL`]. A browser
//! draws a file cut anywhere after the head: blocks are read when the page
//! has loaded, and one cut short is reported and skipped.

use super::model::{Attribute, LogRecord, Span, Status, Trace, TraceSet, Value};
use serde_json::{Value as Json, json};

const TEMPLATE: &str = include_str!("html/page.html");
const STYLE: &str = include_str!("html/page.css");
const SCRIPT: &str = include_str!("html/page.js");

/// The type of the `<script>` elements that hold trace data.
pub const DATA_TYPE: &str = "application/vnd.wasmtrace+json";

/// What ends the page.
pub const TAIL: &str = "</body>\n</html>\n";

/// The page up to its data: the markup, the stylesheet and the script.
pub fn head() -> String {
    TEMPLATE
        .replacen("/*{{STYLE}}*/", STYLE, 1)
        .replacen("//{{SCRIPT}}", SCRIPT, 1)
}

/// The whole page for `set`.
pub fn page(set: &TraceSet) -> String {
    let mut page = head();
    if !set.traces.is_empty() || !set.logs.is_empty() {
        page.push_str(&data_block(set));
    }
    page.push_str(TAIL);
    page
}

/// One `<script type="application/vnd.wasmtrace+json">` element holding
/// `set`, on a line of its own.
pub fn data_block(set: &TraceSet) -> String {
    let data = json!({
        "resources": set.resources.iter().map(|r| json!({
            "attrs": attributes(&r.attributes),
            "schemaUrl": r.schema_url,
        })).collect::<Vec<_>>(),
        "scopes": set.scopes.iter().map(|s| json!({
            "name": s.name,
            "version": s.version,
            "attrs": attributes(&s.attributes),
        })).collect::<Vec<_>>(),
        "traces": set.traces.iter().map(trace).collect::<Vec<_>>(),
        "logs": set.logs.iter().map(|l| log(l, None)).collect::<Vec<_>>(),
    });
    // JSON has `<` only inside strings, where `\u003c` means the same; so
    // no name can close the element (`</script>`) or open a comment.
    let text = data.to_string().replace('<', "\\u003c");
    format!("<script type=\"{DATA_TYPE}\">{text}</script>\n")
}

fn trace(trace: &Trace) -> Json {
    let start = trace.start_unix_nano();
    json!({
        "id": trace.trace_id.to_string(),
        "start": start.to_string(),
        "duration": trace.end_unix_nano() - start,
        "spans": trace.spans.iter().zip(&trace.nodes).map(|(s, n)| {
            let mut span = span(s, start);
            span["depth"] = n.depth.into();
            span["subtree"] = n.end.into();
            span
        }).collect::<Vec<_>>(),
        "logs": trace.logs.iter().map(|l| log(l, Some(start))).collect::<Vec<_>>(),
    })
}

/// Nanoseconds after `start` (negative for what a clock put before it).
fn offset(t: u64, start: u64) -> i64 {
    (i128::from(t) - i128::from(start)).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

fn span(span: &Span, start: u64) -> Json {
    let (status, message) = match &span.status {
        Status::Unset => ("unset", ""),
        Status::Ok => ("ok", ""),
        Status::Error(m) => ("error", m.as_str()),
    };
    json!({
        "id": span.span_id.to_string(),
        "parent": span.parent_span_id.map(|p| p.to_string()),
        "remoteParent": span.parent_is_remote,
        "name": span.name,
        "kind": span.kind.as_str(),
        "start": offset(span.start_unix_nano, start),
        "end": offset(span.end_unix_nano.max(span.start_unix_nano), start),
        "status": status,
        "message": message,
        "traceState": span.trace_state,
        "scope": span.scope,
        "resource": span.resource,
        "attrs": attributes(&span.attributes),
        "dropped": [span.dropped_attributes_count, span.dropped_events_count, span.dropped_links_count],
        "events": span.events.iter().map(|e| json!({
            "t": offset(e.time_unix_nano, start),
            "name": e.name,
            "attrs": attributes(&e.attributes),
        })).collect::<Vec<_>>(),
        "links": span.links.iter().map(|l| json!({
            "trace": l.trace_id.to_string(),
            "span": l.span_id.to_string(),
            "traceState": l.trace_state,
            "attrs": attributes(&l.attributes),
        })).collect::<Vec<_>>(),
        "logs": span.logs.iter().map(|l| log(l, Some(start))).collect::<Vec<_>>(),
    })
}

fn log(log: &LogRecord, start: Option<u64>) -> Json {
    json!({
        "t": start.map(|s| offset(log.time(), s)),
        "time": log.time().to_string(),
        "severity": log.severity(),
        "severityNumber": log.severity_number,
        "body": text(&log.body),
        "event": log.event_name,
        "trace": log.trace_id.map(|t| t.to_string()),
        "span": log.span_id.map(|s| s.to_string()),
        "attrs": attributes(&log.attributes),
    })
}

/// `[key, text, type]` triples: strings as they are, other values as the
/// terminal prints them.
fn attributes(attributes: &[Attribute]) -> Json {
    attributes
        .iter()
        .map(|a| json!([a.key, text(&a.value), a.value.type_name()]))
        .collect()
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_span(name: &str) -> TraceSet {
        let mut span = Span::for_test(name, 1, 0, 10, 30);
        span.kind = crate::view::SpanKind::Server;
        span.attributes = vec![Attribute {
            key: "k".into(),
            value: Value::String("<b>v</b>".into()),
        }];
        span.status = Status::Error("bad".into());
        TraceSet::of(vec![span])
    }

    #[test]
    fn the_page_is_self_contained() {
        let page = page(&one_span("root"));
        assert!(page.starts_with("<!doctype html>"));
        assert!(page.ends_with(TAIL));
        assert!(!page.contains("{{"), "every placeholder is filled");
        for remote in ["http://", "https://", "src=", "@import", "url("] {
            assert!(!page.contains(remote), "{remote} in the page");
        }
        // Nothing of ours ends its own element early.
        assert!(!STYLE.contains("</style") && !SCRIPT.contains("</script"));
    }

    #[test]
    fn log_records_travel_with_their_span() {
        let mut set = one_span("root");
        let span = &mut set.traces[0].spans[0];
        span.logs.push(LogRecord {
            time_unix_nano: 25,
            observed_time_unix_nano: 0,
            severity_number: 17,
            severity_text: String::new(),
            body: Value::String("disk full".into()),
            attributes: vec![Attribute {
                key: "disk".into(),
                value: Value::Int(2),
            }],
            dropped_attributes_count: 0,
            event_name: String::new(),
            trace_id: Some(span.trace_id),
            span_id: Some(span.span_id),
            resource: 0,
            scope: 0,
        });
        let block = data_block(&set);
        let json = &block[block.find('>').unwrap() + 1..block.rfind("</script>").unwrap()];
        let data: Json = serde_json::from_str(json).unwrap();
        let log = &data["traces"][0]["spans"][0]["logs"][0];
        assert_eq!(log["t"], 15, "ns after the trace's start");
        assert_eq!(log["severity"], "ERROR");
        assert_eq!(log["body"], "disk full");
        assert_eq!(log["attrs"][0], json!(["disk", "2", "int"]));
        assert_eq!(log["span"], "0000000000000001");
    }

    #[test]
    fn no_name_can_end_the_data_element() {
        let block = data_block(&one_span("</script><script>alert(1)</script><!--"));
        assert_eq!(block.matches("</script>").count(), 1, "{block}");
        assert!(!block.contains("<!--"));
        let json = block
            .trim_end()
            .strip_prefix(&format!("<script type=\"{DATA_TYPE}\">"))
            .and_then(|b| b.strip_suffix("</script>"))
            .unwrap();
        let data: Json = serde_json::from_str(json).unwrap();
        let span = &data["traces"][0]["spans"][0];
        assert_eq!(span["name"], "</script><script>alert(1)</script><!--");
        assert_eq!(span["attrs"][0], json!(["k", "<b>v</b>", "string"]));
        assert_eq!(
            (span["start"].as_i64(), span["end"].as_i64()),
            (Some(0), Some(20))
        );
        assert_eq!(span["status"], "error");
        assert_eq!(span["subtree"], 1);
    }
}
