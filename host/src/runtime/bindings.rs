//! The host's only generated code: bindings for the `hookhost:plugin/handler` world.
//!
//! Every import is async so that capabilities can do I/O (HTTP, the store)
//! without blocking the executor while the guest waits.

mod generated {
    wasmtime::component::bindgen!({
        world: "handler",
        path: "../wit",
        imports: { default: async },
        exports: { default: async },
    });
}

pub(crate) use generated::hookhost::plugin::{config, http_out, kv, log, types};
pub(crate) use generated::{Handler, HandlerPre};
