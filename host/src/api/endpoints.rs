//! `/v1/tenants/{t}/endpoints`: bind a provider, secrets and a plugin version
//! to an inbound URL; every field is validated with its own message.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};

use super::ApiState;
use super::auth::Caller;
use super::error::ApiError;
use super::json::Body;
use super::tenants::{room_to_queue, tenant_of};
use super::views::{EndpointList, EndpointView, PauseChange, ReplayedDead};
use crate::domain::{
    EndpointRequest, EndpointSpec, HostPattern, IpAllow, Provider, Timestamp, config_bytes, hard,
};
use crate::ids::{EndpointId, TenantId};
use crate::ingress::verify::validate_secret;
use crate::problem::{FieldError, Problem};

/// Longest accepted timestamp tolerance: one day.
const MAX_TOLERANCE_S: u64 = 86_400;

/// Checks every field a request can be judged by alone, on a host whose
/// largest memory limit is `max_memory_mb`: each fault with its own message,
/// else the allowed hosts parsed. Pure, so that it is fuzzed.
pub fn check_request(
    r: &EndpointRequest,
    max_memory_mb: u32,
) -> Result<Vec<HostPattern>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut fail = |field: &str, message: String| errors.push(FieldError::new(field, message));

    if r.provider != Provider::None && r.secrets.is_empty() {
        fail(
            "secrets",
            format!("provider {} needs at least one secret", r.provider),
        );
    }
    if r.secrets.len() > hard::SECRETS as usize {
        fail(
            "secrets",
            format!(
                "at most {} secrets, each is tried on every request",
                hard::SECRETS
            ),
        );
    }
    if r.allowed_hosts.len() > hard::ALLOWED_HOSTS {
        fail(
            "allowed_hosts",
            format!("at most {} entries", hard::ALLOWED_HOSTS),
        );
    }
    if r.allowed_ips.len() > hard::ALLOWED_IPS {
        fail(
            "allowed_ips",
            format!("at most {} entries", hard::ALLOWED_IPS),
        );
    }
    if let Some(limit) = &r.rate_limit {
        for (field, value) in [("rate", Some(limit.rate)), ("burst", limit.burst)] {
            if value.is_some_and(|v| v.get() > hard::RATE_LIMIT) {
                fail(
                    &format!("rate_limit.{field}"),
                    format!("at most {}", hard::RATE_LIMIT),
                );
            }
        }
    }
    if r.event_types.len() > hard::EVENT_TYPES {
        fail(
            "event_types",
            format!("at most {} patterns", hard::EVENT_TYPES),
        );
    }
    if r.retry.schedule_s.len() > hard::SCHEDULE_ENTRIES {
        fail(
            "retry.schedule_s",
            format!("at most {} entries", hard::SCHEDULE_ENTRIES),
        );
    }
    if let Some(i) = r.secrets.iter().position(|s| s.len() > hard::SECRET_BYTES) {
        fail(
            &format!("secrets[{i}]"),
            format!("a secret may be at most {} bytes", hard::SECRET_BYTES),
        );
    }
    if config_bytes(r) > hard::CONFIG_BYTES {
        fail(
            "config",
            format!("at most {} bytes of keys and values", hard::CONFIG_BYTES),
        );
    }
    for (i, secret) in r.secrets.iter().enumerate() {
        if let Err(message) = validate_secret(r.provider, secret) {
            fail(&format!("secrets[{i}]"), message);
        }
    }
    match (&r.hmac, r.provider) {
        (None, Provider::Hmac) => fail("hmac", "provider hmac needs an `hmac` layout".into()),
        (Some(scheme), Provider::Hmac) => {
            if let Err(message) = scheme.validate() {
                fail("hmac", message);
            }
        }
        (Some(_), other) => fail(
            "hmac",
            format!("only provider hmac takes an `hmac` layout, not {other}"),
        ),
        (None, _) => {}
    }
    if !(1..=MAX_TOLERANCE_S).contains(&r.tolerance_s) {
        fail(
            "tolerance_s",
            format!("must be between 1 and {MAX_TOLERANCE_S} seconds"),
        );
    }
    if let Some(name) = &r.dedup_header
        && header::HeaderName::from_bytes(name.as_bytes()).is_err()
    {
        fail(
            "dedup_header",
            format!("{name:?} is not a valid header name"),
        );
    }
    let mut allowed_hosts = Vec::new();
    for (i, raw) in r.allowed_hosts.iter().enumerate() {
        match raw.parse::<HostPattern>() {
            Ok(pattern) => allowed_hosts.push(pattern),
            Err(e) => fail(&format!("allowed_hosts[{i}]"), e.to_string()),
        }
    }
    let limits = &r.limits;
    if !(1..=hard::TIMEOUT_MS).contains(&limits.timeout_ms) {
        fail(
            "limits.timeout_ms",
            format!("must be between 1 and {}", hard::TIMEOUT_MS),
        );
    }
    if !(1..=max_memory_mb).contains(&limits.memory_mb) {
        fail(
            "limits.memory_mb",
            format!("must be between 1 and {max_memory_mb} on this host"),
        );
    }
    if limits.max_http_calls > hard::HTTP_CALLS {
        fail(
            "limits.max_http_calls",
            format!("must be at most {}", hard::HTTP_CALLS),
        );
    }
    if !(1..=hard::BODY_LIMIT_BYTES).contains(&limits.body_limit_bytes) {
        fail(
            "limits.body_limit_bytes",
            format!("must be between 1 and {}", hard::BODY_LIMIT_BYTES),
        );
    }
    if limits.max_concurrent == Some(0) {
        fail(
            "limits.max_concurrent",
            "must be at least 1; null leaves only the tenant's share".to_owned(),
        );
    }
    if let Err(message) = r.retry.validate() {
        fail("retry", message);
    }
    for (field, message) in r.alerts.validate() {
        fail(&field, message);
    }
    if errors.is_empty() {
        Ok(allowed_hosts)
    } else {
        Err(errors)
    }
}

/// Checks every field and resolves the plugin version; a tenant key's
/// request must also stay within the tenant's policy.
async fn validate(
    state: &ApiState,
    caller: &Caller,
    tenant: &TenantId,
    r: EndpointRequest,
) -> Result<EndpointSpec, ApiError> {
    let (mut errors, allowed_hosts) = match check_request(&r, state.max_memory_mb) {
        Ok(hosts) => (Vec::new(), hosts),
        Err(errors) => (errors, Vec::new()),
    };
    let mut fail = |field: &str, message: String| errors.push(FieldError::new(field, message));
    let mut plugin_version = 0;
    {
        let name = &r.plugin;
        let versions = state.store.plugin_versions(tenant, Some(name)).await?;
        match (r.plugin_version, versions.last()) {
            (_, None) => fail(
                "plugin",
                format!("there is no plugin {name}; upload a version first"),
            ),
            (None, Some(latest)) => plugin_version = latest.version,
            (Some(v), Some(_)) if versions.iter().any(|x| x.version == v) => plugin_version = v,
            (Some(v), Some(latest)) => fail(
                "plugin_version",
                format!(
                    "plugin {name} has no version {v} (latest is {})",
                    latest.version
                ),
            ),
        }
    }
    for (i, entry) in r.allowed_ips.iter().enumerate() {
        if let IpAllow::Set(name) = entry
            && !state.ip_sets.contains_key(name)
        {
            fail(
                &format!("allowed_ips[{i}]"),
                format!("the server's config defines no IP set {name:?} (ip_sets)"),
            );
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let spec = EndpointSpec {
        provider: r.provider,
        secrets: r.secrets,
        hmac: r.hmac,
        tolerance_s: r.tolerance_s,
        dedup_header: r.dedup_header,
        allowed_ips: r.allowed_ips,
        rate_limit: r.rate_limit,
        event_types: r.event_types,
        plugin: r.plugin,
        plugin_version,
        config: r.config,
        allowed_hosts,
        allow_private_network: r.allow_private_network,
        limits: r.limits,
        retry: r.retry,
        alerts: r.alerts,
    };
    // The operator is trusted and may go beyond a tenant's policy; what it
    // sets that way is reported by `GET /v1/tenants/{t}/policy`.
    if let Caller::Tenant(_) = caller {
        let policy = state.policies.get(tenant).await?;
        let over = policy.check(&spec);
        if !over.is_empty() {
            return Err(ApiError::Invalid(
                over.into_iter()
                    .map(|v| FieldError::new(&v.field, v.message))
                    .collect(),
            ));
        }
    }
    Ok(spec)
}

/// Refuses a new endpoint beyond the tenant's `max_endpoints`; replacing
/// one is always allowed. The operator is held to it too: endpoints are
/// what every webhook of the tenant costs a lookup in.
async fn room_for_endpoint(
    state: &ApiState,
    tenant: &TenantId,
    id: &EndpointId,
) -> Result<(), ApiError> {
    let endpoints = state.store.list_endpoints(tenant).await?;
    let max = state.policies.get(tenant).await?.max_endpoints;
    if endpoints.len() as u64 >= u64::from(max) && !endpoints.iter().any(|e| &e.id == id) {
        return Err(ApiError::Conflict(format!(
            "tenant {tenant} has {max} endpoints, as many as its policy allows (max_endpoints); delete one first"
        )));
    }
    Ok(())
}

/// `http(s)://host:port` this API is reached at, for inbound URLs.
fn base_url(state: &ApiState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1:8080");
    format!("http://{host}")
}

fn endpoint_id(id: &str) -> Result<EndpointId, ApiError> {
    EndpointId::new(id).map_err(|e| ApiError::field("endpoint", e.to_string()))
}

/// Creates (201) or replaces (200) an endpoint. New deliveries use the new
/// configuration at once; ones already accepted keep their plugin version.
#[utoipa::path(put, path = "/v1/tenants/{tenant}/endpoints/{endpoint}", tag = "endpoints",
    params(("tenant" = String, Path), ("endpoint" = String, Path)),
    request_body = EndpointRequest,
    responses((status = 200, body = EndpointView), (status = 201, body = EndpointView),
              (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn put(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    Path((tenant, endpoint)): Path<(String, String)>,
    Body(request): Body<EndpointRequest>,
) -> Result<(StatusCode, Json<EndpointView>), ApiError> {
    let tenant = tenant_of(&state, &caller, &tenant).await?;
    let id = endpoint_id(&endpoint)?;
    let spec = validate(&state, &caller, &tenant, request).await?;
    room_for_endpoint(&state, &tenant, &id).await?;
    let created = state.store.put_endpoint(&tenant, &id, &spec).await?;
    state.endpoints.invalidate(&tenant, &id);
    let stored = state
        .store
        .endpoint(&tenant, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no endpoint {id}")))?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(EndpointView::new(&stored, &base_url(&state, &headers))),
    ))
}

/// Reads an endpoint.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/endpoints/{endpoint}", tag = "endpoints",
    params(("tenant" = String, Path), ("endpoint" = String, Path)),
    responses((status = 200, body = EndpointView), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    Path((tenant, endpoint)): Path<(String, String)>,
) -> Result<Json<EndpointView>, ApiError> {
    let tenant = tenant_of(&state, &caller, &tenant).await?;
    let id = endpoint_id(&endpoint)?;
    let stored = state
        .store
        .endpoint(&tenant, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no endpoint {id}")))?;
    Ok(Json(EndpointView::new(
        &stored,
        &base_url(&state, &headers),
    )))
}

/// Deletes an endpoint; its deliveries stay readable.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/endpoints/{endpoint}", tag = "endpoints",
    params(("tenant" = String, Path), ("endpoint" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete(
    State(state): State<ApiState>,
    caller: Caller,
    Path((tenant, endpoint)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let tenant = tenant_of(&state, &caller, &tenant).await?;
    let id = endpoint_id(&endpoint)?;
    if !state.store.delete_endpoint(&tenant, &id).await? {
        return Err(ApiError::NotFound(format!("no endpoint {id}")));
    }
    state.endpoints.invalidate(&tenant, &id);
    Ok(StatusCode::NO_CONTENT)
}

/// Lists a tenant's endpoints.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/endpoints", tag = "endpoints",
    params(("tenant" = String, Path)),
    responses((status = 200, body = EndpointList), (status = 404, body = Problem)))]
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    Path(tenant): Path<String>,
) -> Result<Json<EndpointList>, ApiError> {
    let tenant = tenant_of(&state, &caller, &tenant).await?;
    let base = base_url(&state, &headers);
    let endpoints = state.store.list_endpoints(&tenant).await?;
    Ok(Json(EndpointList {
        endpoints: endpoints
            .iter()
            .map(|e| EndpointView::new(e, &base))
            .collect(),
    }))
}

/// Queues every dead delivery of an endpoint to run again.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/endpoints/{endpoint}/replay-dead", tag = "endpoints",
    params(("tenant" = String, Path), ("endpoint" = String, Path)),
    responses((status = 200, body = ReplayedDead), (status = 404, body = Problem), (status = 429, body = Problem)))]
pub async fn replay_dead(
    State(state): State<ApiState>,
    caller: Caller,
    Path((tenant, endpoint)): Path<(String, String)>,
) -> Result<Json<ReplayedDead>, ApiError> {
    let tenant = tenant_of(&state, &caller, &tenant).await?;
    let id = endpoint_id(&endpoint)?;
    if state.store.endpoint(&tenant, &id).await?.is_none() {
        return Err(ApiError::NotFound(format!("no endpoint {id}")));
    }
    room_to_queue(&state, &tenant).await?;
    let replayed = state
        .store
        .replay_dead(&tenant, &id, Timestamp::now())
        .await?;
    metrics::counter!("hookhost_replays_total", "kind" => "dead").increment(replayed);
    state.queue.wake();
    Ok(Json(ReplayedDead { replayed }))
}

/// Pauses an endpoint: it goes on accepting and storing webhooks (202) but
/// runs none; waiting deliveries show `paused` until it is resumed. Running
/// ones finish. Other hosts hear of it within a second; whatever they start
/// meanwhile is set aside when claimed.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/endpoints/{endpoint}/pause", tag = "endpoints",
    params(("tenant" = String, Path), ("endpoint" = String, Path)),
    responses((status = 200, body = PauseChange), (status = 404, body = Problem)))]
pub async fn pause(
    State(state): State<ApiState>,
    caller: Caller,
    Path((tenant, endpoint)): Path<(String, String)>,
) -> Result<Json<PauseChange>, ApiError> {
    let tenant = tenant_of(&state, &caller, &tenant).await?;
    let id = endpoint_id(&endpoint)?;
    let now = Timestamp::now();
    let parked = state
        .store
        .pause_endpoint(&tenant, &id, now)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no endpoint {id}")))?;
    metrics::counter!("hookhost_endpoint_pauses_total", "action" => "pause").increment(1);
    state.endpoints.invalidate(&tenant, &id);
    let paused_at = state
        .store
        .endpoint(&tenant, &id)
        .await?
        .and_then(|e| e.paused_at)
        .unwrap_or(now);
    Ok(Json(PauseChange {
        paused_at: Some(paused_at.rfc3339()),
        deliveries: parked,
    }))
}

/// Resumes a paused endpoint: what waited falls due at once, oldest first.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/endpoints/{endpoint}/resume", tag = "endpoints",
    params(("tenant" = String, Path), ("endpoint" = String, Path)),
    responses((status = 200, body = PauseChange), (status = 404, body = Problem)))]
pub async fn resume(
    State(state): State<ApiState>,
    caller: Caller,
    Path((tenant, endpoint)): Path<(String, String)>,
) -> Result<Json<PauseChange>, ApiError> {
    let tenant = tenant_of(&state, &caller, &tenant).await?;
    let id = endpoint_id(&endpoint)?;
    let resumed = state
        .store
        .resume_endpoint(&tenant, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no endpoint {id}")))?;
    metrics::counter!("hookhost_endpoint_pauses_total", "action" => "resume").increment(1);
    state.endpoints.invalidate(&tenant, &id);
    state.queue.wake();
    Ok(Json(PauseChange {
        paused_at: None,
        deliveries: resumed,
    }))
}
