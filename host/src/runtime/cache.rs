//! Compiled components on disk, so a restart (or a second host sharing the
//! directory) does not compile a plugin again.
//!
//! Files are keyed by the component's content digest and by the engine's
//! compatibility hash: a new wasmtime version or different engine settings
//! never load an artifact compiled for another configuration.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;

use wasmtime::Engine;
use wasmtime::component::Component;

/// Age below which [`CompileCache::sweep`] leaves a file alone: well past
/// the longest compilation.
const SWEEP_GRACE: Duration = Duration::from_secs(600);

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

    /// Deletes what no longer serves: artifacts of components not in `live`
    /// (deleted on another host, say) or compiled by another engine
    /// configuration, and temporary files a crash left. Files younger than
    /// [`SWEEP_GRACE`] are kept, so a compilation finishing now is not
    /// undone. Returns how many files were deleted.
    pub(crate) fn sweep(&self, live: &HashSet<&str>) -> usize {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return 0;
        };
        let suffix = format!("-{}.cwasm", self.engine_key);
        let mut deleted = 0;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let wanted = name
                .strip_suffix(&suffix)
                .is_some_and(|digest| live.contains(digest));
            let young = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|at| at.elapsed().is_ok_and(|age| age < SWEEP_GRACE));
            if wanted || young {
                continue;
            }
            match std::fs::remove_file(entry.path()) {
                Ok(()) => deleted += 1,
                Err(e) => {
                    tracing::warn!(error = %e, file = %name, "could not delete a stale compiled component")
                }
            }
        }
        deleted
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
