//! The host's key/value cache: one per plugin, shared by its invocations,
//! bounded by the host (least recently used entries are evicted).
//!
//! Every call is traced by the host as a `cache.get` (with `cache.hit`),
//! `cache.put` or `cache.delete` span under the current span, so a plugin
//! gets the guide's cache trace without writing any span code:
//!
//! ```ignore
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

use crate::current;
use crate::wit::wasmtrace::plugin::cache as wit;
use std::time::Duration;

/// The value stored under `key`, if any and not expired.
pub fn get(key: &str) -> Option<Vec<u8>> {
    wit::get(current::handle(), key)
}

/// The value under `key` as UTF-8 text; a value that is not UTF-8 is a miss.
pub fn get_string(key: &str) -> Option<String> {
    get(key).and_then(|v| String::from_utf8(v).ok())
}

/// Stores `value` under `key`, replacing any previous value.
pub fn put(key: &str, value: &[u8]) {
    wit::put(current::handle(), key, value, None);
}

/// Stores `value` under `key` until `ttl` has passed (at most about 49
/// days: longer is that).
pub fn put_with_ttl(key: &str, value: &[u8], ttl: Duration) {
    let ms = u32::try_from(ttl.as_millis()).unwrap_or(u32::MAX);
    wit::put(current::handle(), key, value, Some(ms));
}

/// Removes `key`; returns whether it was present.
pub fn delete(key: &str) -> bool {
    wit::delete(current::handle(), key)
}
