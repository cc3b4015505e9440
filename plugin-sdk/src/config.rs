//! The endpoint's settings, read-only.
//!
//! ```no_run
//! use hookhost_sdk::{config, reject};
//!
//! # fn main() -> Result<(), hookhost_sdk::HandlerError> {
//! let url = config::get("slack_url").ok_or_else(|| reject("slack_url not set"))?;
//! let channel = config::get("channel").unwrap_or_else(|| "#general".to_string());
//! # let _ = (url, channel);
//! for (key, value) in config::all() {
//!     hookhost_sdk::debug!("{key} = {value}");
//! }
//! # Ok(())
//! # }
//! ```

use crate::wit::hookhost::plugin::config as wit;

/// The value of the setting `key`, if the endpoint defines it.
pub fn get(key: &str) -> Option<String> {
    wit::get(key)
}

/// Every setting of the endpoint, sorted by key.
pub fn all() -> Vec<(String, String)> {
    wit::get_all()
}
