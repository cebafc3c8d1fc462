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

/// A top-level section: its id, the range of its content and that of the
/// whole section.
type Section = (u8, std::ops::Range<usize>, std::ops::Range<usize>);

/// The component's top-level sections, or `None` if the binary is
/// malformed.
fn top_level_sections(bytes: &[u8]) -> Option<Vec<Section>> {
    let mut sections = Vec::new();
    let mut at = 8;
    if bytes.len() < at {
        return None;
    }
    while at < bytes.len() {
        let start = at;
        let id = bytes[at];
        at += 1;
        let (size, used) = leb128_u32(&bytes[at..])?;
        at += used;
        let end = at
            .checked_add(size as usize)
            .filter(|&e| e <= bytes.len())?;
        sections.push((id, at..end, start..end));
        at = end;
    }
    Some(sections)
}

/// An unsigned LEB128 `u32` and how many bytes it took.
fn leb128_u32(bytes: &[u8]) -> Option<(u32, usize)> {
    let mut value: u64 = 0;
    for (i, &b) in bytes.iter().enumerate().take(5) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return u32::try_from(value).ok().map(|v| (v, i + 1));
        }
    }
    None
}

fn leb128(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A custom section's name and payload.
fn custom_section(content: &[u8]) -> Option<(&str, &[u8])> {
    let (len, used) = leb128_u32(content)?;
    let name = content.get(used..used + len as usize)?;
    Some((
        std::str::from_utf8(name).ok()?,
        &content[used + len as usize..],
    ))
}

/// Splits a section's `name@version` (at the last `@`: npm names such as
/// `@acme/plugin` start with one).
fn parse_plugin_id(data: &[u8]) -> Option<(String, String)> {
    let text = std::str::from_utf8(data).ok()?;
    let (name, version) = text.rsplit_once('@')?;
    (!name.is_empty() && !version.is_empty()).then(|| (name.to_owned(), version.to_owned()))
}

/// The `wasmtrace-plugin` section's `name@version`: the component's own
/// (top-level, what `wasmtrace stamp` writes) first, else the first in a
/// module nested in it (what the Rust SDK's `plugin!` writes).
fn read_plugin_section(bytes: &[u8]) -> Option<(String, String)> {
    use wasmparser::{Parser, Payload};
    if let Some(sections) = top_level_sections(bytes) {
        let own = sections
            .iter()
            .filter(|(id, ..)| *id == 0)
            .filter_map(|(_, content, _)| custom_section(&bytes[content.clone()]))
            .find(|(name, _)| *name == PLUGIN_SECTION);
        if let Some((_, data)) = own {
            return parse_plugin_id(data);
        }
    }
    for payload in Parser::new(0).parse_all(bytes) {
        if let Payload::CustomSection(section) = payload.ok()?
            && section.name() == PLUGIN_SECTION
        {
            return parse_plugin_id(section.data());
        }
    }
    None
}

/// `wasmtrace stamp`: `component` with its identity set to `name@version`
/// in a top-level `wasmtrace-plugin` section (replacing any it had there;
/// one inside a nested module is overridden by it).
pub fn stamp(component: &[u8], name: &str, version: &str) -> anyhow::Result<Vec<u8>> {
    use anyhow::bail;
    if !wasmparser::Parser::is_component(component) {
        bail!("not a WebAssembly component");
    }
    if name.is_empty() || name.chars().any(char::is_control) {
        bail!("a plugin name must be non-empty, without control characters");
    }
    if version.is_empty() || version.contains('@') || version.chars().any(char::is_control) {
        bail!("a plugin version must be non-empty, without `@` or control characters");
    }
    let Some(sections) = top_level_sections(component) else {
        bail!("the component's sections are malformed");
    };
    let mut out = component[..8].to_vec();
    for (id, content, whole) in sections {
        let ours = id == 0
            && custom_section(&component[content]).is_some_and(|(n, _)| n == PLUGIN_SECTION);
        if !ours {
            out.extend_from_slice(&component[whole]);
        }
    }
    let payload = format!("{name}@{version}");
    let mut content = Vec::new();
    leb128(PLUGIN_SECTION.len(), &mut content);
    content.extend_from_slice(PLUGIN_SECTION.as_bytes());
    content.extend_from_slice(payload.as_bytes());
    out.push(0);
    leb128(content.len(), &mut out);
    out.extend_from_slice(&content);
    Ok(out)
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

    /// The empty component (preamble only).
    const COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";

    #[test]
    fn stamping_sets_replaces_and_validates_the_identity() {
        let stamped = stamp(COMPONENT, "@acme/plugin", "2.0.0-rc.1").unwrap();
        let id = PluginIdentity::from_component_bytes(&stamped, "fallback");
        assert_eq!(
            (id.name.as_str(), id.version.as_deref()),
            ("@acme/plugin", Some("2.0.0-rc.1"))
        );
        // Stamping again replaces the section rather than adding one.
        let again = stamp(&stamped, "other", "1").unwrap();
        let id = PluginIdentity::from_component_bytes(&again, "fallback");
        assert_eq!(
            (id.name.as_str(), id.version.as_deref()),
            ("other", Some("1"))
        );
        assert_eq!(again.len(), stamp(COMPONENT, "other", "1").unwrap().len());
        // Still a valid component.
        wasmparser::Validator::new().validate_all(&again).unwrap();
        assert!(
            stamp(b"\0asm\x01\0\0\0", "a", "1").is_err(),
            "a core module"
        );
        assert!(stamp(COMPONENT, "", "1").is_err());
        assert!(stamp(COMPONENT, "a", "1@2").is_err());
        assert!(stamp(COMPONENT, "a\nb", "1").is_err());
    }
}
