//! Whether a component is a handler this host can run, said in words a plugin author can act on.

use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

/// Import prefixes the host provides: its own interfaces and the WASI 0.2
/// interfaces Rust's `wasm32-wasip2` std links against.
const PROVIDED: &[&str] = &["hookhost:plugin/", "wasi:"];

/// The layer field of a component's preamble (a core module has `01 00 00 00`).
const COMPONENT_PREAMBLE: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

/// Refuses what is not even a component, before spending time compiling it.
pub(crate) fn check_preamble(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err("not a WebAssembly binary (it does not start with \\0asm)".into());
    }
    if bytes[..8] != COMPONENT_PREAMBLE {
        return Err(
            "this is a core WebAssembly module, not a component: build the handler with `--target wasm32-wasip2` (hookhost plugin build does)".into(),
        );
    }
    Ok(())
}

/// Checks the component's exports and imports against the `handler` world.
/// Returns the import names on success.
pub(crate) fn check_world(engine: &Engine, component: &Component) -> Result<Vec<String>, String> {
    let ty = component.component_type();
    let handle = ty.exports(engine).find(|(name, _)| *name == "handle");
    match handle.map(|(_, export)| export.ty) {
        Some(ComponentItem::ComponentFunc(_)) => {}
        Some(_) => return Err("the export `handle` is not a function".into()),
        None => {
            let exports: Vec<_> = ty.exports(engine).map(|(n, _)| n.to_owned()).collect();
            return Err(format!(
                "the component does not export `handle` of world hookhost:plugin/handler@0.1.0 (it exports: {}); use #[hookhost_sdk::handler]",
                if exports.is_empty() {
                    "nothing".into()
                } else {
                    exports.join(", ")
                }
            ));
        }
    }
    let imports: Vec<String> = ty.imports(engine).map(|(n, _)| n.to_owned()).collect();
    let unknown: Vec<&str> = imports
        .iter()
        .filter(|name| !PROVIDED.iter().any(|p| name.starts_with(p)))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "the component imports {}, which hookhost does not provide; a handler may import only hookhost:plugin/* and WASI 0.2",
            unknown.join(", ")
        ));
    }
    Ok(imports)
}
