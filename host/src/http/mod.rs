//! Outbound HTTP for plugins: `wasi:http/outgoing-handler`, off by default.
//!
//! The [`Runtime`](crate::Runtime) links `wasi:http` (the sync bindings of
//! wasmtime-wasi-http) into every plugin's linker, so that a plugin importing
//! it always loads; whether a request leaves the host is decided per request
//! by an allow list ([`AllowedHosts`], `RuntimeConfig::allowed_http_hosts`,
//! `wasmtrace run --allow-http HOST[:PORT]`). With an empty list, the
//! default, every request is denied with wasi:http's `HTTP-request-denied`.
//!
//! Every request, sent or denied, gets an OpenTelemetry client span
//! ([`OutboundHttp`]) that is a child of the guest's current span, named and
//! described per the HTTP semantic conventions, and the request carries the
//! trace headers (`traceparent`, ... as `OTEL_PROPAGATORS` says) naming that
//! client span as the parent.

mod outbound;

pub use outbound::{AllowedHosts, OutboundHttp, PluginHttp};
