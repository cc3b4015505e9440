//! hookhost: receive webhooks, verify them, store them durably, and run a
//! sandboxed WebAssembly handler for each one.
//!
//! # Layout
//!
//! - [`ingress`]: `POST /hooks/...`: per-provider verification, then enqueue.
//! - [`queue`]: group commit, fair claiming with leases, workers, retries.
//! - [`runtime`]: the wasmtime sandbox and the capabilities a handler imports.
//! - [`store`]: the only place SQL is written.
//! - [`api`]: errors as problem documents, probes (the admin API grows here).
//! - [`server`]: wires the stages together on a listener.
//! - [`cli`]: the `hookhost` command line.
//! - [`ids`]: identifier newtypes shared by every stage.

pub mod api;
pub mod cli;
pub mod ids;
pub mod ingress;
pub mod queue;
pub mod runtime;
pub mod server;
pub mod store;
