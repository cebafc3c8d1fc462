//! Smoke tests of the test harness itself: the in-process OTLP receiver over
//! gRPC and HTTP, the span tree, the external rotel collector and the plugin
//! artifacts.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{Status, span::Event, span::Link};
use wasmtrace_test_support::client::{self, kv};
use wasmtrace_test_support::{
    AttrValue, ForwardProtocol, OtlpReceiver, ReceivedSpan, Rotel, RotelConfig, RotelExporter,
    SpanKind, SpanTree, StatusCode, Transport,
};

const WAIT: Duration = Duration::from_secs(20);

const TRACE: [u8; 16] = [
    0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36,
];
const TRACE_HEX: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const ROOT: [u8; 8] = [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7];
const CHILD: [u8; 8] = [0x53, 0x99, 0x5c, 0x3f, 0x42, 0xcd, 0x8a, 0xd8];

/// A two-span trace whose child carries every attribute type, an event, a
/// link and an error status.
fn sample_request(service: &str) -> ExportTraceServiceRequest {
    let root = client::span("root", TRACE, ROOT, None);
    let mut child = client::span("child", TRACE, CHILD, Some(ROOT));
    child.kind = 3; // client
    child.start_time_unix_nano = root.start_time_unix_nano + 10;
    child.end_time_unix_nano = child.start_time_unix_nano + 1_000_000;
    child.attributes = vec![
        kv("str", "hello"),
        kv("flag", true),
        kv("count", 42),
        kv("ratio", 0.5),
        kv("list", vec![1, 2, 3]),
        kv("bytes", AttrValue::Bytes(vec![0xde, 0xad])),
        kv(
            "map",
            AttrValue::KvList(BTreeMap::from([(
                "inner".to_string(),
                AttrValue::from("v"),
            )])),
        ),
    ];
    child.events = vec![Event {
        time_unix_nano: child.start_time_unix_nano + 5,
        name: "checkpoint".into(),
        attributes: vec![kv("step", 7)],
        dropped_attributes_count: 0,
    }];
    child.links = vec![Link {
        trace_id: vec![0x11; 16],
        span_id: vec![0x22; 8],
        attributes: vec![kv("link.kind", "follows")],
        ..Default::default()
    }];
    child.status = Some(Status {
        code: 2,
        message: "boom".into(),
    });
    client::request(service, "wasmtrace.harness", vec![root, child])
}

/// Asserts the spans of [`sample_request`] arrived intact.
fn assert_sample(spans: &[ReceivedSpan], service: &str) {
    let tree = SpanTree::new(spans);
    assert_eq!(tree.assert_single_trace(), TRACE_HEX);
    assert_eq!(tree.render_redacted(), "root\n  child\n");

    let root = tree.find("root").expect("root span");
    assert_eq!(root.span_id, "00f067aa0ba902b7");
    assert_eq!(root.parent_span_id, None);

    let child = tree.find("child").expect("child span");
    assert_eq!(child.parent_span_id.as_deref(), Some("00f067aa0ba902b7"));
    assert_eq!(child.span_id, "53995c3f42cd8ad8");
    assert_eq!(child.kind, SpanKind::Client);
    assert_eq!(child.status_code, StatusCode::Error);
    assert_eq!(child.status_message, "boom");
    assert!(child.is_sampled());
    assert_eq!(child.duration_nanos(), 1_000_000);

    assert_eq!(child.attr("str"), Some(&AttrValue::String("hello".into())));
    assert_eq!(child.attr("flag"), Some(&AttrValue::Bool(true)));
    assert_eq!(child.attr("count"), Some(&AttrValue::Int(42)));
    assert_eq!(child.attr("ratio"), Some(&AttrValue::Double(0.5)));
    assert_eq!(child.attr("list"), Some(&AttrValue::from(vec![1, 2, 3])));
    assert_eq!(
        child.attr("bytes"),
        Some(&AttrValue::Bytes(vec![0xde, 0xad]))
    );
    assert_eq!(
        child.attr("map").map(ToString::to_string).as_deref(),
        Some(r#"{inner: "v"}"#)
    );
    assert!(child.duplicate_attribute_keys.is_empty());

    let event = child.event("checkpoint").expect("event");
    assert_eq!(event.attr("step"), Some(&AttrValue::Int(7)));
    assert_eq!(event.time_unix_nano, child.start_time_unix_nano + 5);
    assert_eq!(child.links.len(), 1);
    assert_eq!(child.links[0].trace_id, "11".repeat(16));
    assert_eq!(child.links[0].span_id, "22".repeat(8));
    assert_eq!(
        child.links[0].attributes.get("link.kind"),
        Some(&AttrValue::from("follows"))
    );

    assert_eq!(child.scope.name, "wasmtrace.harness");
    assert_eq!(child.scope.version, "0.0.0-test");
    assert_eq!(
        child.resource_attr("service.name"),
        Some(&AttrValue::from(service))
    );
}

#[test]
fn receiver_accepts_grpc() {
    let receiver = OtlpReceiver::start().unwrap();
    client::export_grpc(&receiver.grpc_endpoint(), sample_request("grpc-svc")).unwrap();
    let spans = receiver.wait_for_span_count(2, WAIT).unwrap();
    assert_sample(&spans, "grpc-svc");
    assert!(spans.iter().all(|s| s.transport == Transport::Grpc));
    let counts = receiver.requests_by_transport();
    assert_eq!((counts.grpc, counts.http()), (1, 0));
    assert!(receiver.errors().is_empty());
}

#[test]
fn receiver_accepts_http_protobuf() {
    let receiver = OtlpReceiver::start().unwrap();
    client::export_http_protobuf(&receiver.http_endpoint(), &sample_request("http-svc")).unwrap();
    let spans = receiver.wait_for_span_count(2, WAIT).unwrap();
    assert_sample(&spans, "http-svc");
    let counts = receiver.requests_by_transport();
    assert_eq!(
        (counts.grpc, counts.http_protobuf, counts.http_json),
        (0, 1, 0)
    );
    let request = &receiver.requests()[0];
    assert_eq!(request.headers["content-type"], "application/x-protobuf");
}

#[test]
fn receiver_accepts_http_json() {
    let receiver = OtlpReceiver::start().unwrap();
    client::export_http_json(&receiver.http_endpoint(), &sample_request("json-svc")).unwrap();
    let spans = receiver.wait_for_span_count(2, WAIT).unwrap();
    assert_sample(&spans, "json-svc");
    assert_eq!(receiver.requests_by_transport().http_json, 1);
}

#[test]
fn receiver_accepts_gzip_http_and_rejects_garbage() {
    use prost::Message as _;
    let receiver = OtlpReceiver::start().unwrap();
    wasmtrace::telemetry::install_crypto_provider();
    let http = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .unwrap();

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&sample_request("gzip-svc").encode_to_vec())
        .unwrap();
    let resp = http
        .post(receiver.http_traces_url())
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_sample(&receiver.wait_for_span_count(2, WAIT).unwrap(), "gzip-svc");

    let resp = http
        .post(receiver.http_traces_url())
        .header("content-type", "application/x-protobuf")
        .body(vec![0xff, 0xff, 0xff])
        .send()
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = http
        .post(format!("{}/v1/profiles", receiver.http_endpoint()))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(receiver.errors().len(), 2, "{:?}", receiver.errors());
    assert_eq!(receiver.requests().len(), 1);
}

#[test]
fn wait_for_spans_times_out_with_what_arrived() {
    let receiver = OtlpReceiver::start().unwrap();
    client::export_grpc(&receiver.grpc_endpoint(), sample_request("svc")).unwrap();
    let err = receiver
        .wait_for_spans(|s| s.len() > 5, Duration::from_millis(300))
        .unwrap_err()
        .to_string();
    assert!(err.contains("2 span(s) in 1 request(s)"), "{err}");
    assert!(err.contains("root\n  child"), "{err}");
    receiver.clear();
    assert!(receiver.spans().is_empty());
}

#[test]
fn span_tree_renders_nested_and_orphan_spans() {
    let t = [1u8; 16];
    let u = [2u8; 16];
    let mut spans = vec![
        client::span("a", t, [1; 8], None),
        client::span("b", t, [2; 8], Some([1; 8])),
        client::span("c", t, [3; 8], Some([2; 8])),
        client::span("d", t, [4; 8], Some([1; 8])),
        client::span("remote-child", u, [5; 8], Some([9; 8])),
    ];
    for (i, s) in spans.iter_mut().enumerate() {
        s.start_time_unix_nano = 100 + i as u64;
    }
    let received = ReceivedSpan::flatten(&client::request("svc", "scope", spans), Transport::Grpc);
    let tree = SpanTree::new(&received);
    assert_eq!(tree.roots().len(), 2);
    let names: Vec<&str> = tree
        .children_of(&"01".repeat(8))
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["b", "d"]);
    assert_eq!(
        tree.render_redacted(),
        "trace #1\n  a\n    b\n      c\n    d\ntrace #2\n  remote-child (parent not received)\n"
    );
    assert_eq!(tree.parent_of(tree.find("c").unwrap()).unwrap().name, "b");
}

#[test]
#[should_panic(expected = "got 2 traces")]
fn span_tree_single_trace_assertion_fails_on_two_traces() {
    let spans = vec![
        client::span("a", [1; 16], [1; 8], None),
        client::span("b", [2; 16], [2; 8], None),
    ];
    let received = ReceivedSpan::flatten(&client::request("svc", "scope", spans), Transport::Grpc);
    SpanTree::new(&received).assert_single_trace();
}

/// Rotel receives over gRPC and forwards (gzip-compressed gRPC, its default)
/// to the in-process receiver.
#[test]
fn rotel_forwards_grpc() {
    let receiver = OtlpReceiver::start().unwrap();
    let rotel = Rotel::start_forwarding_to(&receiver).unwrap();
    client::export_grpc(&rotel.grpc_endpoint(), sample_request("via-rotel-grpc")).unwrap();
    let spans = receiver
        .wait_for_span_count(2, WAIT)
        .unwrap_or_else(|e| panic!("{e:#}\n{}", rotel.logs()));
    assert_sample(&spans, "via-rotel-grpc");
    for request in receiver.requests() {
        assert_eq!(request.transport, Transport::Grpc);
        // Our client neither compresses nor calls itself rotel: these prove
        // the spans went through rotel's exporter.
        assert_eq!(
            request.headers["grpc-encoding"], "gzip",
            "{:?}",
            request.headers
        );
        assert!(
            request.headers["user-agent"].starts_with("Rotel"),
            "{:?}",
            request.headers
        );
    }
}

/// Rotel receives over HTTP/protobuf and forwards over HTTP/protobuf.
#[test]
fn rotel_forwards_http() {
    let receiver = OtlpReceiver::start().unwrap();
    let rotel = Rotel::start(RotelConfig {
        exporter: RotelExporter::Otlp {
            endpoint: receiver.http_endpoint(),
            protocol: ForwardProtocol::Http,
            gzip: true,
        },
        ..RotelConfig::forwarding_to(&receiver)
    })
    .unwrap();
    client::export_http_protobuf(&rotel.http_endpoint(), &sample_request("via-rotel-http"))
        .unwrap();
    let spans = receiver
        .wait_for_span_count(2, WAIT)
        .unwrap_or_else(|e| panic!("{e:#}\n{}", rotel.logs()));
    assert_sample(&spans, "via-rotel-http");
    for request in receiver.requests() {
        assert_eq!(request.transport, Transport::HttpProtobuf);
        assert!(
            request.headers["user-agent"].starts_with("Rotel"),
            "{:?}",
            request.headers
        );
    }
}

/// The fallback observation path: rotel's blackhole exporter with its debug
/// log of received traces.
#[test]
fn rotel_blackhole_logs_traces() {
    let receiver = OtlpReceiver::start().unwrap();
    let rotel = Rotel::start(RotelConfig {
        exporter: RotelExporter::Blackhole,
        ..RotelConfig::forwarding_to(&receiver)
    })
    .unwrap();
    client::export_grpc(&rotel.grpc_endpoint(), sample_request("blackhole")).unwrap();
    let logs = rotel.wait_for_log("Name           : child", WAIT).unwrap();
    assert!(logs.contains("-> count: Int(42)"), "{logs}");
    assert!(logs.contains("-> service.name: Str(blackhole)"), "{logs}");
    assert!(receiver.spans().is_empty());
}

#[test]
fn every_artifact_is_a_component() {
    for (name, path) in wasmtrace_test_artifacts::ALL {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{name}: {path}: {e}"));
        // A component (layer 1) rather than a core module (layer 0).
        assert_eq!(&bytes[..4], b"\0asm", "{name}");
        assert_eq!(&bytes[6..8], &[0x01, 0x00], "{name} is not a component");
    }
}
