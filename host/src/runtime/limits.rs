//! Per-invocation limits and grants: what one run of a plugin may use and reach.
//!
//! Capabilities are data, denied by default: an endpoint that lists no hosts
//! makes no outbound calls, and private networks are refused unless allowed.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::capabilities::kv::KvNamespace;
use crate::domain::{EndpointLimits, EndpointSpec, HostPattern, PluginSecrets, TraceId};

/// Resource limits of one invocation; each is configurable per endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Wall-clock deadline for instantiation plus the call.
    pub timeout_ms: u64,
    /// Linear memory the guest may grow to; growth beyond fails inside the guest.
    pub memory_mb: u32,
    /// Outbound HTTP calls per invocation.
    pub max_http_calls: u32,
    /// Bytes of keys and values written to KV per invocation, each write
    /// also charged a fixed overhead.
    pub max_kv_write_bytes: u64,
    /// KV writes (set, delete, increment) per invocation.
    pub max_kv_writes: u32,
    /// KV reads that reach the store per invocation.
    pub max_kv_reads: u32,
    /// Bytes of log kept per invocation; the rest is dropped behind a marker.
    pub max_log_bytes: u64,
    /// Timeout of one outbound call (the guest may ask for less, never more).
    pub http_timeout_ms: u64,
    /// Largest outbound response body the guest receives.
    pub http_response_max_bytes: u64,
}

impl Default for Limits {
    /// An endpoint's default limits, and the host's fixed ones.
    fn default() -> Self {
        let endpoint = EndpointLimits::default();
        Self {
            timeout_ms: endpoint.timeout_ms,
            memory_mb: endpoint.memory_mb,
            max_http_calls: endpoint.max_http_calls,
            max_kv_write_bytes: 4 * 1024 * 1024,
            max_kv_writes: 1_000,
            max_kv_reads: 10_000,
            max_log_bytes: 64 * 1024,
            http_timeout_ms: 10_000,
            http_response_max_bytes: 1024 * 1024,
        }
    }
}

impl Limits {
    /// The limits of one invocation at this endpoint.
    pub fn for_endpoint(spec: &EndpointSpec) -> Self {
        Self {
            timeout_ms: spec.limits.timeout_ms,
            memory_mb: spec.limits.memory_mb,
            max_http_calls: spec.limits.max_http_calls,
            ..Self::default()
        }
    }

    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        self.memory_mb as usize * 1024 * 1024
    }
}

/// What an invocation may reach: the endpoint's settings, hosts and storage.
#[derive(Debug, Clone)]
pub struct Grants {
    /// The endpoint's settings, read by the guest through `config`.
    pub config: BTreeMap<String, String>,
    /// Hosts the guest may call; empty means no outbound HTTP.
    pub allowed_hosts: Vec<HostPattern>,
    /// Lets calls reach loopback, private and link-local addresses.
    pub allow_private_network: bool,
    /// Where the guest's KV lives.
    pub kv: KvNamespace,
    /// A cap on the tenant's whole KV usage in bytes.
    pub kv_quota_bytes: u64,
    /// The endpoint's plugin secrets, read by the guest through `secret`;
    /// their values are replaced in everything the attempt records.
    pub secrets: PluginSecrets,
    /// The trace the invocation belongs to: its outbound calls carry it as
    /// `traceparent`, unless the guest sets that header itself.
    pub trace: Option<TraceId>,
}
