//! One signal's OTLP exporter settings, resolved as the OpenTelemetry
//! exporter specification
//! (<https://opentelemetry.io/docs/specs/otel/protocol/exporter/>) says:
//! a builder override, else `OTEL_EXPORTER_OTLP_<SIGNAL>_<NAME>`, else
//! `OTEL_EXPORTER_OTLP_<NAME>`, else the default. An empty variable counts
//! as unset. A value we cannot honour is an error naming the variable,
//! never ignored (opentelemetry-otlp 0.33 itself warns and falls back for a
//! bad compression, timeout or header entry).

use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use opentelemetry_otlp::{Compression, Protocol};

use super::tls::TlsFiles;
use crate::telemetry::OTEL_EXPORTER_OTLP_ENDPOINT;

/// The default export timeout (the spec's 10 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// An OTLP signal: each resolves its own `OTEL_EXPORTER_OTLP_<SIGNAL>_*`
/// variables and posts to its own HTTP path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Signal {
    /// Spans (`/v1/traces`).
    Traces,
    /// Metrics (`/v1/metrics`).
    Metrics,
    /// Log records (`/v1/logs`).
    Logs,
}

impl Signal {
    /// The signal's part of its variables' names: `TRACES`, `METRICS`,
    /// `LOGS`.
    pub fn env_name(self) -> &'static str {
        match self {
            Signal::Traces => "TRACES",
            Signal::Metrics => "METRICS",
            Signal::Logs => "LOGS",
        }
    }

    /// The path OTLP/HTTP posts this signal to.
    pub fn http_path(self) -> &'static str {
        match self {
            Signal::Traces => "/v1/traces",
            Signal::Metrics => "/v1/metrics",
            Signal::Logs => "/v1/logs",
        }
    }

    /// `OTEL_EXPORTER_OTLP_<SIGNAL>_<name>`, e.g.
    /// `Signal::Traces.var("ENDPOINT")`.
    pub fn var(self, name: &str) -> String {
        format!("OTEL_EXPORTER_OTLP_{}_{name}", self.env_name())
    }

    /// What a partial success counts in OTLP/JSON (`rejectedSpans`, ...).
    pub(crate) fn rejected_json_field(self) -> &'static str {
        match self {
            Signal::Traces => "rejectedSpans",
            Signal::Metrics => "rejectedDataPoints",
            Signal::Logs => "rejectedLogRecords",
        }
    }
}

/// Settings the embedder gave [`crate::telemetry::TelemetryBuilder`]; they
/// win over the environment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// The protocol of every signal.
    pub protocol: Option<Protocol>,
    /// The traces endpoint: the base URL for gRPC, the full
    /// `.../v1/traces` URL for HTTP; other signals go next to it.
    pub endpoint: Option<String>,
}

/// One signal's resolved OTLP exporter settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtlpConfig {
    /// The signal.
    pub signal: Signal,
    /// `grpc`, `http/protobuf` or `http/json` (default `grpc`).
    pub protocol: Protocol,
    /// Where to export, with its scheme: the base URL for gRPC, the full
    /// URL (`.../v1/traces`) for HTTP.
    pub endpoint: String,
    /// Per export, and the budget of its retries.
    pub timeout: Duration,
    /// `Some(Gzip)` for `gzip`.
    pub compression: Option<Compression>,
    /// Extra request headers (gRPC metadata), values percent-decoded.
    pub headers: Vec<(String, String)>,
    /// The trusted CA and the client identity, read from their files.
    pub tls: TlsFiles,
}

impl OtlpConfig {
    /// Resolves `signal`'s settings from `overrides` and the process
    /// environment.
    pub fn from_env(signal: Signal, overrides: &Overrides) -> anyhow::Result<Self> {
        Self::resolve(signal, overrides, &|name| super::super::env_value(name))
    }

    /// Like [`OtlpConfig::from_env`], reading variables with `env`.
    pub fn resolve(
        signal: Signal,
        overrides: &Overrides,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Self> {
        let vars = Vars { signal, env };
        let protocol = match overrides.protocol {
            Some(p) => p,
            None => vars.protocol()?,
        };
        let endpoint = vars.endpoint(protocol, overrides.endpoint.as_deref())?;
        Ok(Self {
            signal,
            protocol,
            endpoint,
            timeout: vars.timeout()?,
            compression: vars.compression()?,
            headers: vars.headers()?,
            tls: TlsFiles::resolve(&|name| vars.get(name))?,
        })
    }

    /// Whether the endpoint is `https`.
    pub fn is_https(&self) -> bool {
        self.endpoint.starts_with("https://")
    }
}

/// Reads one signal's variables: its own first, then the generic one.
struct Vars<'a> {
    signal: Signal,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Vars<'_> {
    /// The winning variable for `name` and its value.
    fn get(&self, name: &str) -> Option<(String, String)> {
        let own = self.signal.var(name);
        if let Some(v) = (self.env)(&own) {
            return Some((own, v));
        }
        let generic = format!("OTEL_EXPORTER_OTLP_{name}");
        (self.env)(&generic).map(|v| (generic, v))
    }

    fn protocol(&self) -> anyhow::Result<Protocol> {
        match self.get("PROTOCOL") {
            None => Ok(Protocol::Grpc),
            Some((var, v)) => parse_protocol(&var, &v),
        }
    }

    /// The endpoint with its scheme. The signal's own variable is the full
    /// URL; the generic one (and the default) is a base URL that HTTP
    /// appends the signal's path to. A gRPC endpoint without a scheme is
    /// `https` unless `..._INSECURE` is `true`.
    fn endpoint(&self, protocol: Protocol, overridden: Option<&str>) -> anyhow::Result<String> {
        let grpc = protocol == Protocol::Grpc;
        let own = self.signal.var("ENDPOINT");
        let (var, url, is_base) = match overridden {
            Some(url) if grpc || self.signal == Signal::Traces => {
                ("the configured endpoint".to_owned(), url.to_owned(), false)
            }
            // The override is the traces URL: other signals go next to it.
            Some(url) => {
                let base = url.trim_end_matches('/').trim_end_matches("/v1/traces");
                ("the configured endpoint".to_owned(), base.to_owned(), true)
            }
            None => match (self.env)(&own) {
                Some(url) => (own, url, false),
                None => match (self.env)(OTEL_EXPORTER_OTLP_ENDPOINT) {
                    Some(url) => (OTEL_EXPORTER_OTLP_ENDPOINT.to_owned(), url, true),
                    None if grpc => return Ok("http://localhost:4317".to_owned()),
                    None => {
                        return Ok(format!("http://localhost:4318{}", self.signal.http_path()));
                    }
                },
            },
        };
        let url = if url.contains("://") {
            url
        } else if grpc {
            // The spec's INSECURE only decides the scheme of a gRPC
            // endpoint written without one.
            let scheme = if self.insecure()? { "http" } else { "https" };
            format!("{scheme}://{url}")
        } else {
            bail!("{var}={url:?} needs an http:// or https:// scheme");
        };
        let uri: http::Uri = url
            .parse()
            .map_err(|e| anyhow!("{var}={url:?} is not a URL: {e}"))?;
        match uri.scheme_str() {
            Some("http" | "https") => {}
            _ => bail!("{var}={url:?}: the scheme must be http or https"),
        }
        if uri.host().is_none_or(str::is_empty) {
            bail!("{var}={url:?} has no host");
        }
        if is_base && !grpc {
            return Ok(format!(
                "{}{}",
                url.trim_end_matches('/'),
                self.signal.http_path()
            ));
        }
        Ok(url)
    }

    fn insecure(&self) -> anyhow::Result<bool> {
        match self.get("INSECURE") {
            None => Ok(false),
            Some((var, v)) => match v.to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => bail!("{var}={v:?} is not a boolean (use true or false)"),
            },
        }
    }

    fn timeout(&self) -> anyhow::Result<Duration> {
        match self.get("TIMEOUT") {
            None => Ok(DEFAULT_TIMEOUT),
            Some((var, v)) => match v.parse::<u64>() {
                Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
                _ => bail!("{var}={v:?} is not a positive whole number of milliseconds"),
            },
        }
    }

    fn compression(&self) -> anyhow::Result<Option<Compression>> {
        match self.get("COMPRESSION") {
            None => Ok(None),
            Some((var, v)) => match v.to_ascii_lowercase().as_str() {
                "gzip" => Ok(Some(Compression::Gzip)),
                "none" => Ok(None),
                _ => bail!("{var}={v:?} is not supported (use gzip or none)"),
            },
        }
    }

    fn headers(&self) -> anyhow::Result<Vec<(String, String)>> {
        match self.get("HEADERS") {
            None => Ok(Vec::new()),
            Some((var, v)) => parse_headers(&v).with_context(|| format!("{var}={v:?}")),
        }
    }
}

/// `grpc`, `http/protobuf` or `http/json`; anything else names `var`.
pub(crate) fn parse_protocol(var: &str, value: &str) -> anyhow::Result<Protocol> {
    match value {
        "grpc" => Ok(Protocol::Grpc),
        "http/protobuf" => Ok(Protocol::HttpBinary),
        "http/json" => Ok(Protocol::HttpJson),
        other => bail!("{var}={other:?} is not a protocol (use grpc, http/protobuf or http/json)"),
    }
}

/// `key=value,key2=value2` (W3C Baggage without properties), values
/// percent-decoded; every entry must be a valid header.
fn parse_headers(list: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (key, value) = entry
            .split_once('=')
            .ok_or_else(|| anyhow!("entry {entry:?} is not key=value"))?;
        let key = key.trim().to_ascii_lowercase();
        let value = percent_decode(value.trim())
            .ok_or_else(|| anyhow!("the value of {key:?} has a bad percent escape"))?;
        http::HeaderName::from_bytes(key.as_bytes())
            .map_err(|_| anyhow!("{key:?} is not a valid header name"))?;
        http::HeaderValue::from_str(&value)
            .map_err(|_| anyhow!("the value of {key:?} is not a valid header value"))?;
        // A later entry for the same name replaces the earlier one.
        out.retain(|(k, _)| *k != key);
        out.push((key, value));
    }
    Ok(out)
}

/// Decodes `%XX` escapes; `None` for a bad escape or non-UTF-8 result.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve(signal: Signal, vars: &[(&str, &str)]) -> anyhow::Result<OtlpConfig> {
        resolve_with(signal, &Overrides::default(), vars)
    }

    fn resolve_with(
        signal: Signal,
        overrides: &Overrides,
        vars: &[(&str, &str)],
    ) -> anyhow::Result<OtlpConfig> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        OtlpConfig::resolve(signal, overrides, &|name| {
            map.get(name).filter(|v| !v.is_empty()).cloned()
        })
    }

    fn error(signal: Signal, vars: &[(&str, &str)]) -> String {
        format!("{:#}", resolve(signal, vars).unwrap_err())
    }

    #[test]
    fn defaults_follow_the_spec() {
        let c = resolve(Signal::Traces, &[]).unwrap();
        assert_eq!(c.protocol, Protocol::Grpc);
        assert_eq!(c.endpoint, "http://localhost:4317");
        assert_eq!(c.timeout, Duration::from_secs(10));
        assert_eq!(c.compression, None);
        assert!(c.headers.is_empty());
        let c = resolve(
            Signal::Metrics,
            &[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")],
        )
        .unwrap();
        assert_eq!(c.endpoint, "http://localhost:4318/v1/metrics");
    }

    #[test]
    fn each_signal_reads_its_own_variables_first() {
        let vars = [
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318/"),
            (
                "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                "https://logs.example/ingest",
            ),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "none"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "700"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=generic"),
            (
                "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
                "api-key=logs,x-tenant=a%20b",
            ),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/json"),
        ];
        let traces = resolve(Signal::Traces, &vars).unwrap();
        assert_eq!(traces.protocol, Protocol::HttpBinary);
        assert_eq!(traces.endpoint, "https://collector:4318/v1/traces");
        assert_eq!(traces.timeout, Duration::from_millis(700));
        assert_eq!(traces.compression, Some(Compression::Gzip));
        assert_eq!(traces.headers, [("api-key".into(), "generic".into())]);
        let metrics = resolve(Signal::Metrics, &vars).unwrap();
        assert_eq!(metrics.protocol, Protocol::HttpJson);
        assert_eq!(metrics.endpoint, "https://collector:4318/v1/metrics");
        assert_eq!(metrics.compression, None);
        assert_eq!(metrics.timeout, Duration::from_millis(2500));
        let logs = resolve(Signal::Logs, &vars).unwrap();
        // The signal's own endpoint is used as it is.
        assert_eq!(logs.endpoint, "https://logs.example/ingest");
        assert_eq!(
            logs.headers,
            [
                ("api-key".into(), "logs".into()),
                ("x-tenant".into(), "a b".into())
            ]
        );
    }

    #[test]
    fn builder_overrides_win_and_other_signals_go_next_to_the_traces_url() {
        let overrides = Overrides {
            protocol: Some(Protocol::HttpBinary),
            endpoint: Some("https://127.0.0.1:9/v1/traces".into()),
        };
        let vars = [
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://elsewhere"),
        ];
        let t = resolve_with(Signal::Traces, &overrides, &vars).unwrap();
        assert_eq!(t.protocol, Protocol::HttpBinary);
        assert_eq!(t.endpoint, "https://127.0.0.1:9/v1/traces");
        let m = resolve_with(Signal::Metrics, &overrides, &vars).unwrap();
        assert_eq!(m.endpoint, "https://127.0.0.1:9/v1/metrics");
        let l = resolve_with(Signal::Logs, &overrides, &vars).unwrap();
        assert_eq!(l.endpoint, "https://127.0.0.1:9/v1/logs");
    }

    #[test]
    fn a_grpc_endpoint_without_a_scheme_is_https_unless_insecure() {
        let c = resolve(
            Signal::Traces,
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317")],
        )
        .unwrap();
        assert_eq!(c.endpoint, "https://collector:4317");
        assert!(c.is_https());
        let c = resolve(
            Signal::Traces,
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
                ("OTEL_EXPORTER_OTLP_TRACES_INSECURE", "TRUE"),
            ],
        )
        .unwrap();
        assert_eq!(c.endpoint, "http://collector:4317");
        // An explicit scheme is kept whatever INSECURE says.
        let c = resolve(
            Signal::Traces,
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4317"),
                ("OTEL_EXPORTER_OTLP_INSECURE", "true"),
            ],
        )
        .unwrap();
        assert_eq!(c.endpoint, "https://collector:4317");
    }

    #[test]
    fn unsupported_values_are_errors_naming_the_variable() {
        type Case<'a> = (Signal, &'a [(&'a str, &'a str)], &'a str);
        let cases: &[Case] = &[
            (
                Signal::Traces,
                &[("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd")],
                "OTEL_EXPORTER_OTLP_COMPRESSION=\"zstd\" is not supported (use gzip or none)",
            ),
            (
                Signal::Metrics,
                &[("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "br")],
                "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION=\"br\"",
            ),
            (
                Signal::Traces,
                &[("OTEL_EXPORTER_OTLP_TIMEOUT", "10s")],
                "OTEL_EXPORTER_OTLP_TIMEOUT=\"10s\" is not a positive whole number of milliseconds",
            ),
            (
                Signal::Logs,
                &[("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "0")],
                "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT=\"0\"",
            ),
            (
                Signal::Traces,
                &[("OTEL_EXPORTER_OTLP_HEADERS", "api-key")],
                "OTEL_EXPORTER_OTLP_HEADERS=\"api-key\": entry \"api-key\" is not key=value",
            ),
            (
                Signal::Traces,
                &[("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "bad name=1")],
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS=\"bad name=1\": \"bad name\" is not a valid header name",
            ),
            (
                Signal::Traces,
                &[("OTEL_EXPORTER_OTLP_HEADERS", "k=%zz")],
                "bad percent escape",
            ),
            (
                Signal::Traces,
                &[("OTEL_EXPORTER_OTLP_PROTOCOL", "http")],
                "OTEL_EXPORTER_OTLP_PROTOCOL=\"http\" is not a protocol",
            ),
            (
                Signal::Traces,
                &[
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
                    ("OTEL_EXPORTER_OTLP_INSECURE", "yes"),
                ],
                "OTEL_EXPORTER_OTLP_INSECURE=\"yes\" is not a boolean",
            ),
            (
                Signal::Traces,
                &[
                    ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
                    (
                        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                        "collector:4318/v1/traces",
                    ),
                ],
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=\"collector:4318/v1/traces\" needs an http:// or https:// scheme",
            ),
            (
                Signal::Traces,
                &[("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://collector")],
                "OTEL_EXPORTER_OTLP_ENDPOINT=\"ftp://collector\": the scheme must be http or https",
            ),
            (
                Signal::Traces,
                &[("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem")],
                "OTEL_EXPORTER_OTLP_CERTIFICATE=\"/nonexistent/ca.pem\": cannot read",
            ),
        ];
        for (signal, vars, expected) in cases {
            let message = error(*signal, vars);
            assert!(message.contains(expected), "{vars:?}: {message}");
            assert!(!message.contains('\n'), "one line: {message}");
        }
    }
}
