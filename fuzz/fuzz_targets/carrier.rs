//! Carrier extraction (traceparent, tracestate, baggage): never panics, and
//! a valid context survives inject + extract.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wasmtrace::fuzzing::carrier(data));
