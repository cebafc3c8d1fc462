//! The queue producer: the sending half of the guide's "Cross-Process
//! Tracing" pattern, over a message queue that is a JSON Lines file (or a
//! pipe), with OpenTelemetry's messaging semantic conventions. Its partner is
//! `plugins/queue-consumer`, run as another process.
//!
//! Trace shape (under the host's invocation span), default run:
//!
//! ```text
//! publish_orders            orders.count=3, messaging.destination.name="orders"
//! ├── send orders  Producer messaging.system="file", messaging.destination.name="orders",
//! │                         messaging.operation.type="send", messaging.operation.name="send",
//! │                         messaging.message.id="order-1", messaging.message.body.size=6
//! ├── send orders  Producer ... messaging.message.id="order-2"
//! └── send orders  Producer ... messaging.message.id="order-3"
//! ```
//!
//! Each `send orders` span creates and sends one message, so it is the
//! message's *creation context*: inside it (it is the active span) the plugin
//! calls [`propagate_context`], and the resulting W3C `traceparent` (plus
//! `tracestate` and `baggage` when there are any) travels as the message's
//! headers. The consumer parents its `process orders` span on it, so the
//! consumer's work joins this trace.
//!
//! Output, the queue itself: one JSON object per line and message,
//!
//! ```text
//! {"id":"order-1","body":"widget","headers":{"traceparent":"00-<trace>-<send span>-01"}}
//! ```
//!
//! so that `wasmtrace run queue_producer.wasm > queue.jsonl` writes the
//! queue, and the consumer reads it back.
//!
//! Input: messages separated by commas or newlines, each `id:body` or just
//! `body` (then the id is `msg-N`). Empty: three orders,
//! `order-1:widget, order-2:gadget, order-3:gizmo`.
//!
//! `messaging.system` is `"file"`: the conventions' list of systems (kafka,
//! rabbitmq, aws_sqs, ...) has nothing for a plain file, the attribute is an
//! open enum that allows other values, and naming a broker this queue is not
//! would mislead whoever reads the trace.

use wasmtrace_sdk::{Span, SpanKind, add_attributes, attrs, propagate_context, with_span};

/// The messages sent when the input is empty.
const DEFAULT_ORDERS: &str = "order-1:widget, order-2:gadget, order-3:gizmo";

/// The queue (the conventions' destination) every message goes to.
const DESTINATION: &str = "orders";

/// `messaging.system`: the queue is a file or a pipe (see the crate docs).
const MESSAGING_SYSTEM: &str = "file";

/// One message to send.
struct Message {
    id: String,
    body: String,
}

/// Splits the input into messages (`id:body` or `body`).
fn parse_messages(input: &str) -> Vec<Message> {
    input
        .split([',', '\n'])
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .enumerate()
        .map(|(i, entry)| match entry.split_once(':') {
            Some((id, body)) if !id.trim().is_empty() => Message {
                id: id.trim().to_owned(),
                body: body.trim().to_owned(),
            },
            _ => Message {
                id: format!("msg-{}", i + 1),
                body: entry.to_owned(),
            },
        })
        .collect()
}

/// Sends one message: a Producer span whose context is injected into the
/// message's headers. Returns the message as one JSON line.
fn send(message: &Message) -> String {
    let _span = Span::builder(format!("send {DESTINATION}"))
        .kind(SpanKind::Producer)
        .attributes(attrs! {
            "messaging.system" => MESSAGING_SYSTEM,
            "messaging.destination.name" => DESTINATION,
            "messaging.operation.type" => "send",
            "messaging.operation.name" => "send",
            "messaging.message.id" => message.id.as_str(),
            "messaging.message.body.size" => message.body.len(),
        })
        .start();
    // The span is active, so the current context is this span's: the
    // consumer's spans will be its children.
    let headers = propagate_context();
    encode(message, headers.iter())
}

/// `{"id":...,"body":...,"headers":{...}}`, keys in that order (the
/// headers in the order the propagators wrote them).
fn encode<'a>(message: &Message, headers: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let headers: serde_json::Map<String, serde_json::Value> = headers
        .map(|(k, v)| (k.to_ascii_lowercase(), serde_json::Value::from(v)))
        .collect();
    format!(
        "{{\"id\":{},\"body\":{},\"headers\":{}}}",
        serde_json::Value::from(message.id.as_str()),
        serde_json::Value::from(message.body.as_str()),
        serde_json::Value::Object(headers)
    )
}

fn handle(input: String) -> Result<String, String> {
    let defaulted = input.trim().is_empty();
    let messages = parse_messages(if defaulted { DEFAULT_ORDERS } else { &input });
    if messages.is_empty() {
        return Err("no messages in the input (expected `id:body, ...`)".to_owned());
    }
    let lines = with_span(
        "publish_orders",
        attrs! {
            "orders.count" => messages.len(),
            "orders.defaulted" => defaulted,
            "messaging.destination.name" => DESTINATION,
        },
        || {
            let lines: Vec<String> = messages.iter().map(send).collect();
            add_attributes(attrs! {
                "orders.sent" => lines.len(),
            });
            lines
        },
    );
    Ok(lines.join("\n"))
}

wasmtrace_sdk::plugin!(handle);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ids_and_bodies() {
        let messages = parse_messages("a:x, y\n b : z ,");
        let pairs: Vec<(&str, &str)> = messages
            .iter()
            .map(|m| (m.id.as_str(), m.body.as_str()))
            .collect();
        assert_eq!(pairs, [("a", "x"), ("msg-2", "y"), ("b", "z")]);
    }

    #[test]
    fn encodes_one_json_line() {
        let message = Message {
            id: "order-\"1\"".to_owned(),
            body: "wid\nget".to_owned(),
        };
        let line = encode(&message, [("TraceParent", "00-ab-cd-01")].into_iter());
        assert!(!line.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["id"], "order-\"1\"");
        assert_eq!(v["body"], "wid\nget");
        assert_eq!(v["headers"]["traceparent"], "00-ab-cd-01");
        assert!(line.starts_with("{\"id\":"));
    }
}
