//! `cargo run -p own-world -- GUEST.wasm NAME...`: greets each name through
//! the plugin, each request a trace (printed as a tree without a
//! collector).

use std::time::Duration;
use wasmtrace::telemetry::Telemetry;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: own-world GREETER.wasm NAME..."))?;
    let names: Vec<String> = args.collect();
    let telemetry = Telemetry::builder("own-world", env!("CARGO_PKG_VERSION")).build()?;
    let greeters = own_world::Greeters::load(&path, telemetry.provider())?;
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    for greeting in own_world::serve(&greeters, &names)? {
        println!("{greeting}");
    }
    telemetry.shutdown(Duration::from_secs(10))
}
