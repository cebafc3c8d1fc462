//! The OTLP/HTTP client wrapper: it sees every response and every transport
//! error, which opentelemetry-otlp 0.33 does not report. A partial success
//! (a 2xx whose body says the collector rejected some items) is only logged
//! by the exporter, and a transport error becomes "network error" with its
//! cause dropped. Status handling stays the exporter's, as the spec says:
//! 429 and 503 are retried after `Retry-After`, 502 and 504 with backoff,
//! other statuses (400 among them) are not retried.

use std::fmt::Debug;
use std::sync::Arc;

use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message as _;

use super::config::Signal;

/// Told what an exporter's responses said.
pub(crate) trait ExportObserver: Debug + Send + Sync {
    /// The collector took a request but rejected `items` of it (partial
    /// success), saying `message`.
    fn rejected(&self, items: u64, message: &str);
    /// A request failed before any response, for this reason (with its
    /// causes).
    fn transport_error(&self, error: String);
}

/// The exporter's HTTP client, reporting to an [`ExportObserver`].
#[derive(Debug)]
pub(crate) struct ObservedClient {
    inner: reqwest::blocking::Client,
    signal: Signal,
    json: bool,
    observer: Arc<dyn ExportObserver>,
}

impl ObservedClient {
    pub(crate) fn new(
        inner: reqwest::blocking::Client,
        signal: Signal,
        json: bool,
        observer: Arc<dyn ExportObserver>,
    ) -> Self {
        Self {
            inner,
            signal,
            json,
            observer,
        }
    }
}

#[async_trait::async_trait]
impl HttpClient for ObservedClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let response = match self.inner.send_bytes(request).await {
            Ok(response) => response,
            Err(e) => {
                self.observer.transport_error(error_chain(&*e));
                return Err(e);
            }
        };
        // Only a 2xx is final and carries a partial success.
        if response.status().is_success()
            && let Some((items, message)) = partial_success(self.signal, self.json, response.body())
        {
            self.observer.rejected(items, &message);
        }
        Ok(response)
    }
}

/// `error: cause: cause ...`: reqwest's own message omits the causes, where
/// the useful part is ("invalid peer certificate: UnknownIssuer").
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

/// The rejected count and message of a 2xx response's partial success;
/// `None` when there is none (or nothing was rejected and nothing said).
///
/// The three signals' responses share one protobuf layout
/// (`partial_success = 1 { int64 rejected_<items> = 1; string
/// error_message = 2; }`), so the traces type decodes them all. In
/// OTLP/JSON an int64 may be a number or a string.
fn partial_success(signal: Signal, json: bool, body: &[u8]) -> Option<(u64, String)> {
    if body.is_empty() {
        return None;
    }
    let (items, message) = if json {
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        let ps = v.get("partialSuccess")?;
        let items = ps
            .get(signal.rejected_json_field())
            .and_then(|r| r.as_u64().or_else(|| r.as_str()?.parse().ok()))
            .unwrap_or(0);
        let message = ps
            .get("errorMessage")
            .and_then(|m| m.as_str())
            .unwrap_or_default()
            .to_owned();
        (items, message)
    } else {
        let ps = ExportTraceServiceResponse::decode(body)
            .ok()?
            .partial_success?;
        (ps.rejected_spans.max(0) as u64, ps.error_message)
    };
    (items > 0 || !message.is_empty()).then_some((items, message))
}

/// What the metric exporter's client saw, for the error at shutdown. (A
/// partial success of metrics is not counted anywhere: the self-metrics
/// have no delivery accounting.)
#[derive(Debug, Default)]
pub(crate) struct ExportNotes {
    last_error: std::sync::Mutex<Option<String>>,
}

impl ExportNotes {
    /// The last transport error, with its causes.
    pub(crate) fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl ExportObserver for ExportNotes {
    fn rejected(&self, _items: u64, _message: &str) {}

    fn transport_error(&self, error: String) {
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(error);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess;

    #[test]
    fn partial_success_is_read_from_protobuf_and_json() {
        let body = ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: 3,
                error_message: "too old".into(),
            }),
        }
        .encode_to_vec();
        assert_eq!(
            partial_success(Signal::Traces, false, &body),
            Some((3, "too old".into()))
        );
        assert_eq!(
            partial_success(Signal::Traces, false, &[]),
            None,
            "an empty body is a full success"
        );
        let json = br#"{"partialSuccess":{"rejectedDataPoints":"7","errorMessage":"x"}}"#;
        assert_eq!(
            partial_success(Signal::Metrics, true, json),
            Some((7, "x".into()))
        );
        let json = br#"{"partialSuccess":{"rejectedLogRecords":2}}"#;
        assert_eq!(
            partial_success(Signal::Logs, true, json),
            Some((2, String::new()))
        );
        assert_eq!(partial_success(Signal::Traces, true, b"{}"), None);
    }

    #[test]
    fn error_chains_keep_their_causes_once() {
        #[derive(Debug)]
        struct E(&'static str, Option<Box<E>>);
        impl std::fmt::Display for E {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.0)
            }
        }
        impl std::error::Error for E {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                self.1.as_deref().map(|e| e as _)
            }
        }
        let e = E(
            "error sending request",
            Some(Box::new(E(
                "client error (Connect)",
                Some(Box::new(E("invalid peer certificate: UnknownIssuer", None))),
            ))),
        );
        assert_eq!(
            error_chain(&e),
            "error sending request: client error (Connect): invalid peer certificate: UnknownIssuer"
        );
    }
}
