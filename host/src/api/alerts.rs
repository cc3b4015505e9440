//! `/v1/tenants/{t}/alert-destinations` and `/v1/tenants/{t}/alerts`: where
//! a tenant's alerts go, and what was sent.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::ApiState;
use super::auth::Caller;
use super::error::ApiError;
use super::json::Body;
use super::tenants::tenant_of;
use super::views::{AlertList, AlertView, DestinationList, DestinationRequest, DestinationView};
use crate::alerts::{check_egress, generate_secret};
use crate::domain::{DestinationKind, Provider, Timestamp, check_destination_url};
use crate::ids::DestinationName;
use crate::ingress::verify::validate_secret;
use crate::problem::{FieldError, Problem};
use crate::store::{Destination, DestinationPut, MAX_DESTINATIONS};

/// Alerts a tenant's list shows.
const LISTED_ALERTS: u32 = 100;

fn destination_name(raw: &str) -> Result<DestinationName, ApiError> {
    DestinationName::new(raw).map_err(|e| ApiError::field("name", e.to_string()))
}

/// Sets an alert destination. A `webhook` one given no secret gets a
/// generated one, answered whole this once.
#[utoipa::path(put, path = "/v1/tenants/{tenant}/alert-destinations/{name}", tag = "alerts",
    params(("tenant" = String, Path), ("name" = String, Path)),
    request_body = DestinationRequest,
    responses((status = 200, body = DestinationView), (status = 201, body = DestinationView),
              (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn put(
    State(state): State<ApiState>,
    caller: Caller,
    Path((tenant, name)): Path<(String, String)>,
    Body(request): Body<DestinationRequest>,
) -> Result<(StatusCode, Json<DestinationView>), ApiError> {
    let tenant = tenant_of(&state, &caller, &tenant).await?;
    let name = destination_name(&name)?;
    let mut errors = Vec::new();
    match check_destination_url(&request.url) {
        Ok(url) => {
            // Bound whoever writes it: the tenant reads and rewrites it.
            let policy = state.policies.get(&tenant).await?;
            if let Err(message) = check_egress(&url, &policy) {
                errors.push(FieldError::new("url", message));
            }
        }
        Err(message) => errors.push(FieldError::new("url", message)),
    }
    let (secret, generated) = match (request.kind, request.secret) {
        (DestinationKind::Webhook, Some(secret)) => {
            if let Err(message) = validate_secret(Provider::StandardWebhooks, &secret) {
                errors.push(FieldError::new("secret", message));
            }
            (Some(secret), false)
        }
        (DestinationKind::Webhook, None) => (Some(generate_secret()), true),
        (DestinationKind::Slack, Some(_)) => {
            errors.push(FieldError::new(
                "secret",
                "a slack destination is not signed; its URL is its secret",
            ));
            (None, false)
        }
        (DestinationKind::Slack, None) => (None, false),
    };
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let now = Timestamp::now();
    let destination = Destination {
        name,
        kind: request.kind,
        url: request.url,
        secret,
        created_at: now,
        updated_at: now,
    };
    let created = match state.store.put_destination(&tenant, &destination).await? {
        DestinationPut::Stored(created) => created,
        DestinationPut::TooMany => {
            return Err(ApiError::Conflict(format!(
                "tenant {tenant} has {MAX_DESTINATIONS} alert destinations, as many as a tenant may; delete one first"
            )));
        }
    };
    let stored = state
        .store
        .destinations(&tenant)
        .await?
        .into_iter()
        .find(|d| d.name == destination.name)
        .unwrap_or(destination);
    let mut view = DestinationView::new(&stored);
    if generated {
        view.secret = stored.secret.clone();
    }
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view)))
}

/// A tenant's alert destinations, secrets masked.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/alert-destinations", tag = "alerts",
    params(("tenant" = String, Path)),
    responses((status = 200, body = DestinationList), (status = 404, body = Problem)))]
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Json<DestinationList>, ApiError> {
    let tenant = tenant_of(&state, &caller, &tenant).await?;
    let destinations = state.store.destinations(&tenant).await?;
    Ok(Json(DestinationList {
        destinations: destinations.iter().map(DestinationView::new).collect(),
    }))
}

/// One alert destination, its secret masked.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/alert-destinations/{name}", tag = "alerts",
    params(("tenant" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = DestinationView), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<ApiState>,
    caller: Caller,
    Path((tenant, name)): Path<(String, String)>,
) -> Result<Json<DestinationView>, ApiError> {
    let tenant = tenant_of(&state, &caller, &tenant).await?;
    let name = destination_name(&name)?;
    state
        .store
        .destinations(&tenant)
        .await?
        .iter()
        .find(|d| d.name == name)
        .map(|d| Json(DestinationView::new(d)))
        .ok_or_else(|| ApiError::NotFound(format!("no alert destination {name}")))
}

/// Deletes an alert destination; alerts still waiting for it fail.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/alert-destinations/{name}", tag = "alerts",
    params(("tenant" = String, Path), ("name" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete(
    State(state): State<ApiState>,
    caller: Caller,
    Path((tenant, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let tenant = tenant_of(&state, &caller, &tenant).await?;
    let name = destination_name(&name)?;
    if state.store.delete_destination(&tenant, &name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("no alert destination {name}")))
    }
}

/// A tenant's newest alerts (at most a hundred), with how their sending
/// went.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/alerts", tag = "alerts",
    params(("tenant" = String, Path)),
    responses((status = 200, body = AlertList), (status = 404, body = Problem)))]
pub async fn list_alerts(
    State(state): State<ApiState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Json<AlertList>, ApiError> {
    let tenant = tenant_of(&state, &caller, &tenant).await?;
    let alerts = state.store.alerts(&tenant, LISTED_ALERTS).await?;
    Ok(Json(AlertList {
        alerts: alerts.iter().map(AlertView::from).collect(),
    }))
}
