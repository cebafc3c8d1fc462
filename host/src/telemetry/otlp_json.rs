//! `--export-json FILE`: spans and log records written as OTLP/JSON, the
//! format of the Collector's file exporter (one `ExportTraceServiceRequest`
//! or `ExportLogsServiceRequest` per line).

use super::pending::LogData;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::logs::tonic::group_logs_by_resource_and_scope;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::logs::LogBatch;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// Appends each exported batch to a file as one line of OTLP/JSON.
#[derive(Debug)]
pub struct OtlpJsonFileExporter {
    path: PathBuf,
    file: Mutex<BufWriter<File>>,
    resource: ResourceAttributesWithSchema,
}

impl OtlpJsonFileExporter {
    /// Creates (truncates) `path`. Fails early, before any plugin runs, if
    /// the file cannot be written.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        let file = File::create(path)?;
        Ok(Self {
            path: path.to_owned(),
            file: Mutex::new(BufWriter::new(file)),
            resource: ResourceAttributesWithSchema::default(),
        })
    }
}

impl OtlpJsonFileExporter {
    /// Appends log records as one `ExportLogsServiceRequest` line.
    pub(crate) fn export_logs(&self, logs: Vec<LogData>) -> OTelSdkResult {
        let refs: Vec<_> = logs.iter().map(|(r, s)| (r, s)).collect();
        let request = ExportLogsServiceRequest {
            resource_logs: group_logs_by_resource_and_scope(&LogBatch::new(&refs), &self.resource),
        };
        self.write_line(&request)
    }

    fn write_line(&self, request: &impl serde::Serialize) -> OTelSdkResult {
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        // Streamed into the buffered file, not encoded into a `String`
        // first: a batch's JSON text is not held beside the batch itself.
        serde_json::to_writer(&mut *file, request)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(file))
            .and_then(|()| file.flush())
            .map_err(|e| {
                OTelSdkError::InternalFailure(format!("writing {}: {e}", self.path.display()))
            })
    }
}

impl SpanExporter for OtlpJsonFileExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.write_line(&ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(batch, &self.resource),
        })
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        file.flush().map_err(|e| {
            OTelSdkError::InternalFailure(format!("writing {}: {e}", self.path.display()))
        })
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource.into();
    }
}
