//! The crate's modules form layers, and a module uses only the layers below
//! it (ARCHITECTURE.md, "Layers"). This reads every source file's `crate::`
//! paths, so an arrow pointing the wrong way fails here, not in review.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Lowest first: each module may use the ones before it, never one after it.
const LAYERS: &[&str] = &[
    "ids", "domain", "config", "runtime", "store", "queue", "problem", "ingress", "alerts", "api",
    "ui", "server", "cli",
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

/// The leading names of a path group `{a, b::{c, d}, e}`'s items, split at
/// its top-level commas.
fn group_heads(group: &str) -> Vec<&str> {
    let mut heads = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (at, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                heads.push(&group[start..at]);
                return heads;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                heads.push(&group[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    heads.push(&group[start..]);
    heads
}

fn leading_name(path: &str) -> String {
    path.trim()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// The top-level modules a file names: through `crate::` (and `$crate::`),
/// grouped or not, and through a `super::` chain that climbs out of the
/// file's own module, `depth` levels below the crate root.
fn used_modules(text: &str, depth: usize) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let mut add = |rest: &str| match rest.strip_prefix('{') {
        Some(group) => {
            for head in group_heads(group) {
                used.insert(leading_name(head));
            }
        }
        None => {
            used.insert(leading_name(rest));
        }
    };
    for (at, _) in text.match_indices("crate::") {
        add(&text[at + "crate::".len()..]);
    }
    for (at, _) in text.match_indices("super::") {
        let starts_chain = !text[..at].ends_with("super::");
        if !starts_chain {
            continue;
        }
        let mut rest = &text[at..];
        let mut climbs = 0;
        while let Some(after) = rest.strip_prefix("super::") {
            climbs += 1;
            rest = after;
        }
        if climbs >= depth {
            add(rest);
        }
    }
    used.remove("");
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
        // `store/mod.rs` is the module `store`, one level down; `store/rows.rs` two.
        let depth = relative.components().count() - usize::from(relative.ends_with("mod.rs"));
        for used in used_modules(&text, depth) {
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
fn grouped_nested_and_climbing_paths_are_read() {
    let text = "use crate::{domain::{A, B}, queue::Q};\nlet x = $crate::store::now();\n\
                use super::super::api::X;\nuse super::rows;";
    assert_eq!(
        used_modules(text, 2).into_iter().collect::<Vec<_>>(),
        ["api", "domain", "queue", "store"]
    );
    assert_eq!(
        used_modules(text, 1).into_iter().collect::<Vec<_>>(),
        ["api", "domain", "queue", "rows", "store"]
    );
}
