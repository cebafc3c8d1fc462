//! The cache plugin: the guide's "Integration with Cache", on the host's
//! traced key/value cache (`wasmtrace_sdk::cache`).
//!
//! It looks up user names by id through the cache. The input is the ids to
//! look up, comma-separated (default `42, 9, 42`: two misses, then a hit
//! for the id already fetched). The host records every cache call as a span
//! under the current one, so the plugin only writes its own steps.
//!
//! Trace shape (under the host's invocation span):
//!
//! ```text
//! get_user  user.id=42, user.source="origin"
//!   cache.get  cache.key="user:42", cache.hit=false      (host span)
//!   fetch_from_source  user.id=42
//!     cache.put  cache.key="user:42", cache.item.size    (host span)
//! get_user  user.id=9 ...                                (the same)
//! get_user  user.id=42, user.source="cache"
//!   cache.get  cache.key="user:42", cache.hit=true
//! ```
//!
//! The cache belongs to the plugin and outlives one invocation: an embedder
//! that invokes the plugin again with id 42 gets a hit straight away.

use wasmtrace_sdk::{add_attributes, attrs, cache, try_with_span, with_span};

/// The ids looked up when the input is empty.
const DEFAULT_IDS: &str = "42, 9, 42";

/// The slow lookup the cache saves: a stand-in for a database query.
fn fetch_from_database(id: i64) -> String {
    const NAMES: [&str; 5] = ["ada", "grace", "edsger", "barbara", "ken"];
    let name = NAMES[id.unsigned_abs() as usize % NAMES.len()];
    format!("{name}-{id}")
}

fn get_user(id: i64) -> String {
    with_span("get_user", attrs! { "user.id" => id }, || {
        let key = format!("user:{id}");
        if let Some(name) = cache::get_string(&key) {
            add_attributes(attrs! { "user.source" => "cache" });
            return name;
        }
        add_attributes(attrs! { "user.source" => "origin" });
        with_span("fetch_from_source", attrs! { "user.id" => id }, || {
            let name = fetch_from_database(id);
            cache::put(&key, name.as_bytes());
            name
        })
    })
}

fn handle(input: String) -> Result<String, String> {
    let ids = if input.trim().is_empty() {
        DEFAULT_IDS
    } else {
        input.as_str()
    };
    let ids: Vec<i64> = try_with_span("parse_ids", attrs! {}, || {
        ids.split(',')
            .map(|id| {
                id.trim()
                    .parse::<i64>()
                    .map_err(|e| format!("bad user id {:?}: {e}", id.trim()))
            })
            .collect::<Result<_, _>>()
    })?;
    let lines: Vec<String> = ids
        .iter()
        .map(|&id| format!("{id} -> {}", get_user(id)))
        .collect();
    Ok(lines.join("\n"))
}

wasmtrace_sdk::plugin!(handle);
