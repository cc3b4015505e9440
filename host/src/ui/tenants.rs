//! The operator's page: every tenant, what its policy lets it take, and
//! what it takes now.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use maud::html;

use super::page::{self, Page, Section};
use super::session::Viewer;
use super::{UiError, UiState};
use crate::api;
use crate::domain::Timestamp;

/// Every tenant with its policy and usage; the operator's alone.
pub(super) async fn list(
    State(state): State<UiState>,
    viewer: Viewer,
) -> Result<Response, UiError> {
    viewer.caller.operator()?;
    let axum::Json(tenants) =
        api::tenants::list(State(state.api.clone()), viewer.caller.clone()).await?;
    let store = &state.api.store;
    let depths = store.queue_depth_by_tenant().await?;
    let midnight = Timestamp::from_ms(Timestamp::now().as_ms() / 86_400_000 * 86_400_000);
    let attempts = store.attempts_since(midnight).await?;
    let mut rows = Vec::new();
    for t in &tenants.tenants {
        let axum::Json(policy) = api::policy::get(
            State(state.api.clone()),
            viewer.caller.clone(),
            Path(t.id.clone()),
        )
        .await?;
        let id =
            crate::ids::TenantId::new(&t.id).map_err(|e| api::ApiError::NotFound(e.to_string()))?;
        let kv = store
            .tenant_usage_bytes(&id)
            .await
            .map_err(|e| api::ApiError::Conflict(e.to_string()))?;
        let depth = depths.iter().find(|(d, _)| *d == id).map_or(0, |(_, n)| *n);
        let today = attempts
            .iter()
            .find(|(a, _)| *a == id)
            .map_or(0, |(_, n)| *n);
        rows.push((t, policy, kv, depth, today));
    }
    let body = html! {
        main {
            h1 { "Tenants" }
            div.table-wrap {
                table.tenants {
                    caption.sr-only { "Tenants, their policies and usage" }
                    thead { tr {
                        th scope="col" { "Tenant" }
                        th scope="col" { "Queue depth" }
                        th scope="col" { "KV bytes" }
                        th scope="col" { "Invocations today" }
                        th scope="col" { "Workers at once" }
                        th scope="col" { "Ingest rate" }
                        th scope="col" { "Policy overrides" }
                    } }
                    tbody {
                        @for (t, policy, kv, depth, today) in &rows {
                            tr {
                                td { a href={"/ui/t/" (t.id)} { (t.id) } br; small { "since " (page::time(&t.created_at)) } }
                                td.num { (depth) " / " (policy.policy.max_queue_depth) }
                                td.num { (page::bytes(*kv)) " / " (page::bytes(policy.policy.kv_quota_bytes)) }
                                td.num { (today) }
                                td.num { (policy.policy.max_concurrent) }
                                td.num { (policy.policy.ingest_rate) "/s" }
                                td.mono {
                                    @if policy.overrides.0.is_empty() { "defaults" }
                                    @else { (serde_json::to_string(&policy.overrides).unwrap_or_default()) }
                                    @if !policy.endpoints_over_policy.is_empty() {
                                        br; span.badge.warn { (policy.endpoints_over_policy.len()) " endpoints over it" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            p.hint { "Invocations today counts the attempts made on deliveries received since 00:00 UTC." }
        }
    };
    Ok(Page::new("Tenants", &viewer, None, Section::Tenants, body).into_response())
}
