//! The `cache` capability: a bounded in-memory key/value store per plugin,
//! shared by its invocations, where every operation is a host span under the
//! context the guest names (the guide's "Integration with Cache").

use crate::bindings::plugin::cache::Host;
use crate::bindings::telemetry::types::Context;
use crate::ctx::WasmtraceCtx;
use crate::guest::convert::truncate;
use lru::LruCache;
use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, SpanKind, Status, Tracer};
use opentelemetry_sdk::trace::SdkTracer;
use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Bounds of one plugin's cache. A put that would exceed them evicts the
/// least recently used entries; a single value larger than `max_bytes` is
/// refused (recorded as an error on its `cache.put` span).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// Entries kept at most.
    pub max_entries: usize,
    /// Bytes of keys plus values kept at most.
    pub max_bytes: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_entries: 1_024,
            max_bytes: 16 * 1024 * 1024,
        }
    }
}

struct Entry {
    value: Vec<u8>,
    expires: Option<Instant>,
}

struct Store {
    entries: LruCache<String, Entry>,
    bytes: usize,
}

impl Store {
    fn remove(&mut self, key: &str) -> Option<Entry> {
        let entry = self.entries.pop(key)?;
        self.bytes -= key.len() + entry.value.len();
        Some(entry)
    }
}

/// One plugin's cache. Cheap to share: [`crate::Runtime`] keeps one per
/// loaded plugin and hands it to every instance.
pub struct PluginCache {
    config: CacheConfig,
    store: Mutex<Store>,
    tracer: SdkTracer,
}

impl std::fmt::Debug for PluginCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginCache")
            .field("config", &self.config)
            .field("entries", &self.len())
            .finish_non_exhaustive()
    }
}

/// What a put did, for its span.
#[derive(Debug, PartialEq, Eq)]
enum PutOutcome {
    Stored { evicted: usize },
    TooLarge,
}

impl PluginCache {
    /// An empty cache whose spans are recorded with `tracer` (the host's
    /// instrumentation scope).
    pub fn new(config: CacheConfig, tracer: SdkTracer) -> Self {
        let store = Store {
            entries: LruCache::unbounded(),
            bytes: 0,
        };
        Self {
            config,
            store: Mutex::new(store),
            tracer,
        }
    }

    /// How many entries it holds (expired ones included until touched).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether it holds no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave the store torn: every
        // update below keeps `bytes` and `entries` consistent per step.
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, key: &str) -> Option<Vec<u8>> {
        let mut store = self.lock();
        let expired = match store.entries.get(key) {
            None => return None,
            Some(entry) => entry.expires.is_some_and(|t| t <= Instant::now()),
        };
        if expired {
            store.remove(key);
            return None;
        }
        store.entries.get(key).map(|e| e.value.clone())
    }

    fn put(&self, key: String, value: Vec<u8>, ttl: Option<Duration>) -> PutOutcome {
        let size = key.len() + value.len();
        if size > self.config.max_bytes || self.config.max_entries == 0 {
            return PutOutcome::TooLarge;
        }
        let mut store = self.lock();
        store.remove(&key);
        let mut evicted = 0;
        while store.entries.len() >= self.config.max_entries
            || store.bytes + size > self.config.max_bytes
        {
            let Some((old_key, old)) = store.entries.pop_lru() else {
                break;
            };
            store.bytes -= old_key.len() + old.value.len();
            evicted += 1;
        }
        let expires = ttl.and_then(|ttl| Instant::now().checked_add(ttl));
        store.bytes += size;
        store.entries.put(key, Entry { value, expires });
        PutOutcome::Stored { evicted }
    }

    fn delete(&self, key: &str) -> bool {
        self.lock().remove(key).is_some()
    }
}

/// What the cache host functions see of a store.
pub(crate) struct CacheCtx<'a> {
    pub(crate) tracing: &'a mut WasmtraceCtx,
    pub(crate) cache: &'a PluginCache,
}

impl CacheCtx<'_> {
    /// Runs `op` inside a host span named `name`, a child of the span in
    /// `context`, when the span table admits one (not in an unsampled
    /// trace, where the SDK skips the guest's spans too).
    fn traced<R>(
        &mut self,
        context: Context,
        name: &'static str,
        key: &str,
        op: impl FnOnce(&PluginCache) -> (R, Vec<KeyValue>, Option<String>),
    ) -> R {
        let table = &mut self.tracing.table;
        let Some(parent) = table.admit_sampled_host_span(context) else {
            return op(self.cache).0;
        };
        let key = truncate(key.to_owned(), table.limits.max_attribute_value_length);
        let mut span = self
            .cache
            .tracer
            .span_builder(name)
            .with_kind(SpanKind::Internal)
            // Which plugin instance asked (docs/DESIGN.md §9), as on its own
            // spans.
            .with_attributes(
                std::iter::once(KeyValue::new("cache.key", key))
                    .chain(table.identity().iter().cloned()),
            )
            .start_with_context(&self.cache.tracer, &parent.cx);
        let (result, attributes, error) = op(self.cache);
        span.set_attributes(attributes);
        if let Some(message) = error {
            span.set_status(Status::error(message));
        }
        span.end();
        table.host_span_ended();
        result
    }
}

impl Host for CacheCtx<'_> {
    fn get(&mut self, context: Context, key: String) -> Option<Vec<u8>> {
        self.traced(context, "cache.get", &key, |cache| {
            let value = cache.get(&key);
            let mut attributes = vec![KeyValue::new("cache.hit", value.is_some())];
            if let Some(v) = &value {
                attributes.push(KeyValue::new("cache.item.size", v.len() as i64));
            }
            (value, attributes, None)
        })
    }

    fn put(&mut self, context: Context, key: String, value: Vec<u8>, ttl_ms: Option<u32>) {
        let span_key = key.clone();
        self.traced(context, "cache.put", &span_key, |cache| {
            let size = value.len() as i64;
            let mut attributes = vec![KeyValue::new("cache.item.size", size)];
            if let Some(ttl) = ttl_ms {
                attributes.push(KeyValue::new("cache.ttl_ms", i64::from(ttl)));
            }
            let ttl = ttl_ms.map(|ms| Duration::from_millis(u64::from(ms)));
            let error = match cache.put(key, value, ttl) {
                PutOutcome::Stored { evicted } => {
                    attributes.push(KeyValue::new("cache.evicted", evicted as i64));
                    None
                }
                PutOutcome::TooLarge => {
                    attributes.push(KeyValue::new("error.type", "cache.too_large"));
                    Some(format!(
                        "entry of {size} bytes exceeds the cache's bound of {} bytes",
                        cache.config.max_bytes
                    ))
                }
            };
            ((), attributes, error)
        });
    }

    fn delete(&mut self, context: Context, key: String) -> bool {
        self.traced(context, "cache.delete", &key, |cache| {
            let deleted = cache.delete(&key);
            (deleted, vec![KeyValue::new("cache.deleted", deleted)], None)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::SdkTracerProvider;

    fn cache(config: CacheConfig) -> PluginCache {
        PluginCache::new(config, SdkTracerProvider::default().tracer("test"))
    }

    #[test]
    fn evicts_least_recently_used_by_count() {
        let c = cache(CacheConfig {
            max_entries: 2,
            ..CacheConfig::default()
        });
        c.put("a".into(), b"1".to_vec(), None);
        c.put("b".into(), b"2".to_vec(), None);
        assert!(c.get("a").is_some()); // a is now the most recent
        assert_eq!(
            c.put("c".into(), b"3".to_vec(), None),
            PutOutcome::Stored { evicted: 1 }
        );
        assert!(c.get("b").is_none());
        assert_eq!(c.get("a").as_deref(), Some(&b"1"[..]));
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn bounds_bytes_and_refuses_oversized_values() {
        let c = cache(CacheConfig {
            max_entries: 100,
            max_bytes: 10,
        });
        c.put("k1".into(), vec![0; 4], None);
        c.put("k2".into(), vec![0; 4], None);
        assert_eq!(c.lock().bytes, 6); // k1 was evicted to fit k2
        assert!(c.get("k1").is_none());
        assert_eq!(c.put("k3".into(), vec![0; 9], None), PutOutcome::TooLarge);
        assert!(c.get("k2").is_some());
    }

    #[test]
    fn replacing_a_key_keeps_the_byte_count_right() {
        let c = cache(CacheConfig::default());
        c.put("k".into(), vec![0; 100], None);
        c.put("k".into(), vec![0; 10], None);
        assert_eq!(c.lock().bytes, 11);
        assert!(c.delete("k"));
        assert!(!c.delete("k"));
        assert_eq!(c.lock().bytes, 0);
    }

    #[test]
    fn expired_entries_are_misses() {
        let c = cache(CacheConfig::default());
        c.put("k".into(), b"v".to_vec(), Some(Duration::ZERO));
        assert!(c.get("k").is_none());
        assert!(c.is_empty());
        c.put("k".into(), b"v".to_vec(), Some(Duration::from_secs(60)));
        assert!(c.get("k").is_some());
    }
}
