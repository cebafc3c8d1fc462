//! Compiled components on disk: the cache that lets a component load
//! without compiling it again (a 15 MB Python or JavaScript component takes
//! seconds to compile), and the precompiled artifacts of `wasmtrace
//! compile`.
//!
//! An entry is keyed by the component's SHA-256 and by a hash of the
//! engine's configuration (wasmtime's version, the target, the compiler
//! settings, fuel, epochs, memory layout), so a component compiled under
//! other settings is never reused. wasmtime checks only an artifact's
//! header before running its code, so each entry carries a SHA-256 of its
//! contents, checked before loading: a torn or corrupted file is a cache
//! miss (recompiled and rewritten), never undefined behaviour. Entries are
//! written to a temporary file and renamed into place, so concurrent runs
//! see whole files or none. A cache that cannot be read or written (a
//! read-only home) only costs the compile.

use crate::identity::PluginIdentity;
use anyhow::{Context as _, bail};
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// `WASMTRACE_CACHE_DIR`: where compiled components are kept; `off`
/// disables the cache.
pub const WASMTRACE_CACHE_DIR: &str = "WASMTRACE_CACHE_DIR";

/// The first bytes of a cache entry and of a `wasmtrace compile` artifact.
const MAGIC: &[u8; 8] = b"WTRCWASM";
/// The entry format's version.
const FORMAT: u32 = 1;
/// Magic, format, payload hash, identity length.
const HEADER: usize = 8 + 4 + 32 + 4;

/// Where compiled components are cached, if anywhere.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompileCache {
    dir: Option<PathBuf>,
}

/// How a plugin's code was obtained when it was loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeSource {
    /// Compiled from the component.
    Compiled,
    /// Loaded from the compile cache.
    Cache,
    /// Loaded from a `wasmtrace compile` artifact.
    Precompiled,
}

impl CompileCache {
    /// No cache: every load compiles.
    pub fn disabled() -> Self {
        Self { dir: None }
    }

    /// A cache in `dir` (created when first written).
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: Some(dir.into()),
        }
    }

    /// `$WASMTRACE_CACHE_DIR` (`off`: none), else the platform's cache
    /// directory: `$XDG_CACHE_HOME/wasmtrace` or `~/.cache/wasmtrace` (on
    /// macOS `~/Library/Caches/wasmtrace`, on Windows
    /// `%LOCALAPPDATA%\wasmtrace`); none if there is no home.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        if let Some(dir) = var(WASMTRACE_CACHE_DIR) {
            return if dir == "off" {
                Self::disabled()
            } else {
                Self::at(dir)
            };
        }
        let home = var("HOME").map(PathBuf::from);
        let dir = if cfg!(windows) {
            var("LOCALAPPDATA").map(|d| PathBuf::from(d).join("wasmtrace"))
        } else if cfg!(target_os = "macos") {
            home.map(|h| h.join("Library/Caches/wasmtrace"))
        } else {
            var("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .or_else(|| home.map(|h| h.join(".cache")))
                .map(|d| d.join("wasmtrace"))
        };
        Self { dir }
    }

    /// The cache's directory, if it has one.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The component of `bytes` (whose identity is `identity`) compiled for
    /// `engine`: from the cache when it holds it, else compiled (and
    /// stored).
    pub(crate) fn load(
        &self,
        engine: &Engine,
        bytes: &[u8],
        identity: &PluginIdentity,
    ) -> anyhow::Result<(Component, CodeSource)> {
        let path = self
            .dir
            .as_ref()
            .map(|dir| entry_path(dir, engine, &identity.sha256));
        if let Some(path) = &path
            && let Ok(entry) = std::fs::read(path)
            && let Ok((_, payload)) = split_entry(&entry)
            // SAFETY: the payload is what `Component::serialize` wrote for
            // an engine of this configuration (the path's key), checked
            // whole against its hash; wasmtime re-checks its header.
            && let Ok(component) = unsafe { Component::deserialize(engine, payload) }
        {
            return Ok((component, CodeSource::Cache));
        }
        let component = Component::new(engine, bytes)
            .map_err(anyhow::Error::from)
            .context("invalid component")?;
        if let Some(path) = &path
            && let Ok(payload) = component.serialize()
        {
            // A cache that cannot be written only costs the next compile.
            let _ = write_atomically(path, &entry(identity, &payload));
        }
        Ok((component, CodeSource::Compiled))
    }
}

/// `<dir>/v1/<engine key>/<component sha256>.cwasm`.
fn entry_path(dir: &Path, engine: &Engine, sha256: &str) -> PathBuf {
    dir.join(format!("v{FORMAT}"))
        .join(&engine_key(engine)[..16])
        .join(format!("{sha256}.cwasm"))
}

/// A hash of what an artifact's compatibility depends on.
fn engine_key(engine: &Engine) -> String {
    struct Sha(Sha256);
    impl Hasher for Sha {
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
        fn finish(&self) -> u64 {
            0
        }
    }
    let mut hasher = Sha(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hex::encode(hasher.0.finalize())
}

/// An entry: the header, the identity (JSON) and the serialized component.
fn entry(identity: &PluginIdentity, payload: &[u8]) -> Vec<u8> {
    let identity = serde_json::json!({
        "name": identity.name,
        "version": identity.version,
        "sha256": identity.sha256,
    })
    .to_string();
    let mut body = Vec::with_capacity(identity.len() + payload.len());
    body.extend_from_slice(identity.as_bytes());
    body.extend_from_slice(payload);
    let mut out = Vec::with_capacity(HEADER + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT.to_le_bytes());
    out.extend_from_slice(&Sha256::digest(&body));
    out.extend_from_slice(&(identity.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// The identity and the payload of an entry whose header and hash check.
fn split_entry(entry: &[u8]) -> anyhow::Result<(PluginIdentity, &[u8])> {
    if entry.len() < HEADER || &entry[..8] != MAGIC {
        bail!("not a wasmtrace compiled component");
    }
    let format = u32::from_le_bytes(entry[8..12].try_into().expect("4 bytes"));
    if format != FORMAT {
        bail!("compiled by another wasmtrace (format {format}, this one reads {FORMAT})");
    }
    let body = &entry[HEADER..];
    if Sha256::digest(body).as_slice() != &entry[12..44] {
        bail!("the compiled component is corrupt (its checksum does not match)");
    }
    let identity_len = u32::from_le_bytes(entry[44..48].try_into().expect("4 bytes")) as usize;
    let identity = body
        .get(..identity_len)
        .context("the compiled component is truncated")?;
    let identity: serde_json::Value =
        serde_json::from_slice(identity).context("the compiled component's identity")?;
    let field = |k: &str| identity[k].as_str().map(str::to_owned);
    let identity = PluginIdentity {
        name: field("name").context("the compiled component has no name")?,
        version: field("version"),
        sha256: field("sha256").context("the compiled component has no hash")?,
    };
    Ok((identity, &body[identity_len..]))
}

/// Whether `bytes` are a `wasmtrace compile` artifact.
pub(crate) fn is_precompiled(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// `wasmtrace compile`: the artifact of the component `bytes` for
/// `engine`, which loads without compiling in a runtime of the same
/// configuration.
pub(crate) fn precompile(
    engine: &Engine,
    bytes: &[u8],
    fallback_name: &str,
) -> anyhow::Result<Vec<u8>> {
    let identity = PluginIdentity::from_component_bytes(bytes, fallback_name);
    let payload = engine
        .precompile_component(bytes)
        .map_err(anyhow::Error::from)
        .context("compiling the component")?;
    Ok(entry(&identity, &payload))
}

/// The component and identity of a `wasmtrace compile` artifact.
pub(crate) fn load_precompiled(
    engine: &Engine,
    artifact: &[u8],
) -> anyhow::Result<(Component, PluginIdentity)> {
    let (identity, payload) = split_entry(artifact)?;
    // SAFETY: the caller opted in to precompiled code (`--allow-precompiled`
    // or `RuntimeConfig::allow_precompiled`), which runs as given; the
    // checksum and wasmtime's header checks catch corruption and other
    // engines.
    let component = unsafe { Component::deserialize(engine, payload) }
        .map_err(anyhow::Error::from)
        .context(
            "the compiled component does not fit this runtime (compile it again with the same \
             wasmtrace and the same --fuel and --timeout-ms)",
        )?;
    Ok((component, identity))
}

/// Writes `contents` to `path` through a temporary file in the same
/// directory (created if needed) and a rename.
fn write_atomically(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().expect("entries are in a directory");
    create_private_dir(dir)?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let tmp = dir.join(format!(
        ".{}.tmp.{}.{nanos}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("entry"),
        std::process::id()
    ));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut f| std::io::Write::write_all(&mut f, contents));
    let renamed = written.and_then(|()| std::fs::rename(&tmp, path));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    renamed
}

/// `dir` and its parents, readable by this user only (on Unix).
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> PluginIdentity {
        PluginIdentity {
            name: "p".into(),
            version: Some("1.0.0".into()),
            sha256: "ab".repeat(32),
        }
    }

    #[test]
    fn entries_round_trip_and_corruption_is_detected() {
        let e = entry(&identity(), b"payload");
        let (id, payload) = split_entry(&e).unwrap();
        assert_eq!(id, identity());
        assert_eq!(payload, b"payload");
        let mut torn = e.clone();
        torn.truncate(e.len() - 1);
        assert!(
            split_entry(&torn)
                .unwrap_err()
                .to_string()
                .contains("corrupt")
        );
        let mut flipped = e.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(split_entry(&flipped).is_err());
        assert!(split_entry(b"\0asm\x0d\0\x01\0").is_err());
        let mut other = e;
        other[8] = 9;
        assert!(
            split_entry(&other)
                .unwrap_err()
                .to_string()
                .contains("format 9")
        );
    }

    #[test]
    fn the_cache_directory_follows_the_environment() {
        // Only the pure part: the variable's value decides.
        assert_eq!(CompileCache::at("/x").dir(), Some(Path::new("/x")));
        assert_eq!(CompileCache::disabled().dir(), None);
    }
}
