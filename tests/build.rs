//! Builds the example plugins (plugins/) and the test plugins (tests/plugins/)
//! for wasm32-wasip2 once per change, and emits a path constant per component.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.parent().unwrap().to_owned();
    for watched in ["plugins", "plugin-sdk", "wit", "tests/plugins"] {
        watch(&root.join(watched));
    }
    let target = root.join("target").join("plugin-builds");
    let mut consts = String::new();
    for (workspace, name) in [("plugins", "examples"), ("tests/plugins", "adversarial")] {
        let dir = root.join(workspace);
        let target_dir = target.join(name);
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "--target-dir",
            ])
            .arg(&target_dir)
            .current_dir(&dir)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET")
            .status()
            .expect("run cargo");
        assert!(
            status.success(),
            "building {workspace} for wasm32-wasip2 failed (is the target installed? rustup target add wasm32-wasip2)"
        );
        let out = target_dir.join("wasm32-wasip2").join("release");
        for member in members(&dir) {
            let file = out.join(format!("{}.wasm", member.replace('-', "_")));
            assert!(file.exists(), "{} was not built", file.display());
            consts.push_str(&format!(
                "/// The `{member}` component from {workspace}/.\npub const {}: &str = {:?};\n",
                member.to_uppercase().replace('-', "_"),
                file.display().to_string()
            ));
        }
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("plugins.rs");
    std::fs::write(out, consts).unwrap();
}

/// The crate folders of a plugin workspace (each has a Cargo.toml).
fn members(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn watch(path: &Path) {
    // What builds write or install, not sources: the JavaScript and Python
    // projects are built by the tests themselves (tests/src/projects.rs).
    if path.file_name().is_some_and(|n| {
        ["target", "node_modules", "dist", "build", "__pycache__"]
            .iter()
            .any(|skip| n == *skip)
    }) {
        return;
    }
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap().flatten() {
            watch(&entry.path());
        }
    } else {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
