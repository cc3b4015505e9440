//! Sending alerts: a task that leases due alerts from the store's outbox,
//! posts each to its destination and records the outcome, retrying with
//! backoff. A webhook destination gets the event signed with Standard
//! Webhooks (`webhook-id` is the alert's id); a Slack one `{"text": …}`.
//!
//! A tenant's destination is reached as its plugins reach the outside: its
//! host must be one the tenant's policy allows, and private and loopback
//! addresses are refused when connecting (the runtime's resolver) unless
//! the policy has `allow_private_network`. The operator's destinations are
//! trusted and not bound.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::Alerting;
use crate::domain::{DestinationKind, Provider, Timestamp, clip};
use crate::runtime::capabilities::http_out::PolicyResolver;
use crate::store::{Alert, AlertScope, LeaseToken, SendResult, StoreError};

/// Alerts this host sends at once.
const IN_FLIGHT: usize = 32;

/// How long a leased alert is this host's: past the send's timeout, so a
/// host that dies hands it back.
const LEASE_FOR: Duration = Duration::from_secs(60);

/// Longest wait for a destination's answer.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the outbox is looked at when nothing wakes the sender.
const POLL_EVERY: Duration = Duration::from_secs(1);

/// The waits after each failed attempt, in multiples of `retry_base`
/// (5 s, 30 s, 2 min, 10 min, 1 h by default): six attempts in all.
const BACKOFF: [u32; 5] = [1, 6, 24, 120, 720];

/// Longest error text recorded.
const MAX_ERROR_BYTES: usize = 512;

/// The two clients: one for tenants' destinations, resolving only to
/// public addresses, and one for the operator's and for tenants granted
/// private networks.
struct Clients {
    strict: reqwest::Client,
    open: reqwest::Client,
}

impl Clients {
    fn new() -> Result<Self, reqwest::Error> {
        let base = || {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .timeout(SEND_TIMEOUT)
                .user_agent(concat!("hookhost/", env!("CARGO_PKG_VERSION")))
        };
        Ok(Self {
            strict: base().dns_resolver(Arc::new(PolicyResolver)).build()?,
            open: base().build()?,
        })
    }
}

/// Builds the sender's task.
pub(super) fn run(
    alerting: Arc<Alerting>,
    stop: CancellationToken,
) -> Result<impl Future<Output = ()>, StoreError> {
    let clients = Arc::new(Clients::new().map_err(|e| {
        StoreError::Io(std::io::Error::other(format!(
            "could not build the alerts' HTTP client: {e}"
        )))
    })?);
    Ok(send_due(alerting, clients, stop))
}

async fn send_due(alerting: Arc<Alerting>, clients: Arc<Clients>, stop: CancellationToken) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    loop {
        let free = slots.available_permits() as u32;
        if free > 0 {
            // A fresh token per round: alerts leased before and still being
            // sent carry another.
            let lease = LeaseToken::generate();
            match alerting
                .store
                .lease_alerts(&lease, Timestamp::now(), LEASE_FOR, free)
                .await
            {
                Ok(due) => {
                    for alert in due {
                        let Ok(slot) = slots.clone().try_acquire_owned() else {
                            break;
                        };
                        let (alerting, clients, lease) =
                            (alerting.clone(), clients.clone(), lease.clone());
                        tokio::spawn(async move {
                            send_one(&alerting, &clients, &alert, &lease).await;
                            drop(slot);
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not read the alerts due"),
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = alerting.queued.notified() => {}
            _ = tokio::time::sleep(POLL_EVERY) => {}
        }
    }
}

/// Where an alert goes, and how.
struct Target {
    kind: DestinationKind,
    url: String,
    secret: Option<String>,
    client_is_open: bool,
}

/// Sends one alert and records what came of it.
async fn send_one(alerting: &Alerting, clients: &Clients, alert: &Alert, lease: &LeaseToken) {
    let attempt = alert.attempts + 1;
    let (status, error) = match target(alerting, alert).await {
        Ok(target) => post(clients, &target, alert).await,
        Err(error) => (None, Some(error)),
    };
    let retry_at = match (&error, BACKOFF.get(attempt as usize - 1)) {
        (Some(_), Some(times)) => {
            Some(Timestamp::now().after(alerting.config.alerts.retry_base * *times))
        }
        _ => None,
    };
    let outcome = match (&error, retry_at) {
        (None, _) => "sent",
        (Some(_), Some(_)) => "retry",
        (Some(_), None) => "failed",
    };
    metrics::counter!("hookhost_alerts_sent_total", "outcome" => outcome).increment(1);
    let result = SendResult {
        status,
        error: error.map(|e| clip(e, MAX_ERROR_BYTES)),
        retry_at,
    };
    if let Err(e) = alerting
        .store
        .record_send(&alert.id, lease, &result, Timestamp::now())
        .await
    {
        tracing::warn!(alert = %alert.id.as_str(), error = %e, "could not record an alert's sending; it is sent again once its lease runs out");
    }
}

/// The alert's destination as it is now, checked against the tenant's
/// policy as it is now.
async fn target(alerting: &Alerting, alert: &Alert) -> Result<Target, String> {
    match alert.scope {
        AlertScope::Operator => {
            let d = alerting
                .config
                .alerts
                .destinations
                .iter()
                .find(|d| d.name == alert.destination)
                .ok_or_else(|| {
                    format!(
                        "the operator's destination {} is no longer configured",
                        alert.destination
                    )
                })?;
            Ok(Target {
                kind: d.kind,
                url: d.url.clone(),
                secret: d.secret.as_ref().map(|s| s.expose().to_owned()),
                client_is_open: true,
            })
        }
        AlertScope::Tenant => {
            let d = alerting
                .store
                .destinations(&alert.tenant)
                .await
                .map_err(|e| format!("could not read the destination: {e}"))?
                .into_iter()
                .find(|d| d.name.as_str() == alert.destination)
                .ok_or_else(|| format!("destination {} was deleted", alert.destination))?;
            let policy = alerting
                .policies
                .get(&alert.tenant)
                .await
                .map_err(|e| format!("could not read the tenant's policy: {e}"))?;
            let url = url::Url::parse(&d.url).map_err(|e| format!("the URL is invalid: {e}"))?;
            super::check_egress(&url, &policy)?;
            Ok(Target {
                kind: d.kind,
                url: d.url,
                secret: d.secret,
                client_is_open: policy.allow_private_network,
            })
        }
    }
}

/// Posts the alert; the answer's status and, unless it was 2xx, why it
/// failed.
async fn post(clients: &Clients, target: &Target, alert: &Alert) -> (Option<u16>, Option<String>) {
    let (body, headers) = match target.kind {
        DestinationKind::Webhook => {
            let Some(secret) = &target.secret else {
                return (None, Some("the destination has no signing secret".into()));
            };
            let body = alert.payload.clone().into_bytes();
            match crate::ingress::verify::sign(
                Provider::StandardWebhooks,
                secret,
                None,
                &body,
                alert.id.as_str(),
                None,
                SystemTime::now(),
            ) {
                Ok(headers) => (body, headers),
                Err(e) => return (None, Some(format!("could not sign: {e}"))),
            }
        }
        DestinationKind::Slack => (
            serde_json::json!({ "text": slack_text(&alert.payload) })
                .to_string()
                .into_bytes(),
            Vec::new(),
        ),
    };
    let client = if target.client_is_open {
        &clients.open
    } else {
        &clients.strict
    };
    let mut request = client
        .post(&target.url)
        .header("content-type", "application/json")
        .body(body);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    match request.send().await {
        Ok(answer) if answer.status().is_success() => (Some(answer.status().as_u16()), None),
        Ok(answer) => {
            let status = answer.status().as_u16();
            (
                Some(status),
                Some(format!("the destination answered {status}")),
            )
        }
        // Without the URL: an operator's Slack URL is a credential, and
        // the tenant reads this.
        Err(e) => (None, Some(error_chain(&e.without_url()))),
    }
}

/// An error and its causes, on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The line a Slack destination shows for an alert's event.
fn slack_text(payload: &str) -> String {
    let event: serde_json::Value = serde_json::from_str(payload).unwrap_or_default();
    let field = |name: &str| event["data"][name].as_str().unwrap_or("?").to_owned();
    let what = match event["type"].as_str().unwrap_or_default() {
        "delivery.dead" => "a delivery is dead",
        "endpoint.failing" => "failing",
        "endpoint.silent" => "silent",
        "endpoint.paused" => "paused",
        _ => "alert",
    };
    format!(
        ":rotating_light: hookhost: {}/{} {what}: {}",
        field("tenant"),
        field("endpoint"),
        field("detail")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slack_line_names_the_endpoint_and_what_happened() {
        let payload = r#"{"type":"endpoint.silent","data":{"tenant":"acme","endpoint":"orders","detail":"no webhook since noon"}}"#;
        assert_eq!(
            slack_text(payload),
            ":rotating_light: hookhost: acme/orders silent: no webhook since noon"
        );
    }
}
