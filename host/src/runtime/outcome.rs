//! What one invocation produced: its outcome and everything it did on the way.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::capabilities::kv::KvWrite;
use super::capabilities::log::LogLine;
use crate::domain::clip;

/// Longest outcome message kept (a handler's `retry`/`reject` text, a trap's).
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024;
/// Longest outbound URL kept in an attempt's record.
pub const MAX_URL_BYTES: usize = 2 * 1024;
/// Longest outbound method kept in an attempt's record.
pub const MAX_METHOD_BYTES: usize = 32;
/// Longest reason for a failed outbound call kept in an attempt's record.
pub const MAX_CALL_ERROR_BYTES: usize = 1024;

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "message", rename_all = "snake_case")]
pub enum Outcome {
    /// The handler returned `ok`.
    Ok,
    /// The handler asked to be run again later.
    Retry(String),
    /// The handler refused the event for good.
    Reject(String),
    /// The guest trapped: a panic, an abort, an invalid operation.
    Trap(String),
    /// The invocation ran past its deadline and was stopped.
    Timeout,
    /// The guest tried to grow its memory beyond its limit and could not go on.
    OutOfMemory,
}

impl Outcome {
    /// Whether the delivery should be tried again (within its retry policy).
    pub fn is_retryable(&self) -> bool {
        !matches!(self, Outcome::Ok | Outcome::Reject(_))
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Ok => f.write_str("ok"),
            Outcome::Retry(m) => write!(f, "retry: {m}"),
            Outcome::Reject(m) => write!(f, "reject: {m}"),
            Outcome::Trap(m) => write!(f, "trap: {m}"),
            Outcome::Timeout => f.write_str("timeout"),
            Outcome::OutOfMemory => f.write_str("out of memory"),
        }
    }
}

/// One outbound HTTP call the guest made, as the attempt's record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OutboundCall {
    /// The request method.
    pub method: String,
    /// The request URL as the guest gave it.
    pub url: String,
    /// The response status, when there was a response.
    pub status: Option<u16>,
    /// Time from the call to its end, in milliseconds.
    pub duration_ms: u64,
    /// Why the call failed, when it did.
    pub error: Option<String>,
}

impl OutboundCall {
    /// The record of a call, its guest-given texts cut to their bounds.
    pub fn new(
        method: String,
        url: String,
        status: Option<u16>,
        duration_ms: u64,
        error: Option<String>,
    ) -> Self {
        Self {
            method: clip(method, MAX_METHOD_BYTES),
            url: clip(url, MAX_URL_BYTES),
            status,
            duration_ms,
            error: error.map(|e| clip(e, MAX_CALL_ERROR_BYTES)),
        }
    }
}

/// The full record of one invocation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Invocation {
    /// How it ended.
    pub outcome: Outcome,
    /// How long the handler's receiver asked it to wait, in milliseconds,
    /// when the handler returned `retry-after` (the outcome is then
    /// [`Outcome::Retry`] with its message); the queue waits at least that
    /// long, within `domain::MAX_DELAY_S`, before the next attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// Wall-clock time from instantiation to the end of the call.
    #[serde(with = "duration_ms")]
    pub duration: Duration,
    /// Log lines from the `log` interface, stdout and stderr, in order.
    pub logs: Vec<LogLine>,
    /// Whether log lines were dropped for the log budget.
    pub logs_truncated: bool,
    /// The KV writes the guest made, to be committed only when `outcome` is `Ok`.
    pub kv_writes: Vec<KvWrite>,
    /// Every outbound call, allowed or not.
    pub http_calls: Vec<OutboundCall>,
}

mod duration_ms {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}
