//! `--export-html FILE`: every trace in one self-contained HTML page
//! ([`crate::view::html`]), written as traces finish, so that the file is a
//! page the whole time (the head is written first; each finished trace is
//! appended, flushed, as a data block) and the page is ended at shutdown.

use super::pending::{LogData, PendingTraces, Ready};
use crate::view::html;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// Writes each finished trace to an HTML page.
#[derive(Debug)]
pub struct HtmlFileExporter {
    path: PathBuf,
    state: Mutex<State>,
    resource: Resource,
}

#[derive(Debug)]
struct State {
    file: BufWriter<File>,
    pending: PendingTraces,
    ended: bool,
}

impl HtmlFileExporter {
    /// Creates (truncates) `path` and writes the page's head. Fails early,
    /// before any plugin runs, if the file cannot be written.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        let mut file = BufWriter::new(File::create(path)?);
        file.write_all(html::head().as_bytes())?;
        file.flush()?;
        Ok(Self {
            path: path.to_owned(),
            state: Mutex::new(State {
                file,
                pending: PendingTraces::default(),
                ended: false,
            }),
            resource: Resource::builder_empty().build(),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self, state: &mut State, ready: Ready, end: bool) -> OTelSdkResult {
        let mut text = String::new();
        if !ready.is_empty() {
            text.push_str(&html::data_block(&ready.into_trace_set(&self.resource)));
        }
        if end {
            text.push_str(html::TAIL);
        }
        state
            .file
            .write_all(text.as_bytes())
            .and_then(|()| state.file.flush())
            .map_err(|e| {
                OTelSdkError::InternalFailure(format!("writing {}: {e}", self.path.display()))
            })
    }
}

impl HtmlFileExporter {
    /// Takes log records: written with their trace once it is whole, or at
    /// once when they belong to none.
    pub(crate) fn export_logs(&self, logs: Vec<LogData>) -> OTelSdkResult {
        let mut state = self.state();
        if state.ended {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        let ready = state.pending.add_logs(logs);
        self.write(&mut state, ready, false)
    }
}

impl SpanExporter for HtmlFileExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let mut state = self.state();
        if state.ended {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        let ready = state.pending.add(batch);
        self.write(&mut state, ready, false)
    }

    /// Writes what waits for its root too: a trace still open then shows
    /// as two parts, but nothing is only in memory.
    fn force_flush(&self) -> OTelSdkResult {
        let mut state = self.state();
        if state.ended {
            return Ok(());
        }
        let rest = state.pending.take_all();
        self.write(&mut state, rest, false)
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        let mut state = self.state();
        if state.ended {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        state.ended = true;
        let rest = state.pending.take_all();
        self.write(&mut state, rest, true)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource.clone();
    }
}
