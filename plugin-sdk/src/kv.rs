//! A key-value store private to the tenant and plugin.
//!
//! Writes are buffered and visible to the same invocation at once; they
//! commit atomically when the handler returns `Ok`, and are discarded when it
//! returns an error, panics or runs out of time. [`increment`] commits as a
//! delta, so concurrent invocations never lose an update.
//!
//! Keys are 1 to 512 bytes; values at most 1 MiB.
//!
//! ```no_run
//! use hookhost_sdk::kv;
//!
//! # fn main() -> Result<(), kv::Error> {
//! if kv::get("order:1001")?.is_none() {
//!     kv::set("order:1001", "sent")?;
//! }
//! let seen = kv::increment("orders", 1)?;
//! kv::set_json("last", &serde_json::json!({ "order": 1001, "seen": seen }))?;
//! let last: Option<serde_json::Value> = kv::get_json("last")?;
//! # let _ = last;
//! for key in kv::list("order:")? {
//!     kv::delete(&key)?;
//! }
//! # Ok(())
//! # }
//! ```

use core::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::wit::hookhost::plugin::kv as wit;

/// Why a key-value operation failed.
///
/// With `?` in a handler, [`Other`](Error::Other) becomes a
/// [`Retry`](crate::HandlerError::Retry) and every other variant a
/// [`Reject`](crate::HandlerError::Reject).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The key is empty or longer than 512 bytes.
    InvalidKey(String),
    /// The value is larger than 1 MiB, or the invocation's write budget is spent.
    TooLarge(String),
    /// The tenant's storage quota is used up.
    QuotaExceeded(String),
    /// [`increment`] found a value that is not a decimal integer.
    NotANumber(String),
    /// The store could not be read; retrying later may succeed.
    Other(String),
    /// [`get_json`] found a value that is not JSON of the expected shape, or
    /// [`set_json`] could not serialise its value.
    Decode(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidKey(m) => write!(f, "invalid key: {m}"),
            Error::TooLarge(m) => write!(f, "value too large: {m}"),
            Error::QuotaExceeded(m) => write!(f, "storage quota exceeded: {m}"),
            Error::NotANumber(m) => write!(f, "not a number: {m}"),
            Error::Other(m) => write!(f, "key-value store failed: {m}"),
            Error::Decode(m) => write!(f, "bad JSON value: {m}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<wit::Error> for Error {
    fn from(e: wit::Error) -> Self {
        match e {
            wit::Error::InvalidKey(m) => Error::InvalidKey(m),
            wit::Error::TooLarge(m) => Error::TooLarge(m),
            wit::Error::QuotaExceeded(m) => Error::QuotaExceeded(m),
            wit::Error::NotANumber(m) => Error::NotANumber(m),
            wit::Error::Other(m) => Error::Other(m),
        }
    }
}

/// The value stored under `key`, if any.
pub fn get(key: &str) -> Result<Option<Vec<u8>>, Error> {
    Ok(wit::get(key)?)
}

/// The value stored under `key` parsed as JSON, if any; a value that does not
/// parse as `T` is [`Error::Decode`].
pub fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>, Error> {
    match get(key)? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Decode(format!("{key}: {e}"))),
    }
}

/// Stores `value` under `key`, replacing what was there.
pub fn set(key: &str, value: impl AsRef<[u8]>) -> Result<(), Error> {
    Ok(wit::set(key, value.as_ref())?)
}

/// Stores `value` serialised as JSON under `key`.
pub fn set_json<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<(), Error> {
    let bytes = serde_json::to_vec(value).map_err(|e| Error::Decode(format!("{key}: {e}")))?;
    set(key, bytes)
}

/// Removes `key`; removing a missing key is not an error.
pub fn delete(key: &str) -> Result<(), Error> {
    Ok(wit::delete(key)?)
}

/// Adds `delta` to the decimal integer stored under `key` (a missing key
/// counts as 0) and returns the new value as this invocation sees it.
pub fn increment(key: &str, delta: i64) -> Result<i64, Error> {
    Ok(wit::increment(key, delta)?)
}

/// The keys that start with `prefix`, in ascending byte order.
pub fn list(prefix: &str) -> Result<Vec<String>, Error> {
    Ok(wit::list_keys(prefix)?)
}
