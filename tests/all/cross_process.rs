//! One trace across two processes through a message queue (issue 5, the
//! guide's "Cross-Process Tracing"): `queue-producer` and `queue-consumer`
//! run as two `wasmtrace` processes, the producer's stdout is the queue, and
//! both export over OTLP/gRPC to the same in-process receiver.

use std::time::Duration;

use wasmtrace_test_artifacts::{QUEUE_CONSUMER, QUEUE_PRODUCER};
use wasmtrace_test_support::{
    AttrValue, OtlpReceiver, ReceivedSpan, SpanKind, SpanTree, StatusCode, Transport,
};

use crate::cli::wasmtrace;

const WAIT: Duration = Duration::from_secs(20);

fn str_attr<'a>(span: &'a ReceivedSpan, key: &str) -> Option<&'a str> {
    span.attr(key).and_then(AttrValue::as_str)
}

/// The only span named `name` whose `messaging.message.id` is `id`.
#[track_caller]
fn by_message_id<'a>(tree: &SpanTree<'a>, name: &str, id: &str) -> &'a ReceivedSpan {
    let found: Vec<_> = tree
        .find_all(name)
        .into_iter()
        .filter(|s| str_attr(s, "messaging.message.id") == Some(id))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{name} for {id}:\n{}",
        tree.render_redacted()
    );
    found[0]
}

/// The only child of `parent` named `name`.
#[track_caller]
fn only_child<'a>(tree: &SpanTree<'a>, parent: &ReceivedSpan, name: &str) -> &'a ReceivedSpan {
    let found: Vec<_> = tree
        .children_of(&parent.span_id)
        .into_iter()
        .filter(|s| s.name == name && s.trace_id == parent.trace_id)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{name} under {}:\n{}",
        parent.name,
        tree.render_redacted()
    );
    found[0]
}

#[track_caller]
fn assert_messaging(span: &ReceivedSpan, operation: &str) {
    assert_eq!(
        str_attr(span, "messaging.system"),
        Some("file"),
        "{}",
        span.name
    );
    assert_eq!(
        str_attr(span, "messaging.destination.name"),
        Some("orders"),
        "{}",
        span.name
    );
    assert_eq!(
        str_attr(span, "messaging.operation.type"),
        Some(operation),
        "{}",
        span.name
    );
}

#[test]
fn consumer_continues_the_producers_trace_through_a_queue() {
    let rx = OtlpReceiver::start().unwrap();
    let env = rx.exporter_env(Transport::Grpc);

    // Process 1: the producer writes the queue on stdout.
    let producer = wasmtrace(&["run", QUEUE_PRODUCER], &env);
    assert!(
        producer.status.success(),
        "{}",
        String::from_utf8_lossy(&producer.stderr)
    );
    let queue = String::from_utf8(producer.stdout).unwrap();
    let messages: Vec<serde_json::Value> = queue
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let ids: Vec<&str> = messages.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["order-1", "order-2", "order-3"]);

    // Process 2: the consumer reads it, plus a line that is not a message,
    // one without headers and one with a malformed traceparent.
    let input = format!(
        "{}\nthis is not json\n{}\n{}",
        queue.trim_end(),
        r#"{"id":"order-4","body":"gadget"}"#,
        r#"{"id":"order-5","body":"gizmo","headers":{"traceparent":"00-zz-00-01"}}"#,
    );
    let consumer = wasmtrace(&["run", QUEUE_CONSUMER, "--input", &input], &env);
    let consumer_out = String::from_utf8_lossy(&consumer.stdout).into_owned();
    assert!(
        consumer.status.success(),
        "a malformed line must not fail the run: {}",
        String::from_utf8_lossy(&consumer.stderr)
    );
    assert_eq!(
        consumer_out.trim_end().lines().last(),
        Some("5 processed, 1 rejected (6 lines)"),
        "{consumer_out}"
    );

    let spans = rx
        .wait_for_spans(
            |s| {
                s.iter().any(|s| s.name == "invoke queue-producer")
                    && s.iter().any(|s| s.name == "invoke queue-consumer")
            },
            WAIT,
        )
        .unwrap();
    assert!(rx.errors().is_empty(), "{:?}", rx.errors());
    let tree = SpanTree::new(&spans);
    let shown = tree.render_redacted();

    // The producer: one trace, one `publish_orders`, a Producer span per
    // message whose id is the message's traceparent.
    let publish = tree.find("publish_orders").expect("publish_orders");
    let trace_id = publish.trace_id.as_str();
    let invoke_producer = tree.find("invoke queue-producer").unwrap();
    assert_eq!(invoke_producer.trace_id, trace_id);
    assert_eq!(
        publish.parent_span_id.as_deref(),
        Some(invoke_producer.span_id.as_str())
    );
    assert_eq!(publish.scope.name, "queue-producer");

    for message in &messages {
        let id = message["id"].as_str().unwrap();
        let send = by_message_id(&tree, "send orders", id);
        assert_eq!(send.kind, SpanKind::Producer, "{id}");
        assert_eq!(send.scope.name, "queue-producer", "{id}");
        assert_eq!(send.trace_id, trace_id, "{id}");
        assert_eq!(
            send.parent_span_id.as_deref(),
            Some(publish.span_id.as_str())
        );
        assert_messaging(send, "send");
        let traceparent = message["headers"]["traceparent"].as_str().unwrap();
        // Sampled, and random (W3C Level 2): the host started the trace.
        assert_eq!(
            traceparent,
            format!("00-{}-{}-03", send.trace_id, send.span_id),
            "{id}"
        );

        // The consumer, in the other process: same trace, child of the send
        // span, linked to it, with its own scope.
        let process = by_message_id(&tree, "process orders", id);
        assert_eq!(process.kind, SpanKind::Consumer, "{id}");
        assert_eq!(process.scope.name, "queue-consumer", "{id}");
        assert_eq!(process.trace_id, trace_id, "{id}:\n{shown}");
        assert_eq!(
            process.parent_span_id.as_deref(),
            Some(send.span_id.as_str()),
            "{id}:\n{shown}"
        );
        assert_messaging(process, "process");
        assert_eq!(process.status_code, StatusCode::Unset, "{id}");
        assert!(
            process
                .links
                .iter()
                .any(|l| l.trace_id == send.trace_id && l.span_id == send.span_id),
            "{id}: links {:?}",
            process.links
        );
        let handle = only_child(&tree, process, "handle_order");
        assert_eq!(handle.scope.name, "queue-consumer");
        assert_eq!(str_attr(handle, "order.id"), Some(id));
    }

    // The consumer's own invocation is a trace of its own, with the batch
    // span and the rejected line under it.
    let invoke_consumer = tree.find("invoke queue-consumer").unwrap();
    assert_ne!(invoke_consumer.trace_id, trace_id);
    let consume = only_child(&tree, invoke_consumer, "consume_orders");
    assert_eq!(consume.scope.name, "queue-consumer");
    assert_eq!(consume.attr("orders.processed"), Some(&AttrValue::Int(5)));
    assert_eq!(consume.attr("orders.rejected"), Some(&AttrValue::Int(1)));
    let rejected = only_child(&tree, consume, "process orders");
    assert_eq!(rejected.kind, SpanKind::Consumer);
    assert_eq!(rejected.status_code, StatusCode::Error);
    assert_eq!(str_attr(rejected, "error.type"), Some("malformed_message"));
    assert!(rejected.event("exception").is_some());
    assert!(rejected.links.is_empty());

    // No or a malformed traceparent: a new trace (W3C), still processed.
    let mut new_traces = Vec::new();
    for id in ["order-4", "order-5"] {
        let process = by_message_id(&tree, "process orders", id);
        assert_eq!(process.parent_span_id, None, "{id}:\n{shown}");
        assert!(process.links.is_empty(), "{id}");
        assert_ne!(process.trace_id, trace_id, "{id}");
        assert_ne!(process.trace_id, invoke_consumer.trace_id, "{id}");
        assert_eq!(process.status_code, StatusCode::Unset, "{id}");
        only_child(&tree, process, "handle_order");
        new_traces.push(process.trace_id.as_str());
    }
    assert_ne!(new_traces[0], new_traces[1]);

    // One trace for the publish (producer + the three consumers), one for
    // the consumer's invocation, one per message without a valid context.
    assert_eq!(tree.trace_ids().len(), 4, "{shown}");
    assert_eq!(
        spans.iter().filter(|s| s.trace_id == trace_id).count(),
        2 + 3 + 3 + 3,
        "{shown}"
    );
}

#[test]
fn empty_queue_processes_nothing_and_says_why() {
    let out = wasmtrace(&["run", QUEUE_CONSUMER], &[]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("the queue is empty"), "{stdout}");
    assert!(stdout.contains("queue_producer.wasm"), "{stdout}");
}

/// The guest's carriers (`propagate_context`, the host's `inject`) follow
/// W3C Level 2: the caller's random flag, set or not, sampled or not, and
/// its whole `tracestate`, Level 2 keys included.
#[test]
fn the_producers_messages_carry_the_callers_random_flag_and_tracestate() {
    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    let tracestate = "foo@@bar=1,vendor=x";
    for (flags, expected) in [("02", "02"), ("03", "03"), ("01", "01"), ("00", "00")] {
        let traceparent = format!("00-{TRACE}-00f067aa0ba902b7-{flags}");
        let out = wasmtrace(
            &[
                "run",
                QUEUE_PRODUCER,
                "--traceparent",
                &traceparent,
                "--tracestate",
                tracestate,
            ],
            &[("OTEL_TRACES_EXPORTER", "none".to_owned())],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let queue = String::from_utf8(out.stdout).unwrap();
        let messages: Vec<serde_json::Value> = queue
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(messages.len(), 3, "{queue}");
        for m in &messages {
            let tp = m["headers"]["traceparent"].as_str().unwrap();
            assert!(
                tp.starts_with(&format!("00-{TRACE}-")) && tp.ends_with(&format!("-{expected}")),
                "{flags}: {tp}"
            );
            assert_eq!(m["headers"]["tracestate"], tracestate, "{flags}: {m}");
        }
    }
}
