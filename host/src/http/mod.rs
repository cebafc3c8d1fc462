//! HTTP for plugins, both ways, traced.
//!
//! - **Outbound** (`wasi:http/outgoing-handler`, off by default): the
//!   [`Runtime`](crate::Runtime) links `wasi:http` into every plugin's
//!   linker, so that a plugin importing it always loads; whether a request
//!   leaves the host is decided per request by an allow list
//!   ([`AllowedHosts`], `RuntimeConfig::allowed_http_hosts`, `wasmtrace run
//!   --allow-http HOST[:PORT]`). Every request, sent or denied, gets a client
//!   span ([`OutboundHttp`]) under the guest's current context, and carries
//!   the trace headers naming it.
//! - **Inbound** (`wasi:http/incoming-handler`, `wasmtrace serve`):
//!   [`HttpServer`] serves a plugin, one fresh instance per request, each
//!   request a server span continuing the incoming trace.

mod outbound;
mod serve;

pub use outbound::{AllowedHosts, OutboundHttp};
pub use serve::{HttpServer, SHUTDOWN_GRACE};
