//! The host's only generated code: bindings for the `hookhost:plugin/handler`
//! world in each version the host runs, 0.2.0 from `wit/` and 0.1.0 from its
//! frozen copy in `wit/0.1.0/` (wit-parser reads only a directory's own
//! `*.wit` files and its `deps/`, so the two packages never meet).
//!
//! Every import is async so that capabilities can do I/O (HTTP, the store)
//! without blocking the executor while the guest waits.

use std::fmt;

use wasmtime::Store;

use super::Event;
use super::state::State;

mod current {
    wasmtime::component::bindgen!({
        world: "handler",
        path: "../wit",
        imports: { default: async },
        exports: { default: async },
    });
}

mod released_v0_1 {
    wasmtime::component::bindgen!({
        world: "handler",
        path: "../wit/0.1.0",
        imports: { default: async },
        exports: { default: async },
    });
}

pub(crate) use current::hookhost::plugin::{config, http_out, kv, log, secret, types};
pub(crate) use current::{Handler, HandlerPre};

/// `hookhost:plugin@0.1.0`, which `runtime::compat` implements on top of the current version.
pub(crate) mod v0_1 {
    pub(crate) use super::released_v0_1::hookhost::plugin::{config, http_out, kv, log, types};
    pub(crate) use super::released_v0_1::{Handler, HandlerPre};
}

/// The version of the `hookhost:plugin/handler` world a component was built against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum World {
    /// `hookhost:plugin@0.1.0`: no secrets, no `retry-after`.
    V0_1,
    /// `hookhost:plugin@0.2.0`, the current one.
    V0_2,
}

impl World {
    /// Every version the host runs, newest first: the order in which a
    /// component that names none in its imports is tried.
    pub const ALL: [World; 2] = [World::V0_2, World::V0_1];

    /// The package version, as in `hookhost:plugin/log@0.2.0`.
    pub fn version(self) -> &'static str {
        match self {
            World::V0_1 => "0.1.0",
            World::V0_2 => "0.2.0",
        }
    }

    /// The interfaces of the package.
    pub(crate) fn interfaces(self) -> &'static [&'static str] {
        match self {
            World::V0_1 => &["types", "http-out", "kv", "log", "config"],
            World::V0_2 => &["types", "http-out", "kv", "log", "config", "secret"],
        }
    }

    /// The version named `version`, if the host runs it.
    pub(crate) fn of_version(version: &str) -> Option<World> {
        World::ALL.into_iter().find(|w| w.version() == version)
    }
}

impl fmt::Display for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hookhost:plugin/handler@{}", self.version())
    }
}

/// A component pre-instantiated as a handler of its world.
pub(crate) enum AnyHandlerPre {
    V0_1(v0_1::HandlerPre<State>),
    V0_2(HandlerPre<State>),
}

impl AnyHandlerPre {
    pub(crate) fn world(&self) -> World {
        match self {
            AnyHandlerPre::V0_1(_) => World::V0_1,
            AnyHandlerPre::V0_2(_) => World::V0_2,
        }
    }

    /// Instantiates the component and calls `handle`, its answer in the
    /// current version's terms whatever the component's version.
    pub(crate) async fn handle(
        &self,
        store: &mut Store<State>,
        event: Event,
    ) -> wasmtime::Result<Result<(), types::HandlerError>> {
        match self {
            AnyHandlerPre::V0_2(pre) => {
                let handler = pre.instantiate_async(&mut *store).await?;
                handler.call_handle(store, &event.into()).await
            }
            AnyHandlerPre::V0_1(pre) => {
                let handler = pre.instantiate_async(&mut *store).await?;
                let answer = handler.call_handle(store, &event.into()).await?;
                Ok(answer.map_err(Into::into))
            }
        }
    }
}

impl From<Event> for types::Event {
    fn from(e: Event) -> Self {
        Self {
            id: e.id,
            tenant: e.tenant,
            endpoint: e.endpoint,
            provider: e.provider,
            event_type: e.event_type,
            received_at_ms: e.received_at_ms,
            attempt: e.attempt,
            headers: e.headers,
            body: e.body,
        }
    }
}
