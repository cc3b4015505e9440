//! `hookhost plugin build`: a plugin project in any supported language into
//! a component, with the toolchain its manifest names, installed from the
//! registries on first use.
//!
//! Rust crates build with cargo; JavaScript and TypeScript projects with
//! npm, the SDK's bundler and componentize-js; Python projects with the
//! SDK's `build.py` and componentize-py. Every language builds against the
//! WIT this binary runs, which it carries and hands to the toolchain.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

use super::CliError;

/// The componentize-py release Python plugins are built with; its
/// toolchain is kept under the user's cache directory, one per release.
pub(crate) const COMPONENTIZE_PY: &str = "0.25.1";

/// The language of a plugin project, told by its manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Language {
    /// A crate (Cargo.toml).
    Rust,
    /// An npm package (package.json) whose handler is TypeScript.
    Ts,
    /// An npm package (package.json) whose handler is JavaScript.
    Js,
    /// A Python project (pyproject.toml).
    Python,
}

impl Language {
    /// The language of the project in `dir`, by its manifest.
    pub(crate) fn of(dir: &Path) -> Result<Self, CliError> {
        if dir.join("Cargo.toml").exists() {
            Ok(Self::Rust)
        } else if dir.join("package.json").exists() {
            Ok(Self::Js)
        } else if dir.join("pyproject.toml").exists() {
            Ok(Self::Python)
        } else {
            Err(CliError::Usage(format!(
                "{} holds no Cargo.toml, package.json or pyproject.toml: `hookhost plugin new NAME --lang rust|ts|js|python` makes a project",
                dir.display()
            )))
        }
    }
}

/// Builds the project in `dir` and returns the components it produced.
pub(crate) fn build(dir: &Path) -> Result<Vec<PathBuf>, CliError> {
    match Language::of(dir)? {
        Language::Rust => cargo(dir),
        Language::Ts | Language::Js => npm(dir).map(|wasm| vec![wasm]),
        Language::Python => python(dir).map(|wasm| vec![wasm]),
    }
}

/// Runs `cargo build --release --target wasm32-wasip2` in `dir`.
fn cargo(dir: &Path) -> Result<Vec<PathBuf>, CliError> {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(dir)
        .stderr(Stdio::inherit())
        .output()
        .map_err(CliError::io("running cargo (is Rust installed?)"))?;
    if !output.status.success() {
        return Err(CliError::Build(format!(
            "cargo build failed in {} (if the wasm32-wasip2 target is missing: rustup target add wasm32-wasip2)",
            dir.display()
        )));
    }
    let wasm: Vec<PathBuf> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|msg| msg["reason"] == "compiler-artifact")
        .flat_map(|msg| {
            msg["filenames"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f.as_str().map(PathBuf::from))
                .collect::<Vec<_>>()
        })
        .filter(|f| f.extension().is_some_and(|e| e == "wasm"))
        .collect();
    if wasm.is_empty() {
        return Err(CliError::Build(format!(
            "{} produced no .wasm: is it a crate with crate-type = [\"cdylib\"]?",
            dir.display()
        )));
    }
    Ok(wasm)
}

/// Installs the project's npm packages when they are missing or older than
/// its manifest or a local package it links, then runs its `build` script,
/// which writes `dist/<name>.wasm`.
fn npm(dir: &Path) -> Result<PathBuf, CliError> {
    let manifest = std::fs::read_to_string(dir.join("package.json"))
        .map_err(CliError::io("reading package.json"))?;
    let manifest: serde_json::Value = serde_json::from_str(&manifest)
        .map_err(|e| CliError::Usage(format!("package.json is not valid JSON: {e}")))?;
    let name = manifest["name"]
        .as_str()
        .ok_or_else(|| CliError::Usage("package.json has no \"name\"".into()))?;
    let name = name.rsplit('/').next().unwrap_or(name);
    if needs_install(dir, &manifest) {
        // npm keeps a copied local package it finds installed, edited or not.
        for stale in stale_local_packages(dir, &manifest) {
            let copy = dir.join("node_modules").join(stale);
            std::fs::remove_dir_all(&copy)
                .map_err(CliError::io(format!("removing {}", copy.display())))?;
        }
        eprintln!(
            "installing {name}'s npm packages (the hookhost SDK, componentize-js, esbuild) from the npm registry"
        );
        run(
            Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(dir),
            "npm install",
            "is Node.js with npm installed?",
        )?;
        // npm leaves its record alone when nothing changed; it marks the install.
        if let Ok(record) = std::fs::File::options()
            .append(true)
            .open(dir.join("node_modules/.package-lock.json"))
        {
            let _ = record.set_modified(SystemTime::now());
        }
    }
    let wit = Wit::write()?;
    let started = SystemTime::now();
    run(
        Command::new("npm")
            .args(["run", "--silent", "build"])
            .env("HOOKHOST_WIT", wit.dir())
            .current_dir(dir),
        "npm run build",
        "is Node.js with npm installed?",
    )?;
    built(dir, name, started)
}

/// Whether `node_modules` is missing, older than `package.json` or
/// `package-lock.json` (a pull that moved a pinned version), or holds a
/// stale copy of a local package (see [`stale_local_packages`]).
fn needs_install(dir: &Path, manifest: &serde_json::Value) -> bool {
    match modified(&dir.join("node_modules/.package-lock.json")) {
        None => true,
        Some(installed) => {
            ["package.json", "package-lock.json"]
                .iter()
                .any(|file| modified(&dir.join(file)).is_some_and(|at| at > installed))
                || !stale_local_packages(dir, manifest).is_empty()
        }
    }
}

/// The local (`file:`) packages the project depends on that changed since
/// they were installed: with `install-links`, npm copies such a package
/// (the SDK, say) into `node_modules`, so an edit of it needs a new copy.
fn stale_local_packages<'m>(dir: &Path, manifest: &'m serde_json::Value) -> Vec<&'m str> {
    let Some(installed) = modified(&dir.join("node_modules/.package-lock.json")) else {
        return Vec::new();
    };
    ["dependencies", "devDependencies"]
        .iter()
        .filter_map(|field| manifest[field].as_object())
        .flatten()
        .filter_map(|(name, spec)| Some((name, spec.as_str()?.strip_prefix("file:")?)))
        .filter(|(name, local)| {
            dir.join("node_modules").join(name).exists() && newer_than(&dir.join(local), installed)
        })
        .map(|(name, _)| name.as_str())
        .collect()
}

/// Whether any file under `path`, outside `node_modules`, changed after `at`.
fn newer_than(path: &Path, at: SystemTime) -> bool {
    if path.file_name().is_some_and(|n| n == "node_modules") {
        return false;
    }
    if path.is_dir() {
        std::fs::read_dir(path)
            .into_iter()
            .flatten()
            .flatten()
            .any(|entry| newer_than(&entry.path(), at))
    } else {
        modified(path).is_some_and(|m| m > at)
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Runs the SDK's `build.py` for the project with the componentize-py
/// toolchain, which writes `dist/<name>.wasm`.
fn python(dir: &Path) -> Result<PathBuf, CliError> {
    let manifest = std::fs::read_to_string(dir.join("pyproject.toml"))
        .map_err(CliError::io("reading pyproject.toml"))?;
    let manifest: toml_edit::DocumentMut = manifest
        .parse()
        .map_err(|e| CliError::Usage(format!("pyproject.toml: {e}")))?;
    let name = manifest["project"]["name"]
        .as_str()
        .ok_or_else(|| CliError::Usage("pyproject.toml has no [project] name".into()))?;
    let sdk = match manifest["tool"]["hookhost"]["sdk"].as_str() {
        Some(sdk) => dir.join(sdk),
        None => sources().join("plugin-sdk/python"),
    };
    let script = sdk.join("build.py");
    if !script.exists() {
        return Err(CliError::Usage(format!(
            "the Python SDK is not at {}: set [tool.hookhost] sdk in pyproject.toml to the plugin-sdk/python folder of a hookhost checkout",
            sdk.display()
        )));
    }
    let python = python_toolchain()?;
    let wit = Wit::write()?;
    let started = SystemTime::now();
    run(
        Command::new(python)
            .arg(&script)
            .arg("--wit")
            .arg(wit.dir())
            .arg(dir),
        "build.py",
        "see its message above",
    )?;
    built(dir, name, started)
}

/// A Python with componentize-py, in a virtual environment under the
/// user's cache directory made on first use. It is made beside its place
/// and renamed into it, so builds running at once never see half of one.
fn python_toolchain() -> Result<PathBuf, CliError> {
    let home = cache_home()
        .ok_or_else(|| CliError::Usage("set HOME or XDG_CACHE_HOME for the toolchain".into()))?;
    let venv = home.join(format!("componentize-py-{COMPONENTIZE_PY}"));
    let python = venv.join("bin/python");
    if python.exists() {
        return Ok(python);
    }
    eprintln!(
        "installing componentize-py {COMPONENTIZE_PY} from PyPI into {} (first Python build only)",
        venv.display()
    );
    std::fs::create_dir_all(&home).map_err(CliError::io("creating the cache directory"))?;
    let fresh = tempfile::tempdir_in(&home).map_err(CliError::io("creating a toolchain"))?;
    run(
        Command::new("python3")
            .args(["-m", "venv"])
            .arg(fresh.path()),
        "python3 -m venv",
        "is Python 3.11 or later installed, with its venv module?",
    )?;
    run(
        Command::new(fresh.path().join("bin/pip")).args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            &format!("componentize-py=={COMPONENTIZE_PY}"),
        ]),
        "pip install componentize-py",
        "is PyPI reachable?",
    )?;
    // Renamed into place whole, so a build never runs half a toolchain; a
    // concurrent build that won the race keeps its own. The scripts in the
    // venv's bin/ name the staging path, so builds run only its python
    // (build.py calls pip and componentize-py as modules).
    let staged = fresh.keep();
    if std::fs::rename(&staged, &venv).is_err() {
        let _ = std::fs::remove_dir_all(&staged);
    }
    if python.exists() {
        Ok(python)
    } else {
        Err(CliError::Build(format!(
            "the Python toolchain at {} is incomplete: delete it and build again",
            venv.display()
        )))
    }
}

/// hookhost's directory in the user's cache (`$XDG_CACHE_HOME/hookhost`,
/// else `~/.cache/hookhost`): toolchains and compiled components kept
/// between runs of the CLI.
pub(crate) fn cache_home() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CACHE_HOME") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(std::env::var_os("HOME")?).join(".cache"),
    };
    Some(base.join("hookhost"))
}

/// The hookhost checkout this binary was built from: where the SDKs live
/// unless a project says otherwise.
pub(crate) fn sources() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The component a build wrote, which must be newer than the build.
fn built(dir: &Path, name: &str, started: SystemTime) -> Result<PathBuf, CliError> {
    let wasm = dir.join("dist").join(format!("{name}.wasm"));
    match modified(&wasm) {
        Some(at) if at >= started => Ok(wasm),
        _ => Err(CliError::Build(format!(
            "the build did not write {}",
            wasm.display()
        ))),
    }
}

/// Runs a build step with its output shown; a failure names the step.
fn run(command: &mut Command, step: &str, hint: &str) -> Result<(), CliError> {
    let status = command
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()
        .map_err(|e| CliError::Build(format!("{step} could not start ({e}): {hint}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(CliError::Build(format!("{step} failed ({status})")))
    }
}

/// The WIT of the world this binary runs, written out for a toolchain.
struct Wit(tempfile::TempDir);

/// The `.wit` files of the current world, as compiled into this binary.
const WIT_FILES: &[(&str, &str)] = &[
    ("config.wit", include_str!("../../../wit/config.wit")),
    ("http-out.wit", include_str!("../../../wit/http-out.wit")),
    ("kv.wit", include_str!("../../../wit/kv.wit")),
    ("log.wit", include_str!("../../../wit/log.wit")),
    ("secret.wit", include_str!("../../../wit/secret.wit")),
    ("types.wit", include_str!("../../../wit/types.wit")),
    ("world.wit", include_str!("../../../wit/world.wit")),
];

impl Wit {
    fn write() -> Result<Self, CliError> {
        let dir = tempfile::tempdir().map_err(CliError::io("writing the WIT"))?;
        for (name, text) in WIT_FILES {
            std::fs::write(dir.path().join(name), text).map_err(CliError::io("writing the WIT"))?;
        }
        Ok(Self(dir))
    }

    fn dir(&self) -> &Path {
        self.0.path()
    }
}
