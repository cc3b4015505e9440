//! `hookhost serve` as a library call: wires the store, runtime, queue,
//! ingress and api together on a listener, until a shutdown signal.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

use crate::ingress::{self, IngressState};
use crate::queue::{Queue, QueueConfig};
use crate::runtime::Runtime;
use crate::store::{EndpointCache, Store};

/// Errors that stop the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Accepting connections failed.
    #[error("serving HTTP failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves on `listener` until `shutdown` completes, then stops accepting,
/// lets running attempts finish within the grace period, and returns.
pub async fn serve(
    store: Arc<dyn Store>,
    runtime: Arc<Runtime>,
    config: QueueConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let endpoints = Arc::new(EndpointCache::new(store.clone()));
    let queue = Arc::new(Queue::start(config, store, runtime, endpoints.clone()));
    let app = Router::new()
        .merge(ingress::router(IngressState {
            endpoints,
            queue: queue.clone(),
        }))
        .merge(crate::api::router());
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    queue.shutdown().await;
    served.map_err(ServeError::from)
}
