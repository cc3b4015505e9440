//! hookhost: receive webhooks, verify them, store them durably, and run a
//! sandboxed WebAssembly handler for each one.
//!
//! # Layout
//!
//! - [`ingress`]: `POST /hooks/...`: per-provider verification, then enqueue.
//! - [`queue`]: group commit, fair claiming with leases, workers, retries.
//! - [`runtime`]: the wasmtime sandbox and the capabilities a handler imports.
//! - [`store`]: the only place SQL is written.
//! - [`problem`]: errors as RFC 9457 problem documents.
//! - [`alerts`]: alert rules, and the sending of alerts with retries.
//! - [`api`]: the admin API under `/v1`, probes, metrics, `/openapi.json`.
//! - [`server`]: wires the stages together on a listener.
//! - [`cli`]: the `hookhost` command line.
//! - [`config`]: the server's one validated configuration.
//! - [`domain`]: endpoint configuration shared by every stage.
//! - [`ids`]: identifier newtypes shared by every stage.

pub mod alerts;
pub mod api;
pub mod cli;
pub mod config;
pub mod domain;
pub mod ids;
pub mod ingress;
pub mod problem;
pub mod queue;
pub mod runtime;
pub mod server;
pub mod store;
pub mod ui;
