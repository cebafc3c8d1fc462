//! wasmtrace's integration tests, in one binary (like wasmtime's `tests/all`).

mod bench_guests;
mod cli;
mod collector_fault;
mod compile_cache;
mod cross_process;
mod embedding;
mod harness;
mod hostile;
mod http;
mod otlp_export;
mod overhead;
mod patterns;
mod plugin_calls;
mod raw_guests;
mod sdk_common;
mod sdk_js;
mod sdk_py;
mod serve;
mod serve_connections;
mod signals;
mod testkit;
mod tracing_bridge;
mod view;
mod w3c_suite;
mod wasi_otel;

/// The test module that exercises each guest component (`plugins/*`,
/// `tests/guests/*`). The build fails when a guest is missing here, so a
/// new guest cannot land without tests.
mod tested {
    pub(crate) use crate::bench_guests as bench;
    pub(crate) use crate::bench_guests as bench_plugin;
    pub(crate) use crate::cli as quickstart;
    pub(crate) use crate::cross_process as queue_consumer;
    pub(crate) use crate::cross_process as queue_producer;
    pub(crate) use crate::embedding as greeter;
    pub(crate) use crate::embedding as parenting;
    pub(crate) use crate::hostile as crashing;
    pub(crate) use crate::hostile;
    pub(crate) use crate::http as http_client;
    pub(crate) use crate::patterns as batch;
    pub(crate) use crate::patterns as cache;
    pub(crate) use crate::patterns as circuit_breaker;
    pub(crate) use crate::patterns as long_operation;
    pub(crate) use crate::patterns as request_handler;
    pub(crate) use crate::patterns as retry;
    pub(crate) use crate::patterns as sampling;
    pub(crate) use crate::plugin_calls as caller;
    pub(crate) use crate::raw_guests as raw_rust;
    pub(crate) use crate::serve as trace_context_service;
    pub(crate) use crate::serve_connections as hello_http;
    pub(crate) use crate::tracing_bridge;
    pub(crate) use crate::wasi_otel;
}

macro_rules! assert_guest_tested {
    ($guest:ident) => {
        #[allow(unused_imports)]
        use crate::tested::$guest as _;
    };
}
wasmtrace_test_artifacts::foreach_guest!(assert_guest_tested);
