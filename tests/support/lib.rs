//! Support library for wasmtrace's integration tests.
//!
//! - [`OtlpReceiver`]: an in-process OTLP receiver (real gRPC and real
//!   HTTP, in the clear or over TLS) that stores what it receives, for
//!   synchronous `#[test]`s; [`TestPki`]: the certificates it serves.
//! - [`ReceivedSpan`], [`AttrValue`], [`SpanTree`]: a flattened, typed view of
//!   received spans and their parent/child structure, from wasmtrace's test
//!   kit (`wasmtrace::testkit`, the same one plugin authors use).
//! - [`Rotel`]: a real external collector (`rotel-agent`) run as a child
//!   process, typically forwarding to an [`OtlpReceiver`].
//! - [`client`]: tiny OTLP exporters and request builders for smoke tests.
//! - [`bench_guest`]: the host of the bench guests, for the benches and the
//!   test that checks them.
//! - [`toolchains`]: building Python and JavaScript guests.

#![warn(missing_docs)]

pub mod bench_guest;
pub mod client;
pub mod pki;
pub mod receiver;
pub mod rotel;
pub mod toolchains;
/// The typed span view, shared with plugin authors through wasmtrace's
/// test kit.
pub use wasmtrace::testkit::{span, tree};

pub use pki::TestPki;
pub use receiver::{
    HttpAttempt, HttpReply, OtlpReceiver, ReceivedLog, ReceivedMetricPoint, ReceivedRequest,
    ReceiverTls, Transport, TransportCounts,
};
pub use rotel::{ForwardProtocol, Rotel, RotelConfig, RotelExporter};
pub use span::{
    AnyValueKind, AttrValue, ReceivedEvent, ReceivedLink, ReceivedScope, ReceivedSpan, SpanKind,
    StatusCode,
};
pub use tree::SpanTree;

/// Re-export of the OTLP protobuf types the API uses.
pub use opentelemetry_proto;
