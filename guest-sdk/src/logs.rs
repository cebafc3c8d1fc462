//! Log records, kept by the host.
//!
//! A record is sent to the host when it is emitted; the host stamps it with
//! the time and with the trace and span ids of the current span (or of the
//! [`Context`] given), and exports it as an OpenTelemetry log record. A
//! plugin that crashes loses none it emitted.
//!
//! Code that already logs with the [`log`] crate needs nothing more:
//! [`plugin!`](crate::plugin) installs a logger that sends `log` records
//! here (at [`log::LevelFilter::Info`] and above unless the plugin sets
//! `log::set_max_level`), with their key/values as attributes.
//!
//! ```ignore
//! use wasmtrace_sdk::attrs;
//! use wasmtrace_sdk::logs::{self, LogRecord, Severity};
//!
//! logs::emit(Severity::INFO, "cache warmed", attrs! { "entries" => 42 });
//! LogRecord::new(Severity::WARN)
//!     .event_name("payment.retry")
//!     .body("card declined, retrying")
//!     .attribute("attempt", 2)
//!     .emit();
//! log::info!(user = "u-42"; "signed in");
//! ```

use std::borrow::Cow;

use crate::current;
use crate::propagation::Context;
use crate::value::{Attributes, KeyValue, Value, with_wit_slice};
use crate::wit::wasmtrace::telemetry::logs as wit;
use crate::wit::wasmtrace::telemetry::types as wit_types;

/// A record's severity, as OpenTelemetry numbers it (1-24); each level has
/// four steps, the named ones are the first of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Severity(u8);

impl Severity {
    /// TRACE (1).
    pub const TRACE: Self = Self(1);
    /// DEBUG (5).
    pub const DEBUG: Self = Self(5);
    /// INFO (9).
    pub const INFO: Self = Self(9);
    /// WARN (13).
    pub const WARN: Self = Self(13);
    /// ERROR (17).
    pub const ERROR: Self = Self(17);
    /// FATAL (21).
    pub const FATAL: Self = Self(21);

    /// The OpenTelemetry severity number `n` (1-24), if it is one.
    ///
    /// ```
    /// use wasmtrace_sdk::logs::Severity;
    ///
    /// assert_eq!(Severity::from_number(10).map(|s| s.number()), Some(10));
    /// assert_eq!(Severity::from_number(0), None);
    /// assert_eq!(Severity::from_number(25), None);
    /// ```
    #[must_use]
    pub const fn from_number(n: u8) -> Option<Self> {
        if n >= 1 && n <= 24 {
            Some(Self(n))
        } else {
            None
        }
    }

    /// The severity number.
    #[must_use]
    pub const fn number(self) -> u8 {
        self.0
    }

    /// The short name of the severity's level (`INFO` for 9-12).
    ///
    /// ```
    /// use wasmtrace_sdk::logs::Severity;
    ///
    /// assert_eq!(Severity::WARN.name(), "WARN");
    /// assert_eq!(Severity::from_number(11).unwrap().name(), "INFO");
    /// ```
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self.0 {
            1..=4 => "TRACE",
            5..=8 => "DEBUG",
            9..=12 => "INFO",
            13..=16 => "WARN",
            17..=20 => "ERROR",
            _ => "FATAL",
        }
    }
}

impl From<log::Level> for Severity {
    fn from(level: log::Level) -> Self {
        match level {
            log::Level::Error => Self::ERROR,
            log::Level::Warn => Self::WARN,
            log::Level::Info => Self::INFO,
            log::Level::Debug => Self::DEBUG,
            log::Level::Trace => Self::TRACE,
        }
    }
}

/// A log record being built; [`emit`](Self::emit) sends it.
#[derive(Debug)]
#[must_use = "a log record does nothing until `.emit()` is called"]
pub struct LogRecord<'a> {
    severity: Option<Severity>,
    severity_text: Option<Cow<'a, str>>,
    body: Option<Value>,
    attributes: Attributes,
    event_name: Option<Cow<'a, str>>,
    context: Option<&'a Context>,
}

impl<'a> LogRecord<'a> {
    /// A record of `severity`, under the current span.
    pub fn new(severity: Severity) -> Self {
        Self {
            severity: Some(severity),
            severity_text: None,
            body: None,
            attributes: Attributes::new(),
            event_name: None,
            context: None,
        }
    }

    /// The message, or a structured value.
    pub fn body(mut self, body: impl Into<Value>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// The severity as the source names it (default: none; backends show
    /// the number's name).
    pub fn severity_text(mut self, text: impl Into<Cow<'a, str>>) -> Self {
        self.severity_text = Some(text.into());
        self
    }

    /// Marks the record as the event `name` (OpenTelemetry's `EventName`,
    /// e.g. `user.login`).
    pub fn event_name(mut self, name: impl Into<Cow<'a, str>>) -> Self {
        self.event_name = Some(name.into());
        self
    }

    /// Adds one attribute.
    pub fn attribute(mut self, key: impl Into<Cow<'static, str>>, value: impl Into<Value>) -> Self {
        self.attributes.push(KeyValue::new(key, value));
        self
    }

    /// Adds attributes.
    pub fn attributes(mut self, attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        self.attributes.extend(attributes);
        self
    }

    /// Records under the span of `context` instead of the current one.
    pub fn context(mut self, context: &'a Context) -> Self {
        self.context = Some(context);
        self
    }

    /// Sends the record to the host.
    pub fn emit(self) {
        let cx = self.context.map_or_else(current::handle, Context::handle);
        let body_arrays = self.body.as_ref().map(value_arrays);
        let body = self
            .body
            .as_ref()
            .zip(body_arrays.as_ref())
            .map(|(v, arrays)| lower_value(v, arrays));
        with_wit_slice(&self.attributes, |attributes| {
            wit::emit(
                cx,
                wit::LogRecord {
                    severity_number: self.severity.map_or(0, Severity::number),
                    severity_text: self.severity_text.as_deref(),
                    body,
                    attributes,
                    event_name: self.event_name.as_deref(),
                },
            );
        });
    }
}

/// The string slices of a string-array body, which its WIT form borrows.
fn value_arrays(value: &Value) -> Vec<&str> {
    match value {
        Value::StringArray(v) => v.iter().map(String::as_str).collect(),
        _ => Vec::new(),
    }
}

/// A body in its WIT form, borrowing its strings.
fn lower_value<'a>(value: &'a Value, arrays: &'a [&'a str]) -> wit_types::Value<'a> {
    match value {
        Value::String(v) => wit_types::Value::String(v),
        Value::Bool(v) => wit_types::Value::Bool(*v),
        Value::I64(v) => wit_types::Value::S64(*v),
        Value::F64(v) => wit_types::Value::F64(*v),
        Value::StringArray(_) => wit_types::Value::StringArray(arrays),
        Value::BoolArray(v) => wit_types::Value::BoolArray(v),
        Value::I64Array(v) => wit_types::Value::S64Array(v),
        Value::F64Array(v) => wit_types::Value::F64Array(v),
    }
}

/// Emits a record of `severity` with `body` and `attributes` under the
/// current span.
pub fn emit(
    severity: Severity,
    body: impl Into<Value>,
    attributes: impl IntoIterator<Item = KeyValue>,
) {
    LogRecord::new(severity)
        .body(body)
        .attributes(attributes)
        .emit();
}

/// Whether a record of `severity` would be kept (false when the host
/// exports no logs or this invocation's log budget is spent): skip costly
/// messages otherwise.
#[must_use]
pub fn enabled(severity: Severity) -> bool {
    wit::enabled(severity.number())
}

/// The [`log`] crate's records, sent to the host.
struct Bridge;

impl log::Log for Bridge {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let mut out = LogRecord::new(record.level().into())
            .severity_text(record.level().as_str())
            .body(record.args().to_string());
        let mut visitor = KeyValues(&mut out.attributes);
        let _ = record.key_values().visit(&mut visitor);
        out.emit();
    }

    fn flush(&self) {}
}

/// Collects a `log` record's key/values as attributes.
struct KeyValues<'a>(&'a mut Attributes);

impl<'kvs> log::kv::VisitSource<'kvs> for KeyValues<'_> {
    fn visit_pair(
        &mut self,
        key: log::kv::Key<'kvs>,
        value: log::kv::Value<'kvs>,
    ) -> Result<(), log::kv::Error> {
        let value = if let Some(b) = value.to_bool() {
            Value::Bool(b)
        } else if let Some(i) = value.to_i64() {
            Value::I64(i)
        } else if let Some(f) = value.to_f64() {
            Value::F64(f)
        } else {
            Value::from(value.to_string())
        };
        self.0.push(KeyValue::new(key.as_str().to_owned(), value));
        Ok(())
    }
}

/// Makes the [`log`] crate's records go to the host, at `Info` and above
/// (once per instance; [`plugin!`](crate::plugin) calls it). A plugin that
/// installed a logger of its own keeps it.
pub fn install_log_bridge() {
    static BRIDGE: Bridge = Bridge;
    if log::set_logger(&BRIDGE).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_levels_map_to_severities() {
        assert_eq!(Severity::from(log::Level::Error), Severity::ERROR);
        assert_eq!(Severity::from(log::Level::Trace).number(), 1);
        assert!(Severity::WARN > Severity::INFO);
    }

    #[test]
    fn key_values_become_typed_attributes() {
        let mut attributes = Attributes::new();
        let kvs: [(&str, log::kv::Value<'_>); 4] = [
            ("ok", true.into()),
            ("n", 3_i64.into()),
            ("ratio", 0.5_f64.into()),
            ("who", "u-1".into()),
        ];
        log::kv::Source::visit(&kvs[..], &mut KeyValues(&mut attributes)).unwrap();
        assert_eq!(attributes[0].value, Value::Bool(true));
        assert_eq!(attributes[1].value, Value::I64(3));
        assert_eq!(attributes[2].value, Value::F64(0.5));
        assert_eq!(attributes[3].value, Value::from("u-1"));
    }
}
