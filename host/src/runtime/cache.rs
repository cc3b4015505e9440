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

use sha2::{Digest, Sha256};
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
pub(crate) fn engine_key(engine: &Engine) -> String {
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

impl CompileCache {
    pub(crate) fn new(dir: &Path, engine_key: &str) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_owned(),
            engine_key: engine_key.to_owned(),
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
            let young = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|at| at.elapsed().is_ok_and(|age| age < SWEEP_GRACE));
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                // The function cache of this configuration stays; another
                // configuration's goes whole, once nothing wrote to it for
                // a while (another host sharing the directory may run it).
                if name.starts_with(FUNCTIONS_DIR_PREFIX)
                    && name != function_dir_name(&self.engine_key)
                    && !young
                    && std::fs::remove_dir_all(entry.path()).is_ok()
                {
                    deleted += 1;
                }
                continue;
            }
            let wanted = name
                .strip_suffix(&suffix)
                .is_some_and(|digest| live.contains(digest));
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
pub(crate) const FUNCTION_CACHE_BYTES: u64 = 512 * 1024 * 1024;

/// What an entry is charged at least: a file's block, so that a flood of
/// tiny functions is bounded in files (and inodes) too.
const ENTRY_CHARGE_BYTES: u64 = 4096;

const FUNCTIONS_DIR_PREFIX: &str = "functions-";

fn function_dir_name(engine_key: &str) -> String {
    format!("{FUNCTIONS_DIR_PREFIX}{engine_key}")
}

/// What an entry of `len` bytes is charged.
fn charge(len: usize) -> u64 {
    (len as u64 + CHECKSUM_BYTES as u64).next_multiple_of(ENTRY_CHARGE_BYTES)
}

/// Each file starts with the SHA-256 of the rest: Cranelift's own format
/// has no checksum, and a torn or damaged entry would be machine code.
const CHECKSUM_BYTES: usize = 32;

/// Cranelift's incremental compilation cache: each function's machine code
/// under the hash of its input (the whole function and the target; see
/// `cranelift_codegen::incremental_cache`). Every JavaScript (or Python)
/// plugin built by one SDK version carries the same language engine,
/// megabytes of code that differ only in their data, so a new version of
/// such a plugin compiles little more than its own glue.
///
/// What a compilation produces is staged and kept only once its component
/// passed every check ([`keep`](Self::keep)), so a refused upload adds
/// nothing. Past the bound the cache is emptied and starts again: a tenant
/// uploading ever new code can make others' next compiles cold, never keep
/// the cache full for good.
#[derive(Debug)]
pub(crate) struct FunctionCache {
    /// Where entries live: one file each in a directory, or a map.
    place: Place,
    staged: Mutex<Staged>,
    /// Bytes charged for what `place` holds.
    kept: Mutex<u64>,
    max_bytes: u64,
    hits: AtomicU64,
}

#[derive(Debug, Default)]
struct Staged {
    entries: HashMap<Vec<u8>, Vec<u8>>,
    bytes: u64,
}

#[derive(Debug)]
enum Place {
    Dir(PathBuf),
    Memory(Mutex<HashMap<Vec<u8>, Vec<u8>>>),
}

impl FunctionCache {
    /// A cache in a directory under `cache_dir` for the engine
    /// configuration `engine_key`, or in memory when there is no `cache_dir`.
    pub(crate) fn new(
        cache_dir: Option<&Path>,
        engine_key: &str,
        max_bytes: u64,
    ) -> std::io::Result<Self> {
        let (place, kept) = match cache_dir {
            None => (Place::Memory(Mutex::default()), 0),
            Some(cache_dir) => {
                let dir = cache_dir.join(function_dir_name(engine_key));
                std::fs::create_dir_all(&dir)?;
                let mut kept = 0;
                for entry in std::fs::read_dir(&dir)?.flatten() {
                    if entry.file_name().to_string_lossy().starts_with(".tmp") {
                        // A write a crash interrupted.
                        let _ = std::fs::remove_file(entry.path());
                    } else if let Ok(meta) = entry.metadata() {
                        kept +=
                            charge(meta.len() as usize - CHECKSUM_BYTES.min(meta.len() as usize));
                    }
                }
                (Place::Dir(dir), kept)
            }
        };
        Ok(Self {
            place,
            staged: Mutex::default(),
            kept: Mutex::new(kept),
            max_bytes,
            hits: AtomicU64::new(0),
        })
    }

    /// Functions found in the cache (not staged) so far.
    pub(crate) fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Keeps what the last compilation staged, emptying the cache first
    /// when it would not fit.
    pub(crate) fn keep(&self) {
        let staged = std::mem::take(&mut *self.staged.lock().expect("function cache lock"));
        if staged.entries.is_empty() {
            return;
        }
        let mut kept = self.kept.lock().expect("function cache lock");
        if *kept + staged.bytes > self.max_bytes {
            self.clear();
            *kept = 0;
        }
        for (key, value) in staged.entries {
            if *kept + charge(value.len()) > self.max_bytes {
                break;
            }
            if self.put(&key, &value) {
                *kept += charge(value.len());
            }
        }
    }

    /// Forgets what the last compilation staged: its component was refused.
    pub(crate) fn discard(&self) {
        *self.staged.lock().expect("function cache lock") = Staged::default();
    }

    /// Stores one entry; false when it was there already or could not be written.
    fn put(&self, key: &[u8], value: &[u8]) -> bool {
        match &self.place {
            Place::Dir(dir) => {
                let path = dir.join(hex::encode(key));
                if path.exists() {
                    return false;
                }
                let mut file = Sha256::digest(value).to_vec();
                file.extend_from_slice(value);
                // Written whole, then renamed: a reader never sees part of
                // an entry. The directory is made again if a sweep took it.
                let written = std::fs::create_dir_all(dir)
                    .and_then(|()| tempfile::NamedTempFile::new_in(dir))
                    .and_then(|tmp| {
                        std::fs::write(tmp.path(), &file)?;
                        tmp.persist_noclobber(&path).map(drop).map_err(|e| e.error)
                    });
                if let Err(e) = &written
                    && e.kind() != std::io::ErrorKind::AlreadyExists
                {
                    tracing::warn!(error = %e, "could not keep a compiled function");
                }
                written.is_ok()
            }
            Place::Memory(map) => map
                .lock()
                .expect("function cache lock")
                .insert(key.to_vec(), value.to_vec())
                .is_none(),
        }
    }

    /// Deletes every entry.
    fn clear(&self) {
        match &self.place {
            Place::Dir(dir) => {
                for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
            Place::Memory(map) => map.lock().expect("function cache lock").clear(),
        }
    }
}

impl CacheStore for FunctionCache {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        if let Some(value) = self
            .staged
            .lock()
            .expect("function cache lock")
            .entries
            .get(key)
        {
            return Some(Cow::Owned(value.clone()));
        }
        let found = match &self.place {
            Place::Dir(dir) => std::fs::read(dir.join(hex::encode(key)))
                .ok()
                .filter(|file| {
                    file.len() >= CHECKSUM_BYTES
                        && Sha256::digest(&file[CHECKSUM_BYTES..])[..] == file[..CHECKSUM_BYTES]
                })
                .map(|file| file[CHECKSUM_BYTES..].to_vec()),
            Place::Memory(map) => map.lock().expect("function cache lock").get(key).cloned(),
        };
        if found.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        found.map(Cow::Owned)
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        let mut staged = self.staged.lock().expect("function cache lock");
        let cost = charge(value.len());
        if staged.bytes + cost > self.max_bytes {
            return false;
        }
        staged.bytes += cost;
        if let Some(old) = staged.entries.insert(key.to_vec(), value) {
            staged.bytes -= charge(old.len());
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUND: u64 = 3 * ENTRY_CHARGE_BYTES;

    #[test]
    fn kept_entries_come_back_from_disk_after_a_restart_and_staged_ones_only_when_kept() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FunctionCache::new(Some(dir.path()), "k", BOUND).unwrap();
        assert!(cache.insert(b"a", vec![1; 6]));
        assert_eq!(cache.get(b"a").as_deref(), Some(&[1u8; 6][..]), "staged");
        cache.keep();
        assert!(cache.insert(b"refused", vec![2; 6]));
        cache.discard();

        let again = FunctionCache::new(Some(dir.path()), "k", BOUND).unwrap();
        assert_eq!(again.get(b"a").as_deref(), Some(&[1u8; 6][..]));
        assert_eq!(again.hits(), 1);
        assert_eq!(
            again.get(b"refused"),
            None,
            "a refused compile keeps nothing"
        );
        assert_eq!(*again.kept.lock().unwrap(), ENTRY_CHARGE_BYTES);
    }

    #[test]
    fn a_damaged_entry_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FunctionCache::new(Some(dir.path()), "k", BOUND).unwrap();
        cache.insert(b"a", vec![1; 6]);
        cache.keep();
        let file = dir.path().join("functions-k").join(hex::encode(b"a"));
        let mut bytes = std::fs::read(&file).unwrap();
        *bytes.last_mut().unwrap() ^= 1;
        std::fs::write(&file, bytes).unwrap();
        assert_eq!(cache.get(b"a"), None);
    }

    #[test]
    fn past_the_bound_the_cache_starts_again_in_memory_as_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        for cache in [
            FunctionCache::new(None, "k", BOUND).unwrap(),
            FunctionCache::new(Some(dir.path()), "k", BOUND).unwrap(),
        ] {
            for key in [b"a", b"b"] {
                cache.insert(key, vec![1; 10]);
            }
            cache.keep();
            assert!(cache.get(b"a").is_some());
            for key in [b"c", b"d"] {
                cache.insert(key, vec![2; 10]);
            }
            cache.keep();
            assert_eq!(cache.get(b"a"), None, "emptied to make room");
            assert!(cache.get(b"c").is_some() && cache.get(b"d").is_some());
            assert!(
                !cache.insert(b"e", vec![0; 4 * ENTRY_CHARGE_BYTES as usize]),
                "one compile's staging is bounded too"
            );
        }
    }
}
