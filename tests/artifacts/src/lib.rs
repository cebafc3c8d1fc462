//! Paths of the wasm components built for the test suite.
//!
//! The build script compiles every crate under the workspace's `plugins/` and
//! `tests/guests/` directories with `cargo build --release --target
//! wasm32-wasip2` (into a target directory of its own under `OUT_DIR`) and
//! generates one constant per crate:
//!
//! ```ignore
//! pub const QUICKSTART: &str = "/abs/path/to/quickstart.wasm";
//! pub const ALL: &[(&str, &str)] = &[("quickstart", QUICKSTART), /* ... */];
//! pub const PLUGINS: &[(&str, &str)] = &[("quickstart", QUICKSTART)];
//! pub const TEST_GUESTS: &[(&str, &str)] = &[/* crates under tests/guests */];
//! ```
//!
//! Constant names are the package name in `SHOUTY_SNAKE_CASE`; the lists pair
//! each package name with its component path, plugins first, each group
//! sorted by directory name. `foreach_guest!(mac)` calls `mac!(name)` for
//! each, the name in `snake_case`: the integration tests use it to fail the
//! build when a guest has no test.

#![warn(missing_docs)]

include!(concat!(env!("OUT_DIR"), "/plugins.rs"));

/// Looks up the component path of the plugin or test guest whose package
/// name is `name`.
pub fn path_of(name: &str) -> Option<&'static str> {
    ALL.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
}
