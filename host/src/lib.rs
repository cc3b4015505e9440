//! hookhost: receive webhooks, verify them, store them durably, and run a
//! sandboxed WebAssembly handler for each one.
//!
//! # Layout
//!
//! - [`runtime`]: the wasmtime sandbox and the capabilities a handler imports.
//! - [`store`]: the only place SQL is written.
//! - [`cli`]: the `hookhost` command line.
//! - [`ids`]: identifier newtypes shared by every stage.

pub mod cli;
pub mod ids;
pub mod runtime;
pub mod store;
