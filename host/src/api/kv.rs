//! `/v1/tenants/{t}/kv/{plugin}`: read-only inspection of a plugin's storage.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa::IntoParams;

use super::ApiState;
use super::auth::Caller;
use super::error::ApiError;
use super::json::Params;
use super::tenants::tenant_of;
use super::views::{KvKeys, KvValue, encode};
use crate::ids::PluginName;
use crate::problem::Problem;
use crate::runtime::KvNamespace;
use crate::runtime::MAX_LIST_KEYS;

/// Which keys to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct KeysQuery {
    /// Only keys starting with this.
    pub prefix: Option<String>,
}

async fn namespace(
    state: &ApiState,
    caller: &Caller,
    tenant: &str,
    plugin: &str,
) -> Result<KvNamespace, ApiError> {
    Ok(KvNamespace {
        tenant: tenant_of(state, caller, tenant).await?,
        plugin: PluginName::new(plugin).map_err(|e| ApiError::field("plugin", e.to_string()))?,
    })
}

fn store_down(e: crate::runtime::KvReadError) -> ApiError {
    tracing::error!(error = %e.0, "kv read failed");
    ApiError::Store(crate::store::StoreError::Corrupt(e.0))
}

/// Lists a plugin's keys.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/kv/{plugin}/keys", tag = "kv",
    params(("tenant" = String, Path), ("plugin" = String, Path), KeysQuery),
    responses((status = 200, body = KvKeys), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
pub async fn keys(
    State(state): State<ApiState>,
    caller: Caller,
    Path((tenant, plugin)): Path<(String, String)>,
    Params(query): Params<KeysQuery>,
) -> Result<Json<KvKeys>, ApiError> {
    let ns = namespace(&state, &caller, &tenant, &plugin).await?;
    let mut keys = state
        .store
        .list_keys(
            &ns,
            query.prefix.as_deref().unwrap_or(""),
            MAX_LIST_KEYS + 1,
        )
        .await
        .map_err(store_down)?;
    let truncated = keys.len() > MAX_LIST_KEYS;
    keys.truncate(MAX_LIST_KEYS);
    Ok(Json(KvKeys { keys, truncated }))
}

/// Reads one value.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/kv/{plugin}/keys/{key}", tag = "kv",
    params(("tenant" = String, Path), ("plugin" = String, Path), ("key" = String, Path)),
    responses((status = 200, body = KvValue), (status = 404, body = Problem)))]
pub async fn value(
    State(state): State<ApiState>,
    caller: Caller,
    Path((tenant, plugin, key)): Path<(String, String, String)>,
) -> Result<Json<KvValue>, ApiError> {
    let ns = namespace(&state, &caller, &tenant, &plugin).await?;
    let value = state
        .store
        .get(&ns, &key)
        .await
        .map_err(store_down)?
        .ok_or_else(|| {
            ApiError::NotFound(format!("no key {key:?} in plugin {plugin}'s storage"))
        })?;
    let (value, encoding) = encode(value);
    Ok(Json(KvValue {
        key,
        value,
        encoding,
    }))
}
