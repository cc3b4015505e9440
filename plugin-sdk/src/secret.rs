//! The endpoint's plugin secrets: values such as a receiver's API key, set by
//! the operator or the tenant, write-only in the admin API and encrypted at
//! rest.
//!
//! A secret's value never appears in the attempt's record: the host replaces
//! every occurrence of it in log lines, stdout and stderr, outcome messages
//! and recorded outbound calls (URL, error) with `[secret NAME]`. Only the
//! exact value is found: one encoded (base64, percent-encoded, hashed),
//! transformed or split (across two log lines) is kept as written, so never
//! log what you derive from a secret. Request headers and bodies are not
//! recorded at all; what you store with [`kv`](crate::kv) is your own data,
//! kept as written.
//!
//! ```no_run
//! use hookhost_sdk::{http::Request, reject, secret};
//!
//! # fn main() -> Result<(), hookhost_sdk::HandlerError> {
//! let key = secret::get("api_key").ok_or_else(|| reject("secret api_key not set"))?;
//! Request::post("https://api.example.com/orders")
//!     .header("authorization", format!("Bearer {key}"))
//!     .send()?
//!     .error_for_status()?;
//! # Ok(())
//! # }
//! ```

use crate::wit::hookhost::plugin::secret as wit;

/// The value of the secret `name`, if the endpoint defines it.
pub fn get(name: &str) -> Option<String> {
    wit::get(name)
}
