//! Bench guest for the invocation benches: a plain plugin (only the
//! `wasmtrace:tracing/plugin` world, so `wasmtrace::Runtime` can load it)
//! whose handler records K spans, K being its input.
//!
//! Each span has the same shape as in the `bench` guest: two typed
//! attributes, started and dropped.

use wasmtrace_sdk::{Span, attrs};

fn handle(input: String) -> Result<String, String> {
    let k: u64 = input
        .trim()
        .parse()
        .map_err(|e| format!("bad span count {input:?}: {e}"))?;
    for _ in 0..k {
        let span = Span::builder("bench")
            .attributes(attrs! {
                "http.route" => "/users/{id}",
                "http.response.status_code" => 200,
            })
            .start();
        drop(span);
    }
    Ok(k.to_string())
}

wasmtrace_sdk::plugin!(handle);
