//! `hookhost serve` as a library call: wires the store, runtime, queue,
//! ingress and api together on a listener, until a shutdown signal.
//!
//! The HTTP server bounds what a client holds: connections served at once
//! (`max_connections`; the rest wait in the kernel's accept queue), the
//! time to send a request's headers, which on HTTP/1.1 is also how long a
//! kept-alive connection may sit idle (`http_header_timeout`), and the time
//! a whole request may take (`http_request_timeout`, then 408). With
//! `tls.cert` and `tls.key` set it serves HTTPS (`tls`), the TLS handshake
//! bounded like a request's headers.

mod tls;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;
use tower_http::timeout::TimeoutLayer;

use crate::alerts::Alerts;
use crate::api::{self, ApiState};
use crate::config::{Config, Secret};
use crate::ingress::{IngestRates, IngressState};
use crate::queue::Queue;
use crate::runtime::Runtime;
use crate::store::{EndpointCache, HOST_ALIVE, PolicyCache, Store, StoreError};
use crate::ui::{self, UiState};
pub use tls::TlsError;
use tls::{Tls, TlsFiles};

/// Errors that stop the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Accepting connections failed.
    #[error("serving HTTP failed: {0}")]
    Io(#[from] std::io::Error),
    /// The store could not be prepared.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The TLS certificate could not be loaded.
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
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
    let tls = match (&config.tls.cert, &config.tls.key) {
        (Some(cert), Some(key)) => Some(Tls::load(TlsFiles {
            cert: cert.into(),
            key: key.into(),
        })?),
        _ => None,
    };
    let resealed = store.reseal().await?;
    if resealed > 0 {
        tracing::info!(
            rows = resealed,
            "secrets sealed under the current master key; previous_master_keys may be removed once every host has started with this key"
        );
    }
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
    let policies = Arc::new(PolicyCache::new(store.clone(), config.tenant.clone()));
    let queue = Arc::new(Queue::start(
        config.clone(),
        store.clone(),
        runtime.clone(),
        endpoints.clone(),
        policies.clone(),
    ));
    let alerting = Alerts::start(
        config.clone(),
        store.clone(),
        endpoints.clone(),
        policies.clone(),
        queue.take_recorded(),
    )
    .await?;
    let rates = Arc::new(IngestRates::default());
    let counting = tokio::spawn(count_hosts(store.clone(), rates.clone()));
    let api_state = ApiState {
        store,
        max_memory_mb: runtime.max_memory_mb(),
        runtime,
        endpoints: endpoints.clone(),
        policies: policies.clone(),
        queue: queue.clone(),
        operator_hash: operator_hash.into(),
        public_url: config.public_url.clone(),
        metrics: api::metrics_handle(),
        ip_sets: Arc::new(config.ip_sets.clone()),
    };
    let secure_cookies = config.tls.cert.is_some()
        || config
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"));
    let dashboard = ui::router(UiState::new(api_state.clone(), secure_cookies));
    let app = api::router(
        api_state,
        IngressState {
            endpoints,
            queue: queue.clone(),
            policies,
            rates,
            trusted_proxies: config.trusted_proxies.clone().into(),
            client_ip_header: config.client_ip_header,
            ip_sets: Arc::new(config.ip_sets.clone()),
        },
    );
    let app = app.merge(dashboard).layer(TimeoutLayer::with_status_code(
        StatusCode::REQUEST_TIMEOUT,
        config.http_request_timeout,
    ));
    let following = tls.clone().map(|tls| tokio::spawn(tls.follow()));
    let served = serve_http(listener, app, tls, &config, shutdown).await;
    counting.abort();
    if let Some(following) = following {
        following.abort();
    }
    queue.shutdown().await;
    alerting.shutdown().await;
    served.map_err(ServeError::from)
}

/// Heartbeats this host into the store and sizes the ingest buckets at its
/// share among the live hosts, until aborted.
async fn count_hosts(store: Arc<dyn Store>, rates: Arc<IngestRates>) {
    let host = uuid::Uuid::new_v4().simple().to_string();
    loop {
        match store.heartbeat(&host).await {
            Ok(hosts) => rates.set_hosts(hosts),
            Err(e) => tracing::warn!(error = %e, "could not count the hosts sharing the database"),
        }
        tokio::time::sleep(HOST_ALIVE / 3).await;
    }
}

/// Accepts connections while fewer than `max_connections` are open and
/// serves each with the configured timeouts; on `shutdown` stops accepting
/// and waits for the requests in flight.
async fn serve_http(
    listener: TcpListener,
    app: Router,
    tls: Option<Tls>,
    config: &Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut http = auto::Builder::new(TokioExecutor::new());
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.http_header_timeout);
    http.http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(config.http_header_timeout)
        .keep_alive_timeout(config.http_header_timeout);
    let open = Arc::new(Semaphore::new(config.max_connections));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            permit = open.clone().acquire_owned() => permit.expect("never closed"),
        };
        let stream = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if is_transient(&e) => {
                    // Out of descriptors or a connection reset before accept:
                    // let the moment pass rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                Err(e) => return Err(e),
            },
        };
        let (stream, peer) = stream;
        let _ = stream.set_nodelay(true);
        // Ingress reads the peer's address to check endpoints' allowed_ips.
        let service = TowerToHyperService::new(app.clone().map_request(
            move |mut request: axum::extract::Request<_>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            },
        ));
        match &tls {
            None => {
                let connection = graceful.watch(
                    http.serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .into_owned(),
                );
                tokio::spawn(async move {
                    let _ = connection.await;
                    drop(permit);
                });
            }
            Some(tls) => {
                // The handshake runs on the connection's task, so a slow one
                // holds up nobody else's accept, and it gets as long as a
                // request's headers.
                let handshake =
                    tokio::time::timeout(config.http_header_timeout, tls.acceptor().accept(stream));
                let (http, watcher) = (http.clone(), graceful.watcher());
                tokio::spawn(async move {
                    if let Ok(Ok(stream)) = handshake.await {
                        let connection = http
                            .serve_connection_with_upgrades(TokioIo::new(stream), service)
                            .into_owned();
                        let _ = watcher.watch(connection).await;
                    }
                    drop(permit);
                });
            }
        }
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Errors of `accept` that concern one connection or a passing shortage,
/// not the listener.
fn is_transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted | WouldBlock
    ) || e
        .raw_os_error()
        .is_some_and(|code| code == 23 || code == 24)
}
