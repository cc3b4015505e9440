//! `hookhost plugin new`: a handler project in any supported language that
//! builds as it is, from the templates under `scaffold/`.
//!
//! Each template's `{name}` becomes the project's name and `{sdk}` the path
//! from the project to the language's SDK, relative where it can be, so a
//! project inside a checkout keeps building when the checkout moves.

use std::path::{Path, PathBuf};

use super::CliError;
use super::build::{Language, sources};
use crate::ids::PluginName;

/// A file of a new project: its path in the project and its template.
type Template = (&'static str, &'static str);

const EVENT: Template = (
    "fixtures/event.json",
    include_str!("scaffold/event.json.txt"),
);

const RUST: &[Template] = &[
    ("Cargo.toml", include_str!("scaffold/Cargo.toml.txt")),
    (
        ".cargo/config.toml",
        include_str!("scaffold/config.toml.txt"),
    ),
    ("src/lib.rs", include_str!("scaffold/lib.rs.txt")),
    (".gitignore", "target/\n"),
    EVENT,
];

const TYPESCRIPT: &[Template] = &[
    ("package.json", include_str!("scaffold/ts/package.json.txt")),
    (".npmrc", include_str!("scaffold/ts/.npmrc.txt")),
    (
        "tsconfig.json",
        include_str!("scaffold/ts/tsconfig.json.txt"),
    ),
    (
        "src/handler.ts",
        include_str!("scaffold/ts/src/handler.ts.txt"),
    ),
    (".gitignore", include_str!("scaffold/ts/.gitignore.txt")),
    EVENT,
];

const JAVASCRIPT: &[Template] = &[
    ("package.json", include_str!("scaffold/js/package.json.txt")),
    (".npmrc", include_str!("scaffold/js/.npmrc.txt")),
    (
        "src/handler.js",
        include_str!("scaffold/js/src/handler.js.txt"),
    ),
    (".gitignore", include_str!("scaffold/js/.gitignore.txt")),
    EVENT,
];

const PYTHON: &[Template] = &[
    (
        "pyproject.toml",
        include_str!("scaffold/python/pyproject.toml.txt"),
    ),
    ("handler.py", include_str!("scaffold/python/handler.py.txt")),
    (".gitignore", include_str!("scaffold/python/.gitignore.txt")),
    EVENT,
];

impl Language {
    /// The project's files.
    fn templates(self) -> &'static [Template] {
        match self {
            Language::Rust => RUST,
            Language::Ts => TYPESCRIPT,
            Language::Js => JAVASCRIPT,
            Language::Python => PYTHON,
        }
    }

    /// The SDK beside this binary's sources.
    fn default_sdk(self) -> PathBuf {
        sources().join(match self {
            Language::Rust => "plugin-sdk",
            Language::Ts | Language::Js => "plugin-sdk/js",
            Language::Python => "plugin-sdk/python",
        })
    }

    /// The component `plugin build` writes for a project named `name`.
    fn component(self, name: &str) -> String {
        match self {
            Language::Rust => format!(
                "{name}/target/wasm32-wasip2/release/{}.wasm",
                name.replace('-', "_")
            ),
            Language::Ts | Language::Js | Language::Python => format!("{name}/dist/{name}.wasm"),
        }
    }
}

/// Writes a new project `name` in `lang` into the folder `name`.
pub(crate) fn new(name: &str, lang: Language, sdk: Option<PathBuf>) -> Result<(), CliError> {
    let name = PluginName::new(name).map_err(|e| CliError::Usage(e.to_string()))?;
    let name = name.as_str();
    let dir = PathBuf::from(name);
    if dir.exists() {
        return Err(CliError::Usage(format!("{} already exists", dir.display())));
    }
    let sdk = sdk.unwrap_or_else(|| lang.default_sdk());
    let sdk = sdk.canonicalize().map_err(|_| {
        CliError::Usage(format!(
            "the SDK is not at {}: pass --sdk PATH to the SDK's folder in a hookhost checkout",
            sdk.display()
        ))
    })?;
    let here = std::env::current_dir()
        .map_err(CliError::io("reading the current directory"))?
        .join(&dir);
    let sdk = pathdiff::diff_paths(&sdk, &here).unwrap_or(sdk);
    for (file, template) in lang.templates() {
        let text = template
            .replace("{name}", name)
            .replace("{sdk}", &sdk.display().to_string());
        write(&dir.join(file), &text)?;
    }
    println!("created {name}: build it with `hookhost plugin build {name}`, then");
    println!(
        "  hookhost plugin test {} --event {name}/fixtures/event.json --event-type invoice.paid",
        lang.component(name)
    );
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<(), CliError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(CliError::io("creating the project"))?;
    }
    std::fs::write(path, text).map_err(CliError::io(format!("writing {}", path.display())))
}
