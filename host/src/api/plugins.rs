//! `/v1/tenants/{t}/plugins`: upload immutable, numbered versions of a
//! component; list, inspect and delete them.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::ApiState;
use super::auth::Caller;
use super::error::ApiError;
use super::tenants::tenant_of;
use super::views::{PluginList, PluginVersionView, PluginView, VersionList};
use crate::ids::PluginName;
use crate::problem::Problem;
use crate::runtime::RuntimeError;
use crate::store::{DeleteVersion, StoreError};

/// Largest component accepted.
pub const MAX_COMPONENT_BYTES: usize = 32 * 1024 * 1024;

/// A version in a path; anything but a number names no version (404).
fn version_number(name: &PluginName, version: &str) -> Result<u32, ApiError> {
    version
        .parse()
        .map_err(|_| ApiError::NotFound(format!("no version {version} of plugin {name}")))
}

fn plugin_name(name: &str) -> Result<PluginName, ApiError> {
    PluginName::new(name).map_err(|e| ApiError::field("name", e.to_string()))
}

/// Uploads a component as the next version of a plugin. It is validated and
/// compiled first, so a version that is stored can run. A tenant's versions
/// together may take at most its policy's `max_plugin_bytes` (409 past it),
/// for the operator's uploads too: they are a share of the database.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/plugins/{name}/versions", tag = "plugins",
    params(("tenant" = String, Path), ("name" = String, Path)),
    request_body(content = Vec<u8>, content_type = "application/wasm"),
    responses((status = 201, body = PluginVersionView), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn upload(
    State(state): State<ApiState>,
    caller: Caller,
    Path((tenant, name)): Path<(String, String)>,
    wasm: Bytes,
) -> Result<(StatusCode, Json<PluginVersionView>), ApiError> {
    let tenant = tenant_of(&state, &caller, &tenant).await?;
    let name = plugin_name(&name)?;
    if wasm.len() > MAX_COMPONENT_BYTES {
        return Err(ApiError::TooLarge(format!(
            "a component may be at most {MAX_COMPONENT_BYTES} bytes"
        )));
    }
    // Checked before compiling too, which costs far more than the check.
    let max_bytes = state.policies.get(&tenant).await?.max_plugin_bytes;
    let stored = state.store.plugin_bytes(&tenant).await?;
    let over_quota = |e: StoreError| match e {
        quota @ StoreError::PluginQuota { .. } => ApiError::Conflict(quota.to_string()),
        other => other.into(),
    };
    if stored.saturating_add(wasm.len() as u64) > max_bytes {
        return Err(over_quota(StoreError::PluginQuota {
            stored,
            size: wasm.len() as u64,
            max: max_bytes,
        }));
    }
    let plugin = state.runtime.load(&wasm).await.map_err(|e| match e {
        RuntimeError::InvalidPlugin(reason) => ApiError::InvalidPlugin(reason),
        other => ApiError::InvalidPlugin(other.to_string()),
    })?;
    let version = state
        .store
        .add_plugin_version(
            &tenant,
            &name,
            plugin.digest(),
            plugin.imports(),
            &wasm,
            max_bytes,
        )
        .await
        .map_err(over_quota)?;
    Ok((StatusCode::CREATED, Json(PluginVersionView::from(&version))))
}

/// Lists a tenant's plugins with their versions.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/plugins", tag = "plugins",
    params(("tenant" = String, Path)),
    responses((status = 200, body = PluginList), (status = 404, body = Problem)))]
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Json<PluginList>, ApiError> {
    let tenant = tenant_of(&state, &caller, &tenant).await?;
    let mut plugins: Vec<PluginView> = Vec::new();
    for v in state.store.plugin_versions(&tenant, None).await? {
        match plugins.last_mut() {
            Some(p) if p.name == v.plugin.as_str() => p.versions.push((&v).into()),
            _ => plugins.push(PluginView {
                name: v.plugin.to_string(),
                versions: vec![(&v).into()],
            }),
        }
    }
    Ok(Json(PluginList { plugins }))
}

/// Lists one plugin's versions.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/plugins/{name}/versions", tag = "plugins",
    params(("tenant" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = VersionList), (status = 404, body = Problem)))]
pub async fn list_versions(
    State(state): State<ApiState>,
    caller: Caller,
    Path((tenant, name)): Path<(String, String)>,
) -> Result<Json<VersionList>, ApiError> {
    let tenant = tenant_of(&state, &caller, &tenant).await?;
    let name = plugin_name(&name)?;
    let versions = state.store.plugin_versions(&tenant, Some(&name)).await?;
    if versions.is_empty() {
        return Err(ApiError::NotFound(format!("no plugin {name}")));
    }
    Ok(Json(VersionList {
        versions: versions.iter().map(Into::into).collect(),
    }))
}

/// Reads one version's metadata.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/plugins/{name}/versions/{version}", tag = "plugins",
    params(("tenant" = String, Path), ("name" = String, Path), ("version" = u32, Path)),
    responses((status = 200, body = PluginVersionView), (status = 404, body = Problem)))]
pub async fn get_version(
    State(state): State<ApiState>,
    caller: Caller,
    Path((tenant, name, version)): Path<(String, String, String)>,
) -> Result<Json<PluginVersionView>, ApiError> {
    let tenant = tenant_of(&state, &caller, &tenant).await?;
    let name = plugin_name(&name)?;
    let version = version_number(&name, &version)?;
    state
        .store
        .plugin_versions(&tenant, Some(&name))
        .await?
        .iter()
        .find(|v| v.version == version)
        .map(|v| Json(v.into()))
        .ok_or_else(|| ApiError::NotFound(format!("no version {version} of plugin {name}")))
}

/// Deletes a version no endpoint is bound to.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/plugins/{name}/versions/{version}", tag = "plugins",
    params(("tenant" = String, Path), ("name" = String, Path), ("version" = u32, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_version(
    State(state): State<ApiState>,
    caller: Caller,
    Path((tenant, name, version)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let tenant = tenant_of(&state, &caller, &tenant).await?;
    let name = plugin_name(&name)?;
    let version = version_number(&name, &version)?;
    let digest = state
        .store
        .plugin_versions(&tenant, Some(&name))
        .await?
        .into_iter()
        .find(|v| v.version == version)
        .map(|v| v.digest);
    match state
        .store
        .delete_plugin_version(&tenant, &name, version)
        .await?
    {
        DeleteVersion::Deleted => {
            if let Some(digest) = digest {
                state.runtime.evict(&digest);
            }
            Ok(StatusCode::NO_CONTENT)
        }
        DeleteVersion::NotFound => Err(ApiError::NotFound(format!(
            "no version {version} of plugin {name}"
        ))),
        DeleteVersion::Bound(endpoints) => Err(ApiError::Conflict(format!(
            "version {version} of plugin {name} is bound to endpoint(s) {}; bind them to another version first",
            endpoints
                .iter()
                .map(|e| e.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}
