//! An endpoint's configuration: how its webhooks are verified, which plugin
//! runs them, what that plugin may reach, and how failures are retried.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    EndpointAlerts, EventTypePattern, HmacScheme, HostPattern, IpAllow, Provider, RateLimit,
    RetryPolicy,
};
use crate::ids::PluginName;

/// Per-endpoint resource limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct EndpointLimits {
    /// Deadline of one invocation.
    pub timeout_ms: u64,
    /// Memory one invocation may grow to.
    pub memory_mb: u32,
    /// Outbound HTTP calls per invocation.
    pub max_http_calls: u32,
    /// Largest inbound body accepted; larger ones answer 413.
    pub body_limit_bytes: u64,
    /// Invocations of this endpoint running at once, across every host;
    /// 1 runs its deliveries one after another. None: only the tenant's
    /// share of the workers bounds it.
    #[schema(minimum = 1)]
    pub max_concurrent: Option<u32>,
}

impl Default for EndpointLimits {
    fn default() -> Self {
        Self {
            timeout_ms: 5_000,
            memory_mb: 64,
            max_http_calls: 16,
            body_limit_bytes: 1024 * 1024,
            max_concurrent: None,
        }
    }
}

/// Default timestamp tolerance of signature schemes that carry a timestamp.
pub const DEFAULT_TOLERANCE_S: u64 = 300;

fn default_tolerance() -> u64 {
    DEFAULT_TOLERANCE_S
}

/// Everything an endpoint is configured with: how to verify, what to run, what
/// the plugin may reach, and how to retry.
// The one definition of an endpoint setting: the API's request, the stored
// record and the API's view are all this type. `V` is the plugin version and
// `H` an allowed host: a request names the version or leaves it to bind the
// latest (`Option<u32>`) and writes hosts as text, each checked with its own
// error; a validated spec has both resolved. The OpenAPI schema is the
// request's, which the view's JSON also fits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointSpec<V = u32, H = HostPattern> {
    /// How inbound requests are verified: `standard-webhooks`, `stripe`,
    /// `github`, `shopify`, `slack`, `hmac` or `none`.
    pub provider: Provider,
    /// Active secrets; a signature valid for any of them passes (rotation).
    #[serde(default)]
    pub secrets: Vec<String>,
    /// The layout of the generic `hmac` provider.
    #[serde(default)]
    pub hmac: Option<HmacScheme>,
    /// Timestamp tolerance in seconds, for schemes that sign a timestamp.
    #[serde(default = "default_tolerance")]
    pub tolerance_s: u64,
    /// A header holding the sender's event id, overriding the provider's own.
    #[serde(default)]
    pub dedup_header: Option<String>,
    /// The plugin run for each delivery.
    #[schema(value_type = String)]
    pub plugin: PluginName,
    /// The bound version; new deliveries run it, in-flight ones keep theirs.
    /// Omitted in a request, the latest version at that moment.
    #[serde(default)]
    #[schema(value_type = Option<u32>)]
    pub plugin_version: V,
    /// Addresses webhooks may come from: addresses, networks in CIDR
    /// notation, or `@name` of an IP set in the server's config. Others get
    /// 403 and nothing is stored. Empty: any address.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub allowed_ips: Vec<IpAllow>,
    /// Webhooks this endpoint accepts per period, on top of the tenant's
    /// `ingest_rate`; past it 429 with `Retry-After`. None: no limit of its own.
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
    /// Event types whose deliveries run the plugin, `*` standing for any run
    /// of characters (`payment_intent.*`). Others are answered and stored as
    /// usual but marked `filtered` without running, so they can be
    /// replayed. Empty: every event runs.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub event_types: Vec<EventTypePattern>,
    /// Settings the plugin reads through `config`.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Hosts the plugin may call: `host`, `host:port`, `*.domain` or `*`.
    #[serde(default = "Vec::new")]
    #[schema(value_type = Vec<String>)]
    pub allowed_hosts: Vec<H>,
    /// Lets the plugin reach loopback and private addresses.
    #[serde(default)]
    pub allow_private_network: bool,
    /// Resource limits; omitted ones take their defaults.
    #[serde(default)]
    pub limits: EndpointLimits,
    /// Retry policy; omitted fields take their defaults.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// What raises alerts about this endpoint besides dead deliveries.
    #[serde(default)]
    pub alerts: EndpointAlerts,
}

/// Shortest secret whose last four characters are shown: a quarter of it
/// at most, and never most of a short one.
const SHOWN_FROM_CHARS: usize = 16;

/// A secret as it is shown: `…` and its last four characters, or `…` alone
/// for one under 16 characters.
pub fn masked(secret: &str) -> String {
    if secret.chars().count() < SHOWN_FROM_CHARS {
        return "…".to_owned();
    }
    let tail: Vec<char> = secret.chars().rev().take(4).collect();
    format!("…{}", tail.into_iter().rev().collect::<String>())
}

/// An endpoint's configuration as a request writes it, before validation.
pub type EndpointRequest = EndpointSpec<Option<u32>, String>;

impl EndpointSpec {
    /// How long a claimed delivery stays leased: the deadline plus room to
    /// record the attempt. A host that dies holds its work no longer than this.
    pub fn lease_ms(&self) -> u64 {
        self.limits.timeout_ms + LEASE_MARGIN_MS
    }
}

/// Time beyond the plugin's deadline a lease lasts, to commit the attempt.
pub const LEASE_MARGIN_MS: u64 = 10_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_shows_its_last_four_characters_only_when_they_are_a_quarter_of_it_at_most() {
        assert_eq!(masked("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), "…LaSw");
        assert_eq!(masked("0123456789abcdef"), "…cdef");
        assert_eq!(masked("0123456789abcde"), "…");
        assert_eq!(
            masked("ключключ"),
            "…",
            "eight characters of two bytes each"
        );
    }
}
