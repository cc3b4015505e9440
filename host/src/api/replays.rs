//! `/v1/tenants/{t}/replays`: bulk replays of an endpoint's deliveries,
//! run in the background at the host's `replay_rate`: start, follow, list,
//! cancel.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::ApiState;
use super::auth::Caller;
use super::error::ApiError;
use super::json::{Body, time};
use super::tenants::{room_to_queue, tenant_of};
use super::views::{BulkReplayRequest, ReplayJobList, ReplayJobView};
use crate::domain::{EventTypePattern, Timestamp};
use crate::ids::{EndpointId, ReplayId};
use crate::problem::{FieldError, Problem};
use crate::store::{DeliveryStatus, MAX_RUNNING_REPLAYS, ReplayFilter, ReplayStart, ReplayState};

/// Starts a bulk replay: every finished delivery of the endpoint matching
/// the filter runs again, oldest first, at the host's `replay_rate`.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/replays", tag = "replays",
    params(("tenant" = String, Path)),
    request_body = BulkReplayRequest,
    responses((status = 202, body = ReplayJobView), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 429, body = Problem)))]
pub async fn start(
    State(state): State<ApiState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Body(request): Body<BulkReplayRequest>,
) -> Result<(StatusCode, Json<ReplayJobView>), ApiError> {
    let tenant = tenant_of(&state, &caller, &tenant).await?;
    let now = Timestamp::now();
    let mut filter = check(&request, now)?;
    let endpoint = state
        .store
        .endpoint(&tenant, &filter.endpoint)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no endpoint {}", filter.endpoint)))?;
    if let Some(version) = request.to_version {
        let plugin = &endpoint.spec.plugin;
        let versions = state.store.plugin_versions(&tenant, Some(plugin)).await?;
        if !versions.iter().any(|v| v.version == version) {
            return Err(ApiError::field(
                "to_version",
                format!("plugin {plugin} has no version {version}"),
            ));
        }
        filter.plugin = Some(plugin.clone());
    }
    room_to_queue(&state, &tenant).await?;
    match state
        .store
        .start_replay(&tenant, &filter, request.to_version, now)
        .await?
    {
        ReplayStart::Started(job) => {
            state.queue.replay_started();
            Ok((StatusCode::ACCEPTED, Json(ReplayJobView::from(&*job))))
        }
        ReplayStart::TooMany => Err(ApiError::Conflict(format!(
            "tenant {tenant} already runs {MAX_RUNNING_REPLAYS} bulk replays, as many as it may at once; wait for one to finish or cancel one"
        ))),
    }
}

/// Checks a request's filter, naming every field at fault.
fn check(raw: &BulkReplayRequest, now: Timestamp) -> Result<ReplayFilter, ApiError> {
    let mut errors = Vec::new();
    let endpoint = EndpointId::new(&raw.endpoint)
        .map_err(|e| errors.push(FieldError::new("endpoint", e.to_string())))
        .ok();
    let status = raw.status.as_deref().and_then(|s| {
        let finished = DeliveryStatus::parse(s).filter(|s| {
            matches!(
                s,
                DeliveryStatus::Succeeded | DeliveryStatus::Dead | DeliveryStatus::Filtered
            )
        });
        if finished.is_none() {
            errors.push(FieldError::new(
                "status",
                format!("{s:?} is not one of succeeded, dead, filtered: only finished deliveries run again"),
            ));
        }
        finished
    });
    let event_type = raw.event_type.as_deref().and_then(|p| {
        p.parse::<EventTypePattern>()
            .map_err(|e| errors.push(FieldError::new("event_type", e.to_string())))
            .ok()
    });
    let since = time(&mut errors, "since", raw.since.as_deref());
    let until = time(&mut errors, "until", raw.until.as_deref());
    if let (Some(since), Some(until)) = (since, until)
        && since > until
    {
        errors.push(FieldError::new("until", "is before since"));
    }
    match endpoint {
        Some(endpoint) if errors.is_empty() => Ok(ReplayFilter {
            endpoint,
            status,
            event_type,
            since,
            until: until.map_or(now, |until| until.min(now)),
            plugin_version: raw.plugin_version,
            plugin: None,
        }),
        _ => Err(ApiError::Invalid(errors)),
    }
}

/// The replay id of a URL: a malformed one is a 422, never a store lookup.
fn replay_id(raw: &str) -> Result<ReplayId, ApiError> {
    raw.parse()
        .map_err(|e: crate::ids::InvalidReplayId| ApiError::field("id", e.to_string()))
}

/// A bulk replay and its progress.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/replays/{id}", tag = "replays",
    params(("tenant" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = ReplayJobView), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<ApiState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Json<ReplayJobView>, ApiError> {
    let tenant = tenant_of(&state, &caller, &tenant).await?;
    let id = replay_id(&id)?;
    let job = state
        .store
        .replay_job(&tenant, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no replay {id}")))?;
    Ok(Json(ReplayJobView::from(&job)))
}

/// A tenant's bulk replays, newest first: those running and the last
/// hundred finished.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/replays", tag = "replays",
    params(("tenant" = String, Path)),
    responses((status = 200, body = ReplayJobList), (status = 404, body = Problem)))]
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Json<ReplayJobList>, ApiError> {
    let tenant = tenant_of(&state, &caller, &tenant).await?;
    let jobs = state.store.replay_jobs(&tenant).await?;
    Ok(Json(ReplayJobList {
        replays: jobs.iter().map(ReplayJobView::from).collect(),
    }))
}

/// Cancels a running bulk replay: it queues nothing more, and what it
/// queued already runs. Cancelling a cancelled one changes nothing.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/replays/{id}/cancel", tag = "replays",
    params(("tenant" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = ReplayJobView), (status = 404, body = Problem),
              (status = 409, body = Problem)))]
pub async fn cancel(
    State(state): State<ApiState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Json<ReplayJobView>, ApiError> {
    let tenant = tenant_of(&state, &caller, &tenant).await?;
    let id = replay_id(&id)?;
    let (job, cancelled) = state
        .store
        .cancel_replay(&tenant, &id, Timestamp::now())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no replay {id}")))?;
    if cancelled {
        metrics::counter!("hookhost_replay_jobs_total", "state" => "cancelled").increment(1);
    }
    match job.state {
        ReplayState::Cancelled => Ok(Json(ReplayJobView::from(&job))),
        other => Err(ApiError::Conflict(format!(
            "replay {id} is {} already; only a running one can be cancelled",
            other.as_str()
        ))),
    }
}
