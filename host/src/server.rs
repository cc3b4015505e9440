//! `hookhost serve` as a library call: wires the store, runtime, queue,
//! ingress and api together on a listener, until a shutdown signal.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::api::{self, ApiState};
use crate::config::{Config, Secret};
use crate::ingress::IngressState;
use crate::queue::Queue;
use crate::runtime::Runtime;
use crate::store::{EndpointCache, Store, StoreError};

/// Errors that stop the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Accepting connections failed.
    #[error("serving HTTP failed: {0}")]
    Io(#[from] std::io::Error),
    /// The store could not be prepared.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Serves on `listener` until `shutdown` completes, then stops accepting,
/// lets running attempts finish within the grace period, and returns.
pub async fn serve(
    store: Arc<dyn Store>,
    runtime: Arc<Runtime>,
    config: Arc<Config>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let (operator_hash, generated) = api::init_operator_token(
        store.as_ref(),
        config.admin_token.as_ref().map(Secret::expose),
    )
    .await?;
    if let Some(token) = generated {
        println!(
            "operator token (shown once; set HOOKHOST_ADMIN_TOKEN to choose your own): {token}"
        );
    }
    let endpoints = Arc::new(EndpointCache::new(store.clone()));
    let queue = Arc::new(Queue::start(
        config.clone(),
        store.clone(),
        runtime.clone(),
        endpoints.clone(),
    ));
    let app = api::router(
        ApiState {
            store,
            max_memory_mb: runtime.max_memory_mb(),
            runtime,
            endpoints: endpoints.clone(),
            queue: queue.clone(),
            operator_hash: operator_hash.into(),
            public_url: config.public_url.clone(),
            metrics: api::metrics_handle(),
        },
        IngressState {
            endpoints,
            queue: queue.clone(),
        },
    );
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    queue.shutdown().await;
    served.map_err(ServeError::from)
}
