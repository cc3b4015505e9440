//! Plugin projects in JavaScript, TypeScript and Python, built from source
//! through `hookhost plugin build`, as their authors would.
//!
//! Each is built at most once per run and kept across runs under a digest of
//! its sources, its SDK's and the WIT, so the second half of the suite (on
//! PostgreSQL) and a rerun with nothing changed build nothing.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use hookhost::runtime::Plugin;

use crate::{block_on_within, cli_cache, hookhost_bin, runtime};

/// The TypeScript port of the `stripe-to-slack` example.
pub const STRIPE_TO_SLACK_TS: &str = "plugins/stripe-to-slack-ts";
/// The Python port of the `github-to-chat` example.
pub const GITHUB_TO_CHAT_PY: &str = "plugins/github-to-chat-py";
/// The JavaScript test plugin playing one attack on the host's bounds, chosen by config `attack`.
pub const HOSTILE_JS: &str = "tests/plugins/hostile-js";
/// The Python test plugin playing one attack, chosen by config `attack`.
pub const HOSTILE_PY: &str = "tests/plugins/hostile-py";

/// A JavaScript handler that returns at once: the invoke benchmark's trivial one.
pub const NOOP_JS: &str = "tests/plugins/noop-js";
/// A Python handler that returns at once.
pub const NOOP_PY: &str = "tests/plugins/noop-py";

/// Folders a build writes or installs into, which are not its sources.
const NOT_SOURCES: &[&str] = &["node_modules", "dist", "build", "__pycache__", "target"];

/// The component built from `project` (a folder of this repository, such
/// as `plugins/stripe-to-slack-ts`), as a path.
pub fn built(project: &str) -> String {
    static BUILT: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    // One build at a time: npm and the Python toolchain install into shared
    // folders, and the machine has two cores.
    let mut built = BUILT.get_or_init(Mutex::default).lock().unwrap();
    if let Some(path) = built.get(project) {
        return path.clone();
    }
    let root = repository();
    let dir = root.join(project);
    let sdk = if dir.join("package.json").exists() {
        "plugin-sdk/js"
    } else {
        "plugin-sdk/python"
    };
    let mut hasher = DefaultHasher::new();
    for sources in [dir.clone(), root.join(sdk), root.join("wit")] {
        hash_tree(&sources, &mut hasher);
    }
    let name = project.rsplit('/').next().unwrap();
    let kept = root
        .join("target/plugin-builds/languages")
        .join(format!("{name}-{:016x}.wasm", hasher.finish()));
    if !kept.exists() {
        let out = std::process::Command::new(hookhost_bin())
            .args(["plugin", "build"])
            .arg(&dir)
            .env_remove("CARGO_TARGET_DIR")
            .env("XDG_CACHE_HOME", cli_cache())
            .output()
            .expect("run hookhost plugin build");
        assert!(
            out.status.success(),
            "hookhost plugin build {project} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let wasm = stdout
            .lines()
            .last()
            .expect("the build prints its component");
        std::fs::create_dir_all(kept.parent().unwrap()).unwrap();
        std::fs::copy(wasm.trim(), &kept).unwrap();
    }
    let path = kept.display().to_string();
    built.insert(project.to_owned(), path.clone());
    path
}

/// The component built from `project`, compiled into the shared runtime
/// once and kept loaded: a language runtime's component takes seconds to
/// compile, which no test's own time bound should pay.
pub fn loaded(project: &str) -> Arc<Plugin> {
    static LOADED: OnceLock<Mutex<HashMap<String, Arc<Plugin>>>> = OnceLock::new();
    let path = built(project);
    let mut loaded = LOADED.get_or_init(Mutex::default).lock().unwrap();
    if let Some(plugin) = loaded.get(project) {
        return plugin.clone();
    }
    let wasm = std::fs::read(&path).unwrap();
    let plugin = block_on_within(std::time::Duration::from_secs(600), runtime().load(&wasm))
        .unwrap_or_else(|e| panic!("{project} does not load: {e}"));
    loaded.insert(project.to_owned(), plugin.clone());
    plugin
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// Hashes the names and contents of the source files under `path`.
fn hash_tree(path: &Path, hasher: &mut DefaultHasher) {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                !p.file_name()
                    .is_some_and(|n| NOT_SOURCES.iter().any(|skip| n == *skip))
            })
            .collect();
        entries.sort();
        for entry in entries {
            hash_tree(&entry, hasher);
        }
    } else {
        path.hash(hasher);
        std::fs::read(path).unwrap_or_default().hash(hasher);
    }
}
