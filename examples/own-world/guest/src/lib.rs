//! A greeter for the `own-world` embedder: its world (`../wit/app.wit`)
//! includes wasmtrace's telemetry imports, so the SDK's spans work here as
//! in any wasmtrace plugin, next to the embedder's own `directory`.

mod bindings {
    wit_bindgen::generate!({
        path: ["../../../wit/deps/telemetry", "../wit"],
        world: "example:greeter/greeter-plugin",
        // wasmtrace's interfaces come from the SDK's bindings.
        with: {
            "wasmtrace:telemetry/types@0.2.0": wasmtrace_sdk::wit::wasmtrace::telemetry::types,
            "wasmtrace:telemetry/propagation@0.2.0": wasmtrace_sdk::wit::wasmtrace::telemetry::propagation,
            "wasmtrace:telemetry/tracing@0.2.0": wasmtrace_sdk::wit::wasmtrace::telemetry::tracing,
            "wasmtrace:telemetry/logs@0.2.0": wasmtrace_sdk::wit::wasmtrace::telemetry::logs,
            "wasmtrace:telemetry/metrics@0.2.0": wasmtrace_sdk::wit::wasmtrace::telemetry::metrics,
        },
    });
}

use bindings::example::greeter::directory;
use wasmtrace_sdk::{attrs, with_span};

struct Greeter;

impl bindings::exports::example::greeter::greeter::Guest for Greeter {
    fn greet(name: String) -> String {
        with_span("greet", attrs! { "greeter.name" => name.clone() }, || {
            let title = directory::lookup(&name);
            wasmtrace_sdk::add_attributes(attrs! { "greeter.known" => title.is_some() });
            match title {
                Some(title) => format!("Good day, {title} {name}."),
                None => format!("Hello, {name}."),
            }
        })
    }
}

bindings::export!(Greeter with_types_in bindings);
