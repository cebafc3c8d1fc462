//! The queue consumer: the receiving half of the guide's "Cross-Process
//! Tracing" pattern. Its input is the queue that `plugins/queue-producer`
//! wrote (JSON Lines: `{"id":..,"body":..,"headers":{"traceparent":..}}`);
//! for each message it continues the producer's trace, following
//! OpenTelemetry's messaging semantic conventions.
//!
//! Trace shape. The consumer's own invocation is one trace:
//!
//! ```text
//! invoke queue-consumer                      (the host's span)
//! └── consume_orders                         queue.lines, orders.processed, orders.rejected
//!     └── process orders  Consumer  [ERROR]  only for a line that is not a JSON message
//! ```
//!
//! and each message's processing joins the producer's trace, under the
//! `send orders` span that created the message:
//!
//! ```text
//! send orders  Producer                      (queue-producer, another process)
//! └── process orders  Consumer               messaging.system="file",
//!     │                                      messaging.destination.name="orders",
//!     │                                      messaging.operation.type="process",
//!     │                                      messaging.operation.name="process",
//!     │                                      messaging.message.id, messaging.message.body.size;
//!     │                                      link -> send orders
//!     └── handle_order                       order.id, order.item, inventory.remaining
//! ```
//!
//! # Parent and link
//!
//! The message's headers are its *creation context* (the producer's `send
//! orders` span). The conventions require consumer spans to link to the
//! creation context of the messages they receive or process, because a span
//! that handles a batch cannot have every message's context as parent; for a
//! span that processes a single message they allow the creation context as
//! parent as well. `process orders` handles one message, so it does both: the
//! extracted context is its parent (the producer's trace continues in this
//! process, the guide's `with_propagated_context`) and it links to the same
//! span (what a backend that follows links, or a later switch to batch
//! processing, relies on).
//!
//! # Bad input
//!
//! - A line that is not a JSON object with a string `id` and `body` is
//!   rejected: a `process orders` span with status Error, an `exception`
//!   event and `error.type="malformed_message"`. A JSON object's span hangs
//!   where a good message's would (under its context, or in a new trace);
//!   for a line that is not even a JSON object there is no context to read,
//!   and it hangs under `consume_orders`. The other lines are still
//!   processed.
//! - An order for an item the inventory does not stock is rejected the same
//!   way (`error.type="unknown_item"`, on `handle_order` and `process
//!   orders`).
//! - A message with no `traceparent`, or a malformed one, starts a new trace
//!   (W3C Trace Context: an invalid `traceparent` is ignored) and is
//!   processed normally, without a link.
//!
//! The output has one line per message and a last line with the counts,
//! e.g. `3 processed, 1 rejected (4 lines)`. Empty input is an empty queue:
//! the plugin says how to fill it and processes nothing (not an error).

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value as Json;
use wasmtrace_sdk::{
    Context, KeyValue, Link, PropagatedContext, Span, SpanGuard, SpanKind, add_attributes, attrs,
    with_span,
};

/// The queue messages are read from.
const DESTINATION: &str = "orders";

/// `messaging.system`, as the producer sets it: the queue is a file or a
/// pipe, which the conventions' list of systems does not name.
const MESSAGING_SYSTEM: &str = "file";

/// What the inventory holds before the batch: `(item, units)`.
const STOCK: &[(&str, i64)] = &[("widget", 42), ("gadget", 7), ("gizmo", 13)];

/// A message read from the queue.
struct Message {
    id: String,
    body: String,
}

/// Why a line or an order was rejected.
#[derive(Debug)]
enum Rejection {
    /// The line is not a JSON message (`error.type="malformed_message"`).
    Malformed(String),
    /// The order names an item that is not stocked (`unknown_item`).
    UnknownItem(String),
    /// The item is stocked, but none is left (`out_of_stock`).
    OutOfStock(String),
}

impl Rejection {
    fn error_type(&self) -> &'static str {
        match self {
            Rejection::Malformed(_) => "malformed_message",
            Rejection::UnknownItem(_) => "unknown_item",
            Rejection::OutOfStock(_) => "out_of_stock",
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::Malformed(why) => write!(f, "malformed message: {why}"),
            Rejection::UnknownItem(item) => write!(f, "unknown item `{item}`"),
            Rejection::OutOfStock(item) => write!(f, "`{item}` is out of stock"),
        }
    }
}

impl std::error::Error for Rejection {}

/// A line split into what could be read: its headers (if the line is a JSON
/// object) and the message (if it has a string `id` and `body`).
struct Parsed {
    headers: Option<PropagatedContext>,
    message: Result<Message, Rejection>,
}

/// Reads one queue line. Header values that are not strings are ignored.
fn parse_line(line: &str) -> Parsed {
    let object = match serde_json::from_str::<Json>(line) {
        Ok(Json::Object(object)) => object,
        Ok(_) => {
            return Parsed {
                headers: None,
                message: Err(Rejection::Malformed("not a JSON object".to_owned())),
            };
        }
        Err(e) => {
            return Parsed {
                headers: None,
                message: Err(Rejection::Malformed(format!("not JSON: {e}"))),
            };
        }
    };
    let headers: PropagatedContext = object
        .get("headers")
        .and_then(Json::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
        .collect();
    let field = |name: &str| object.get(name).and_then(Json::as_str).map(str::to_owned);
    let message = match (field("id"), field("body")) {
        (Some(id), Some(body)) => Ok(Message { id, body }),
        (None, _) => Err(Rejection::Malformed("no string `id`".to_owned())),
        (_, None) => Err(Rejection::Malformed("no string `body`".to_owned())),
    };
    Parsed {
        headers: Some(headers),
        message,
    }
}

/// The business logic: reserves one unit of the ordered item.
fn handle_order(message: &Message, stock: &mut BTreeMap<String, i64>) -> Result<i64, Rejection> {
    let span = Span::builder("handle_order")
        .attributes(attrs! {
            "order.id" => message.id.as_str(),
            "order.item" => message.body.as_str(),
        })
        .start();
    let result = match stock.get_mut(message.body.as_str()) {
        None => Err(Rejection::UnknownItem(message.body.clone())),
        Some(0) => Err(Rejection::OutOfStock(message.body.clone())),
        Some(units) => {
            *units -= 1;
            Ok(*units)
        }
    };
    match &result {
        Ok(remaining) => span.set_attribute("inventory.remaining", *remaining),
        Err(rejection) => reject(&span, rejection),
    }
    result
}

/// Marks `span` failed by `rejection`: status Error, `exception` event,
/// `error.type`.
fn reject(span: &SpanGuard, rejection: &Rejection) {
    span.set_attribute("error.type", rejection.error_type());
    span.record_error(rejection);
    span.set_error(rejection);
}

/// Processes one line; returns the line of output describing it and
/// whether it was processed.
fn process_line(number: usize, line: &str, stock: &mut BTreeMap<String, i64>) -> (String, bool) {
    let parsed = parse_line(line);
    // The creation context, when the line had headers to read. An empty or
    // malformed `traceparent` gives an empty context: a new trace.
    let creation = parsed.headers.as_ref().map(Context::extract);
    let creation_span = creation.as_ref().map(Context::span_context);

    let mut builder = Span::builder(format!("process {DESTINATION}"))
        .kind(SpanKind::Consumer)
        .attributes(attrs! {
            "messaging.system" => MESSAGING_SYSTEM,
            "messaging.destination.name" => DESTINATION,
            "messaging.operation.type" => "process",
            "messaging.operation.name" => "process",
            "queue.line" => number,
        });
    if let Ok(message) = &parsed.message {
        builder = builder.attributes(attrs! {
            "messaging.message.id" => message.id.as_str(),
            "messaging.message.body.size" => message.body.len(),
        });
    }
    if let Some(cx) = &creation {
        // Parent: the producer's `send` span (or a new trace).
        builder = builder.parent(cx);
    }
    if let Some(span_context) = creation_span.clone().filter(|cx| cx.is_valid()) {
        let link_attributes: Vec<KeyValue> = match &parsed.message {
            Ok(message) => attrs! { "messaging.message.id" => message.id.as_str() }.into(),
            Err(_) => Vec::new(),
        };
        builder = builder.link(Link::new(span_context, link_attributes));
    }
    let span = builder.start();
    let trace_note = match &creation_span {
        Some(cx) if cx.is_valid() => {
            format!("trace {}, sent by span {}", cx.trace_id(), cx.span_id())
        }
        Some(_) => format!(
            "no valid traceparent: new trace {}",
            span.span_context().trace_id()
        ),
        None => "no headers".to_owned(),
    };

    let outcome = parsed
        .message
        .and_then(|message| handle_order(&message, stock).map(|left| (message, left)));
    match outcome {
        Ok((message, left)) => (
            format!(
                "{}: reserved 1 {} ({left} left) [{trace_note}]",
                message.id, message.body
            ),
            true,
        ),
        Err(rejection) => {
            reject(&span, &rejection);
            (
                format!("line {number}: rejected: {rejection} [{trace_note}]"),
                false,
            )
        }
    }
}

fn handle(input: String) -> String {
    let lines: Vec<(usize, &str)> = input
        .lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty())
        .collect();
    with_span(
        "consume_orders",
        attrs! {
            "queue.lines" => lines.len(),
            "messaging.destination.name" => DESTINATION,
        },
        || {
            if lines.is_empty() {
                add_attributes(attrs! { "orders.processed" => 0, "orders.rejected" => 0 });
                return "the queue is empty: nothing processed. The input is the queue that \
                     queue-producer writes, one JSON message per line:\n  \
                     wasmtrace run queue_producer.wasm > /tmp/queue.jsonl\n  \
                     wasmtrace run queue_consumer.wasm --input \"$(cat /tmp/queue.jsonl)\""
                    .to_owned();
            }
            let mut stock: BTreeMap<String, i64> = STOCK
                .iter()
                .map(|(item, units)| ((*item).to_owned(), *units))
                .collect();
            let mut out = Vec::with_capacity(lines.len() + 1);
            let mut processed = 0_usize;
            for (number, line) in &lines {
                let (text, ok) = process_line(*number, line, &mut stock);
                processed += usize::from(ok);
                out.push(text);
            }
            let rejected = lines.len() - processed;
            add_attributes(attrs! {
                "orders.processed" => processed,
                "orders.rejected" => rejected,
            });
            out.push(format!(
                "{processed} processed, {rejected} rejected ({} lines)",
                lines.len()
            ));
            out.join("\n")
        },
    )
}

wasmtrace_sdk::plugin!(handle);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_message_and_its_headers() {
        let parsed = parse_line(
            r#"{"id":"order-1","body":"widget","headers":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","x":1}}"#,
        );
        let message = parsed.message.unwrap();
        assert_eq!(
            (message.id.as_str(), message.body.as_str()),
            ("order-1", "widget")
        );
        let headers = parsed.headers.unwrap();
        assert_eq!(headers.len(), 1);
        assert!(headers.get("traceparent").is_some());
    }

    #[test]
    fn rejects_what_is_not_a_message() {
        for line in [
            "not json",
            "[1,2]",
            r#"{"body":"widget"}"#,
            r#"{"id":"a","body":3}"#,
        ] {
            let parsed = parse_line(line);
            assert!(
                matches!(parsed.message, Err(Rejection::Malformed(_))),
                "{line}"
            );
        }
        // Headers are still read from an object without a body.
        assert!(parse_line(r#"{"id":"a","headers":{}}"#).headers.is_some());
    }
}
