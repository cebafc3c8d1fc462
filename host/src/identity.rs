//! Which plugin made a span: name and version (the instrumentation scope),
//! the component's content hash and the instance id (span attributes).

use opentelemetry::trace::TracerProvider;
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator, SdkTracer, SdkTracerProvider};
use sha2::{Digest, Sha256};

/// Name of the custom section in which the guest SDK records `name@version`.
pub const PLUGIN_SECTION: &str = "wasmtrace-plugin";

/// Attribute: the sha256 of the component's bytes, lowercase hex.
pub const ATTR_COMPONENT_SHA256: &str = "wasmtrace.component.sha256";
/// Attribute: a random id (a positive integer) of the plugin instance that
/// made the span.
pub const ATTR_INSTANCE_ID: &str = "wasmtrace.instance.id";

/// The identity of a loaded plugin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginIdentity {
    /// The plugin's name (instrumentation scope name).
    pub name: String,
    /// The plugin's version (instrumentation scope version), when known.
    pub version: Option<String>,
    /// The sha256 of the component's bytes, lowercase hex.
    pub sha256: String,
}

impl PluginIdentity {
    /// Identifies a component from its bytes: name and version from the
    /// `wasmtrace-plugin` custom section that the guest SDK writes, or
    /// `fallback_name` (typically the file stem) without a version.
    pub fn from_component_bytes(bytes: &[u8], fallback_name: &str) -> Self {
        let (name, version) = match read_plugin_section(bytes) {
            Some((name, version)) => (name, Some(version)),
            None => (fallback_name.to_owned(), None),
        };
        Self {
            name,
            version,
            sha256: hex::encode(Sha256::digest(bytes)),
        }
    }

    /// The tracer whose scope names this plugin: its name and version, no
    /// attributes (the content hash is a span attribute, DESIGN.md §9).
    pub fn tracer(&self, provider: &SdkTracerProvider) -> SdkTracer {
        provider.tracer_with_scope(self.scope())
    }

    /// The instrumentation scope of the plugin's spans and log records: its
    /// name and version, no attributes.
    pub fn scope(&self) -> InstrumentationScope {
        // The SDK clones the scope into every finished span, and the batch
        // processor frees that clone on its own thread: with `'static`
        // strings and no attributes the clone allocates nothing.
        let mut scope = InstrumentationScope::builder(intern(&self.name));
        if let Some(v) = &self.version {
            scope = scope.with_version(intern(v));
        }
        scope.build()
    }

    /// The instrumentation scope of the plugin's metrics: its name and
    /// version, and the component's hash as an attribute (metrics have no
    /// per-record attributes of the plugin's own to carry it).
    pub fn meter_scope(&self) -> InstrumentationScope {
        let mut scope = InstrumentationScope::builder(intern(&self.name))
            .with_attributes([KeyValue::new(ATTR_COMPONENT_SHA256, intern(&self.sha256))]);
        if let Some(v) = &self.version {
            scope = scope.with_version(intern(v));
        }
        scope.build()
    }

    /// The attributes every span of one instance of this plugin carries.
    pub fn span_attributes(&self, instance_id: i64) -> Vec<KeyValue> {
        // Cloned onto every span and freed on the export thread, so
        // neither allocates nor is reference-counted: the hash is `'static`
        // (one per component loaded), the instance id an integer.
        vec![
            KeyValue::new(ATTR_COMPONENT_SHA256, intern(&self.sha256)),
            KeyValue::new(ATTR_INSTANCE_ID, instance_id),
        ]
    }
}

/// `s` as a `'static` string, leaked once per distinct value for the life
/// of the process. Only for plugin names, versions and content hashes,
/// which the embedder chooses (by loading plugins), never a guest at run
/// time.
fn intern(s: &str) -> &'static str {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};
    static INTERNED: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut set = INTERNED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(&interned) = set.get(s) {
        return interned;
    }
    let interned: &'static str = Box::leak(s.into());
    set.insert(interned);
    interned
}

/// A fresh random instance id: a positive 63-bit integer (OTel attributes
/// have no unsigned type).
pub(crate) fn new_instance_id() -> i64 {
    let id = u64::from_be_bytes(RandomIdGenerator::default().new_span_id().to_bytes());
    (id >> 1) as i64
}

/// Finds the `wasmtrace-plugin` section in a component or any module nested
/// in it, and splits its `name@version` payload.
fn read_plugin_section(bytes: &[u8]) -> Option<(String, String)> {
    use wasmparser::{Parser, Payload};
    let mut stack = vec![Parser::new(0).parse_all(bytes)];
    while let Some(iter) = stack.last_mut() {
        let Some(payload) = iter.next() else {
            stack.pop();
            continue;
        };
        match payload.ok()? {
            Payload::CustomSection(section) if section.name() == PLUGIN_SECTION => {
                let text = std::str::from_utf8(section.data()).ok()?;
                let (name, version) = text.split_once('@')?;
                if name.is_empty() || version.is_empty() {
                    return None;
                }
                return Some((name.to_owned(), version.to_owned()));
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falls_back_to_the_file_name_without_the_section() {
        let module = b"\0asm\x01\0\0\0";
        let id = PluginIdentity::from_component_bytes(module, "thing");
        assert_eq!(id.name, "thing");
        assert_eq!(id.version, None);
        assert_eq!(id.sha256, hex::encode(Sha256::digest(module)));
    }

    #[test]
    fn reads_name_and_version_from_the_custom_section() {
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        let name = PLUGIN_SECTION.as_bytes();
        let payload = b"demo@1.2.3";
        module.push(0); // custom section id
        module.push((1 + name.len() + payload.len()) as u8);
        module.push(name.len() as u8);
        module.extend_from_slice(name);
        module.extend_from_slice(payload);
        let id = PluginIdentity::from_component_bytes(&module, "fallback");
        assert_eq!(
            (id.name.as_str(), id.version.as_deref()),
            ("demo", Some("1.2.3"))
        );
    }
}
