//! The HTTP surface besides ingress: errors as problem documents and the
//! operational probes.

mod problem;

pub use problem::Problem;

use axum::Router;
use axum::routing::get;

/// `/healthz`: the process is up and serving.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/healthz", get(|| async { "ok" }))
}
