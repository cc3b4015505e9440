//! `/v1/tenants`: create, list, read, delete tenants and rotate their keys.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::ApiState;
use super::auth::{Caller, generate_key, hash_key, no_tenant};
use super::error::ApiError;
use super::json::Body;
use super::views::{ApiKey, CreateTenant, TenantCreated, TenantList, TenantView};
use crate::domain::Timestamp;
use crate::ids::TenantId;
use crate::problem::Problem;

/// The tenant named in a path, if the caller may reach it and it exists.
pub async fn tenant_of(state: &ApiState, caller: &Caller, id: &str) -> Result<TenantId, ApiError> {
    let id = TenantId::new(id).map_err(|_| ApiError::NotFound(format!("no tenant {id}")))?;
    caller.reach(&id)?;
    match state.store.tenant(&id).await? {
        Some(_) => Ok(id),
        None => Err(no_tenant(&id)),
    }
}

/// Refuses work for a tenant that has as many deliveries waiting as its
/// policy allows: replays are held to the same depth as ingress.
pub async fn room_to_queue(state: &ApiState, tenant: &TenantId) -> Result<(), ApiError> {
    let max = state.policies.get(tenant).await?.max_queue_depth;
    if state.queue.tenant_is_full(tenant, max) {
        return Err(ApiError::TenantQueueFull(format!(
            "tenant {tenant} has {max} deliveries waiting, as many as its policy allows (max_queue_depth); replay later"
        )));
    }
    Ok(())
}

/// Creates a tenant and returns its API key, once.
#[utoipa::path(post, path = "/v1/tenants", tag = "tenants", request_body = CreateTenant,
    responses((status = 201, body = TenantCreated), (status = 403, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    Body(request): Body<CreateTenant>,
) -> Result<(StatusCode, Json<TenantCreated>), ApiError> {
    caller.operator()?;
    let id = TenantId::new(request.id).map_err(|e| ApiError::field("id", e.to_string()))?;
    let api_key = generate_key("hh_key_");
    if !state
        .store
        .create_tenant(&id, Some(&hash_key(&api_key)))
        .await?
    {
        return Err(ApiError::Conflict(format!("tenant {id} already exists")));
    }
    Ok((
        StatusCode::CREATED,
        Json(TenantCreated {
            id: id.to_string(),
            api_key,
            created_at: Timestamp::now().rfc3339(),
        }),
    ))
}

/// Lists tenants: all for the operator, its own for a tenant key.
#[utoipa::path(get, path = "/v1/tenants", tag = "tenants",
    responses((status = 200, body = TenantList), (status = 401, body = Problem)))]
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<Json<TenantList>, ApiError> {
    let tenants = state.store.list_tenants().await?;
    Ok(Json(TenantList {
        tenants: tenants
            .iter()
            .filter(|t| caller.reach(&t.id).is_ok())
            .map(TenantView::from)
            .collect(),
    }))
}

/// Reads a tenant.
#[utoipa::path(get, path = "/v1/tenants/{tenant}", tag = "tenants",
    params(("tenant" = String, Path, description = "tenant id")),
    responses((status = 200, body = TenantView), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<ApiState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Json<TenantView>, ApiError> {
    let id = tenant_of(&state, &caller, &tenant).await?;
    let tenant = state
        .store
        .tenant(&id)
        .await?
        .ok_or_else(|| no_tenant(&id))?;
    Ok(Json(TenantView::from(&tenant)))
}

/// Deletes a tenant with its plugins, endpoints, deliveries and storage.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}", tag = "tenants",
    params(("tenant" = String, Path, description = "tenant id")),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete(
    State(state): State<ApiState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = tenant_of(&state, &caller, &tenant).await?;
    caller.operator()?;
    let versions = state.store.plugin_versions(&id, None).await?;
    state.store.delete_tenant(&id).await?;
    for version in versions {
        state.runtime.evict(&version.digest);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces a tenant's API key; the old one stops working at once.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/api-key", tag = "tenants",
    params(("tenant" = String, Path, description = "tenant id")),
    responses((status = 200, body = ApiKey), (status = 404, body = Problem)))]
pub async fn rotate_key(
    State(state): State<ApiState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Json<ApiKey>, ApiError> {
    let id = tenant_of(&state, &caller, &tenant).await?;
    let api_key = generate_key("hh_key_");
    if !state.store.set_tenant_key(&id, &hash_key(&api_key)).await? {
        return Err(no_tenant(&id));
    }
    Ok(Json(ApiKey {
        id: id.to_string(),
        api_key,
    }))
}
