//! Whether a component is a handler this host can run, and of which version
//! of the world, said in words a plugin author can act on.

use wasmtime::Engine;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, InstancePre};

use super::bindings::{AnyHandlerPre, HandlerPre, World, v0_1};
use super::state::State;

/// Import prefixes the host provides: its own interfaces and the WASI 0.2
/// interfaces Rust's `wasm32-wasip2` std links against.
const PROVIDED: &[&str] = &[HOOKHOST, "wasi:"];

/// The prefix of the host's own interfaces, followed by `name@version`.
const HOOKHOST: &str = "hookhost:plugin/";

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

/// What [`check_world`] found.
pub(crate) struct Checked {
    /// Every import's name.
    pub(crate) imports: Vec<String>,
    /// The world the `hookhost:plugin` imports belong to; `None` when the
    /// component imports none of them.
    pub(crate) world: Option<World>,
}

/// Checks the component's exports and imports against the `handler` world
/// in the versions the host runs.
pub(crate) fn check_world(engine: &Engine, component: &Component) -> Result<Checked, String> {
    let ty = component.component_type();
    let handle = ty.exports(engine).find(|(name, _)| *name == "handle");
    match handle.map(|(_, export)| export.ty) {
        Some(ComponentItem::ComponentFunc(_)) => {}
        Some(_) => return Err("the export `handle` is not a function".into()),
        None => {
            let exports: Vec<_> = ty.exports(engine).map(|(n, _)| n.to_owned()).collect();
            return Err(format!(
                "the component does not export `handle` of world {} (it exports: {}); use #[hookhost_sdk::handler]",
                World::V0_2,
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
    let world = imported_world(&imports)?;
    Ok(Checked { imports, world })
}

/// The one world whose interfaces the component imports, if any.
fn imported_world(imports: &[String]) -> Result<Option<World>, String> {
    let mut found: Option<World> = None;
    for import in imports {
        let Some(interface) = import.strip_prefix(HOOKHOST) else {
            continue;
        };
        let (name, version) = interface.split_once('@').unwrap_or((interface, ""));
        let world = World::of_version(version).ok_or_else(|| {
            format!(
                "the component imports {import}, a version of hookhost:plugin this host does not run; it runs handlers built against {}",
                versions()
            )
        })?;
        if !world.interfaces().contains(&name) {
            return Err(format!(
                "the component imports {import}, but hookhost:plugin@{} has no interface `{name}` (it has {}); build the handler against one version of wit/",
                world.version(),
                world.interfaces().join(", ")
            ));
        }
        match found {
            Some(other) if other != world => {
                return Err(format!(
                    "the component imports interfaces of both hookhost:plugin@{} and @{}; a handler is built against one version of the world",
                    other.version(),
                    world.version()
                ));
            }
            _ => found = Some(world),
        }
    }
    Ok(found)
}

/// The component typed as a handler: of the world its imports name, or of
/// the newest whose `handle` it fits when it imports nothing of the host's.
pub(crate) fn handler(
    pre: InstancePre<State>,
    world: Option<World>,
) -> Result<AnyHandlerPre, String> {
    let candidates = match world {
        Some(world) => vec![world],
        None => World::ALL.to_vec(),
    };
    let mut misfits = Vec::new();
    for world in candidates {
        let typed = match world {
            World::V0_2 => HandlerPre::new(pre.clone()).map(AnyHandlerPre::V0_2),
            World::V0_1 => v0_1::HandlerPre::new(pre.clone()).map(AnyHandlerPre::V0_1),
        };
        match typed {
            Ok(handler) => return Ok(handler),
            Err(e) => misfits.push(format!("{world}: {e:#}")),
        }
    }
    Err(match world {
        Some(world) => format!(
            "the export `handle` does not have the type {world} gives it, the world whose interfaces the component imports ({}); build it against one version of wit/ throughout",
            misfits.join("")
        ),
        None => format!(
            "the export `handle` has the type of no handler world this host runs ({}): it must be `handle: func(event: event) -> result<_, handler-error>` of {}",
            misfits.join("; "),
            versions()
        ),
    })
}

/// The versions the host runs, for messages.
fn versions() -> String {
    World::ALL
        .iter()
        .map(|w| format!("hookhost:plugin@{}", w.version()))
        .collect::<Vec<_>>()
        .join(" or ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world_of(imports: &[&str]) -> Result<Option<World>, String> {
        imported_world(&imports.iter().map(|i| (*i).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn the_imports_name_the_world_or_none_when_they_hold_nothing_of_the_hosts() {
        assert_eq!(
            world_of(&["wasi:cli/stdout@0.2.6", "hookhost:plugin/kv@0.1.0"]),
            Ok(Some(World::V0_1))
        );
        assert_eq!(
            world_of(&["hookhost:plugin/secret@0.2.0", "hookhost:plugin/log@0.2.0"]),
            Ok(Some(World::V0_2))
        );
        assert_eq!(world_of(&["wasi:cli/stdout@0.2.6"]), Ok(None));
    }

    #[test]
    fn a_version_the_host_does_not_run_is_refused_naming_those_it_does() {
        let reason = world_of(&["hookhost:plugin/kv@0.3.0"]).unwrap_err();
        assert!(reason.contains("hookhost:plugin/kv@0.3.0"), "{reason}");
        assert!(
            reason.contains("hookhost:plugin@0.2.0 or hookhost:plugin@0.1.0"),
            "{reason}"
        );
        assert!(world_of(&["hookhost:plugin/kv"]).is_err());
    }

    #[test]
    fn an_interface_its_version_lacks_is_refused_naming_what_it_has() {
        let reason = world_of(&["hookhost:plugin/secret@0.1.0"]).unwrap_err();
        assert!(
            reason.contains("hookhost:plugin@0.1.0 has no interface `secret`"),
            "{reason}"
        );
        assert!(
            reason.contains("types, http-out, kv, log, config"),
            "{reason}"
        );
    }

    #[test]
    fn imports_of_two_versions_are_refused() {
        let reason =
            world_of(&["hookhost:plugin/log@0.2.0", "hookhost:plugin/kv@0.1.0"]).unwrap_err();
        assert!(
            reason.contains("both hookhost:plugin@0.2.0 and @0.1.0"),
            "{reason}"
        );
    }
}
