//! Test guest: calls other plugins through the host.
//!
//! Input: `CALLEE|INPUT` calls plugin `CALLEE` with `INPUT` inside a
//! `call_plugin` span (so `caller|caller|x` recurses through itself);
//! anything else is echoed back.

use wasmtrace_sdk::{Span, SpanKind, attrs, plugins};

fn handle(input: String) -> Result<String, String> {
    let Some((callee, rest)) = input.split_once('|') else {
        return Ok(format!("echo: {input}"));
    };
    let span = Span::builder("call_plugin")
        .kind(SpanKind::Client)
        .attributes(attrs! { "callee" => callee })
        .start();
    let result = plugins::call(callee, rest);
    span.record_result(&result);
    result
        .map(|out| format!("{callee} said: {out}"))
        .map_err(|e| e.to_string())
}

wasmtrace_sdk::plugin!(handle);
