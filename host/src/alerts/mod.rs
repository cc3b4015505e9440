//! Alerts: what the queue's recorded attempts, the endpoints' arrivals and
//! their rules come to (`rules.rs`), raised at most once per
//! `alerts.min_interval` per (tenant, endpoint, kind) across every host, and
//! sent from the store's outbox with retries (`sender.rs`).
//!
//! Alerts sit above ingress because the webhook destinations are signed
//! with its Standard Webhooks signer; the queue hands them its recorded
//! attempts over a bounded channel, so a worker never waits for an alert.

mod rules;
mod sender;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use base64::Engine as _;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::domain::{AlertKind, TenantPolicy, Timestamp};
use crate::ids::{EndpointId, TenantId};
use crate::queue::Recorded;
use crate::runtime::capabilities::egress::is_public;
use crate::store::{EndpointCache, PolicyCache, RaiseAlert, Raised, Store};

/// Most (tenant, endpoint, kind) keys this host remembers raising; past it
/// the memory starts afresh and the store decides alone.
const REMEMBERED_RAISES: usize = 100_000;

/// A fresh Standard Webhooks secret for a destination given none.
pub fn generate_secret() -> String {
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 24]>())
    )
}

/// Whether a tenant's policy lets it send alerts to `url`: its host must be
/// one `allowed_hosts` allows, and an address literal must be public unless
/// `allow_private_network`. Names are checked again when connecting.
pub fn check_egress(url: &url::Url, policy: &TenantPolicy) -> Result<(), String> {
    let (host, ip) = match url.host() {
        Some(url::Host::Domain(d)) => (d.to_ascii_lowercase(), None),
        Some(url::Host::Ipv4(ip)) => (ip.to_string(), Some(IpAddr::V4(ip))),
        Some(url::Host::Ipv6(ip)) => (ip.to_string(), Some(IpAddr::V6(ip))),
        None => return Err("the URL has no host".into()),
    };
    let port = url.port_or_known_default().unwrap_or(80);
    if !policy.allowed_hosts.iter().any(|p| p.matches(&host, port)) {
        return Err(format!(
            "{host}:{port} is outside the hosts this tenant may reach (policy allowed_hosts; the operator sets it)"
        ));
    }
    if let Some(ip) = ip.filter(|ip| !policy.allow_private_network && !is_public(*ip)) {
        return Err(format!(
            "{ip} is not a public address; private and loopback addresses need the operator's grant (policy allow_private_network)"
        ));
    }
    Ok(())
}

/// What the alert tasks share.
struct Alerting {
    config: Arc<Config>,
    store: Arc<dyn Store>,
    endpoints: Arc<EndpointCache>,
    policies: Arc<PolicyCache>,
    /// The operator's destinations' names.
    operator: Vec<String>,
    /// When this host last saw each key raised (or throttled), so a
    /// repeat within the interval costs no write.
    recent: Mutex<HashMap<(TenantId, EndpointId, AlertKind), Instant>>,
    /// Wakes the sender when an alert is queued.
    queued: Notify,
}

impl Alerting {
    /// Raises an alert about an endpoint, unless it was raised within the
    /// interval; `data` goes into the event beside the tenant and endpoint.
    async fn raise(
        &self,
        tenant: &TenantId,
        endpoint: &EndpointId,
        kind: AlertKind,
        mut data: serde_json::Map<String, serde_json::Value>,
    ) {
        let key = (tenant.clone(), endpoint.clone(), kind);
        let interval = self.config.alerts.min_interval;
        if self
            .recent
            .lock()
            .expect("poisoned")
            .get(&key)
            .is_some_and(|at| at.elapsed() < interval)
        {
            return;
        }
        let now = Timestamp::now();
        data.insert("tenant".into(), tenant.as_str().into());
        data.insert("endpoint".into(), endpoint.as_str().into());
        let payload = serde_json::json!({
            "type": kind.as_str(),
            "timestamp": now.rfc3339(),
            "data": data,
        })
        .to_string();
        let raised = self
            .store
            .raise_alert(&RaiseAlert {
                tenant,
                endpoint,
                kind,
                payload: &payload,
                operator: &self.operator,
                now,
                min_interval: interval,
            })
            .await;
        match raised {
            Ok(Raised::Nowhere) => return,
            Ok(Raised::Throttled) => {}
            Ok(Raised::Queued { queued, dropped }) => {
                metrics::counter!("hookhost_alerts_raised_total", "kind" => kind.as_str())
                    .increment(1);
                if dropped > 0 {
                    metrics::counter!("hookhost_alerts_sent_total", "outcome" => "dropped")
                        .increment(dropped.into());
                    tracing::warn!(%tenant, dropped, "the tenant's alert outbox is full; alerts dropped");
                }
                if queued > 0 {
                    self.queued.notify_one();
                }
            }
            Err(e) => {
                tracing::warn!(%tenant, %endpoint, kind = kind.as_str(), error = %e, "could not raise an alert");
                return;
            }
        }
        let mut recent = self.recent.lock().expect("poisoned");
        if recent.len() >= REMEMBERED_RAISES {
            recent.clear();
        }
        recent.insert(key, Instant::now());
    }
}

/// The running alert tasks.
pub struct Alerts {
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Alerts {
    /// Starts the rules over `recorded` attempts, the silence check and
    /// the sender; first seals again under the current master key any
    /// destination secret under a previous one.
    pub async fn start(
        config: Arc<Config>,
        store: Arc<dyn Store>,
        endpoints: Arc<EndpointCache>,
        policies: Arc<PolicyCache>,
        recorded: Option<tokio::sync::mpsc::Receiver<Recorded>>,
    ) -> Result<Self, crate::store::StoreError> {
        let resealed = store.reseal_destinations().await?;
        if resealed > 0 {
            tracing::info!(
                rows = resealed,
                "alert destination secrets sealed under the current master key"
            );
        }
        let shared = Arc::new(Alerting {
            operator: config
                .alerts
                .destinations
                .iter()
                .map(|d| d.name.clone())
                .collect(),
            config,
            store,
            endpoints,
            policies,
            recent: Mutex::new(HashMap::new()),
            queued: Notify::new(),
        });
        let stop = CancellationToken::new();
        let mut tasks = vec![
            tokio::spawn(rules::watch_silence(shared.clone(), stop.clone())),
            tokio::spawn(sender::run(shared.clone(), stop.clone())?),
        ];
        if let Some(recorded) = recorded {
            tasks.push(tokio::spawn(rules::follow(shared, recorded, stop.clone())));
        }
        Ok(Self { stop, tasks })
    }

    /// Stops the tasks; alerts being sent are handed back by their lease
    /// running out.
    pub async fn shutdown(self) {
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allowed: &[&str], private: bool) -> TenantPolicy {
        TenantPolicy {
            allowed_hosts: allowed.iter().map(|p| p.parse().unwrap()).collect(),
            allow_private_network: private,
            ..Config::default().tenant
        }
    }

    #[test]
    fn a_destination_must_be_an_allowed_host_and_public_unless_granted() {
        let url = |s: &str| url::Url::parse(s).unwrap();
        let slack = policy(&["hooks.slack.com"], false);
        assert!(check_egress(&url("https://hooks.slack.com/services/x"), &slack).is_ok());
        assert!(check_egress(&url("https://evil.example/"), &slack).is_err());
        let any = policy(&["*"], false);
        assert!(check_egress(&url("http://127.0.0.1:9000/"), &any).is_err());
        assert!(check_egress(&url("http://[::1]/"), &any).is_err());
        assert!(check_egress(&url("http://169.254.169.254/"), &any).is_err());
        assert!(check_egress(&url("http://127.0.0.1:9000/"), &policy(&["*"], true)).is_ok());
    }

    #[test]
    fn a_generated_secret_is_a_standard_webhooks_secret() {
        let secret = generate_secret();
        assert!(
            crate::ingress::verify::validate_secret(
                crate::domain::Provider::StandardWebhooks,
                &secret
            )
            .is_ok()
        );
    }
}
