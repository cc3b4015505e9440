//! Endpoints: each one's inbound URL, verification, binding, limits and
//! controls; an edit form that goes through the API's own `PUT`, so its
//! messages are the API's, each under the field it names; pause and resume.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::page::{self, Page, Section, field_errors};
use super::session::Viewer;
use super::{UiError, UiState, scope};
use crate::api::json::Body;
use crate::api::views::EndpointView;
use crate::api::{self, ApiError};
use crate::domain::{EndpointRequest, Provider, masked};
use crate::ids::{EndpointId, TenantId};
use crate::problem::FieldError;

/// The endpoint list.
pub(super) async fn list(
    State(state): State<UiState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(tenant): Path<String>,
) -> Result<Response, UiError> {
    let tenant = scope(&state, &viewer, &tenant).await?;
    let axum::Json(list) = api::endpoints::list(
        State(state.api.clone()),
        viewer.caller.clone(),
        headers,
        Path(tenant.to_string()),
    )
    .await?;
    let body = html! {
        main {
            h1 { "Endpoints" }
            @if list.endpoints.is_empty() {
                p.hint { "No endpoint yet: create one with " code { "hookhost endpoint create" } " or the API." }
            }
            @for e in &list.endpoints {
                (card(&tenant, &viewer, e))
            }
        }
    };
    Ok(Page::new(
        "Endpoints",
        &viewer,
        Some(&tenant),
        Section::Endpoints,
        body,
    )
    .into_response())
}

fn card(tenant: &TenantId, viewer: &Viewer, e: &EndpointView) -> Markup {
    let s = &e.spec;
    let base = format!("/ui/t/{tenant}/endpoints/{}", e.id);
    html! {
        article.card aria-labelledby={"ep-" (e.id)} {
            header {
                h2 #{"ep-" (e.id)} { a href=(base) { (e.id) } }
                @if let Some(at) = &e.paused_at {
                    span.badge.idle { "paused since " (page::time(at)) }
                } @else {
                    span.badge.ok { "running" }
                }
            }
            div.copy {
                label for={"url-" (e.id)} { "Inbound URL" }
                input.mono #{"url-" (e.id)} readonly value=(e.inbound_url);
                button type="button" data-copy={"url-" (e.id)} { "Copy" }
            }
            dl.facts {
                dt { "Provider" } dd { (s.provider.as_str()) }
                dt { "Secrets" } dd.mono { @if s.secrets.is_empty() { "none" } @else { (s.secrets.join(", ")) } }
                dt { "Plugin" } dd { (s.plugin) " v" (s.plugin_version) }
                dt { "Limits" } dd {
                    (s.limits.timeout_ms) " ms · " (s.limits.memory_mb) " MiB · "
                    (s.limits.max_http_calls) " calls · body ≤ " (page::bytes(s.limits.body_limit_bytes))
                    @if let Some(n) = s.limits.max_concurrent { " · " (n) " at once" }
                }
                dt { "Event types" } dd { @if s.event_types.is_empty() { "all" } @else { (list_of(s.event_types.iter())) } }
                dt { "Rate limit" } dd { @match &s.rate_limit { Some(r) => (serde_json::to_string(r).unwrap_or_default()), None => "none" } }
                dt { "Allowed IPs" } dd { @if s.allowed_ips.is_empty() { "any" } @else { (list_of(s.allowed_ips.iter())) } }
                dt { "Outbound hosts" } dd { @if s.allowed_hosts.is_empty() { "none" } @else { (list_of(s.allowed_hosts.iter())) } }
                @if !e.plugin_secrets.is_empty() {
                    dt { "Plugin secrets" } dd.mono { (list_of(e.plugin_secrets.iter().map(|(n, v)| format!("{n} {v}")))) }
                }
            }
            div.actions {
                a.button href=(base) { "Edit" }
                a href={"/ui/t/" (tenant) "/deliveries?endpoint=" (e.id)} { "Deliveries" }
                (pause_form(&base, viewer, e.paused_at.is_some()))
            }
        }
    }
}

fn list_of<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    items.map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
}

fn pause_form(base: &str, viewer: &Viewer, paused: bool) -> Markup {
    let (action, label) = if paused {
        ("resume", "Resume")
    } else {
        ("pause", "Pause")
    };
    html! {
        form method="post" action={(base) "/" (action)} {
            input type="hidden" name="csrf" value=(viewer.csrf);
            button type="submit" { (label) }
        }
    }
}

/// The edit form's values: the endpoint's, or what was just submitted.
struct Values {
    spec: Value,
    secrets_shown: Vec<String>,
}

fn text_of(v: &Value, path: &str) -> String {
    let mut at = v;
    for part in path.split('.') {
        match at.get(part) {
            Some(next) => at = next,
            None => return String::new(),
        }
    }
    match at {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| i.to_string())
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Object(_) => serde_json::to_string_pretty(at).unwrap_or_default(),
        other => other.to_string(),
    }
}

#[derive(Deserialize)]
pub(super) struct EditQuery {
    saved: Option<String>,
}

/// The edit page.
pub(super) async fn edit(
    State(state): State<UiState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path((tenant, endpoint)): Path<(String, String)>,
    axum::extract::Query(q): axum::extract::Query<EditQuery>,
) -> Result<Response, UiError> {
    let tenant = scope(&state, &viewer, &tenant).await?;
    let axum::Json(view) = api::endpoints::get(
        State(state.api.clone()),
        viewer.caller.clone(),
        headers,
        Path((tenant.to_string(), endpoint)),
    )
    .await?;
    let values = Values {
        spec: serde_json::to_value(&view.spec).expect("a spec serialises"),
        secrets_shown: view.spec.secrets.clone(),
    };
    let saved = q.saved.is_some().then_some("Saved.");
    form_page(&state, &viewer, &tenant, &view.id, &values, &[], saved).await
}

/// One input of the form, its label and the messages of its field.
fn input(
    name: &str,
    label: &str,
    kind: &str,
    values: &Values,
    errors: &[FieldError],
    hint: &str,
) -> Markup {
    let id = name.replace('.', "-");
    let has_error = errors.iter().any(|e| page::owns(name, &e.field));
    html! {
        div.field {
            label for=(id) { (label) }
            @if kind == "lines" || kind == "json" {
                textarea #(id) name=(name) rows="3" aria-invalid=[has_error.then_some("true")] { (text_of(&values.spec, name)) }
            } @else {
                input #(id) name=(name) type=(kind) value=(text_of(&values.spec, name)) aria-invalid=[has_error.then_some("true")];
            }
            @if !hint.is_empty() { small.hint { (hint) } }
            (field_errors(errors, name))
        }
    }
}

async fn form_page(
    state: &UiState,
    viewer: &Viewer,
    tenant: &TenantId,
    endpoint: &str,
    values: &Values,
    errors: &[FieldError],
    saved: Option<&str>,
) -> Result<Response, UiError> {
    let versions = state.api.store.plugin_versions(tenant, None).await?;
    let mut plugins: Vec<&str> = versions.iter().map(|v| v.plugin.as_str()).collect();
    plugins.dedup();
    let plugin = text_of(&values.spec, "plugin");
    let version = text_of(&values.spec, "plugin_version");
    let provider = text_of(&values.spec, "provider");
    let base = format!("/ui/t/{tenant}/endpoints/{endpoint}");
    let placed = [
        "provider",
        "secrets",
        "tolerance_s",
        "plugin",
        "plugin_version",
        "event_types",
        "rate_limit",
        "allowed_ips",
        "allowed_hosts",
        "allow_private_network",
        "limits.timeout_ms",
        "limits.memory_mb",
        "limits.max_http_calls",
        "limits.body_limit_bytes",
        "limits.max_concurrent",
        "config",
        "retry",
    ];
    let elsewhere: Vec<&FieldError> = errors
        .iter()
        .filter(|e| !placed.iter().any(|p| page::owns(p, &e.field)))
        .collect();
    let body = html! {
        main {
            p.crumbs { a href={"/ui/t/" (tenant) "/endpoints"} { "Endpoints" } " / " (endpoint) }
            h1 { "Edit " (endpoint) }
            @if let Some(saved) = saved {
                p.notice.ok role="status" { (saved) }
            }
            @if !errors.is_empty() {
                div.notice.bad role="alert" {
                    p { "Nothing was saved: " (errors.len()) " field" @if errors.len() > 1 { "s need" } @else { " needs" } " a change." }
                    @for e in &elsewhere { p.field-error { (e.field) ": " (e.message) } }
                }
            }
            form.edit method="post" action=(base) novalidate {
                input type="hidden" name="csrf" value=(viewer.csrf);
                fieldset {
                    legend { "Verification" }
                    div.field {
                        label for="provider" { "Provider" }
                        select #provider name="provider" {
                            @for p in Provider::ALL {
                                option value=(p.as_str()) selected[provider == p.as_str()] { (p.as_str()) }
                            }
                        }
                        (field_errors(errors, "provider"))
                    }
                    div.field {
                        label for="new_secret" { "Signing secret" }
                        input #new_secret name="new_secret" type="password" autocomplete="off"
                            placeholder={"kept: " (values.secrets_shown.join(", "))};
                        small.hint { "Leave empty to keep the current one; a new one replaces it." }
                        (field_errors(errors, "secrets"))
                    }
                    (input("tolerance_s", "Timestamp tolerance (s)", "number", values, errors, ""))
                }
                fieldset {
                    legend { "Plugin" }
                    div.field {
                        label for="plugin" { "Plugin" }
                        select #plugin name="plugin" {
                            @if !plugins.contains(&plugin.as_str()) { option value=(plugin) selected { (plugin) } }
                            @for p in &plugins { option value=(p) selected[*p == plugin] { (p) } }
                        }
                        (field_errors(errors, "plugin"))
                    }
                    div.field {
                        label for="plugin_version" { "Version" }
                        select #plugin_version name="plugin_version" {
                            option value="" { "latest" }
                            @for v in &versions {
                                option value={(v.plugin) "@" (v.version)} selected[v.plugin.as_str() == plugin && v.version.to_string() == version] { (v.plugin) " v" (v.version) }
                            }
                        }
                        (field_errors(errors, "plugin_version"))
                    }
                }
                fieldset {
                    legend { "What gets in" }
                    (input("event_types", "Event types", "lines", values, errors, "One pattern per line, * as a wildcard; empty runs every type."))
                    (input("allowed_ips", "Allowed IPs", "lines", values, errors, "One address, CIDR network or @set per line; empty allows any."))
                    div.field.row {
                        div {
                            label for="rate_limit-rate" { "Rate limit" }
                            input #rate_limit-rate name="rate_limit.rate" type="number" value=(text_of(&values.spec, "rate_limit.rate"));
                        }
                        div {
                            label for="rate_limit-period" { "per" }
                            select #rate_limit-period name="rate_limit.period" {
                                @for p in ["second", "minute", "hour"] {
                                    option value=(p) selected[text_of(&values.spec, "rate_limit.period") == p] { (p) }
                                }
                            }
                        }
                        div {
                            label for="rate_limit-burst" { "burst" }
                            input #rate_limit-burst name="rate_limit.burst" type="number" value=(text_of(&values.spec, "rate_limit.burst"));
                        }
                    }
                    (field_errors(errors, "rate_limit"))
                }
                fieldset {
                    legend { "Limits" }
                    (input("limits.timeout_ms", "Deadline (ms)", "number", values, errors, ""))
                    (input("limits.memory_mb", "Memory (MiB)", "number", values, errors, ""))
                    (input("limits.max_http_calls", "Outbound calls", "number", values, errors, ""))
                    (input("limits.body_limit_bytes", "Body limit (bytes)", "number", values, errors, ""))
                    (input("limits.max_concurrent", "At once", "number", values, errors, "Empty for no limit."))
                }
                fieldset {
                    legend { "What the plugin may do" }
                    (input("allowed_hosts", "Outbound hosts", "lines", values, errors, "host, host:port or *.domain, one per line."))
                    div.field.check {
                        input #allow_private_network name="allow_private_network" type="checkbox" value="true"
                            checked[values.spec.get("allow_private_network") == Some(&Value::Bool(true))];
                        label for="allow_private_network" { "Allow private network addresses" }
                        (field_errors(errors, "allow_private_network"))
                    }
                    (input("config", "Config (JSON object)", "json", values, errors, ""))
                    (input("retry", "Retry policy (JSON)", "json", values, errors, ""))
                }
                div.actions {
                    button type="submit" { "Save" }
                    a href={"/ui/t/" (tenant) "/endpoints"} { "Cancel" }
                }
            }
        }
    };
    let mut response = Page::new(
        format!("Edit {endpoint}"),
        viewer,
        Some(tenant),
        Section::Endpoints,
        body,
    )
    .into_response();
    if !errors.is_empty() {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

/// A form value as JSON: a whole number stays a number, so a mistyped one
/// meets the API's own message for that field.
fn scalar(text: &str) -> Value {
    let text = text.trim();
    if text.is_empty() {
        Value::Null
    } else if let Ok(n) = text.parse::<i64>() {
        Value::from(n)
    } else {
        Value::String(text.to_owned())
    }
}

fn lines(text: &str) -> Value {
    Value::Array(
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| Value::String(l.to_owned()))
            .collect(),
    )
}

fn set(spec: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            spec.insert(path.to_owned(), value);
        }
        Some((head, rest)) => {
            let inner = spec
                .entry(head.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !inner.is_object() {
                *inner = Value::Object(Map::new());
            }
            set(inner.as_object_mut().expect("an object"), rest, value);
        }
    }
}

/// Applies the form over the stored spec, giving the request the API would
/// be sent, or the first field it cannot be read into.
fn request_of(
    stored: Value,
    form: &[(String, String)],
) -> (Value, Result<EndpointRequest, FieldError>) {
    let mut spec = match stored {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let mut private = false;
    let mut rate = Map::new();
    let mut version: Option<String> = None;
    for (name, value) in form {
        match name.as_str() {
            "provider" | "plugin" => set(&mut spec, name, Value::String(value.trim().to_owned())),
            "new_secret" if !value.trim().is_empty() => {
                set(
                    &mut spec,
                    "secrets",
                    Value::Array(vec![Value::String(value.trim().to_owned())]),
                );
            }
            "plugin_version" => version = Some(value.trim().to_owned()),
            "tolerance_s"
            | "limits.timeout_ms"
            | "limits.memory_mb"
            | "limits.max_http_calls"
            | "limits.body_limit_bytes"
            | "limits.max_concurrent" => {
                set(&mut spec, name, scalar(value));
            }
            "event_types" | "allowed_ips" | "allowed_hosts" => set(&mut spec, name, lines(value)),
            "allow_private_network" => private = value == "true",
            "rate_limit.rate" | "rate_limit.burst" if !value.trim().is_empty() => {
                rate.insert(name["rate_limit.".len()..].to_owned(), scalar(value));
            }
            "rate_limit.period" => {
                rate.insert("period".into(), Value::String(value.clone()));
            }
            "config" | "retry" => {
                let parsed = if value.trim().is_empty() {
                    Value::Object(Map::new())
                } else {
                    match serde_json::from_str(value) {
                        Ok(v) => v,
                        Err(e) => {
                            let spec = Value::Object(spec);
                            return (
                                spec,
                                Err(FieldError::new(name.clone(), format!("is not JSON: {e}"))),
                            );
                        }
                    }
                };
                set(&mut spec, name, parsed);
            }
            _ => {}
        }
    }
    set(&mut spec, "allow_private_network", Value::Bool(private));
    // A version is offered as `plugin@n`: one of another plugin than the
    // one chosen is a mistake to name, not a number to bind.
    if let Some(version) = version {
        let chosen = spec
            .get("plugin")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let value = match version.split_once('@') {
            None if version.is_empty() => Value::Null,
            Some((plugin, n)) if plugin == chosen => scalar(n),
            Some((plugin, n)) => {
                let message = format!(
                    "v{n} is a version of {plugin}, not of {chosen}; choose one of {chosen}'s, or latest"
                );
                return (
                    Value::Object(spec),
                    Err(FieldError::new("plugin_version", message)),
                );
            }
            None => scalar(&version),
        };
        set(&mut spec, "plugin_version", value);
    }
    let rate = if rate.contains_key("rate") || rate.contains_key("burst") {
        Value::Object(rate)
    } else {
        Value::Null
    };
    set(&mut spec, "rate_limit", rate);
    let spec = Value::Object(spec);
    let bytes = serde_json::to_vec(&spec).expect("JSON serialises");
    let request = api::parse_json::<EndpointRequest>(&bytes);
    (spec, request)
}

/// Saves the form through the API's `PUT`, or shows it again with each
/// message under its field.
pub(super) async fn save(
    State(state): State<UiState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path((tenant, endpoint)): Path<(String, String)>,
    axum::extract::Form(form): axum::extract::Form<Vec<(String, String)>>,
) -> Result<Response, UiError> {
    let csrf = form
        .iter()
        .find(|(n, _)| n == "csrf")
        .map(|(_, v)| v.as_str());
    viewer.check(csrf.unwrap_or_default())?;
    let tenant = scope(&state, &viewer, &tenant).await?;
    let id = EndpointId::new(&endpoint).map_err(|e| ApiError::NotFound(e.to_string()))?;
    let stored = state
        .api
        .store
        .endpoint(&tenant, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no endpoint {id}")))?;
    let mut stored_value = serde_json::to_value(&stored.spec).expect("a spec serialises");
    // The version the endpoint runs is chosen again on every save: empty
    // means the latest, as in the API.
    if let Some(map) = stored_value.as_object_mut() {
        map.remove("plugin_version");
    }
    let (submitted, request) = request_of(stored_value, &form);
    let shown = |spec: Value| Values {
        secrets_shown: stored.spec.secrets.iter().map(|s| masked(s)).collect(),
        spec: mask_secrets(spec),
    };
    let request = match request {
        Ok(r) => r,
        Err(e) => {
            return form_page(
                &state,
                &viewer,
                &tenant,
                id.as_str(),
                &shown(submitted),
                &[e],
                None,
            )
            .await;
        }
    };
    let answer = api::endpoints::put(
        State(state.api.clone()),
        viewer.caller.clone(),
        headers,
        Path((tenant.to_string(), id.to_string())),
        Body(request),
    )
    .await;
    match answer {
        Ok(_) => {
            Ok(Redirect::to(&format!("/ui/t/{tenant}/endpoints/{id}?saved=1")).into_response())
        }
        Err(ApiError::Invalid(errors)) => {
            form_page(
                &state,
                &viewer,
                &tenant,
                id.as_str(),
                &shown(submitted),
                &errors,
                None,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// Binds an endpoint to a plugin version (the latest when `None`) through
/// the API's `PUT`, the rest of its configuration as it is.
pub(super) async fn bind(
    state: &UiState,
    viewer: &Viewer,
    headers: HeaderMap,
    tenant: &TenantId,
    endpoint: &EndpointId,
    plugin: &str,
    version: Option<u32>,
) -> Result<(), UiError> {
    let stored = state
        .api
        .store
        .endpoint(tenant, endpoint)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no endpoint {endpoint}")))?;
    let mut spec = serde_json::to_value(&stored.spec).expect("a spec serialises");
    spec["plugin"] = Value::String(plugin.to_owned());
    spec["plugin_version"] = version.map(Value::from).unwrap_or(Value::Null);
    let bytes = serde_json::to_vec(&spec).expect("JSON serialises");
    let request =
        api::parse_json::<EndpointRequest>(&bytes).map_err(|e| ApiError::Invalid(vec![e]))?;
    api::endpoints::put(
        State(state.api.clone()),
        viewer.caller.clone(),
        headers,
        Path((tenant.to_string(), endpoint.to_string())),
        Body(request),
    )
    .await
    .map(drop)?;
    Ok(())
}

/// The spec as a form may hold it: its secrets never go back to the browser.
fn mask_secrets(mut spec: Value) -> Value {
    if let Some(secrets) = spec.get_mut("secrets").and_then(Value::as_array_mut) {
        for s in secrets {
            if let Some(text) = s.as_str() {
                *s = Value::String(masked(text));
            }
        }
    }
    spec
}

#[derive(Deserialize)]
pub(super) struct Csrf {
    csrf: String,
}

/// Pauses an endpoint: what arrives is stored and nothing runs.
pub(super) async fn pause(
    State(state): State<UiState>,
    viewer: Viewer,
    Path((tenant, endpoint)): Path<(String, String)>,
    axum::extract::Form(form): axum::extract::Form<Csrf>,
) -> Result<Response, UiError> {
    switch(state, viewer, tenant, endpoint, form, api::endpoints::pause).await
}

/// Resumes an endpoint: what waited runs, oldest first.
pub(super) async fn resume(
    State(state): State<UiState>,
    viewer: Viewer,
    Path((tenant, endpoint)): Path<(String, String)>,
    axum::extract::Form(form): axum::extract::Form<Csrf>,
) -> Result<Response, UiError> {
    switch(
        state,
        viewer,
        tenant,
        endpoint,
        form,
        api::endpoints::resume,
    )
    .await
}

/// Pauses or resumes through the API's handler `change`, then lists the
/// endpoints again.
async fn switch<F, Done>(
    state: UiState,
    viewer: Viewer,
    tenant: String,
    endpoint: String,
    form: Csrf,
    change: F,
) -> Result<Response, UiError>
where
    F: FnOnce(State<crate::api::ApiState>, crate::api::Caller, Path<(String, String)>) -> Done,
    Done:
        std::future::Future<Output = Result<axum::Json<crate::api::views::PauseChange>, ApiError>>,
{
    viewer.check(&form.csrf)?;
    let tenant = scope(&state, &viewer, &tenant).await?;
    change(
        State(state.api.clone()),
        viewer.caller.clone(),
        Path((tenant.to_string(), endpoint)),
    )
    .await
    .map(drop)?;
    Ok(Redirect::to(&format!("/ui/t/{tenant}/endpoints")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn a_form_becomes_the_request_the_api_reads() {
        let stored =
            serde_json::json!({"provider": "stripe", "secrets": ["whsec_x"], "plugin": "p"});
        let (_, request) = request_of(
            stored,
            &form(&[
                ("limits.memory_mb", "128"),
                ("event_types", "invoice.*\n\n charge.failed \n"),
                ("rate_limit.rate", "10"),
                ("rate_limit.period", "minute"),
                ("plugin_version", ""),
                ("plugin", "p"),
            ]),
        );
        let request = request.expect("reads");
        assert_eq!(request.limits.memory_mb, 128);
        assert_eq!(request.event_types.len(), 2);
        assert_eq!(request.rate_limit.unwrap().rate.get(), 10);
        assert_eq!(request.plugin_version, None);
        assert_eq!(
            request.secrets,
            vec!["whsec_x".to_owned()],
            "kept unless replaced"
        );
    }

    #[test]
    fn a_version_of_another_plugin_than_the_one_chosen_is_named() {
        let stored =
            serde_json::json!({"provider": "stripe", "secrets": ["whsec_x"], "plugin": "p"});
        let (_, request) = request_of(
            stored.clone(),
            &form(&[("plugin", "q"), ("plugin_version", "p@3")]),
        );
        assert_eq!(request.expect_err("refused").field, "plugin_version");
        let (_, request) = request_of(stored, &form(&[("plugin", "q"), ("plugin_version", "q@3")]));
        assert_eq!(request.expect("reads").plugin_version, Some(3));
    }

    #[test]
    fn a_mistyped_number_is_named_as_the_api_names_it() {
        let stored =
            serde_json::json!({"provider": "stripe", "secrets": ["whsec_x"], "plugin": "p"});
        let (_, request) = request_of(stored, &form(&[("limits.memory_mb", "lots")]));
        let e = request.expect_err("refused");
        assert_eq!(e.field, "limits.memory_mb");
    }
}
