//! `/v1/tenants/{t}/endpoints/{e}/secrets/{name}`: secrets the endpoint's
//! plugin reads with `secret::get` (a provider's API key). Write-only: no
//! answer ever carries a value, only its last four characters, and the
//! endpoint's view lists them the same way.
//!
//! A resource of their own, not a field of the endpoint's spec, so that
//! replacing an endpoint never needs, or loses, a value nobody can read back.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::ApiState;
use super::auth::Caller;
use super::error::ApiError;
use super::json::Body;
use super::tenants::tenant_of;
use super::views::{SecretRequest, SecretView};
use crate::domain::{MIN_SECRET_BYTES, SecretValue, hard, masked};
use crate::ids::{EndpointId, SecretName};
use crate::problem::Problem;
use crate::store::SecretWrite;

fn names(endpoint: &str, name: &str) -> Result<(EndpointId, SecretName), ApiError> {
    let endpoint =
        EndpointId::new(endpoint).map_err(|e| ApiError::field("endpoint", e.to_string()))?;
    let name = SecretName::new(name).map_err(|e| ApiError::field("name", e.to_string()))?;
    Ok((endpoint, name))
}

/// Sets a secret of the endpoint's plugin: created (201) or replaced (200).
/// Invocations that start from then on read the new value.
#[utoipa::path(put, path = "/v1/tenants/{tenant}/endpoints/{endpoint}/secrets/{name}", tag = "endpoints",
    params(("tenant" = String, Path), ("endpoint" = String, Path), ("name" = String, Path)),
    request_body = SecretRequest,
    responses((status = 200, body = SecretView), (status = 201, body = SecretView),
              (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 422, body = Problem)))]
pub async fn put(
    State(state): State<ApiState>,
    caller: Caller,
    Path((tenant, endpoint, name)): Path<(String, String, String)>,
    Body(request): Body<SecretRequest>,
) -> Result<(StatusCode, Json<SecretView>), ApiError> {
    let tenant = tenant_of(&state, &caller, &tenant).await?;
    let (endpoint, name) = names(&endpoint, &name)?;
    let length = request.value.len();
    if !(MIN_SECRET_BYTES..=hard::PLUGIN_SECRET_BYTES).contains(&length) {
        return Err(ApiError::field(
            "value",
            format!(
                "a secret is {MIN_SECRET_BYTES} to {} bytes long, so that it can be kept out \
                 of what its plugin logs; this one is {length}",
                hard::PLUGIN_SECRET_BYTES
            ),
        ));
    }
    // A line break would let a plugin print a secret across log lines,
    // which are searched one by one.
    if request.value.chars().any(char::is_control) {
        return Err(ApiError::field(
            "value",
            "a secret is one line without control characters; encode a multi-line value \
             such as a PEM key (base64) and decode it in the plugin",
        ));
    }
    let value = SecretValue::new(request.value);
    let written = state
        .store
        .put_plugin_secret(&tenant, &endpoint, &name, &value, hard::PLUGIN_SECRETS)
        .await?;
    let status = match written {
        SecretWrite::Created => StatusCode::CREATED,
        SecretWrite::Replaced => StatusCode::OK,
        SecretWrite::NoEndpoint => {
            return Err(ApiError::NotFound(format!("no endpoint {endpoint}")));
        }
        SecretWrite::Full => {
            return Err(ApiError::Conflict(format!(
                "endpoint {endpoint} has {} secrets, the most it may hold; delete one first",
                hard::PLUGIN_SECRETS
            )));
        }
    };
    state.endpoints.invalidate(&tenant, &endpoint);
    Ok((
        status,
        Json(SecretView {
            name: name.to_string(),
            value: masked(value.expose()),
        }),
    ))
}

/// Deletes a secret of the endpoint's plugin; invocations that start from
/// then on no longer read it.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/endpoints/{endpoint}/secrets/{name}", tag = "endpoints",
    params(("tenant" = String, Path), ("endpoint" = String, Path), ("name" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete(
    State(state): State<ApiState>,
    caller: Caller,
    Path((tenant, endpoint, name)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let tenant = tenant_of(&state, &caller, &tenant).await?;
    let (endpoint, name) = names(&endpoint, &name)?;
    if !state
        .store
        .delete_plugin_secret(&tenant, &endpoint, &name)
        .await?
    {
        return Err(ApiError::NotFound(format!(
            "endpoint {endpoint} has no secret {name}"
        )));
    }
    state.endpoints.invalidate(&tenant, &endpoint);
    Ok(StatusCode::NO_CONTENT)
}
