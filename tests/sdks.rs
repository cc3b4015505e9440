//! The JavaScript and Python SDKs' own unit tests, and those of the ported
//! examples, in node and CPython: the parts of each SDK that run without a
//! host, against a stand-in host.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// Runs `program args` in `dir` (a folder of the repository) and fails
/// with its output unless it succeeds.
fn passes(dir: &str, program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .current_dir(repository().join(dir))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} in {dir} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_javascript_sdk_passes_its_unit_tests_in_node() {
    // Its development packages check that the committed TypeScript types
    // are those the WIT gives.
    if !repository().join("plugin-sdk/js/node_modules").exists() {
        passes(
            "plugin-sdk/js",
            "npm",
            &["ci", "--no-audit", "--no-fund", "--loglevel=error"],
        );
    }
    passes("plugin-sdk/js", "node", &["--test"]);
}

#[test]
fn the_python_sdk_passes_its_unit_tests_in_cpython() {
    passes(
        "plugin-sdk/python",
        "python3",
        &["-m", "unittest", "discover", "-s", "tests"],
    );
}

#[test]
fn the_python_github_example_sends_the_rust_ones_bytes_in_cpython() {
    passes(
        "plugins/github-to-chat-py",
        "python3",
        &["-m", "unittest", "discover", "-s", "tests"],
    );
}
