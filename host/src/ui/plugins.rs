//! Plugins: every version with its upload time, size and digest and the
//! endpoints bound to it; uploading a version (through the API's own
//! upload, so it is checked and compiled the same way) and binding one.

use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use bytes::Bytes;
use maud::html;
use serde::Deserialize;

use super::page::{self, Page, Section};
use super::session::Viewer;
use super::{UiError, UiState, endpoints, scope};
use crate::api::{self, ApiError};
use crate::ids::EndpointId;

/// The plugin list, with the upload and bind forms.
pub(super) async fn list(
    State(state): State<UiState>,
    viewer: Viewer,
    Path(tenant): Path<String>,
) -> Result<Response, UiError> {
    let tenant = scope(&state, &viewer, &tenant).await?;
    let axum::Json(plugins) = api::plugins::list(
        State(state.api.clone()),
        viewer.caller.clone(),
        Path(tenant.to_string()),
    )
    .await?;
    let endpoints = state.api.store.list_endpoints(&tenant).await?;
    let base = format!("/ui/t/{tenant}/plugins");
    let body = html! {
        main {
            h1 { "Plugins" }
            @if plugins.plugins.is_empty() {
                p.hint { "No plugin yet: upload a component below, or with " code { "hookhost plugin upload" } "." }
            }
            @for p in &plugins.plugins {
                section.card aria-labelledby={"pl-" (p.name)} {
                    h2 #{"pl-" (p.name)} { (p.name) }
                    div.table-wrap {
                        table {
                            thead { tr {
                                th scope="col" { "Version" } th scope="col" { "Uploaded" } th scope="col" { "Size" }
                                th scope="col" { "Digest" } th scope="col" { "Bound endpoints" }
                            } }
                            tbody {
                                @for v in p.versions.iter().rev() {
                                    tr {
                                        td.num { "v" (v.version) }
                                        td { (page::time(&v.uploaded_at)) }
                                        td.num { (page::bytes(v.size)) }
                                        td.mono title=(v.digest) { (v.digest.get(..19).unwrap_or(&v.digest)) "…" }
                                        td {
                                            (endpoints.iter()
                                                .filter(|e| e.spec.plugin.as_str() == p.name && e.spec.plugin_version == v.version)
                                                .map(|e| e.id.to_string()).collect::<Vec<_>>().join(", "))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section.card aria-labelledby="upload-title" {
                h2 #upload-title { "Upload a version" }
                form method="post" action=(base) enctype="multipart/form-data" {
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    div.field {
                        label for="name" { "Plugin name" }
                        input #name name="name" required pattern="[a-z0-9][a-z0-9_-]{0,63}" list="plugin-names";
                        datalist #plugin-names { @for p in &plugins.plugins { option value=(p.name) {} } }
                    }
                    div.field {
                        label for="component" { "Component (.wasm)" }
                        input #component name="component" type="file" accept=".wasm,application/wasm" required;
                    }
                    button type="submit" { "Upload" }
                }
            }
            @if !endpoints.is_empty() && !plugins.plugins.is_empty() {
                section.card aria-labelledby="bind-title" {
                    h2 #bind-title { "Bind an endpoint" }
                    form method="post" action={(base) "/bind"} {
                        input type="hidden" name="csrf" value=(viewer.csrf);
                        div.field {
                            label for="bind-endpoint" { "Endpoint" }
                            select #bind-endpoint name="endpoint" {
                                @for e in &endpoints { option value=(e.id) { (e.id) " (now " (e.spec.plugin) " v" (e.spec.plugin_version) ")" } }
                            }
                        }
                        div.field {
                            label for="bind-version" { "To" }
                            select #bind-version name="version" {
                                @for p in &plugins.plugins {
                                    option value={(p.name) "@latest"} { (p.name) " latest" }
                                    @for v in p.versions.iter().rev() {
                                        option value={(p.name) "@" (v.version)} { (p.name) " v" (v.version) }
                                    }
                                }
                            }
                        }
                        button type="submit" { "Bind" }
                    }
                }
            }
        }
    };
    Ok(Page::new("Plugins", &viewer, Some(&tenant), Section::Plugins, body).into_response())
}

/// Uploads a version from the form's file.
pub(super) async fn upload(
    State(state): State<UiState>,
    viewer: Viewer,
    Path(tenant): Path<String>,
    mut form: Multipart,
) -> Result<Response, UiError> {
    let (mut csrf, mut name, mut wasm) = (String::new(), String::new(), Bytes::new());
    while let Some(field) = form.next_field().await.map_err(bad_form)? {
        match field.name() {
            Some("csrf") => csrf = field.text().await.map_err(bad_form)?,
            Some("name") => name = field.text().await.map_err(bad_form)?,
            Some("component") => wasm = field.bytes().await.map_err(bad_form)?,
            _ => {}
        }
    }
    viewer.check(&csrf)?;
    let tenant = scope(&state, &viewer, &tenant).await?;
    api::plugins::upload(
        State(state.api.clone()),
        viewer.caller.clone(),
        Path((tenant.to_string(), name.trim().to_owned())),
        wasm,
    )
    .await
    .map(drop)?;
    Ok(Redirect::to(&format!("/ui/t/{tenant}/plugins")).into_response())
}

fn bad_form(e: axum::extract::multipart::MultipartError) -> UiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::TooLarge(e.body_text()).into()
    } else {
        ApiError::field("component", e.body_text()).into()
    }
}

#[derive(Deserialize)]
pub(super) struct BindForm {
    csrf: String,
    endpoint: String,
    version: String,
}

/// Binds an endpoint to a version (`name@3`) or to the latest (`name@latest`).
pub(super) async fn bind(
    State(state): State<UiState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    axum::extract::Form(form): axum::extract::Form<BindForm>,
) -> Result<Response, UiError> {
    viewer.check(&form.csrf)?;
    let tenant = scope(&state, &viewer, &tenant).await?;
    let endpoint =
        EndpointId::new(&form.endpoint).map_err(|e| ApiError::field("endpoint", e.to_string()))?;
    let (plugin, version) = form
        .version
        .split_once('@')
        .ok_or_else(|| ApiError::field("version", "choose a plugin version"))?;
    let version = match version {
        "latest" => None,
        v => super::deliveries::version("version", v)?,
    };
    endpoints::bind(
        &state, &viewer, headers, &tenant, &endpoint, plugin, version,
    )
    .await?;
    Ok(Redirect::to(&format!("/ui/t/{tenant}/plugins")).into_response())
}
