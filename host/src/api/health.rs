//! Probes and metrics: `/healthz` (the process serves), `/readyz` (the store
//! answers), `/metrics` (Prometheus text).

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::ApiState;

/// Buckets of the invocation duration histogram, in seconds.
const DURATION_BUCKETS: &[f64] = &[
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// The process's metrics recorder, installed on first use.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("hookhost_invocation_duration_seconds".into()),
                    DURATION_BUCKETS,
                )
                .expect("buckets are not empty")
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics stays empty");
            }
            handle
        })
        .clone()
}

/// The process serves requests.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = String)))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// The store answers and the runtime is up: ready for traffic.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = String), (status = 503, body = String)))]
pub async fn readyz(State(state): State<ApiState>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready".to_owned()),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("store unavailable: {e}"),
        ),
    }
}

/// Prometheus metrics: ingress by outcome and provider, queue depth,
/// invocations by outcome and their durations, outbound calls by outcome,
/// guests waiting for CPU and the preemptions that served them.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, body = String)))]
pub async fn metrics(State(state): State<ApiState>) -> impl IntoResponse {
    metrics::gauge!("hookhost_queue_depth").set(state.queue.depth().get() as f64);
    let cpu = state.runtime.guest_cpu();
    metrics::gauge!("hookhost_guests_waiting_for_cpu").set(cpu.waiting as f64);
    metrics::counter!("hookhost_guest_preemptions_total").absolute(cpu.preemptions);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
