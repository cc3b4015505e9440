//! The dashboard at `/ui`: pages rendered on the server from the admin
//! API's own handlers and views, so a page shows and does exactly what the
//! API lets its viewer see and do, with the same validation messages.
//!
//! Pages work without JavaScript; `assets/app.js` only adds live updates,
//! progress polling and copy buttons. Signing in is `session.rs`; each
//! resource has a file of its own.

mod assets;
mod charts;
mod deliveries;
mod endpoints;
mod overview;
mod page;
mod plugins;
mod session;
mod tenants;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::api::{ApiError, ApiState, Caller};
use crate::ids::TenantId;
use crate::store::StoreError;

pub use session::Viewer;

/// What the dashboard needs: the API's state, and whether its cookie must
/// travel over TLS only.
#[derive(Clone)]
pub struct UiState {
    /// The admin API's state; pages call its handlers.
    pub api: ApiState,
    /// Marks the session cookie `Secure`: set when the server speaks TLS or
    /// its public URL is `https`.
    pub secure_cookies: bool,
    /// Recent traffic per tenant, computed at most once a few seconds.
    overview: Arc<overview::Cache>,
    /// Sign-in attempts per client address.
    sign_ins: Arc<session::SignIns>,
}

impl UiState {
    /// The dashboard's state over the API's.
    pub fn new(api: ApiState, secure_cookies: bool) -> Self {
        Self {
            api,
            secure_cookies,
            overview: Arc::default(),
            sign_ins: Arc::default(),
        }
    }
}

/// Why a page could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// No session, or one that ended: sign in, then go on to `next`.
    #[error("sign in first")]
    SignIn {
        /// The page asked for.
        next: String,
    },
    /// A form without this session's token.
    #[error("the form's token is not this session's")]
    Csrf,
    /// What the API answered.
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl From<StoreError> for UiError {
    fn from(e: StoreError) -> Self {
        Self::Api(ApiError::Store(e))
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let (status, title, detail) = match self {
            UiError::SignIn { next } => {
                let next: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
                return Redirect::to(&format!("/ui/login?next={next}")).into_response();
            }
            UiError::Csrf => {
                let mut page = session::csrf_page().into_response();
                *page.status_mut() = StatusCode::FORBIDDEN;
                return page;
            }
            UiError::Api(e) => {
                let detail = match &e {
                    ApiError::Invalid(errors) => errors
                        .iter()
                        .map(|e| format!("{}: {}", e.field, e.message))
                        .collect::<Vec<_>>()
                        .join("; "),
                    // What the API would say: nothing of the database's own words.
                    ApiError::Store(store) => crate::problem::Problem::from(store).detail,
                    other => other.to_string(),
                };
                let status = e.into_response().status();
                let title = status.canonical_reason().unwrap_or("Error");
                (status, title, detail)
            }
        };
        let mut page = page::message(title, &detail).into_response();
        *page.status_mut() = status;
        page
    }
}

/// The tenant a page names, if the viewer reaches it: anyone else gets the
/// API's 404, as for a tenant that does not exist.
async fn scope(state: &UiState, viewer: &Viewer, tenant: &str) -> Result<TenantId, UiError> {
    Ok(crate::api::tenants::tenant_of(&state.api, &viewer.caller, tenant).await?)
}

/// `/ui`: a tenant's overview, or the operator's list of tenants.
async fn home(viewer: Viewer) -> Redirect {
    match viewer.caller {
        Caller::Operator => Redirect::to("/ui/tenants"),
        Caller::Tenant(t) => Redirect::to(&format!("/ui/t/{t}")),
    }
}

/// What every dashboard answer carries: no caching of pages, no framing,
/// no script or style from anywhere but this host.
async fn harden(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers
        .entry(CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Largest form a page posts: an endpoint's configuration of at most 1 MiB,
/// URL-encoded (up to three bytes for each).
const FORM_BYTES: usize = 4 * 1024 * 1024;

/// Every dashboard route.
pub fn router(state: UiState) -> Router {
    Router::new()
        .route("/ui", get(home))
        .route("/ui/", get(home))
        .route(
            "/ui/login",
            get(session::login_page)
                .post(session::login)
                .layer(DefaultBodyLimit::max(8 * 1024)),
        )
        .route("/ui/logout", post(session::logout))
        .route("/ui/assets/{name}", get(assets::asset))
        .route("/ui/tenants", get(tenants::list))
        .route("/ui/t/{tenant}", get(overview::show))
        .route("/ui/t/{tenant}/deliveries", get(deliveries::list))
        .route("/ui/t/{tenant}/deliveries/{id}", get(deliveries::show))
        .route(
            "/ui/t/{tenant}/deliveries/{id}/replay",
            post(deliveries::replay),
        )
        .route("/ui/t/{tenant}/replays", post(deliveries::bulk_replay))
        .route(
            "/ui/t/{tenant}/replays/{id}",
            get(deliveries::replay_progress),
        )
        .route("/ui/t/{tenant}/endpoints", get(endpoints::list))
        .route(
            "/ui/t/{tenant}/endpoints/{endpoint}",
            get(endpoints::edit).post(endpoints::save),
        )
        .route(
            "/ui/t/{tenant}/endpoints/{endpoint}/pause",
            post(endpoints::pause),
        )
        .route(
            "/ui/t/{tenant}/endpoints/{endpoint}/resume",
            post(endpoints::resume),
        )
        .route(
            "/ui/t/{tenant}/plugins",
            get(plugins::list)
                .post(plugins::upload)
                .layer(DefaultBodyLimit::max(
                    crate::api::plugins::MAX_COMPONENT_BYTES + FORM_BYTES,
                )),
        )
        .route("/ui/t/{tenant}/plugins/bind", post(plugins::bind))
        .layer(DefaultBodyLimit::max(FORM_BYTES))
        .layer(axum::middleware::map_response(harden))
        .with_state(state)
}
