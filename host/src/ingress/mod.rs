//! Inbound webhooks: checking that a delivery really comes from the sender an
//! endpoint trusts, by each provider's own signature scheme.

mod client_addr;
mod hooks;
pub mod providers;
mod rate;
pub mod verify;

pub use hooks::{Accepted, IngressError, IngressState, Limit, routes};
pub use rate::IngestRates;
