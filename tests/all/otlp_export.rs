//! OTLP export as the exporter specification has it, against real
//! receivers: the `wasmtrace` CLI running the quickstart plugin with
//! `OTEL_EXPORTER_OTLP_ENDPOINT=https://...` and a CA made in the test,
//! over gRPC and HTTP (protobuf and JSON); gzip on the wire; mTLS; the
//! system's roots by default; a wrong CA as a counted delivery failure with
//! its cause; per-signal variables; unsupported values as one-line errors
//! naming the variable. And, in process, the OTLP/HTTP answers we handle:
//! 429 and 503 with `Retry-After` retried, 400 not, partial success counted
//! as rejected spans.

use std::process::Output;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry::trace::{Tracer as _, TracerProvider as _};
use opentelemetry_otlp::Protocol;
use wasmtrace::telemetry::{QueueConfig, Telemetry, TracesExporter};
use wasmtrace_test_artifacts::QUICKSTART;
use wasmtrace_test_support::{
    HttpAttempt, HttpReply, OtlpReceiver, ReceivedRequest, ReceiverTls, TestPki, Transport,
};

use crate::cli::{assert_quickstart_trace, stderr, wasmtrace};

const WAIT: Duration = Duration::from_secs(20);
/// The quickstart plugin's trace: the invocation span and four of its own.
const QUICKSTART_SPANS: usize = 5;

fn tls_receiver(pki: &Arc<TestPki>, require_client_cert: bool) -> OtlpReceiver {
    OtlpReceiver::start_tls(ReceiverTls {
        pki: pki.clone(),
        require_client_cert,
    })
    .unwrap()
}

/// `wasmtrace run quickstart` exporting with `protocol` to `rx`, plus `env`.
fn run_quickstart(
    rx: &OtlpReceiver,
    protocol: Transport,
    env: &[(&'static str, String)],
) -> Output {
    let mut all = rx.exporter_env(protocol);
    all.extend_from_slice(env);
    wasmtrace(&["run", QUICKSTART, "--input", "a b c"], &all)
}

fn protocols() -> [Transport; 3] {
    [
        Transport::Grpc,
        Transport::HttpProtobuf,
        Transport::HttpJson,
    ]
}

/// How the CLI's delivery warning begins when `undelivered` of the
/// quickstart's spans did not reach the collector (the reason follows).
fn undelivered_warning(undelivered: usize) -> String {
    format!(
        "warning: {undelivered} of {QUICKSTART_SPANS} spans could not be delivered to the collector: "
    )
}

/// The trace requests `rx` got (and checks they decoded).
fn trace_requests(rx: &OtlpReceiver) -> Vec<ReceivedRequest> {
    assert!(rx.errors().is_empty(), "{:?}", rx.errors());
    rx.requests()
}

#[test]
fn https_with_a_custom_ca_delivers_spans_and_metrics_gzip_compressed() {
    let pki = TestPki::generate("custom-ca").unwrap();
    for protocol in protocols() {
        let rx = tls_receiver(&pki, false);
        assert!(rx.grpc_endpoint().starts_with("https://127.0.0.1:"));
        let mut env = pki.exporter_env(false);
        env.push(("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip".to_owned()));
        // Percent-decoded, as the spec says.
        env.push((
            "OTEL_EXPORTER_OTLP_HEADERS",
            "authorization=Bearer%20t0ken,x-tenant=acme".to_owned(),
        ));
        let out = run_quickstart(&rx, protocol, &env);
        let err = stderr(&out);
        assert!(out.status.success(), "{protocol:?}: {err}");
        assert!(!err.contains("warning"), "{protocol:?}: {err}");
        let spans = rx
            .wait_for_span_count(QUICKSTART_SPANS, WAIT)
            .unwrap_or_else(|e| panic!("{protocol:?}: {e}\n{err}"));
        assert_quickstart_trace(&spans, None);
        let requests = trace_requests(&rx);
        assert!(!requests.is_empty());
        for r in &requests {
            assert_eq!(r.transport, protocol);
            assert!(r.gzip, "{protocol:?}: not compressed: {:?}", r.headers);
            let encoding = match protocol {
                Transport::Grpc => "grpc-encoding",
                _ => "content-encoding",
            };
            assert_eq!(
                r.headers.get(encoding).map(String::as_str),
                Some("gzip"),
                "{protocol:?}"
            );
            assert_eq!(
                r.headers.get("authorization").map(String::as_str),
                Some("Bearer t0ken")
            );
            assert_eq!(r.headers.get("x-tenant").map(String::as_str), Some("acme"));
            assert_eq!(r.client_certificates, 0);
        }
        // The self-metrics take the same way.
        rx.wait_for_metrics(
            |p| p.iter().any(|p| p.name == "wasmtrace.plugin.spans.started"),
            WAIT,
        )
        .unwrap_or_else(|e| panic!("{protocol:?}: {e}\n{err}"));
    }
}

#[test]
fn without_compression_requests_go_uncompressed() {
    let pki = TestPki::generate("plain").unwrap();
    for protocol in [Transport::Grpc, Transport::HttpProtobuf] {
        let rx = tls_receiver(&pki, false);
        let mut env = pki.exporter_env(false);
        env.push(("OTEL_EXPORTER_OTLP_COMPRESSION", "none".to_owned()));
        let out = run_quickstart(&rx, protocol, &env);
        assert!(out.status.success(), "{}", stderr(&out));
        rx.wait_for_span_count(QUICKSTART_SPANS, WAIT).unwrap();
        for r in trace_requests(&rx) {
            assert!(!r.gzip, "{protocol:?}: {:?}", r.headers);
        }
    }
}

#[test]
fn mtls_delivers_with_the_client_certificate_and_fails_without() {
    let pki = TestPki::generate("mtls").unwrap();
    for protocol in [Transport::Grpc, Transport::HttpProtobuf] {
        let rx = tls_receiver(&pki, true);
        let out = run_quickstart(&rx, protocol, &pki.exporter_env(true));
        let err = stderr(&out);
        assert!(out.status.success(), "{protocol:?}: {err}");
        assert!(!err.contains("warning"), "{protocol:?}: {err}");
        rx.wait_for_span_count(QUICKSTART_SPANS, WAIT)
            .unwrap_or_else(|e| panic!("{protocol:?}: {e}\n{err}"));
        for r in trace_requests(&rx) {
            assert_eq!(r.client_certificates, 1, "{protocol:?}");
        }

        // No client certificate: the handshake is refused, and the spans are
        // counted as undelivered.
        let rx = tls_receiver(&pki, true);
        let out = run_quickstart(&rx, protocol, &pki.exporter_env(false));
        let err = stderr(&out);
        assert!(out.status.success(), "the plugin still ran: {err}");
        assert!(
            err.contains(&undelivered_warning(QUICKSTART_SPANS)),
            "{protocol:?}: {err}"
        );
        assert!(rx.requests().is_empty(), "{protocol:?}");
    }
}

#[test]
fn a_wrong_ca_is_a_counted_delivery_failure_that_says_why() {
    let server = TestPki::generate("server-ca").unwrap();
    let other = TestPki::generate("other-ca").unwrap();
    for protocol in protocols() {
        let rx = tls_receiver(&server, false);
        let out = run_quickstart(&rx, protocol, &other.exporter_env(false));
        let err = stderr(&out);
        assert!(out.status.success(), "the plugin still ran: {err}");
        let warning = err
            .lines()
            .find(|l| l.starts_with("warning: ") && l.contains("could not be delivered"))
            .unwrap_or_else(|| panic!("{protocol:?}: no delivery warning in\n{err}"));
        assert!(
            warning.starts_with(&undelivered_warning(QUICKSTART_SPANS)),
            "{protocol:?}: {warning}"
        );
        // The certificate is the cause, named as rustls names it.
        assert!(
            warning.contains("invalid peer certificate") && warning.contains("UnknownIssuer"),
            "{protocol:?}: {warning}"
        );
        assert!(rx.requests().is_empty(), "{protocol:?}");
    }
}

#[test]
fn the_system_roots_are_trusted_by_default() {
    // rustls-native-certs reads SSL_CERT_FILE as the system's bundle.
    let pki = TestPki::generate("system").unwrap();
    for protocol in [Transport::Grpc, Transport::HttpProtobuf] {
        let rx = tls_receiver(&pki, false);
        let env = [("SSL_CERT_FILE", pki.ca_path().display().to_string())];
        let out = run_quickstart(&rx, protocol, &env);
        let err = stderr(&out);
        assert!(out.status.success(), "{err}");
        assert!(!err.contains("warning"), "{protocol:?}: {err}");
        rx.wait_for_span_count(QUICKSTART_SPANS, WAIT)
            .unwrap_or_else(|e| panic!("{protocol:?}: {e}\n{err}"));
    }
}

#[test]
fn each_signal_follows_its_own_variables() {
    // Traces over gRPC to one TLS receiver, metrics over HTTP, gzip, to
    // another with its own CA: only the signal-specific variables say so.
    let traces_pki = TestPki::generate("traces").unwrap();
    let metrics_pki = TestPki::generate("metrics").unwrap();
    let traces = tls_receiver(&traces_pki, false);
    let metrics = tls_receiver(&metrics_pki, false);
    let path = |p: std::path::PathBuf| p.display().to_string();
    let env = [
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc".to_owned()),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces.grpc_endpoint()),
        (
            "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
            path(traces_pki.ca_path()),
        ),
        (
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
            "http/protobuf".to_owned(),
        ),
        (
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            format!("{}/v1/metrics", metrics.http_endpoint()),
        ),
        (
            "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE",
            path(metrics_pki.ca_path()),
        ),
        ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "gzip".to_owned()),
        ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "5000".to_owned()),
    ];
    let out = wasmtrace(&["run", QUICKSTART], &env);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("warning"), "{err}");
    traces.wait_for_span_count(QUICKSTART_SPANS, WAIT).unwrap();
    assert!(trace_requests(&traces).iter().all(|r| !r.gzip));
    metrics
        .wait_for_metrics(
            |p| p.iter().any(|p| p.name == "wasmtrace.plugin.spans.ended"),
            WAIT,
        )
        .unwrap();
    assert!(metrics.spans().is_empty());
    assert!(traces.metric_points().is_empty());
    let attempts = metrics.http_attempts();
    assert!(
        attempts
            .iter()
            .all(|a| a.path == "/v1/metrics" && a.status == 200),
        "{attempts:?}"
    );
}

#[test]
fn unsupported_values_are_one_line_errors_naming_the_variable() {
    let pki = TestPki::generate("errors").unwrap();
    let cert = pki.client_cert_path().display().to_string();
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd")],
            "error: OTEL_EXPORTER_OTLP_COMPRESSION=\"zstd\" is not supported (use gzip or none)",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "5s")],
            "error: OTEL_EXPORTER_OTLP_TRACES_TIMEOUT=\"5s\" is not a positive whole number of milliseconds",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "novalue")],
            "error: OTEL_EXPORTER_OTLP_METRICS_HEADERS=\"novalue\": entry \"novalue\" is not key=value",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_INSECURE", "maybe")],
            "error: OTEL_EXPORTER_OTLP_INSECURE=\"maybe\" is not a boolean (use true or false)",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", &cert)],
            "error: OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE is set but no client key is (set OTEL_EXPORTER_OTLP_CLIENT_KEY too)",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_CERTIFICATE", &cert[..cert.len() - 4])],
            "error: OTEL_EXPORTER_OTLP_CERTIFICATE=",
        ),
    ];
    for (vars, expected) in cases {
        let mut env: Vec<(&str, String)> = vec![(
            // Schemeless, so that INSECURE matters.
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "127.0.0.1:1".to_owned(),
        )];
        env.extend(vars.iter().map(|(k, v)| (*k, v.to_string())));
        let out = wasmtrace(&["run", QUICKSTART], &env);
        let err = stderr(&out);
        assert!(!out.status.success(), "{vars:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{vars:?}: one line: {err}");
        assert!(err.starts_with(expected), "{vars:?}: {err}");
    }
}

/// An in-process pipeline exporting over OTLP/HTTP to `rx`.
fn http_telemetry(rx: &OtlpReceiver) -> Telemetry {
    Telemetry::builder("responses", "0")
        .with_exporter(TracesExporter::Otlp(Protocol::HttpBinary))
        .with_endpoint(rx.http_traces_url())
        .with_queue_config(QueueConfig {
            scheduled_delay: Duration::from_millis(20),
            ..QueueConfig::default()
        })
        .build()
        .unwrap()
}

/// The OTLP/HTTP trace export attempts `rx` answered, in order.
fn trace_attempts(rx: &OtlpReceiver) -> Vec<HttpAttempt> {
    rx.http_attempts()
        .into_iter()
        .filter(|a| a.path == "/v1/traces")
        .collect()
}

/// Ends `n` spans and flushes them.
fn export_spans(telemetry: Telemetry, n: usize) {
    let tracer = telemetry.provider().tracer("responses");
    for i in 0..n {
        tracer.in_span(format!("span {i}"), |_| {});
    }
    // A failed export is reported here too; what counts is the stats.
    let _ = telemetry.shutdown(WAIT);
}

#[test]
fn http_429_and_503_are_retried_after_retry_after_and_400_is_not() {
    for status in [429, 503] {
        let rx = OtlpReceiver::start().unwrap();
        rx.script_http([HttpReply::Status {
            status,
            retry_after: Some("1".to_owned()),
        }]);
        let telemetry = http_telemetry(&rx);
        let delivery = telemetry.delivery_handle();
        export_spans(telemetry, 3);
        let attempts = trace_attempts(&rx);
        assert_eq!(
            attempts.iter().map(|a| a.status).collect::<Vec<_>>(),
            [status, 200],
            "{status}: retried once"
        );
        let waited = attempts[1].at - attempts[0].at;
        assert!(
            waited >= Duration::from_millis(900),
            "{status}: Retry-After: 1 honoured, retried after {waited:?}"
        );
        assert_eq!(rx.spans().len(), 3);
        assert_eq!(delivery.delivered(), 3, "{status}");
        assert_eq!(delivery.undelivered(), 0, "{status}");
    }

    let rx = OtlpReceiver::start().unwrap();
    rx.script_http([HttpReply::Status {
        status: 400,
        retry_after: Some("1".to_owned()),
    }]);
    let telemetry = http_telemetry(&rx);
    let delivery = telemetry.delivery_handle();
    let started = Instant::now();
    export_spans(telemetry, 3);
    let attempts = trace_attempts(&rx);
    assert_eq!(attempts.len(), 1, "400 is not retried: {attempts:?}");
    assert_eq!(attempts[0].status, 400);
    assert!(rx.spans().is_empty());
    assert_eq!(delivery.failed(), 3);
    assert_eq!(delivery.undelivered(), 3);
    assert!(
        delivery.last_error().is_some_and(|e| e.contains("400")),
        "{:?}",
        delivery.last_error()
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_partial_success_counts_the_rejected_spans() {
    for protocol in [Protocol::HttpBinary, Protocol::HttpJson] {
        let rx = OtlpReceiver::start().unwrap();
        rx.script_http([HttpReply::PartialSuccess {
            rejected: 2,
            message: "2 spans are too old".to_owned(),
        }]);
        let telemetry = Telemetry::builder("responses", "0")
            .with_exporter(TracesExporter::Otlp(protocol))
            .with_endpoint(rx.http_traces_url())
            .build()
            .unwrap();
        let delivery = telemetry.delivery_handle();
        export_spans(telemetry, 5);
        assert_eq!(rx.spans().len(), 5, "the request was taken");
        assert_eq!(delivery.ended(), 5);
        assert_eq!(delivery.rejected(), 2, "{protocol:?}");
        assert_eq!(delivery.delivered(), 3, "{protocol:?}");
        assert_eq!(delivery.undelivered(), 2, "{protocol:?}");
        assert_eq!(
            delivery.reason().as_deref(),
            Some("the collector rejected 2 spans: 2 spans are too old")
        );
        // Not retried: the collector took the request.
        assert_eq!(trace_attempts(&rx).len(), 1);
    }
}

#[test]
fn the_cli_reports_rejected_spans() {
    let rx = OtlpReceiver::start().unwrap();
    rx.script_http([HttpReply::PartialSuccess {
        rejected: 1,
        message: "quota".to_owned(),
    }]);
    let out = run_quickstart(&rx, Transport::HttpProtobuf, &[]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let warning = undelivered_warning(1) + "the collector rejected 1 spans: quota";
    assert!(err.contains(&warning), "{err}");
}
