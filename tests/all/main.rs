//! wasmtrace's integration tests, in one binary (like wasmtime's `tests/all`).

mod cli;
mod collector_fault;
mod cross_process;
mod embedding;
mod harness;
mod hostile;
mod http;
mod overhead;
mod patterns;
mod plugin_calls;
mod serve;
mod testkit;
