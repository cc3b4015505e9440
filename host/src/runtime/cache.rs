//! Compiled components on disk, so a restart (or a second host sharing the
//! directory) does not compile a plugin again.
//!
//! Files are keyed by the component's content digest and by the engine's
//! compatibility hash: a new wasmtime version or different engine settings
//! never load an artifact compiled for another configuration.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

/// A directory of precompiled components.
pub(crate) struct CompileCache {
    dir: PathBuf,
    engine_key: String,
}

impl CompileCache {
    pub(crate) fn new(dir: &Path, engine: &Engine) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(Self {
            dir: dir.to_owned(),
            engine_key: format!("{:016x}", hasher.finish()),
        })
    }

    fn path(&self, digest_hex: &str) -> PathBuf {
        self.dir
            .join(format!("{digest_hex}-{}.cwasm", self.engine_key))
    }

    /// The cached artifact for `digest_hex`, if one was written by this engine configuration.
    pub(crate) fn load(&self, engine: &Engine, digest_hex: &str) -> Option<Component> {
        let path = self.path(digest_hex);
        if !path.exists() {
            return None;
        }
        // SAFETY: files in this directory are only ever written by `store`
        // below, from `Engine::precompile_component` of this same engine
        // configuration (the name carries its compatibility hash), and are
        // renamed into place only once fully written.
        #[allow(unsafe_code)]
        let loaded = unsafe { Component::deserialize_file(engine, &path) };
        match loaded {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "discarding unreadable compiled component");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Deletes the artifact of `digest_hex`, if there is one.
    pub(crate) fn remove(&self, digest_hex: &str) {
        match std::fs::remove_file(self.path(digest_hex)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(error = %e, "could not delete a compiled component"),
        }
    }

    /// Writes an artifact atomically (temp file + rename).
    pub(crate) fn store(&self, digest_hex: &str, artifact: &[u8]) -> std::io::Result<()> {
        let path = self.path(digest_hex);
        let tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        std::fs::write(tmp.path(), artifact)?;
        tmp.persist(&path).map_err(|e| e.error)?;
        Ok(())
    }
}
