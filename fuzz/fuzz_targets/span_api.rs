//! The host's span API driven by arbitrary call sequences: never panics,
//! accounting stays consistent, limits hold.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wasmtrace::fuzzing::span_api(data));
