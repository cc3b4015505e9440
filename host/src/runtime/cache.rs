//! Compiled code on disk, so a restart (or a second host sharing the
//! directory) does not compile a plugin again, and a new plugin compiles
//! only the functions no earlier plugin had.
//!
//! Files are keyed by content (the component's digest; Cranelift's hash of
//! a function's input) and by the engine's compatibility hash: a new
//! wasmtime version or different engine settings never load an artifact
//! compiled for another configuration.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use wasmtime::component::Component;
use wasmtime::{CacheStore, Engine};

/// Age below which [`CompileCache::sweep`] leaves a file alone: well past
/// the longest compilation.
const SWEEP_GRACE: Duration = Duration::from_secs(600);

/// A directory of precompiled components.
pub(crate) struct CompileCache {
    dir: PathBuf,
    engine_key: String,
}

/// The key of an engine configuration, in file names.
fn engine_key(engine: &Engine) -> String {
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

impl CompileCache {
    pub(crate) fn new(dir: &Path, engine: &Engine) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_owned(),
            engine_key: engine_key(engine),
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
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                // The function cache of this configuration stays; another
                // configuration's goes whole.
                if name.starts_with(FUNCTIONS_DIR_PREFIX)
                    && name != function_dir_name(&self.engine_key)
                    && std::fs::remove_dir_all(entry.path()).is_ok()
                {
                    deleted += 1;
                }
                continue;
            }
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

/// Bytes of compiled functions kept at most, on disk or in memory: some
/// language runtimes' worth (a JavaScript engine compiles to tens of MiB),
/// bounded because every upload, a hostile tenant's too, adds its own.
/// Past it nothing new is kept and plugins compile in full, as without a
/// cache.
pub(crate) const FUNCTION_CACHE_BYTES: u64 = 512 * 1024 * 1024;

const FUNCTIONS_DIR_PREFIX: &str = "functions-";

fn function_dir_name(engine_key: &str) -> String {
    format!("{FUNCTIONS_DIR_PREFIX}{engine_key}")
}

/// Cranelift's incremental compilation cache: each function's machine code
/// under the hash of its input. Every JavaScript (or Python) plugin built
/// by one SDK version carries the same language engine, megabytes of code
/// that differ only in their data, so a new version of such a plugin
/// compiles little more than its own glue.
#[derive(Debug)]
pub(crate) struct FunctionCache {
    /// Where entries live: one file each in a directory, or a map.
    place: Place,
    bytes: AtomicU64,
    max_bytes: u64,
}

#[derive(Debug)]
enum Place {
    Dir(PathBuf),
    Memory(Mutex<HashMap<Vec<u8>, Vec<u8>>>),
}

impl FunctionCache {
    /// A cache in a directory under `cache_dir`, for this engine
    /// configuration, or in memory when there is no `cache_dir`.
    pub(crate) fn new(
        cache_dir: Option<&Path>,
        engine: &Engine,
        max_bytes: u64,
    ) -> std::io::Result<Self> {
        let Some(cache_dir) = cache_dir else {
            return Ok(Self {
                place: Place::Memory(Mutex::default()),
                bytes: AtomicU64::new(0),
                max_bytes,
            });
        };
        let dir = cache_dir.join(function_dir_name(&engine_key(engine)));
        std::fs::create_dir_all(&dir)?;
        let bytes = std::fs::read_dir(&dir)?
            .flatten()
            .filter_map(|entry| entry.metadata().ok())
            .map(|meta| meta.len())
            .sum();
        Ok(Self {
            place: Place::Dir(dir),
            bytes: AtomicU64::new(bytes),
            max_bytes,
        })
    }

    /// Bytes kept now.
    #[cfg(test)]
    fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Charges `len` bytes, unless that would pass the bound.
    fn charge(&self, len: u64) -> bool {
        self.bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |now| {
                (now + len <= self.max_bytes).then_some(now + len)
            })
            .is_ok()
    }
}

impl CacheStore for FunctionCache {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        match &self.place {
            Place::Dir(dir) => std::fs::read(dir.join(hex::encode(key)))
                .ok()
                .map(Cow::Owned),
            Place::Memory(map) => map
                .lock()
                .expect("function cache lock")
                .get(key)
                .map(|value| Cow::Owned(value.clone())),
        }
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        if !self.charge(value.len() as u64) {
            return false;
        }
        match &self.place {
            Place::Dir(dir) => {
                // Written whole, then renamed: a crash leaves no torn entry
                // (a leftover temporary file is never read).
                let written = tempfile::NamedTempFile::new_in(dir).and_then(|tmp| {
                    std::fs::write(tmp.path(), &value)?;
                    tmp.persist(dir.join(hex::encode(key)))
                        .map(drop)
                        .map_err(|e| e.error)
                });
                if let Err(e) = &written {
                    tracing::warn!(error = %e, "could not keep a compiled function");
                    self.bytes.fetch_sub(value.len() as u64, Ordering::Relaxed);
                }
                written.is_ok()
            }
            Place::Memory(map) => {
                let mut map = map.lock().expect("function cache lock");
                if let Some(old) = map.insert(key.to_vec(), value) {
                    self.bytes.fetch_sub(old.len() as u64, Ordering::Relaxed);
                }
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_come_back_from_disk_across_instances_and_the_bound_holds() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::default();
        let cache = FunctionCache::new(Some(dir.path()), &engine, 10).unwrap();
        assert!(cache.insert(b"a", vec![1; 6]));
        assert!(!cache.insert(b"b", vec![2; 6]), "past the bound");
        assert_eq!(cache.get(b"b"), None);

        let again = FunctionCache::new(Some(dir.path()), &engine, 10).unwrap();
        assert_eq!(again.bytes(), 6, "what is on disk counts after a restart");
        assert_eq!(again.get(b"a").as_deref(), Some(&[1u8; 6][..]));
    }

    #[test]
    fn without_a_directory_entries_stay_in_memory_within_the_bound() {
        let cache = FunctionCache::new(None, &Engine::default(), 10).unwrap();
        assert!(cache.insert(b"a", vec![1; 4]));
        assert!(
            cache.insert(b"a", vec![1; 4]),
            "replacing is not charged twice"
        );
        assert!(!cache.insert(b"b", vec![2; 7]));
        assert_eq!(cache.get(b"a").as_deref(), Some(&[1u8; 4][..]));
    }
}
