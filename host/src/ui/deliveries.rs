//! Deliveries: the filtered list (live while on its first page), one
//! delivery with its event and attempts, replays of one or of everything a
//! filter matches, and a bulk replay's progress.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::page::{self, Page, Section, field_errors};
use super::session::Viewer;
use super::{UiError, UiState, scope};
use crate::api::json::{Body, Params};
use crate::api::views::{
    AttemptView, BulkReplayRequest, DeliveryList, DeliveryView, ReplayJobView, ReplayRequest,
};
use crate::api::{self, ApiError};
use crate::ids::DeliveryId;
use crate::store::{DeliveryStatus, ReplayState};

/// Every status, in the order a filter offers them.
const STATUSES: [DeliveryStatus; 8] = [
    DeliveryStatus::Dead,
    DeliveryStatus::Retrying,
    DeliveryStatus::Pending,
    DeliveryStatus::Running,
    DeliveryStatus::Waiting,
    DeliveryStatus::Paused,
    DeliveryStatus::Succeeded,
    DeliveryStatus::Filtered,
];

/// The list's filter as the form sends it: the API's query fields, with
/// times as a `datetime-local` input gives them (UTC).
#[derive(Debug, Default, Deserialize)]
pub(super) struct Filter {
    #[serde(default)]
    status: String,
    #[serde(default)]
    endpoint: String,
    #[serde(default)]
    event_type: String,
    #[serde(default)]
    event_id: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    cursor: String,
    /// `rows` answers only the table's body, for live updates.
    #[serde(default)]
    fragment: String,
}

fn some(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// A `datetime-local` value (`2026-12-07T08:30`) as RFC 3339 in UTC; any
/// other text is passed on for the API to name.
fn rfc3339(local: &str) -> Option<String> {
    let local = some(local)?;
    Some(match local.len() {
        16 => format!("{local}:00Z"),
        19 => format!("{local}Z"),
        _ => local,
    })
}

impl Filter {
    /// The query string of this filter, without cursor or fragment.
    fn query(&self) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("status", &self.status),
            ("endpoint", &self.endpoint),
            ("event_type", &self.event_type),
            ("event_id", &self.event_id),
            ("since", &self.since),
            ("until", &self.until),
        ] {
            if !value.trim().is_empty() {
                q.append_pair(name, value.trim());
            }
        }
        q.finish()
    }

    fn api_query(&self) -> api::deliveries::ListQuery {
        api::deliveries::ListQuery {
            status: some(&self.status),
            endpoint: some(&self.endpoint),
            event_type: some(&self.event_type),
            event_id: some(&self.event_id),
            since: rfc3339(&self.since),
            until: rfc3339(&self.until),
            limit: Some(50),
            cursor: some(&self.cursor),
        }
    }

    /// Why "replay what matches" cannot take this filter, if it cannot: a
    /// bulk replay is of one endpoint's finished deliveries.
    fn not_replayable(&self) -> Option<&'static str> {
        if some(&self.endpoint).is_none() {
            return Some("Choose an endpoint to replay what this filter matches.");
        }
        if some(&self.event_id).is_some() {
            return Some("An event id search is replayed from the delivery's own page.");
        }
        if self.event_type.contains('*') {
            return Some(
                "The list matches event types exactly, and a bulk replay reads * as a wildcard: type an exact event type.",
            );
        }
        match DeliveryStatus::parse(self.status.trim()) {
            None if self.status.trim().is_empty() => None,
            Some(DeliveryStatus::Succeeded | DeliveryStatus::Dead | DeliveryStatus::Filtered) => {
                None
            }
            _ => Some("Only finished deliveries (succeeded, dead, filtered) are replayed in bulk."),
        }
    }
}

/// The delivery list.
pub(super) async fn list(
    State(state): State<UiState>,
    viewer: Viewer,
    Path(tenant): Path<String>,
    Query(filter): Query<Filter>,
) -> Result<Response, UiError> {
    let tenant = scope(&state, &viewer, &tenant).await?;
    if let Ok(id) = filter.event_id.trim().parse::<DeliveryId>() {
        return Ok(Redirect::to(&format!("/ui/t/{tenant}/deliveries/{id}")).into_response());
    }
    let answer = api::deliveries::list(
        State(state.api.clone()),
        viewer.caller.clone(),
        Path(tenant.to_string()),
        Params(filter.api_query()),
    )
    .await;
    let (deliveries, errors) = match answer {
        Ok(axum::Json(list)) => (list, Vec::new()),
        Err(ApiError::Invalid(errors)) => (
            DeliveryList {
                deliveries: Vec::new(),
                next_cursor: None,
            },
            errors,
        ),
        Err(e) => return Err(e.into()),
    };
    let base = format!("/ui/t/{tenant}/deliveries");
    let query = filter.query();
    let live = filter.cursor.is_empty() && errors.is_empty();
    let rows = rows(
        &base,
        &deliveries,
        live.then(|| format!("{base}?{query}&fragment=rows")),
    );
    if filter.fragment == "rows" {
        return Ok(axum::response::Html(rows.into_string()).into_response());
    }
    let endpoints = state.api.store.list_endpoints(&tenant).await?;
    let versions = state.api.store.plugin_versions(&tenant, None).await?;
    let chosen = endpoints
        .iter()
        .find(|e| e.id.as_str() == filter.endpoint.trim());
    let body = html! {
        main {
            h1 { "Deliveries" }
            form.filters method="get" action=(base) aria-label="Filter deliveries" {
                div.field {
                    label for="status" { "Status" }
                    select #status name="status" {
                        option value="" { "any" }
                        @for s in STATUSES {
                            option value=(s.as_str()) selected[filter.status == s.as_str()] { (s.as_str()) }
                        }
                    }
                    (field_errors(&errors, "status"))
                }
                div.field {
                    label for="endpoint" { "Endpoint" }
                    select #endpoint name="endpoint" {
                        option value="" { "any" }
                        @for e in &endpoints {
                            option value=(e.id) selected[filter.endpoint == e.id.as_str()] { (e.id) }
                        }
                    }
                    (field_errors(&errors, "endpoint"))
                }
                div.field {
                    label for="event_type" { "Event type" }
                    input #event_type name="event_type" value=(filter.event_type) placeholder="invoice.paid";
                    (field_errors(&errors, "event_type"))
                }
                div.field {
                    label for="event_id" { "Event or delivery id" }
                    input #event_id name="event_id" type="search" value=(filter.event_id) placeholder="evt_… or dlv_…";
                    (field_errors(&errors, "event_id"))
                }
                div.field {
                    label for="since" { "Received from (UTC)" }
                    input #since name="since" type="datetime-local" step="1" value=(filter.since);
                    (field_errors(&errors, "since"))
                }
                div.field {
                    label for="until" { "until (UTC)" }
                    input #until name="until" type="datetime-local" step="1" value=(filter.until);
                    (field_errors(&errors, "until"))
                }
                div.actions {
                    button type="submit" { "Apply" }
                    a href=(base) { "Clear" }
                }
            }
            @for e in errors.iter().filter(|e| !["status", "endpoint", "event_type", "event_id", "since", "until"].iter().any(|f| page::owns(f, &e.field))) {
                p.field-error role="alert" { (e.field) ": " (e.message) }
            }
            div.table-wrap {
                table.deliveries {
                    caption.sr-only { "Deliveries, newest first" }
                    thead {
                        tr {
                            th scope="col" { "Delivery" }
                            th scope="col" { "Status" }
                            th scope="col" { "Endpoint" }
                            th scope="col" { "Event type" }
                            th scope="col" { "Event id" }
                            th scope="col" { "Attempts" }
                            th scope="col" { "Received" }
                            th scope="col" { "Last error" }
                        }
                    }
                    (rows)
                }
            }
            nav.pager aria-label="Pages" {
                @if !filter.cursor.is_empty() {
                    a href={(base) "?" (query)} { "← Newest" }
                }
                @if let Some(next) = &deliveries.next_cursor {
                    a href={(base) "?" (query) "&cursor=" (next)} rel="next" { "Older →" }
                }
            }
            section.bulk aria-labelledby="bulk-title" {
                h2 #bulk-title { "Replay what matches" }
                @match filter.not_replayable() {
                    Some(why) => p.hint { (why) },
                    None => {
                        form method="post" action={"/ui/t/" (tenant) "/replays"} {
                            input type="hidden" name="csrf" value=(viewer.csrf);
                            input type="hidden" name="endpoint" value=(filter.endpoint.trim());
                            input type="hidden" name="status" value=(filter.status.trim());
                            input type="hidden" name="event_type" value=(filter.event_type.trim());
                            input type="hidden" name="since" value=(filter.since.trim());
                            input type="hidden" name="until" value=(filter.until.trim());
                            label for="to_version" { "Run them on" }
                            select #to_version name="to_version" {
                                option value="" { "the version each ran" }
                                @if let Some(e) = chosen {
                                    @for v in versions.iter().filter(|v| v.plugin == e.spec.plugin) {
                                        option value=(v.version) { (v.plugin) " v" (v.version) }
                                    }
                                }
                            }
                            button type="submit" { "Replay every match" }
                        }
                    }
                }
            }
        }
    };
    Ok(Page::new(
        "Deliveries",
        &viewer,
        Some(&tenant),
        Section::Deliveries,
        body,
    )
    .into_response())
}

/// The table's body; `live` makes the page fetch it again every few seconds.
fn rows(base: &str, list: &DeliveryList, live: Option<String>) -> Markup {
    let deliveries = &list.deliveries;
    html! {
        tbody #rows aria-live=[live.as_ref().map(|_| "polite")] data-refresh=[live] {
            @if deliveries.is_empty() {
                tr { td colspan="8" .empty {
                    @if list.next_cursor.is_some() {
                        "None among the " (crate::store::LIST_SCAN) " deliveries looked through here; “Older →” looks further back."
                    } @else {
                        "No deliveries match."
                    }
                } }
            }
            @for d in deliveries {
                tr {
                    td { a.mono href={(base) "/" (d.delivery.id)} { (d.delivery.id) } }
                    td { (page::status(d.delivery.status)) }
                    td { (d.delivery.endpoint) }
                    td { (d.delivery.event_type.as_deref().unwrap_or("–")) }
                    td.mono { (d.delivery.event_id.as_deref().unwrap_or("–")) }
                    td.num { (d.attempts) }
                    td { (page::time(&d.delivery.received_at)) }
                    td.error { (d.delivery.last_error.as_deref().map(|e| clip(e, 120)).unwrap_or_default()) }
                }
            }
        }
    }
}

/// The first `chars` characters of a text, and an ellipsis if it was longer.
fn clip(text: &str, chars: usize) -> String {
    let mut out: String = text.chars().take(chars).collect();
    if text.chars().nth(chars).is_some() {
        out.push('…');
    }
    out
}

#[derive(Deserialize)]
pub(super) struct ShowQuery {
    #[serde(default)]
    fragment: String,
}

/// One delivery: what arrived and every attempt.
pub(super) async fn show(
    State(state): State<UiState>,
    viewer: Viewer,
    Path((tenant, id)): Path<(String, String)>,
    Query(q): Query<ShowQuery>,
) -> Result<Response, UiError> {
    let tenant = scope(&state, &viewer, &tenant).await?;
    let axum::Json(d) = api::deliveries::get(
        State(state.api.clone()),
        viewer.caller.clone(),
        Path((tenant.to_string(), id.clone())),
    )
    .await?;
    let here = format!("/ui/t/{tenant}/deliveries/{}", d.delivery.id);
    let live = live_part(&tenant, &here, &d);
    if q.fragment == "live" {
        return Ok(axum::response::Html(live.into_string()).into_response());
    }
    let versions = state
        .api
        .store
        .plugin_versions(&tenant, None)
        .await?
        .into_iter()
        .filter(|v| v.plugin.as_str() == d.delivery.plugin)
        .collect::<Vec<_>>();
    let body = html! {
        main {
            p.crumbs { a href={"/ui/t/" (tenant) "/deliveries"} { "Deliveries" } " / " span.mono { (d.delivery.id) } }
            h1 { "Delivery " span.mono { (d.delivery.id) } }
            section.actions aria-label="Replay" {
                form method="post" action={(here) "/replay"} {
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    button type="submit" { "Replay" }
                }
                form method="post" action={(here) "/replay"} {
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    label for="plugin_version" { "Replay on" }
                    select #plugin_version name="plugin_version" {
                        @for v in versions.iter().rev() {
                            option value=(v.version) { (v.plugin) " v" (v.version) }
                        }
                    }
                    button type="submit" { "Replay on this version" }
                }
            }
            (live)
            section aria-labelledby="event-title" {
                h2 #event-title { "Event" }
                dl.facts {
                    dt { "Provider" } dd { (d.provider.as_str()) }
                    dt { "Event id" } dd.mono { (d.delivery.event_id.as_deref().unwrap_or("–")) }
                    dt { "Event type" } dd { (d.delivery.event_type.as_deref().unwrap_or("–")) }
                    dt { "Trace id" } dd.mono { (d.trace_id) }
                }
                h3 { "Headers" }
                div.table-wrap {
                    table.headers {
                        thead { tr { th scope="col" { "Name" } th scope="col" { "Value" } } }
                        tbody {
                            @for (name, value) in &d.headers {
                                tr { td.mono { (name) } td.mono { (value) } }
                            }
                        }
                    }
                }
                h3 { "Body" }
                (body_view(&d))
            }
        }
    };
    Ok(Page::new(
        format!("Delivery {}", d.delivery.id),
        &viewer,
        Some(&tenant),
        Section::Deliveries,
        body,
    )
    .into_response())
}

/// Most attempts a delivery's page shows, newest first: replays add
/// attempts without end.
const SHOWN_ATTEMPTS: usize = 20;

/// Most of a body a page shows. A sender chooses the body, up to its
/// endpoint's limit, and pretty-printing deeply nested JSON multiplies its
/// size by its depth: what is shown is bounded whatever was sent.
const SHOWN_BODY_BYTES: usize = 256 * 1024;

/// A writer that refuses to hold more than [`SHOWN_BODY_BYTES`].
struct Bounded(Vec<u8>);

impl std::io::Write for Bounded {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + bytes.len() > SHOWN_BODY_BYTES {
            return Err(std::io::ErrorKind::OutOfMemory.into());
        }
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The body pretty-printed when it is JSON and that fits the bound, else
/// as it came, cut to the bound.
fn body_view(d: &DeliveryView) -> Markup {
    let Some(body) = &d.body else {
        return html! { p.hint { "Pruned by retention." } };
    };
    let binary = d.body_encoding.as_deref() == Some("base64");
    let pretty = (!binary && body.len() <= SHOWN_BODY_BYTES)
        .then(|| serde_json::from_str::<serde_json::Value>(body).ok())
        .flatten()
        .and_then(|v| {
            let mut out = Bounded(Vec::new());
            serde_json::to_writer_pretty(&mut out, &v).ok()?;
            String::from_utf8(out.0).ok()
        });
    let (shown, cut) = match pretty {
        Some(pretty) => (pretty, false),
        None => {
            let mut end = body.len().min(SHOWN_BODY_BYTES);
            while !body.is_char_boundary(end) {
                end -= 1;
            }
            (body[..end].to_owned(), end < body.len())
        }
    };
    html! {
        @if binary { p.hint { "Binary body, base64:" } }
        pre.body tabindex="0" { (shown) }
        @if cut {
            p.hint { "The first " (page::bytes(SHOWN_BODY_BYTES as u64)) " of " (page::bytes(body.len() as u64)) "; the API's delivery answer has it whole." }
        }
    }
}

/// The status and the attempts: fetched again every few seconds while the
/// delivery may still change.
fn live_part(tenant: &crate::ids::TenantId, here: &str, d: &DeliveryView) -> Markup {
    let settled = matches!(
        d.delivery.status,
        DeliveryStatus::Succeeded | DeliveryStatus::Dead | DeliveryStatus::Filtered
    );
    html! {
        div #live data-refresh=[(!settled).then(|| format!("{here}?fragment=live"))] aria-live="polite" {
            dl.facts {
                dt { "Status" } dd #status { (page::status(d.delivery.status)) }
                dt { "Endpoint" } dd { a href={"/ui/t/" (tenant) "/endpoints/" (d.delivery.endpoint)} { (d.delivery.endpoint) } }
                dt { "Plugin" } dd { (d.delivery.plugin) " v" (d.delivery.plugin_version) }
                dt { "Received" } dd { (page::time(&d.delivery.received_at)) }
                dt { "Finished" } dd { @match &d.delivery.finished_at { Some(t) => (page::time(t)), None => "–" } }
                @if let Some(e) = &d.delivery.last_error {
                    dt { "Last error" } dd.error { (e) }
                }
            }
            h2 { "Attempts" }
            @if d.attempts.is_empty() {
                p.hint { "No attempt yet." }
            }
            ol.timeline {
                @for a in d.attempts.iter().rev().take(SHOWN_ATTEMPTS) {
                    (attempt(a))
                }
            }
            @if d.attempts.len() > SHOWN_ATTEMPTS {
                p.hint { "The " (SHOWN_ATTEMPTS) " latest of " (d.attempts.len()) " attempts; the API's delivery answer has every one." }
            }
        }
    }
}

fn attempt(a: &AttemptView) -> Markup {
    let outcome = a.outcome.as_str();
    let class = if outcome == "ok" { "ok" } else { "bad" };
    html! {
        li.attempt {
            div.head {
                span class={"badge " (class)} { (outcome) }
                strong { "Attempt " (a.attempt) }
                span { " · " (page::time(&a.started_at)) " · " (a.duration_ms) " ms · version " (a.plugin_version) }
            }
            @if let Some(m) = &a.message {
                pre.message { (m) }
            }
            @if !a.http_calls.is_empty() {
                h4 { "Outbound calls" }
                div.table-wrap {
                    table.calls {
                        thead { tr { th scope="col" { "Method" } th scope="col" { "URL" } th scope="col" { "Status" } th scope="col" { "Time" } th scope="col" { "Error" } } }
                        tbody {
                            @for c in &a.http_calls {
                                tr {
                                    td { (c.method) }
                                    td.mono { (c.url) }
                                    td.num { @match c.status { Some(s) => (s), None => "–" } }
                                    td.num { (c.duration_ms) " ms" }
                                    td.error { (c.error.as_deref().unwrap_or("")) }
                                }
                            }
                        }
                    }
                }
            }
            h4 { "Logs" }
            @if a.logs.is_empty() {
                p.hint { "None." }
            } @else {
                pre.logs tabindex="0" {
                    @for l in &a.logs {
                        span class={"level " (l.level.as_str())} { (format!("{:>6} ms {:<6} ", l.at_ms, l.level.as_str())) }
                        (l.message) "\n"
                    }
                }
            }
            @if a.logs_truncated {
                p.hint { "The log was cut at its budget." }
            }
        }
    }
}

/// A version number a form chose, none when it chose none.
pub(super) fn version(field: &str, text: &str) -> Result<Option<u32>, ApiError> {
    some(text)
        .map(|v| {
            v.parse::<u32>()
                .map_err(|_| ApiError::field(field, format!("{v:?} is not a version number")))
        })
        .transpose()
}

#[derive(Deserialize)]
pub(super) struct ReplayForm {
    csrf: String,
    #[serde(default)]
    plugin_version: String,
}

/// Replays one delivery, on its version or another, then shows it.
pub(super) async fn replay(
    State(state): State<UiState>,
    viewer: Viewer,
    Path((tenant, id)): Path<(String, String)>,
    axum::extract::Form(form): axum::extract::Form<ReplayForm>,
) -> Result<Response, UiError> {
    viewer.check(&form.csrf)?;
    let tenant = scope(&state, &viewer, &tenant).await?;
    let plugin_version = version("plugin_version", &form.plugin_version)?;
    api::deliveries::replay(
        State(state.api.clone()),
        viewer.caller.clone(),
        Path((tenant.to_string(), id.clone())),
        Body(ReplayRequest { plugin_version }),
    )
    .await
    .map(drop)?;
    Ok(Redirect::to(&format!("/ui/t/{tenant}/deliveries/{id}")).into_response())
}

#[derive(Deserialize)]
pub(super) struct BulkForm {
    csrf: String,
    endpoint: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    event_type: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    to_version: String,
}

/// Starts a bulk replay of what the list's filter matches, then follows it.
pub(super) async fn bulk_replay(
    State(state): State<UiState>,
    viewer: Viewer,
    Path(tenant): Path<String>,
    axum::extract::Form(form): axum::extract::Form<BulkForm>,
) -> Result<Response, UiError> {
    viewer.check(&form.csrf)?;
    let tenant = scope(&state, &viewer, &tenant).await?;
    let to_version = version("to_version", &form.to_version)?;
    let (_, axum::Json(job)) = api::replays::start(
        State(state.api.clone()),
        viewer.caller.clone(),
        Path(tenant.to_string()),
        Body(BulkReplayRequest {
            endpoint: form.endpoint,
            status: some(&form.status),
            event_type: some(&form.event_type),
            since: rfc3339(&form.since),
            until: rfc3339(&form.until),
            plugin_version: None,
            to_version,
        }),
    )
    .await?;
    Ok(Redirect::to(&format!("/ui/t/{tenant}/replays/{}", job.id)).into_response())
}

/// A bulk replay's progress: fetched again every second while it runs.
pub(super) async fn replay_progress(
    State(state): State<UiState>,
    viewer: Viewer,
    Path((tenant, id)): Path<(String, String)>,
    Query(q): Query<ShowQuery>,
) -> Result<Response, UiError> {
    let tenant = scope(&state, &viewer, &tenant).await?;
    let axum::Json(job) = api::replays::get(
        State(state.api.clone()),
        viewer.caller.clone(),
        Path((tenant.to_string(), id)),
    )
    .await?;
    let here = format!("/ui/t/{tenant}/replays/{}", job.id);
    let progress = progress(&here, &job);
    if q.fragment == "progress" {
        return Ok(axum::response::Html(progress.into_string()).into_response());
    }
    let body = html! {
        main {
            p.crumbs { a href={"/ui/t/" (tenant) "/deliveries"} { "Deliveries" } " / bulk replay" }
            h1 { "Bulk replay " span.mono { (job.id) } }
            dl.facts {
                dt { "Endpoint" } dd { (job.endpoint) }
                dt { "Status" } dd { (job.status.map(|s| s.as_str()).unwrap_or("any finished")) }
                dt { "Event type" } dd { (job.event_type.as_deref().unwrap_or("any")) }
                dt { "Received" } dd { (job.since.as_deref().unwrap_or("…")) " – " (job.until) }
                dt { "Runs on" } dd { @match job.to_version { Some(v) => { "version " (v) }, None => "the version each ran" } }
            }
            (progress)
            p { a href={"/ui/t/" (tenant) "/deliveries?endpoint=" (job.endpoint)} { "See the endpoint's deliveries" } }
        }
    };
    Ok(Page::new(
        "Bulk replay",
        &viewer,
        Some(&tenant),
        Section::Deliveries,
        body,
    )
    .into_response())
}

fn progress(here: &str, job: &ReplayJobView) -> Markup {
    let running = job.state == ReplayState::Running;
    let percent = (job.progress * 100.0).clamp(0.0, 100.0);
    html! {
        div #progress data-refresh=[running.then(|| format!("{here}?fragment=progress"))] aria-live="polite" {
            label for="replay-bar" { "Progress" }
            progress #replay-bar max="100" value=(format!("{percent:.0}")) { (format!("{percent:.0} %")) }
            p {
                strong { (format!("{:?}", job.state).to_lowercase()) } " · "
                (job.matched) " matched · " (job.replayed) " replayed · " (job.skipped) " skipped (running or pruned)"
            }
            @if let Some(e) = &job.error {
                p.error { (e) }
            }
        }
    }
}
