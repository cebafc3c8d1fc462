//! Bench guest: repeats one host crossing N times inside a single call, so
//! that the host can time N of them with one `handle` call and divide
//! (criterion's `iter_custom` in `tests/benches`).
//!
//! The input is `<mode> <n>`; the output is `n`. Modes:
//!
//! - `span`: start a span with two typed attributes (a string and an int)
//!   through `wasmtrace-sdk`, then drop it (start + drop: two host calls);
//! - `span_bare`: the same span without attributes;
//! - `nop`: an empty host call (`wasmtrace-bench:nop/nop.nop`);
//! - `string` / `str`: pass a 32-byte string, lifted by the host into a
//!   `String` or read in place;
//! - `resource`: construct and drop a host resource with no state;
//! - `empty`: nothing (the loop alone).

use wasmtrace_sdk::{Span, attrs};

/// Bindings for the bench-only imports; the tracing imports and the handler
/// export come from `wasmtrace-sdk`.
mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "wasmtrace-bench:nop/bench-imports",
    });
}

use bindings::wasmtrace_bench::nop::nop;

/// Passed by the string modes: 32 bytes, a typical attribute value.
const TEXT: &str = "GET /api/v1/users/{id}/settings.";

/// The span every span-recording bench records: the same name and
/// attributes as the native side of `boundary/span`.
fn bench_span() -> Span {
    Span::builder("bench")
        .attributes(attrs! {
            "http.route" => "/users/{id}",
            "http.response.status_code" => 200,
        })
        .start()
}

fn handle(input: String) -> Result<String, String> {
    let (mode, n) = input
        .split_once(' ')
        .ok_or_else(|| format!("expected `<mode> <n>`, got {input:?}"))?;
    let n: u64 = n.parse().map_err(|e| format!("bad count {n:?}: {e}"))?;
    match mode {
        "span" => (0..n).for_each(|_| drop(bench_span())),
        "span_bare" => (0..n).for_each(|_| drop(Span::builder("bench").start())),
        "nop" => (0..n).for_each(|_| nop::nop()),
        "string" => (0..n).for_each(|_| nop::take_string(std::hint::black_box(TEXT))),
        "str" => (0..n).for_each(|_| nop::take_str(std::hint::black_box(TEXT))),
        "resource" => (0..n).for_each(|_| drop(nop::Thing::new())),
        // black_box keeps the optimizer from deleting the loop.
        "empty" => (0..n).for_each(|i| {
            std::hint::black_box(i);
        }),
        _ => return Err(format!("unknown mode {mode:?}")),
    }
    Ok(n.to_string())
}

wasmtrace_sdk::plugin!(handle);
