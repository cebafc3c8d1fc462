//! The host's key/value cache: one per plugin, shared by its invocations,
//! bounded by the host (least recently used entries are evicted).
//!
//! Every call is traced by the host as a `cache.get` (with `cache.hit`),
//! `cache.put` or `cache.delete` span under the current span, so a plugin
//! gets the guide's cache trace without writing any span code:
//!
//! ```no_run
//! use wasmtrace_sdk::{cache, with_span, attrs};
//!
//! fn user_name(id: u32) -> String {
//!     let key = format!("user:{id}");
//!     if let Some(name) = cache::get_string(&key) {
//!         return name; // cache.get  cache.hit=true
//!     }
//!     // cache.get  cache.hit=false, then:
//!     with_span("fetch_from_source", attrs! { "user.id" => i64::from(id) }, || {
//!         let name = format!("user #{id}"); // the expensive lookup
//!         cache::put(&key, name.as_bytes()); // cache.put, nested here
//!         name
//!     })
//! }
//! ```

use crate::wit::wasmtrace::tracing::cache as wit;
use std::time::Duration;

/// The value stored under `key`, if any and not expired.
pub fn get(key: &str) -> Option<Vec<u8>> {
    wit::get(key)
}

/// The value under `key` as UTF-8 text; a value that is not UTF-8 is a miss.
pub fn get_string(key: &str) -> Option<String> {
    get(key).and_then(|v| String::from_utf8(v).ok())
}

/// Stores `value` under `key`, replacing any previous value.
pub fn put(key: &str, value: &[u8]) {
    wit::put(key, value, None);
}

/// Stores `value` under `key` until `ttl` has passed.
pub fn put_with_ttl(key: &str, value: &[u8], ttl: Duration) {
    let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
    wit::put(key, value, Some(ms));
}

/// Removes `key`; returns whether it was present.
pub fn delete(key: &str) -> bool {
    wit::delete(key)
}
