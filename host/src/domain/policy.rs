//! What the operator lets a tenant do: the ceilings of the settings its own
//! endpoints may choose, and its share of what the host has.
//!
//! Tenants are untrusted (ARCHITECTURE.md, "Threat model"): whatever a tenant
//! key may set on its endpoints is bounded here, by the operator, and the
//! shares (workers, queue depth, ingest rate, KV bytes) are enforced whoever
//! configured the endpoint. The server-wide defaults are the `[tenant]` table
//! of the configuration; a tenant's policy overrides some of them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use super::{EndpointSpec, HostPattern};

/// Hard ceilings no policy can raise: what one host can honour at all.
pub mod hard {
    /// Longest invocation deadline: five minutes.
    pub const TIMEOUT_MS: u64 = 300_000;
    /// Largest linear memory of one invocation, in MiB: what the instance
    /// pool reserves address space for, per slot.
    pub const MEMORY_MB: u32 = 512;
    /// Most outbound calls per invocation.
    pub const HTTP_CALLS: u32 = 1_000;
    /// Largest inbound body.
    pub const BODY_LIMIT_BYTES: u64 = 64 * 1024 * 1024;
    /// Most signing secrets per endpoint: each is tried on every request.
    pub const SECRETS: u32 = 16;
    /// Largest endpoint `config`, keys and values together.
    pub const CONFIG_BYTES: u64 = 1024 * 1024;
    /// Most deliveries of one tenant waiting at once.
    pub const QUEUE_DEPTH: u64 = 100_000_000;
    /// Most endpoints of one tenant.
    pub const ENDPOINTS: u32 = 100_000;
    /// Most `allowed_hosts` entries per endpoint: each is tried on every call.
    pub const ALLOWED_HOSTS: usize = 64;
    /// Most `event_types` patterns per endpoint: each may be tried on every
    /// webhook.
    pub const EVENT_TYPES: usize = 32;
    /// Most `allowed_ips` entries per endpoint: each may be tried on every
    /// webhook.
    pub const ALLOWED_IPS: usize = 64;
    /// Largest `rate_limit.rate` and `rate_limit.burst`: beyond it a limit
    /// limits nothing, and the bucket's arithmetic stays within 64 bits.
    pub const RATE_LIMIT: u32 = 1_000_000;
    /// Longest signing secret.
    pub const SECRET_BYTES: usize = 1024;
    /// Most plugin secrets per endpoint: each is searched for in
    /// everything an invocation records, to keep it out.
    pub const PLUGIN_SECRETS: usize = 16;
    /// Longest plugin secret: an API key or token, or a private key encoded
    /// on one line (a PEM RSA-4096 key in base64 fits).
    pub const PLUGIN_SECRET_BYTES: usize = 4 * 1024;
    /// Most entries of a retry schedule.
    pub const SCHEDULE_ENTRIES: usize = 100;
    /// What each `config` entry costs beyond its text: its two strings.
    pub const CONFIG_ENTRY_BYTES: u64 = 32;
}

/// A tenant's policy, every field resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantPolicy {
    /// Longest `limits.timeout_ms` an endpoint may set.
    pub max_timeout_ms: u64,
    /// Largest `limits.memory_mb` an endpoint may set.
    pub max_memory_mb: u32,
    /// Largest `limits.max_http_calls` an endpoint may set.
    pub max_http_calls: u32,
    /// Largest `limits.body_limit_bytes` an endpoint may set.
    pub max_body_limit_bytes: u64,
    /// Largest `retry.max_attempts` an endpoint may set.
    pub max_attempts: u32,
    /// Shortest wait in `retry.schedule_s`, in seconds.
    pub min_retry_delay_s: u64,
    /// Most `secrets` per endpoint.
    pub max_secrets: u32,
    /// Largest endpoint `config`, keys and values together, in bytes.
    pub max_config_bytes: u64,
    /// Patterns every entry of an endpoint's `allowed_hosts` must fall under.
    #[schema(value_type = Vec<String>)]
    pub allowed_hosts: Vec<HostPattern>,
    /// Whether an endpoint may list `*`, every public host.
    pub allow_any_host: bool,
    /// Whether an endpoint may set `allow_private_network`.
    pub allow_private_network: bool,
    /// Bytes of KV keys and values the tenant may hold.
    pub kv_quota_bytes: u64,
    /// Bytes of plugin components, every version counted, the tenant may
    /// store; each is kept in the database and compiled on every host.
    pub max_plugin_bytes: u64,
    /// Invocations of the tenant's plugins running at once on one host.
    pub max_concurrent: u32,
    /// Endpoints the tenant may have.
    pub max_endpoints: u32,
    /// Unfinished deliveries beyond which its webhooks are refused (429).
    pub max_queue_depth: u64,
    /// Webhooks per second accepted for the tenant on one host; 0 for no limit.
    pub ingest_rate: u32,
    /// Webhooks accepted at once above the rate, after a quiet spell.
    pub ingest_burst: u32,
    /// Whether an endpoint may pause itself after dead deliveries
    /// (`alerts.pause_after_dead`).
    pub allow_auto_pause: bool,
}

/// The fields of a tenant's policy that differ from the server's defaults,
/// as the operator wrote them: `{"max_concurrent": 4}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(value_type = Object)]
pub struct PolicyOverrides(pub Map<String, Json>);

/// A setting that breaks a policy or a ceiling: the field and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The setting's path: `limits.timeout_ms`, `allowed_hosts[2]`.
    pub field: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl Violation {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl TenantPolicy {
    /// This policy with `overrides` put over it; a field that does not
    /// exist, or a value of the wrong type, is a violation naming it.
    pub fn with(&self, overrides: &PolicyOverrides) -> Result<TenantPolicy, Violation> {
        let mut merged = serde_json::to_value(self).expect("a policy serialises");
        let fields = merged.as_object_mut().expect("a policy is an object");
        for (key, value) in &overrides.0 {
            if !fields.contains_key(key) {
                let known: Vec<&str> = fields.keys().map(String::as_str).collect();
                return Err(Violation::new(
                    key.clone(),
                    format!(
                        "no such policy setting; the settings are {}",
                        known.join(", ")
                    ),
                ));
            }
            fields.insert(key.clone(), value.clone());
        }
        serde_path_to_error::deserialize(merged).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." {
                "policy".to_owned()
            } else {
                path
            };
            Violation::new(field, e.into_inner().to_string())
        })
    }

    /// Checks the policy against the hard ceilings and the host's memory;
    /// every field at fault is named.
    pub fn validate(&self, host_max_memory_mb: u32) -> Vec<Violation> {
        let mut wrong = Vec::new();
        let mut range = |field: &str, value: u64, min: u64, max: u64| {
            if !(min..=max).contains(&value) {
                wrong.push(Violation::new(
                    field,
                    format!("must be between {min} and {max}, not {value}"),
                ));
            }
        };
        range("max_timeout_ms", self.max_timeout_ms, 1, hard::TIMEOUT_MS);
        range(
            "max_memory_mb",
            self.max_memory_mb.into(),
            1,
            host_max_memory_mb.into(),
        );
        range(
            "max_http_calls",
            self.max_http_calls.into(),
            0,
            hard::HTTP_CALLS.into(),
        );
        range(
            "max_body_limit_bytes",
            self.max_body_limit_bytes,
            1,
            hard::BODY_LIMIT_BYTES,
        );
        range(
            "max_attempts",
            self.max_attempts.into(),
            1,
            super::MAX_ATTEMPTS.into(),
        );
        range(
            "min_retry_delay_s",
            self.min_retry_delay_s,
            0,
            super::MAX_DELAY_S,
        );
        range(
            "max_secrets",
            self.max_secrets.into(),
            1,
            hard::SECRETS.into(),
        );
        range(
            "max_config_bytes",
            self.max_config_bytes,
            0,
            hard::CONFIG_BYTES,
        );
        range(
            "max_concurrent",
            self.max_concurrent.into(),
            1,
            u32::MAX.into(),
        );
        range(
            "max_queue_depth",
            self.max_queue_depth,
            1,
            hard::QUEUE_DEPTH,
        );
        if self.ingest_rate > 0 && self.ingest_burst == 0 {
            wrong.push(Violation::new(
                "ingest_burst",
                "must be at least 1 when ingest_rate limits the tenant",
            ));
        }
        wrong
    }

    /// Every setting of `spec` beyond this policy, each naming the ceiling
    /// and the policy field that sets it.
    pub fn check(&self, spec: &EndpointSpec) -> Vec<Violation> {
        let mut over = Vec::new();
        let mut ceiling = |field: &str, value: u64, max: u64, policy: &str| {
            if value > max {
                over.push(Violation::new(
                    field,
                    format!(
                        "{value} is over this tenant's ceiling of {max} (policy {policy}; the operator sets it)"
                    ),
                ));
            }
        };
        let limits = &spec.limits;
        ceiling(
            "limits.timeout_ms",
            limits.timeout_ms,
            self.max_timeout_ms,
            "max_timeout_ms",
        );
        ceiling(
            "limits.memory_mb",
            limits.memory_mb.into(),
            self.max_memory_mb.into(),
            "max_memory_mb",
        );
        ceiling(
            "limits.max_http_calls",
            limits.max_http_calls.into(),
            self.max_http_calls.into(),
            "max_http_calls",
        );
        ceiling(
            "limits.body_limit_bytes",
            limits.body_limit_bytes,
            self.max_body_limit_bytes,
            "max_body_limit_bytes",
        );
        ceiling(
            "retry.max_attempts",
            spec.retry.max_attempts.into(),
            self.max_attempts.into(),
            "max_attempts",
        );
        ceiling(
            "secrets",
            spec.secrets.len() as u64,
            self.max_secrets.into(),
            "max_secrets",
        );
        ceiling(
            "config",
            config_bytes(spec),
            self.max_config_bytes,
            "max_config_bytes",
        );
        if spec.retry.max_attempts > 1 {
            for (i, delay) in spec.retry.schedule_s.iter().enumerate() {
                if *delay < self.min_retry_delay_s {
                    over.push(Violation::new(
                        format!("retry.schedule_s[{i}]"),
                        format!(
                            "{delay} s is shorter than this tenant's shortest retry delay of {} s (policy min_retry_delay_s; the operator sets it)",
                            self.min_retry_delay_s
                        ),
                    ));
                }
            }
        }
        for (i, host) in spec.allowed_hosts.iter().enumerate() {
            let field = format!("allowed_hosts[{i}]");
            if host.is_broad() {
                if !self.allow_any_host {
                    over.push(Violation::new(
                        field,
                        format!("{host} (every host, or every host of a top-level domain) needs the operator's grant (policy allow_any_host); list the hosts the plugin calls"),
                    ));
                }
            } else if !self.allowed_hosts.iter().any(|p| p.covers(host)) {
                let allowed: Vec<String> =
                    self.allowed_hosts.iter().map(ToString::to_string).collect();
                over.push(Violation::new(
                    field,
                    format!(
                        "{host} is outside the hosts this tenant may allow ({}; policy allowed_hosts, the operator sets it)",
                        if allowed.is_empty() {
                            "none".to_owned()
                        } else {
                            allowed.join(", ")
                        }
                    ),
                ));
            }
        }
        if spec.allow_private_network && !self.allow_private_network {
            over.push(Violation::new(
                "allow_private_network",
                "private and loopback addresses need the operator's grant (policy allow_private_network)",
            ));
        }
        if spec.alerts.pause_after_dead.is_some() && !self.allow_auto_pause {
            over.push(Violation::new(
                "alerts.pause_after_dead",
                "pausing itself after dead deliveries needs the operator's grant (policy allow_auto_pause)",
            ));
        }
        over
    }
}

/// An endpoint's `config` as the policy counts it: keys and values
/// together, and each entry [`hard::CONFIG_ENTRY_BYTES`], so that many
/// empty entries are not free.
pub fn config_bytes<V, H>(spec: &EndpointSpec<V, H>) -> u64 {
    spec.config
        .iter()
        .map(|(k, v)| (k.len() + v.len()) as u64 + hard::CONFIG_ENTRY_BYTES)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EndpointLimits, Provider, RetryPolicy};

    fn policy() -> TenantPolicy {
        TenantPolicy {
            max_timeout_ms: 30_000,
            max_memory_mb: 128,
            max_http_calls: 50,
            max_body_limit_bytes: 8 * 1024 * 1024,
            max_attempts: 20,
            min_retry_delay_s: 1,
            max_secrets: 4,
            max_config_bytes: 64 * 1024,
            allowed_hosts: vec!["*".parse().unwrap()],
            allow_any_host: false,
            allow_private_network: false,
            kv_quota_bytes: 64 * 1024 * 1024,
            max_plugin_bytes: 256 * 1024 * 1024,
            max_concurrent: 16,
            max_endpoints: 100,
            max_queue_depth: 100_000,
            ingest_rate: 0,
            ingest_burst: 1,
            allow_auto_pause: true,
        }
    }

    fn spec() -> EndpointSpec {
        EndpointSpec {
            provider: Provider::None,
            secrets: Vec::new(),
            hmac: None,
            tolerance_s: 300,
            dedup_header: None,
            allowed_ips: Vec::new(),
            rate_limit: None,
            event_types: Vec::new(),
            plugin: crate::ids::PluginName::new("p").unwrap(),
            plugin_version: 1,
            config: Default::default(),
            allowed_hosts: vec!["hooks.slack.com".parse().unwrap()],
            allow_private_network: false,
            limits: EndpointLimits::default(),
            retry: RetryPolicy::default(),
            alerts: Default::default(),
        }
    }

    fn fields(v: &[Violation]) -> Vec<&str> {
        v.iter().map(|v| v.field.as_str()).collect()
    }

    #[test]
    fn an_endpoint_within_the_policy_has_no_violations() {
        assert_eq!(policy().check(&spec()), []);
    }

    #[test]
    fn each_setting_over_its_ceiling_is_named_with_the_ceiling() {
        let mut s = spec();
        s.limits.timeout_ms = 300_000;
        s.limits.memory_mb = 512;
        s.secrets = vec!["a".into(); 5];
        s.retry.schedule_s = vec![0, 5];
        s.allow_private_network = true;
        let over = policy().check(&s);
        assert_eq!(
            fields(&over),
            [
                "limits.timeout_ms",
                "limits.memory_mb",
                "secrets",
                "retry.schedule_s[0]",
                "allow_private_network"
            ]
        );
        assert!(over[0].message.contains("ceiling of 30000"), "{over:?}");
        assert!(over[0].message.contains("max_timeout_ms"), "{over:?}");
    }

    #[test]
    fn every_public_host_and_hosts_outside_the_policy_need_the_operator() {
        let mut s = spec();
        s.allowed_hosts = vec!["*".parse().unwrap()];
        assert_eq!(fields(&policy().check(&s)), ["allowed_hosts[0]"]);
        let granted = TenantPolicy {
            allow_any_host: true,
            allowed_hosts: vec!["*.stripe.com".parse().unwrap()],
            ..policy()
        };
        assert_eq!(granted.check(&s), [], "the grant stands on its own");
        for broad in ["*.com", "*.1"] {
            s.allowed_hosts = vec![broad.parse().unwrap()];
            assert_eq!(fields(&policy().check(&s)), ["allowed_hosts[0]"], "{broad}");
        }

        let narrow = TenantPolicy {
            allowed_hosts: vec!["*.stripe.com".parse().unwrap()],
            ..policy()
        };
        s.allowed_hosts = vec![
            "api.stripe.com".parse().unwrap(),
            "evil.example".parse().unwrap(),
        ];
        let over = narrow.check(&s);
        assert_eq!(fields(&over), ["allowed_hosts[1]"]);
        assert!(over[0].message.contains("*.stripe.com"), "{over:?}");
    }

    #[test]
    fn overrides_replace_only_their_fields_and_unknown_ones_are_named() {
        let mut overrides = Map::new();
        overrides.insert("max_concurrent".into(), 2.into());
        let merged = policy().with(&PolicyOverrides(overrides)).unwrap();
        assert_eq!(merged.max_concurrent, 2);
        assert_eq!(merged.max_timeout_ms, 30_000);

        let mut bad = Map::new();
        bad.insert("max_concurent".into(), 2.into());
        assert_eq!(
            policy().with(&PolicyOverrides(bad)).unwrap_err().field,
            "max_concurent"
        );
        let mut mistyped = Map::new();
        mistyped.insert("max_timeout_ms".into(), "soon".into());
        assert_eq!(
            policy().with(&PolicyOverrides(mistyped)).unwrap_err().field,
            "max_timeout_ms"
        );
    }

    #[test]
    fn a_policy_cannot_exceed_the_hard_ceilings_or_the_hosts_memory() {
        let wrong = TenantPolicy {
            max_timeout_ms: hard::TIMEOUT_MS + 1,
            max_memory_mb: 1024,
            max_secrets: 0,
            ..policy()
        }
        .validate(512);
        assert_eq!(
            fields(&wrong),
            ["max_timeout_ms", "max_memory_mb", "max_secrets"]
        );
    }
}
