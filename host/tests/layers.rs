//! The crate's modules form layers, and a module uses only the layers below
//! it (ARCHITECTURE.md, "Layers"). This reads every source file's `crate::`
//! paths, so an arrow pointing the wrong way fails here, not in review.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Lowest first: each module may use the ones before it, never one after it.
const LAYERS: &[&str] = &[
    "ids", "domain", "config", "runtime", "store", "queue", "problem", "ingress", "api", "server",
    "cli",
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules a file names through `crate::`, including the
/// grouped form `crate::{a, b::c}`.
fn used_modules(text: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        let names: Vec<&str> = match rest.strip_prefix('{') {
            Some(group) => group[..group.find('}').unwrap_or(group.len())]
                .split(',')
                .collect(),
            None => vec![rest],
        };
        for name in names {
            let name: String = name
                .trim()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                used.insert(name);
            }
        }
    }
    used
}

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).expect("under src");
        let first = relative.components().next().expect("a component");
        let module = first
            .as_os_str()
            .to_str()
            .expect("utf-8")
            .trim_end_matches(".rs");
        let Some(level) = LAYERS.iter().position(|l| *l == module) else {
            assert!(
                ["lib", "main"].contains(&module),
                "{} belongs to no layer: add its module to LAYERS",
                relative.display()
            );
            continue;
        };
        let text = std::fs::read_to_string(file).expect("read source");
        for used in used_modules(&text) {
            match LAYERS.iter().position(|l| *l == used) {
                Some(other) if other > level => {
                    wrong.push(format!("{} uses crate::{used}", relative.display()))
                }
                _ => {}
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "dependencies pointing up:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn grouped_and_nested_paths_are_read() {
    let used =
        used_modules("use crate::{ids::TenantId, store::Store};\nlet x = crate::queue::now();");
    assert_eq!(
        used.into_iter().collect::<Vec<_>>(),
        ["ids", "queue", "store"]
    );
}
