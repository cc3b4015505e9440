//! The HTTP surface besides ingress: the admin API under `/v1` (bearer
//! tokens, tenant isolation), the probes, metrics and the OpenAPI document.
//!
//! Every route is registered through utoipa's `OpenApiRouter`, so the
//! OpenAPI document lists exactly the routes the router serves.

pub(crate) mod alerts;
mod auth;
pub(crate) mod deliveries;
pub(crate) mod endpoints;
mod error;
mod health;
pub(crate) mod json;
mod kv;
pub(crate) mod plugins;
pub(crate) mod policy;
pub(crate) mod replays;
mod secrets;
pub(crate) mod tenants;
pub(crate) mod views;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use auth::{Caller, generate_key, hash_key, init_operator_token};
pub use endpoints::check_request;
pub use error::ApiError;
pub use health::metrics_handle;
pub use json::parse as parse_json;

use crate::ingress::{self, IngressState};
use crate::problem::{FieldError, Problem};
use crate::queue::Queue;
use crate::runtime::Runtime;
use crate::store::{EndpointCache, PolicyCache, Store};

/// What the admin API needs.
#[derive(Clone)]
pub struct ApiState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The runtime, to validate uploads.
    pub runtime: Arc<Runtime>,
    /// Endpoint cache, invalidated on change.
    pub endpoints: Arc<EndpointCache>,
    /// Tenants' policies, invalidated on change.
    pub policies: Arc<PolicyCache>,
    /// The queue, woken on replay.
    pub queue: Arc<Queue>,
    /// SHA-256 of the operator token.
    pub operator_hash: Arc<str>,
    /// Base URL for inbound URLs; from the Host header when absent.
    pub public_url: Option<String>,
    /// The metrics recorder.
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// Largest `limits.memory_mb` an endpoint may ask for.
    pub max_memory_mb: u32,
    /// The operator's named IP sets, which endpoints' `allowed_ips` may name.
    pub ip_sets: Arc<crate::config::IpSets>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "hookhost",
        description = "Receive webhooks, verify them, store them durably, and run a sandboxed WebAssembly handler for each one."
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    components(schemas(Problem, FieldError))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Makes the document say what routes answer besides their own responses,
/// in one place rather than on every route: problems are
/// `application/problem+json`; every `/v1` route may answer 401 (no token,
/// or an unknown one), 403 (a tenant key on the operator's business) and 503
/// (the store failed); one that reads JSON, 413 and 422.
fn document_common_answers(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    const PROBLEM: &str = "application/problem+json";
    let problem = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    PROBLEM,
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build(),
        )
    };
    for (path, item) in doc.paths.paths.iter_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            let responses = &mut operation.responses.responses;
            for response in responses.values_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                let is_problem = response.content.get("application/json").is_some_and(|c| {
                    matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem"))
                });
                if is_problem
                    && let Some(content) = response.content.shift_remove("application/json")
                {
                    response.content.insert(PROBLEM.to_owned(), content);
                }
            }
            let mut add = |status: &str, description: &str| {
                responses
                    .entry(status.to_owned())
                    .or_insert_with(|| problem(description));
            };
            if path.starts_with("/v1/") {
                add("401", "no bearer token, or one that matches nothing");
                add("403", "a tenant key on the operator's business");
                add("503", "the store failed; try again after Retry-After");
            }
            let reads_json = operation
                .request_body
                .as_ref()
                .is_some_and(|b| b.content.contains_key("application/json"));
            if reads_json {
                add("413", "the JSON body is over 2 MiB");
                add("422", "the body is malformed; each field at fault is named");
            }
        }
    }
}

/// The OpenAPI document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1 document")))]
async fn openapi_json(
    axum::extract::State(doc): axum::extract::State<Arc<utoipa::openapi::OpenApi>>,
) -> Json<utoipa::openapi::OpenApi> {
    Json(doc.as_ref().clone())
}

/// Every route: ingress, the admin API, probes, metrics and `/openapi.json`.
pub fn router(api: ApiState, ingress: IngressState) -> Router {
    let admin = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(tenants::create, tenants::list))
        .routes(routes!(tenants::get, tenants::delete))
        .routes(routes!(tenants::rotate_key))
        .routes(routes!(policy::get, policy::put))
        .routes(routes!(plugins::list))
        .routes(routes!(plugins::upload, plugins::list_versions))
        .routes(routes!(plugins::get_version, plugins::delete_version))
        .routes(routes!(endpoints::list))
        .routes(routes!(endpoints::put, endpoints::get, endpoints::delete))
        .routes(routes!(endpoints::replay_dead))
        .routes(routes!(endpoints::pause))
        .routes(routes!(endpoints::resume))
        .routes(routes!(secrets::put, secrets::delete))
        .routes(routes!(deliveries::list))
        .routes(routes!(deliveries::get))
        .routes(routes!(deliveries::replay))
        .routes(routes!(replays::start, replays::list))
        .routes(routes!(replays::get))
        .routes(routes!(replays::cancel))
        .routes(routes!(alerts::list))
        .routes(routes!(alerts::put, alerts::get, alerts::delete))
        .routes(routes!(alerts::list_alerts))
        .routes(routes!(kv::keys))
        .routes(routes!(kv::value))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
        .layer(axum::extract::DefaultBodyLimit::max(
            plugins::MAX_COMPONENT_BYTES,
        ))
        .with_state(api);
    let (router, mut doc) = admin.merge(ingress::routes(ingress)).split_for_parts();
    document_common_answers(&mut doc);
    let (spec_router, spec_doc) = OpenApiRouter::<Arc<utoipa::openapi::OpenApi>>::new()
        .routes(routes!(openapi_json))
        .split_for_parts();
    doc.merge(spec_doc);
    router.merge(spec_router.with_state(Arc::new(doc)))
}
