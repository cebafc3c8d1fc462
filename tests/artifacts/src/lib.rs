//! Paths of the plugin components built for the test suite.
//!
//! The build script compiles every crate under the workspace's `plugins/`
//! directory with `cargo build --release --target wasm32-wasip2` (into a target
//! directory of its own under `OUT_DIR`) and generates one constant per plugin:
//!
//! ```ignore
//! pub const QUICKSTART: &str = "/abs/path/to/quickstart.wasm";
//! pub const ALL: &[(&str, &str)] = &[("quickstart", QUICKSTART)];
//! ```
//!
//! Constant names are the plugin's package name in `SHOUTY_SNAKE_CASE`; `ALL`
//! pairs each package name with its component path, sorted by package name.

include!(concat!(env!("OUT_DIR"), "/plugins.rs"));

/// Looks up the component path of the plugin whose package name is `name`.
pub fn path_of(name: &str) -> Option<&'static str> {
    ALL.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
}
