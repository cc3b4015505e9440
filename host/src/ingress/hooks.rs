//! `POST /hooks/{tenant}/{endpoint}`: look up the endpoint, cap the body,
//! verify the signature on the raw bytes, deduplicate, and answer 202 only
//! once the delivery is committed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::IngestRates;
use super::client_addr::client_addr;
use super::verify::{self, VerifyConfig, VerifyError};
use crate::config::{ClientIpHeader, IpSets};
use crate::domain::{self, MAX_EVENT_TYPE_BYTES, Provider, RateLimit, Timestamp, clip, event_key};
use crate::ids::{DeliveryId, EndpointId, TenantId};
use crate::problem::{Problem, RETRY_AFTER_S};
use crate::queue::{Queue, QueueError};
use crate::store::{Arrival, EndpointCache, Ingested, NewDelivery, PolicyCache};

/// Headers that carry the sender's own credentials rather than the event's
/// data; they are neither stored nor shown to plugins.
const DROPPED_HEADERS: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];

/// Why a webhook was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum IngressError {
    /// No such tenant or endpoint.
    #[error("no such tenant or endpoint")]
    NotFound,
    /// The body is over the endpoint's limit.
    #[error("body over the limit of {limit} bytes")]
    TooLarge {
        /// The endpoint's limit.
        limit: u64,
    },
    /// The body could not be read.
    #[error("unreadable body: {0}")]
    BadBody(String),
    /// The signature check failed.
    #[error(transparent)]
    Unverified(#[from] VerifyError),
    /// The queue is over its configured depth.
    #[error("queue full")]
    Overloaded,
    /// The tenant has as many deliveries waiting as its policy allows.
    #[error("the tenant's queue is full")]
    TenantQueueFull {
        /// The policy's `max_queue_depth`.
        max: u64,
    },
    /// The client's address is not among the endpoint's `allowed_ips`.
    #[error("the client's address is not among the endpoint's allowed addresses")]
    Forbidden {
        /// The client's address, as this server sees it; `None` when the
        /// proxies' header could not be read.
        client: Option<IpAddr>,
    },
    /// The tenant or the endpoint is over its ingest rate.
    #[error("over the ingest rate")]
    RateLimited {
        /// Whose rate.
        by: Limit,
        /// How long until the next webhook fits.
        retry_after: Duration,
    },
    /// The store could not take the delivery.
    #[error(transparent)]
    Unavailable(#[from] QueueError),
}

/// The rate a webhook was refused by.
#[derive(Debug)]
pub enum Limit {
    /// The tenant's policy: `ingest_rate` per second.
    Tenant(u32),
    /// The endpoint's `rate_limit`.
    Endpoint(RateLimit),
}

/// What ingress needs.
#[derive(Clone)]
pub struct IngressState {
    /// Endpoint configurations.
    pub endpoints: Arc<EndpointCache>,
    /// Where accepted deliveries go.
    pub queue: Arc<Queue>,
    /// Tenants' policies, for their queue depth and ingest rate.
    pub policies: Arc<PolicyCache>,
    /// Tenants' and endpoints' ingest buckets.
    pub rates: Arc<IngestRates>,
    /// Proxies believed about the client's address.
    pub trusted_proxies: Arc<[IpNet]>,
    /// The header they write it into.
    pub client_ip_header: ClientIpHeader,
    /// The operator's named IP sets.
    pub ip_sets: Arc<IpSets>,
}

/// The ingress route.
pub fn routes<S: Clone + Send + Sync + 'static>(state: IngressState) -> OpenApiRouter<S> {
    OpenApiRouter::new()
        .routes(routes!(receive))
        .with_state(state)
}

/// The answer to an accepted webhook.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Accepted {
    /// The delivery: look it up under `/v1/tenants/{t}/deliveries/{id}`.
    #[schema(value_type = String)]
    delivery_id: DeliveryId,
    /// Present and true when the event id was seen before (answer 200).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    duplicate: bool,
}

/// Receives a webhook: verified on the raw body, deduplicated on the
/// provider's event id, and answered 202 only once it is durable.
#[utoipa::path(post, path = "/hooks/{tenant}/{endpoint}", tag = "ingress", security(()),
    params(("tenant" = String, Path), ("endpoint" = String, Path)),
    request_body(content = Vec<u8>, description = "the provider's payload, as sent"),
    responses((status = 202, body = Accepted), (status = 200, body = Accepted, description = "a repeat of an event already accepted"),
              (status = 401, body = crate::problem::Problem), (status = 403, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem),
              (status = 413, body = crate::problem::Problem), (status = 429, body = crate::problem::Problem), (status = 503, body = crate::problem::Problem)))]
async fn receive(
    State(state): State<IngressState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((tenant, endpoint)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, IngressError> {
    let mut provider = "unknown";
    let client = client_addr(
        peer.ip(),
        &headers,
        &state.trusted_proxies,
        state.client_ip_header,
    );
    let answer = accept(
        &state,
        client,
        tenant,
        endpoint,
        headers,
        body,
        &mut provider,
    )
    .await;
    let outcome = match &answer {
        Ok(r) if r.status() == StatusCode::ACCEPTED => "accepted",
        Ok(r) if r.status() == StatusCode::OK => "duplicate",
        Ok(_) => "answered",
        Err(IngressError::NotFound) => "not_found",
        Err(IngressError::TooLarge { .. }) => "too_large",
        Err(IngressError::BadBody(_)) => "bad_request",
        Err(IngressError::Unverified(_)) => "unauthorized",
        Err(IngressError::Overloaded) => "overloaded",
        Err(IngressError::TenantQueueFull { .. }) => "tenant_queue_full",
        Err(IngressError::Forbidden { .. }) => "forbidden",
        Err(IngressError::RateLimited {
            by: Limit::Tenant(_),
            ..
        }) => "rate_limited",
        Err(IngressError::RateLimited {
            by: Limit::Endpoint(_),
            ..
        }) => "endpoint_rate_limited",
        Err(IngressError::Unavailable(_)) => "unavailable",
    };
    metrics::counter!("hookhost_ingress_total", "provider" => provider, "outcome" => outcome)
        .increment(1);
    answer
}

async fn accept(
    state: &IngressState,
    client: Option<IpAddr>,
    tenant: String,
    endpoint: String,
    headers: HeaderMap,
    body: Body,
    provider: &mut &'static str,
) -> Result<Response, IngressError> {
    let received_at = Timestamp::now();
    let (Ok(tenant), Ok(endpoint)) = (TenantId::new(tenant), EndpointId::new(endpoint)) else {
        return Err(IngressError::NotFound);
    };
    let endpoint = state
        .endpoints
        .get(&tenant, &endpoint)
        .await
        .map_err(|e| QueueError::Store(Arc::new(e)))?
        .ok_or(IngressError::NotFound)?;
    let spec = &endpoint.spec;
    *provider = spec.provider.as_str();
    if !spec.allowed_ips.is_empty()
        && !client.is_some_and(|ip| domain::admits(&spec.allowed_ips, &state.ip_sets, ip))
    {
        return Err(IngressError::Forbidden { client });
    }
    let policy = state
        .policies
        .get(&tenant)
        .await
        .map_err(|e| QueueError::Store(Arc::new(e)))?;
    if state.queue.tenant_is_full(&tenant, policy.max_queue_depth) {
        return Err(IngressError::TenantQueueFull {
            max: policy.max_queue_depth,
        });
    }

    let limit = spec.limits.body_limit_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(IngressError::TooLarge { limit });
    }
    let body = axum::body::to_bytes(body, limit as usize)
        .await
        .map_err(|e| {
            if std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            {
                IngressError::TooLarge { limit }
            } else {
                IngressError::BadBody(e.to_string())
            }
        })?;

    verify::verify(
        &VerifyConfig {
            provider: spec.provider,
            secrets: &spec.secrets,
            hmac: spec.hmac.as_ref(),
            tolerance: Duration::from_secs(spec.tolerance_s),
        },
        &headers,
        &body,
        SystemTime::now(),
    )?;

    // Charged only once verified, so nobody without the secret can spend a
    // tenant's allowance (but for provider `none`, which verifies nothing);
    // the endpoint's first, so a webhook it refuses costs its tenant nothing.
    if let Some(limit) = &spec.rate_limit {
        state
            .rates
            .take_endpoint(&tenant, &endpoint.id, limit)
            .map_err(|retry_after| IngressError::RateLimited {
                by: Limit::Endpoint(*limit),
                retry_after,
            })?;
    }
    state
        .rates
        .take_tenant(&tenant, &policy)
        .map_err(|retry_after| IngressError::RateLimited {
            by: Limit::Tenant(policy.ingest_rate),
            retry_after,
        })?;

    if spec.provider == Provider::Slack
        && let Some(challenge) = slack_challenge(&body)
    {
        // Slack's Events API checks a new URL by asking it to echo a challenge.
        return Ok(axum::Json(serde_json::json!({ "challenge": challenge })).into_response());
    }
    let identity = verify::identify(spec.provider, spec.hmac.as_ref(), &headers, &body);
    let event_id = match &spec.dedup_header {
        Some(name) => headers
            .get(name.as_str())
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        None => identity.event_id,
    }
    .map(event_key);

    if state.queue.is_full() {
        return Err(IngressError::Overloaded);
    }
    let event_type = identity.event_type.map(|t| clip(t, MAX_EVENT_TYPE_BYTES));
    let arrival = if domain::runs(&spec.event_types, event_type.as_deref()) {
        Arrival::Due
    } else {
        Arrival::Filtered
    };
    let delivery = NewDelivery {
        id: DeliveryId::generate(),
        tenant: endpoint.tenant.clone(),
        endpoint: endpoint.id.clone(),
        event_id,
        provider: spec.provider,
        event_type,
        headers: headers
            .iter()
            .filter(|(name, _)| !DROPPED_HEADERS.contains(&name.as_str()))
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
        received_at,
        plugin: spec.plugin.clone(),
        plugin_version: spec.plugin_version,
        lease_ms: spec.lease_ms(),
        arrival,
    };
    let (status, delivery_id, duplicate) = match state.queue.enqueue(delivery).await? {
        Ingested::Accepted(id) => {
            if arrival == Arrival::Filtered {
                metrics::counter!("hookhost_ingress_filtered_total").increment(1);
            }
            (StatusCode::ACCEPTED, id, false)
        }
        Ingested::Duplicate(id) => (StatusCode::OK, id, true),
    };
    if let Some(every) = spec.alerts.expect_every_s {
        state
            .queue
            .note_received(&endpoint.tenant, &endpoint.id, every);
    }
    Ok((
        status,
        axum::Json(Accepted {
            delivery_id,
            duplicate,
        }),
    )
        .into_response())
}

/// The challenge of a Slack `url_verification` request, if this is one.
fn slack_challenge(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    if value.get("type")?.as_str()? != "url_verification" {
        return None;
    }
    Some(value.get("challenge")?.as_str()?.to_owned())
}

impl IntoResponse for IngressError {
    fn into_response(self) -> Response {
        let problem = match &self {
            IngressError::NotFound => Problem::new(
                StatusCode::NOT_FOUND,
                "Not found",
                "no such tenant or endpoint; check the URL against the endpoint's inbound_url",
            ),
            IngressError::TooLarge { limit } => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Payload too large",
                format!(
                    "the body exceeds this endpoint's limit of {limit} bytes (limits.body_limit_bytes)"
                ),
            ),
            IngressError::BadBody(reason) => Problem::new(
                StatusCode::BAD_REQUEST,
                "Bad request",
                format!("the request body could not be read: {reason}"),
            ),
            IngressError::Unverified(e) => {
                tracing::info!(check = e.check(), reason = %e, "webhook refused");
                let mut p = Problem::new(
                    StatusCode::UNAUTHORIZED,
                    "Signature verification failed",
                    e.to_string(),
                );
                p.check = Some(e.check());
                p
            }
            IngressError::Overloaded => {
                let mut p = Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Queue full",
                    "too many deliveries are waiting; the webhook was not accepted, send it again later",
                );
                p.retry_after_s = Some(RETRY_AFTER_S);
                p
            }
            IngressError::TenantQueueFull { max } => {
                let mut p = Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Tenant queue full",
                    format!(
                        "this tenant has {max} deliveries waiting, as many as its policy allows (max_queue_depth); the webhook was not accepted, send it again later"
                    ),
                );
                p.retry_after_s = Some(RETRY_AFTER_S);
                p
            }
            IngressError::Forbidden { client } => Problem::new(
                StatusCode::FORBIDDEN,
                "Address not allowed",
                match client {
                    Some(client) => format!(
                        "this endpoint accepts webhooks only from its allowed_ips, and this request came from {client}; the webhook was not accepted"
                    ),
                    None => "this endpoint accepts webhooks only from its allowed_ips, and the address this request came from could not be read from the proxies' header (client_ip_header); the webhook was not accepted".to_owned(),
                },
            ),
            IngressError::RateLimited { by, retry_after } => {
                let whose = match by {
                    Limit::Tenant(rate) => format!(
                        "this tenant is over its ingest rate of {rate} webhooks per second (policy ingest_rate)"
                    ),
                    Limit::Endpoint(limit) => format!(
                        "this endpoint is over its rate limit of {} webhooks per {} (rate_limit)",
                        limit.rate,
                        limit.period.as_str()
                    ),
                };
                let mut p = Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Rate limited",
                    format!("{whose}; the webhook was not accepted, send it again later"),
                );
                p.retry_after_s = Some(retry_after.as_secs_f64().ceil().max(1.0) as u64);
                p
            }
            IngressError::Unavailable(e) => Problem::from(e),
        };
        problem.into_response()
    }
}
