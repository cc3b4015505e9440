//! `/v1/tenants/{t}/deliveries`: list with filters and a cursor, inspect one
//! with its event and attempts, replay.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

use super::ApiState;
use super::auth::Caller;
use super::error::ApiError;
use super::json::{Body, Params, time};
use super::tenants::{room_to_queue, tenant_of};
use super::views::{
    DeliveryBase, DeliveryList, DeliverySummary, DeliveryView, ReplayQueued, ReplayRequest, encode,
};
use crate::domain::{MAX_EVENT_TYPE_BYTES, Timestamp, TraceId};
use crate::ids::{DeliveryId, EndpointId};
use crate::problem::FieldError;
use crate::problem::Problem;
use crate::store::{DeliveryFilter, DeliveryStatus, Replay};

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 1_000;

/// Filters and paging of a delivery list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `pending`, `running`, `retrying`, `succeeded`, `dead`, `paused`,
    /// `waiting` or `filtered`.
    pub status: Option<String>,
    /// Only this endpoint.
    pub endpoint: Option<String>,
    /// Only this event type, exactly.
    pub event_type: Option<String>,
    /// Only the deliveries of this event id, as the sender gave it.
    pub event_id: Option<String>,
    /// Only deliveries received at or after this RFC 3339 time.
    pub since: Option<String>,
    /// Only deliveries received at or before this RFC 3339 time.
    pub until: Option<String>,
    /// Page size, 1 to 1000 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Reads a list query into the store's filter, naming every field at fault.
pub(crate) fn filter(q: ListQuery) -> Result<DeliveryFilter, ApiError> {
    let mut errors = Vec::new();
    let status = q.status.as_deref().and_then(|s| {
        let parsed = DeliveryStatus::parse(s);
        if parsed.is_none() {
            errors.push(FieldError::new(
                "status",
                format!("{s:?} is not one of pending, running, retrying, succeeded, dead, paused, waiting, filtered"),
            ));
        }
        parsed
    });
    let endpoint = q.endpoint.as_deref().and_then(|e| {
        EndpointId::new(e)
            .map_err(|e| errors.push(FieldError::new("endpoint", e.to_string())))
            .ok()
    });
    let since = time(&mut errors, "since", q.since.as_deref());
    let until = time(&mut errors, "until", q.until.as_deref());
    let event_type = q.event_type.filter(|t| {
        let fits = t.len() <= MAX_EVENT_TYPE_BYTES && !t.contains('\0');
        if !fits {
            errors.push(FieldError::new(
                "event_type",
                format!("must be at most {MAX_EVENT_TYPE_BYTES} bytes, without NUL"),
            ));
        }
        fits
    });
    // Stored as ingress stores it: a long id, or one with NUL, as its digest.
    let event_id = q.event_id.map(crate::domain::event_key);
    let before = q.cursor.as_deref().and_then(|c| {
        c.parse::<DeliveryId>()
            .map_err(|e| errors.push(FieldError::new("cursor", e.to_string())))
            .ok()
    });
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        errors.push(FieldError::new(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    Ok(DeliveryFilter {
        status,
        endpoint,
        event_type,
        event_id,
        since,
        until,
        before,
        limit,
    })
}

/// The delivery id of a URL: a malformed one is a 422, never a store lookup.
fn delivery_id(raw: &str) -> Result<DeliveryId, ApiError> {
    raw.parse()
        .map_err(|e: crate::ids::InvalidDeliveryId| ApiError::field("id", e.to_string()))
}

/// Lists deliveries, newest first. A page looks through at most 10,000 of
/// the tenant's deliveries for a filter no index serves (an endpoint, an
/// event type, a status other than dead or retrying), so it may hold fewer
/// than `limit` and still have a `next_cursor`: follow it until it is absent.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/deliveries", tag = "deliveries",
    params(("tenant" = String, Path), ListQuery),
    responses((status = 200, body = DeliveryList), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Params(query): Params<ListQuery>,
) -> Result<Json<DeliveryList>, ApiError> {
    let tenant = tenant_of(&state, &caller, &tenant).await?;
    let filter = filter(query)?;
    let page = state.store.list_deliveries(&tenant, &filter).await?;
    Ok(Json(DeliveryList {
        deliveries: page.deliveries.iter().map(DeliverySummary::from).collect(),
        next_cursor: page.next.map(|id| id.to_string()),
    }))
}

/// Reads a delivery with its headers, body and attempts.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/deliveries/{id}", tag = "deliveries",
    params(("tenant" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = DeliveryView), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
pub async fn get(
    State(state): State<ApiState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Json<DeliveryView>, ApiError> {
    let tenant = tenant_of(&state, &caller, &tenant).await?;
    let id = delivery_id(&id)?;
    let delivery = state
        .store
        .delivery(&tenant, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no delivery {id}")))?;
    let attempts = state.store.attempts(&id).await?;
    let base = DeliveryBase::from(&delivery);
    let (body, body_encoding) = match delivery.body {
        Some(bytes) => {
            let (body, encoding) = encode(bytes);
            (Some(body), Some(encoding))
        }
        None => (None, None),
    };
    Ok(Json(DeliveryView {
        delivery: base,
        provider: delivery.provider,
        trace_id: TraceId::of_delivery(&delivery.id, &delivery.headers).to_string(),
        headers: delivery.headers,
        body,
        body_encoding,
        attempts: attempts.into_iter().map(Into::into).collect(),
    }))
}

/// Runs a delivery again: a new attempt with the same event.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/deliveries/{id}/replay", tag = "deliveries",
    params(("tenant" = String, Path), ("id" = String, Path)),
    request_body = ReplayRequest,
    responses((status = 202, body = ReplayQueued), (status = 404, body = Problem), (status = 429, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn replay(
    State(state): State<ApiState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
    Body(request): Body<ReplayRequest>,
) -> Result<(StatusCode, Json<ReplayQueued>), ApiError> {
    let tenant = tenant_of(&state, &caller, &tenant).await?;
    let id = delivery_id(&id)?;
    room_to_queue(&state, &tenant).await?;
    if let Some(version) = request.plugin_version {
        let delivery = state
            .store
            .delivery(&tenant, &id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no delivery {id}")))?;
        let versions = state
            .store
            .plugin_versions(&tenant, Some(&delivery.plugin))
            .await?;
        if !versions.iter().any(|v| v.version == version) {
            return Err(ApiError::field(
                "plugin_version",
                format!("plugin {} has no version {version}", delivery.plugin),
            ));
        }
    }
    match state
        .store
        .replay(&tenant, &id, request.plugin_version, Timestamp::now())
        .await?
    {
        Replay::Queued => {
            metrics::counter!("hookhost_replays_total", "kind" => "one").increment(1);
            state.queue.wake();
            Ok((
                StatusCode::ACCEPTED,
                Json(ReplayQueued {
                    delivery_id: id.to_string(),
                    status: DeliveryStatus::Pending,
                }),
            ))
        }
        Replay::NotFound => Err(ApiError::NotFound(format!("no delivery {id}"))),
        Replay::Running => Err(ApiError::Conflict(format!(
            "delivery {id} is running now; replay it once the attempt has finished"
        ))),
        Replay::BodyPruned => Err(ApiError::Conflict(format!(
            "the body of delivery {id} was pruned by retention, so it cannot run again"
        ))),
    }
}
