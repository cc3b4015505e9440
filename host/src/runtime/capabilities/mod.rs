//! The capabilities a handler can import, one file each, all denied unless granted.
//!
//! Each file implements the generated `Host` trait of its WIT interface, in
//! the current version of the world, on the per-invocation
//! [`State`](super::state::State) and keeps what the attempt records about
//! its use (calls, writes, lines); `runtime::compat` serves 0.1.0 through them.

pub mod config;
pub mod egress;
pub mod http_out;
pub mod kv;
pub mod log;
pub(crate) mod secret;
pub(crate) mod stdio;

impl super::bindings::types::Host for super::state::State {}
