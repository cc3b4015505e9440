//! `/v1/tenants/{t}/policy`: what the operator lets a tenant do. Only the
//! operator reads or writes it; a tenant meets it as the 422 naming the
//! ceiling when one of its endpoint settings goes beyond it.

use axum::Json;
use axum::extract::{Path, State};

use super::ApiState;
use super::auth::Caller;
use super::error::ApiError;
use super::json::Body;
use super::tenants::tenant_of;
use super::views::{EndpointOverPolicy, PolicyView};
use crate::domain::PolicyOverrides;
use crate::ids::TenantId;
use crate::problem::{FieldError, Problem};

/// Reads a tenant's policy, and the endpoints configured beyond it.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/policy", tag = "tenants",
    params(("tenant" = String, Path, description = "tenant id")),
    responses((status = 200, body = PolicyView), (status = 403, body = Problem),
              (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<ApiState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Json<PolicyView>, ApiError> {
    let id = tenant_of(&state, &caller, &tenant).await?;
    caller.operator()?;
    let overrides = state
        .store
        .tenant_policy(&id)
        .await?
        .ok_or_else(|| super::auth::no_tenant(&id))?;
    view(&state, &id, overrides).await.map(Json)
}

/// Replaces a tenant's policy: the fields given override the server's
/// defaults, the rest follow them. Endpoints beyond the new policy keep
/// running as configured and are listed in the answer.
#[utoipa::path(put, path = "/v1/tenants/{tenant}/policy", tag = "tenants",
    params(("tenant" = String, Path, description = "tenant id")),
    request_body = PolicyOverrides,
    responses((status = 200, body = PolicyView), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn put(
    State(state): State<ApiState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Body(overrides): Body<PolicyOverrides>,
) -> Result<Json<PolicyView>, ApiError> {
    let id = tenant_of(&state, &caller, &tenant).await?;
    caller.operator()?;
    let policy = state
        .policies
        .defaults()
        .with(&overrides)
        .map_err(|v| ApiError::field(v.field, v.message))?;
    let wrong = policy.validate(state.max_memory_mb);
    if !wrong.is_empty() {
        return Err(ApiError::Invalid(
            wrong
                .into_iter()
                .map(|v| FieldError::new(v.field, v.message))
                .collect(),
        ));
    }
    if !state.store.set_tenant_policy(&id, &overrides).await? {
        return Err(super::auth::no_tenant(&id));
    }
    state.policies.invalidate(&id);
    view(&state, &id, overrides).await.map(Json)
}

async fn view(
    state: &ApiState,
    tenant: &TenantId,
    overrides: PolicyOverrides,
) -> Result<PolicyView, ApiError> {
    let policy = state
        .policies
        .defaults()
        .with(&overrides)
        .map_err(|v| ApiError::field(v.field, v.message))?;
    let endpoints_over_policy = state
        .store
        .list_endpoints(tenant)
        .await?
        .iter()
        .filter_map(|e| {
            let violations = policy.check(&e.spec);
            (!violations.is_empty()).then(|| EndpointOverPolicy {
                endpoint: e.id.to_string(),
                violations: violations
                    .into_iter()
                    .map(|v| FieldError::new(v.field, v.message))
                    .collect(),
            })
        })
        .collect();
    Ok(PolicyView {
        tenant: tenant.to_string(),
        policy,
        overrides,
        endpoints_over_policy,
    })
}
