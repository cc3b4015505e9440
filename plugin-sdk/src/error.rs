use core::fmt;
use std::time::Duration;

use crate::wit::hookhost::plugin::types::RetryLater;
use crate::{http, kv, wit};

/// `Result` with [`HandlerError`] as the default error type.
pub type Result<T, E = HandlerError> = core::result::Result<T, E>;

/// Why a handler did not succeed; the variant decides what the host does next.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HandlerError {
    /// A transient failure: the host runs the handler again later, with backoff.
    Retry(String),
    /// A permanent failure: the delivery is dead-lettered at once.
    Reject(String),
    /// A transient failure whose receiver said when to come back: the host
    /// runs the handler again no sooner than `after` from now (nor sooner
    /// than the endpoint's retry policy would), within the policy's attempts.
    /// A wait longer than one week counts as one week.
    RetryAfter {
        /// Why the handler failed.
        message: String,
        /// How long to wait at least.
        after: Duration,
    },
}

/// A transient failure: the host will run the handler again later.
///
/// ```
/// use hookhost_sdk::{HandlerError, retry};
///
/// assert_eq!(retry("database busy"), HandlerError::Retry("database busy".into()));
/// ```
pub fn retry(message: impl Into<String>) -> HandlerError {
    HandlerError::Retry(message.into())
}

/// A transient failure whose receiver said when to come back (a 429 or 503
/// with `Retry-After`, say): the host runs the handler again no sooner than
/// `after` from now, and no sooner than the endpoint's retry policy would.
/// It still counts as one of the policy's attempts, and a wait longer than one
/// week counts as one week.
///
/// With `?`, a 429 or 503 answer that carries `Retry-After` becomes this on
/// its own (see [`http::Error`]).
///
/// ```
/// use hookhost_sdk::{HandlerError, retry_after};
/// use std::time::Duration;
///
/// let err = retry_after("rate limited", Duration::from_secs(30));
/// assert!(err.is_retry());
/// assert_eq!(err.to_string(), "retry after 30 s: rate limited");
/// ```
pub fn retry_after(message: impl Into<String>, after: Duration) -> HandlerError {
    HandlerError::RetryAfter {
        message: message.into(),
        after,
    }
}

/// A permanent failure: the host dead-letters the delivery without retrying.
///
/// ```
/// use hookhost_sdk::{HandlerError, reject};
///
/// let missing: Option<String> = None;
/// let err = missing.ok_or_else(|| reject("slack_url not set")).unwrap_err();
/// assert_eq!(err, HandlerError::Reject("slack_url not set".into()));
/// ```
pub fn reject(message: impl Into<String>) -> HandlerError {
    HandlerError::Reject(message.into())
}

impl HandlerError {
    /// The message, without the variant.
    pub fn message(&self) -> &str {
        match self {
            HandlerError::Retry(m)
            | HandlerError::Reject(m)
            | HandlerError::RetryAfter { message: m, .. } => m,
        }
    }

    /// Whether the host will retry the delivery (within its retry policy).
    pub fn is_retry(&self) -> bool {
        !matches!(self, HandlerError::Reject(_))
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandlerError::Retry(m) => write!(f, "retry: {m}"),
            HandlerError::Reject(m) => write!(f, "reject: {m}"),
            HandlerError::RetryAfter { message, after } => {
                write!(f, "retry after {} s: {message}", after.as_secs())
            }
        }
    }
}

impl std::error::Error for HandlerError {}

/// JSON that cannot be parsed or does not have the expected shape will not
/// parse better next time: reject.
impl From<serde_json::Error> for HandlerError {
    fn from(e: serde_json::Error) -> Self {
        HandlerError::Reject(format!("JSON error: {e}"))
    }
}

/// Retry after the receiver's wait on a 429 or 503 that carries
/// `Retry-After`; retry on [`Timeout`](http::Error::Timeout),
/// [`Other`](http::Error::Other) (a transport failure) and the statuses 408,
/// 429 and 5xx; reject on everything else, 410 Gone included (the receiver
/// says the resource is gone for good).
impl From<http::Error> for HandlerError {
    fn from(e: http::Error) -> Self {
        match e {
            http::Error::Status {
                retry_after: Some(after),
                ..
            } => retry_after(e.to_string(), after),
            _ if e.is_transient() => HandlerError::Retry(e.to_string()),
            _ => HandlerError::Reject(e.to_string()),
        }
    }
}

/// Retry on [`Other`](kv::Error::Other) (the store could not be read); reject
/// on everything else.
impl From<kv::Error> for HandlerError {
    fn from(e: kv::Error) -> Self {
        match e {
            kv::Error::Other(_) => HandlerError::Retry(e.to_string()),
            _ => HandlerError::Reject(e.to_string()),
        }
    }
}

impl From<HandlerError> for wit::HandlerError {
    fn from(e: HandlerError) -> Self {
        match e {
            HandlerError::Retry(m) => wit::HandlerError::Retry(m),
            HandlerError::Reject(m) => wit::HandlerError::Reject(m),
            HandlerError::RetryAfter { message, after } => {
                wit::HandlerError::RetryAfter(RetryLater {
                    message,
                    after_ms: u64::try_from(after.as_millis()).unwrap_or(u64::MAX),
                })
            }
        }
    }
}
