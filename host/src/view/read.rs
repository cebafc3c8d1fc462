//! Reading OTLP/JSON files: what `--export-json` and the OpenTelemetry
//! Collector's file exporter write, one `ExportTraceServiceRequest` or
//! `ExportLogsServiceRequest` per line (camelCase names, hex ids, 64-bit
//! integers as strings or numbers, unknown fields ignored, as the OTLP/JSON
//! encoding says). A line that cannot be read is reported with its number
//! and skipped; the rest is kept.

use super::model::{TraceSet, TraceSetBuilder};
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{
    LogRecord as ProtoLogRecord, ResourceLogs as ProtoResourceLogs, ScopeLogs as ProtoScopeLogs,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny};
use std::fmt;
use std::io::BufRead;

/// What [`read_otlp_json`] read.
#[derive(Debug, Default)]
pub struct Reading {
    /// The spans and log records of every line that could be read.
    pub traces: TraceSet,
    /// What could not be read, by line.
    pub problems: Vec<Problem>,
    /// Lines read (blank lines included).
    pub lines: usize,
    /// Lines of metrics (`resourceMetrics`), which no view draws.
    pub metrics_lines: usize,
}

/// A line, or part of one, that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Its line number, from 1.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
    /// Whether the whole line was skipped (otherwise only what `message`
    /// names was).
    pub skipped_line: bool,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.skipped_line {
            "skipped"
        } else {
            "partly read"
        };
        write!(f, "line {} {what}: {}", self.line, self.message)
    }
}

/// Reads OTLP/JSON lines from `input`. Only an I/O error fails the whole
/// read; a malformed line becomes a [`Problem`] and the next line is read.
pub fn read_otlp_json(mut input: impl BufRead) -> std::io::Result<Reading> {
    let mut reading = Reading::default();
    let mut builder = TraceSetBuilder::default();
    let mut bytes = Vec::new();
    loop {
        bytes.clear();
        if input.read_until(b'\n', &mut bytes)? == 0 {
            break;
        }
        reading.lines += 1;
        let line = reading.lines;
        let text = bytes.trim_ascii_end();
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let request: Line = match serde_json::from_slice(text) {
            Ok(request) => request,
            Err(e) => {
                reading.problems.push(Problem {
                    line,
                    message: format!("not OTLP/JSON: {}", json_error(&e)),
                    skipped_line: true,
                });
                continue;
            }
        };
        if request.resource_spans.is_none() && request.resource_logs.is_none() {
            if request.resource_metrics.is_some() {
                reading.metrics_lines += 1;
            } else {
                reading.problems.push(Problem {
                    line,
                    message: "neither resourceSpans nor resourceLogs: not a traces or logs \
                              export request"
                        .into(),
                    skipped_line: true,
                });
            }
            continue;
        }
        let mut problems = builder.add_otlp_spans(request.resource_spans.unwrap_or_default());
        problems.extend(add_logs(
            &mut builder,
            request.resource_logs.unwrap_or_default(),
        ));
        reading
            .problems
            .extend(problems.into_iter().map(|message| Problem {
                line,
                message,
                skipped_line: false,
            }));
    }
    reading.traces = builder.build();
    Ok(reading)
}

/// serde_json's message with its position as a column of the line (its
/// own "line 1" would be misread as the file's).
fn json_error(e: &serde_json::Error) -> String {
    let message = e.to_string();
    let message = match message.rfind(" at line ") {
        Some(at) => &message[..at],
        None => &message,
    };
    format!("{message} (column {})", e.column())
}

/// One line: a traces or logs export request (the Collector's file
/// exporter writes either, and metrics, to the same file).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Line {
    #[serde(default)]
    resource_spans: Option<Vec<ResourceSpans>>,
    #[serde(default)]
    resource_logs: Option<Vec<ResourceLogs>>,
    #[serde(default)]
    resource_metrics: Option<IgnoredAny>,
}

// OTLP logs as JSON, read more leniently than opentelemetry-proto's own
// types (64-bit integers as strings or numbers), then converted to them.

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct ResourceLogs {
    resource: Option<Resource>,
    scope_logs: Vec<ScopeLogs>,
    schema_url: String,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct ScopeLogs {
    scope: Option<InstrumentationScope>,
    log_records: Vec<JsonLogRecord>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct JsonLogRecord {
    #[serde(deserialize_with = "u64_from_string_or_number")]
    time_unix_nano: u64,
    #[serde(deserialize_with = "u64_from_string_or_number")]
    observed_time_unix_nano: u64,
    severity_number: i32,
    severity_text: String,
    body: Option<AnyValue>,
    attributes: Vec<KeyValue>,
    dropped_attributes_count: u32,
    #[serde(deserialize_with = "bytes_from_hex")]
    trace_id: Vec<u8>,
    #[serde(deserialize_with = "bytes_from_hex")]
    span_id: Vec<u8>,
    event_name: String,
}

fn add_logs(builder: &mut TraceSetBuilder, resource_logs: Vec<ResourceLogs>) -> Vec<String> {
    builder.add_otlp_logs(
        resource_logs
            .into_iter()
            .map(|rl| ProtoResourceLogs {
                resource: rl.resource,
                schema_url: rl.schema_url,
                scope_logs: rl
                    .scope_logs
                    .into_iter()
                    .map(|sl| ProtoScopeLogs {
                        scope: sl.scope,
                        log_records: sl.log_records.into_iter().map(Into::into).collect(),
                        schema_url: String::new(),
                    })
                    .collect(),
            })
            .collect(),
    )
}

impl From<JsonLogRecord> for ProtoLogRecord {
    fn from(log: JsonLogRecord) -> Self {
        ProtoLogRecord {
            time_unix_nano: log.time_unix_nano,
            observed_time_unix_nano: log.observed_time_unix_nano,
            severity_number: log.severity_number,
            severity_text: log.severity_text,
            body: log.body,
            attributes: log.attributes,
            dropped_attributes_count: log.dropped_attributes_count,
            flags: 0,
            trace_id: log.trace_id,
            span_id: log.span_id,
            event_name: log.event_name,
        }
    }
}

fn u64_from_string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Number(u64),
        String(String),
    }
    match Either::deserialize(d)? {
        Either::Number(n) => Ok(n),
        Either::String(s) => s.parse().map_err(de::Error::custom),
    }
}

fn bytes_from_hex<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let s = String::deserialize(d)?;
    hex::decode(&s).map_err(|e| de::Error::custom(format!("{s:?} is not hex: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPAN: &str = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},"scopeSpans":[{"scope":{"name":"quickstart","version":"0.1.0"},"spans":[{"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","parentSpanId":"","name":"root","kind":2,"startTimeUnixNano":"1544712660000000000","endTimeUnixNano":1544712661000000000,"attributes":[{"key":"n","value":{"intValue":"3"}}],"status":{"code":2,"message":"boom"},"someFutureField":{"x":1}}]}]}]}"#;

    #[test]
    fn reads_collector_style_lines_and_tolerates_unknown_fields() {
        let input = format!("{SPAN}\n\n");
        let reading = read_otlp_json(input.as_bytes()).unwrap();
        assert!(reading.problems.is_empty(), "{:?}", reading.problems);
        assert_eq!(reading.lines, 2);
        let span = &reading.traces.traces[0].spans[0];
        assert_eq!(
            span.trace_id.to_string(),
            "5b8efff798038103d269b633813fc60c"
        );
        assert_eq!(span.kind.as_str(), "server");
        assert_eq!(span.duration_nanos(), 1_000_000_000);
        assert_eq!(span.attr("n"), Some(&super::super::Value::Int(3)));
        assert_eq!(span.status, super::super::Status::Error("boom".into()));
        let resource = &reading.traces.resources[span.resource];
        assert_eq!(
            resource.attr("service.name").and_then(|v| v.as_str()),
            Some("svc")
        );
        assert_eq!(reading.traces.scopes[span.scope].version, "0.1.0");
    }

    #[test]
    fn a_malformed_line_is_reported_by_number_and_the_rest_is_read() {
        let bad_id = SPAN.replace("EEE19B7EC3C1B174", "EEE1");
        let input = format!(
            "{SPAN}\n{{\"resourceSpans\": [{{\"scopeSpans\": 7}}]}}\nnot json at all\n{{}}\n{bad_id}\n{{\"resourceMetrics\":[]}}\n{}\n",
            SPAN.replace("EEE19B7EC3C1B174", "0000000000000002")
                .replace(
                    "\"parentSpanId\":\"\"",
                    "\"parentSpanId\":\"eee19b7ec3c1b174\""
                )
        );
        let reading = read_otlp_json(input.as_bytes()).unwrap();
        let lines: Vec<(usize, bool)> = reading
            .problems
            .iter()
            .map(|p| (p.line, p.skipped_line))
            .collect();
        assert_eq!(lines, [(2, true), (3, true), (4, true), (5, false)]);
        assert!(
            reading.problems[0]
                .to_string()
                .starts_with("line 2 skipped: not OTLP/JSON")
        );
        assert!(
            reading.problems[3].message.contains("spanId"),
            "{}",
            reading.problems[3]
        );
        assert_eq!(reading.metrics_lines, 1);
        let trace = &reading.traces.traces[0];
        assert_eq!(trace.spans.len(), 2);
        assert_eq!(
            trace.nodes[1].depth, 1,
            "line 7's span is the child of line 1's"
        );
    }

    #[test]
    fn log_records_join_their_span() {
        let logs = r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"1544712660500000000","severityNumber":17,"body":{"stringValue":"disk full"},"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174"}]}]}]}"#;
        let input = format!("{logs}\n{SPAN}\n");
        let reading = read_otlp_json(input.as_bytes()).unwrap();
        assert!(reading.problems.is_empty(), "{:?}", reading.problems);
        let span = &reading.traces.traces[0].spans[0];
        assert_eq!(span.logs.len(), 1);
        assert_eq!(span.logs[0].severity(), "ERROR");
        assert_eq!(span.logs[0].body.to_string(), "\"disk full\"");
    }
}
