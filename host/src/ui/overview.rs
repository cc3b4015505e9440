//! A tenant's overview: per endpoint, the last hour and day of deliveries
//! by outcome, end-to-end latency and queue depth, the failing ones first.
//!
//! The figures come from the store's bounded traffic read, and one tenant's
//! are computed at most once per [`FRESH`], however many look at them: a
//! tenant reloading its overview in a loop costs the store one read per
//! interval.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::charts::{self, SERIES};
use super::page::{self, Page, Section};
use super::session::Viewer;
use super::{UiError, UiState, scope};
use crate::domain::Timestamp;
use crate::ids::{EndpointId, TenantId};
use crate::store::{Endpoint, LATENCY_BOUNDS_MS, StoreError, Traffic};

/// How long a tenant's figures are reused.
const FRESH: Duration = Duration::from_secs(5);

/// One look at a tenant's traffic.
struct Snapshot {
    at: Instant,
    traffic: Traffic,
    depth: Vec<(EndpointId, u64)>,
}

type Slot = Arc<tokio::sync::Mutex<Option<Arc<Snapshot>>>>;

/// How many tenants' figures are computed at once on a host, whatever
/// the number of tenants looking: the reads are bounded, and so is the
/// share of the database's readers they take.
const COMPUTING: usize = 2;

/// Each tenant's latest snapshot, behind a lock per tenant so that
/// concurrent looks wait for one read instead of making their own.
pub struct Cache {
    slots: Mutex<HashMap<TenantId, Slot>>,
    computing: tokio::sync::Semaphore,
}

impl Default for Cache {
    fn default() -> Self {
        Self {
            slots: Mutex::default(),
            computing: tokio::sync::Semaphore::new(COMPUTING),
        }
    }
}

impl Cache {
    async fn get(&self, state: &UiState, tenant: &TenantId) -> Result<Arc<Snapshot>, StoreError> {
        let slot = self
            .slots
            .lock()
            .expect("the cache's lock is never poisoned")
            .entry(tenant.clone())
            .or_default()
            .clone();
        let mut held = slot.lock().await;
        if let Some(snapshot) = held.as_ref().filter(|s| s.at.elapsed() < FRESH) {
            return Ok(snapshot.clone());
        }
        let _turn = self
            .computing
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let store = &state.api.store;
        let now = Timestamp::now();
        let snapshot = Arc::new(Snapshot {
            at: Instant::now(),
            traffic: store
                .traffic(
                    tenant,
                    now.before(Duration::from_secs(86_400)),
                    now.before(Duration::from_secs(3_600)),
                )
                .await?,
            depth: store.depth_by_endpoint(tenant).await?,
        });
        *held = Some(snapshot.clone());
        Ok(snapshot)
    }
}

/// One endpoint's figures over one window.
#[derive(Default)]
struct Window {
    buckets: Vec<[u64; 5]>,
    totals: [u64; 5],
    latency: [u64; LATENCY_BOUNDS_MS.len() + 1],
}

impl Window {
    fn new(buckets: usize) -> Self {
        Self {
            buckets: vec![[0; 5]; buckets],
            ..Self::default()
        }
    }

    fn received(&self) -> u64 {
        self.totals.iter().sum()
    }

    /// The bucket bound under which `quantile` of the succeeded deliveries
    /// finished, as text.
    fn percentile(&self, quantile: f64) -> String {
        let total: u64 = self.latency.iter().sum();
        if total == 0 {
            return "–".into();
        }
        let wanted = (total as f64 * quantile).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in self.latency.iter().enumerate() {
            seen += n;
            if seen >= wanted {
                return match LATENCY_BOUNDS_MS.get(i) {
                    Some(ms) => format!("≤ {}", duration(*ms)),
                    None => format!("> {}", duration(LATENCY_BOUNDS_MS[i - 1])),
                };
            }
        }
        "–".into()
    }
}

fn duration(ms: i64) -> String {
    match ms {
        ms if ms < 1_000 => format!("{ms} ms"),
        ms if ms < 60_000 => format!("{} s", ms / 1_000),
        ms if ms < 3_600_000 => format!("{} min", ms / 60_000),
        ms => format!("{} h", ms / 3_600_000),
    }
}

/// Each endpoint's last hour (by minute) and last day (by hour).
fn windows(traffic: &Traffic) -> BTreeMap<EndpointId, (Window, Window)> {
    fn entry<'a>(
        out: &'a mut BTreeMap<EndpointId, (Window, Window)>,
        endpoint: &EndpointId,
    ) -> &'a mut (Window, Window) {
        out.entry(endpoint.clone())
            .or_insert_with(|| (Window::new(60), Window::new(24)))
    }
    let mut out = BTreeMap::new();
    for c in &traffic.counts {
        let (hour, day) = entry(&mut out, &c.endpoint);
        let series = charts::series_of(c.status);
        if let Some(minute) = c.minute {
            if let Some(b) = hour.buckets.get_mut(minute as usize) {
                b[series] += c.count;
            }
            hour.totals[series] += c.count;
        }
        if let Some(b) = day.buckets.get_mut(c.hour as usize) {
            b[series] += c.count;
        }
        day.totals[series] += c.count;
    }
    for l in &traffic.latency {
        let (hour, day) = entry(&mut out, &l.endpoint);
        let windows = if l.last_hour {
            vec![hour, day]
        } else {
            vec![day]
        };
        for w in windows {
            if let Some(slot) = w.latency.get_mut(l.bucket) {
                *slot += l.count;
            }
        }
    }
    out
}

/// The overview page.
pub(super) async fn show(
    State(state): State<UiState>,
    viewer: Viewer,
    Path(tenant): Path<String>,
) -> Result<Response, UiError> {
    let tenant = scope(&state, &viewer, &tenant).await?;
    let snapshot = state.overview.get(&state, &tenant).await?;
    let endpoints = state.api.store.list_endpoints(&tenant).await?;
    let mut windows = windows(&snapshot.traffic);
    let mut ids: Vec<EndpointId> = endpoints.iter().map(|e| e.id.clone()).collect();
    for id in windows.keys() {
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    // Failing now: failed or dead in the last hour, most first.
    let failing = |id: &EndpointId| {
        windows
            .get(id)
            .map_or(0, |(hour, _)| hour.totals[1] + hour.totals[2])
    };
    ids.sort_by(|a, b| failing(b).cmp(&failing(a)).then_with(|| a.cmp(b)));
    let cards: Vec<Markup> = ids
        .iter()
        .map(|id| {
            let endpoint = endpoints.iter().find(|e| &e.id == id);
            let depth = snapshot
                .depth
                .iter()
                .find(|(d, _)| d == id)
                .map_or(0, |(_, n)| *n);
            let (hour, day) = windows
                .remove(id)
                .unwrap_or_else(|| (Window::new(60), Window::new(24)));
            card(&tenant, id, endpoint, depth, hour, day)
        })
        .collect();
    let cut = snapshot.traffic.cut_at;
    let body = html! {
        main {
            h1 { "Overview" }
            p.legend aria-hidden="true" {
                @for (name, class) in SERIES { span class={"key " (class)} {} (name) " " }
            }
            @if let Some(cut) = cut {
                p.notice.warn { "Busy window: the figures cover the newest " (crate::store::TRAFFIC_SCAN) " deliveries, received since " (page::time(&cut.rfc3339())) "." }
            }
            @if cards.is_empty() {
                p.hint { "No endpoint yet." }
            }
            div.cards { @for c in cards { (c) } }
        }
    };
    Ok(Page::new("Overview", &viewer, Some(&tenant), Section::Overview, body).into_response())
}

fn card(
    tenant: &TenantId,
    id: &EndpointId,
    endpoint: Option<&Endpoint>,
    depth: u64,
    hour: Window,
    day: Window,
) -> Markup {
    let failing = hour.totals[1] + hour.totals[2];
    html! {
        article.card.endpoint aria-labelledby={"ov-" (id)} {
            header {
                h2 #{"ov-" (id)} { a href={"/ui/t/" (tenant) "/deliveries?endpoint=" (id)} { (id) } }
                @if failing > 0 { span.badge.bad { "failing: " (failing) " in the last hour" } }
                @if endpoint.is_some_and(|e| e.paused_at.is_some()) { span.badge.idle { "paused" } }
                @if endpoint.is_none() { span.badge.idle { "deleted" } }
                span.depth { "queue depth " strong { (depth) } }
            }
            div.windows {
                (window("Last hour", "per minute", &hour, tenant, id))
                (window("Last day", "per hour", &day, tenant, id))
            }
        }
    }
}

fn window(title: &str, per: &str, w: &Window, tenant: &TenantId, id: &EndpointId) -> Markup {
    let label = format!(
        "{title}, {per}: {} received, {} succeeded, {} failed, {} dead, {} filtered",
        w.received(),
        w.totals[0],
        w.totals[1],
        w.totals[2],
        w.totals[3]
    );
    let link = |status: &str| format!("/ui/t/{tenant}/deliveries?endpoint={id}&status={status}");
    html! {
        section.window {
            h3 { (title) }
            (charts::stacked(&w.buckets, &label))
            table.totals {
                tbody {
                    tr { th scope="row" { "received" } td.num { (w.received()) } }
                    tr { th scope="row" { "succeeded" } td.num { a href=(link("succeeded")) { (w.totals[0]) } } }
                    tr { th scope="row" { "failed" } td.num { a href=(link("retrying")) { (w.totals[1]) } } }
                    tr { th scope="row" { "dead" } td.num { a href=(link("dead")) { (w.totals[2]) } } }
                    tr { th scope="row" { "filtered" } td.num { a href=(link("filtered")) { (w.totals[3]) } } }
                    tr { th scope="row" { "p50 / p95" } td.num { (w.percentile(0.5)) " / " (w.percentile(0.95)) } }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_name_the_bucket_they_fall_in() {
        let mut w = Window::new(1);
        w.latency[0] = 50; // ≤ 10 ms
        w.latency[3] = 45; // ≤ 100 ms
        w.latency[LATENCY_BOUNDS_MS.len()] = 5; // slower than a day
        assert_eq!(w.percentile(0.5), "≤ 10 ms");
        assert_eq!(w.percentile(0.95), "≤ 100 ms");
        assert_eq!(w.percentile(0.99), "> 24 h");
        assert_eq!(Window::new(1).percentile(0.5), "–");
    }
}
