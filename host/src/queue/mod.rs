//! The delivery queue: group-committed ingest, fair claiming with leases,
//! the worker pool that runs plugins, retries and dead-lettering, and the
//! bulk replays that feed it.
//!
//! Everything this host writes to the queue goes through one committer task
//! (`committer`), so concurrent webhooks, claims and attempt results share a
//! transaction. The dispatcher (`worker`) claims only as many deliveries as
//! it has free workers, so a new tenant's event waits for at most one free
//! worker, not behind another tenant's backlog.

mod committer;
mod depth;
mod plugins;
mod replays;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use depth::QueueDepth;

use crate::config::Config;
use crate::domain::Timestamp;
use crate::ids::TenantId;
use crate::runtime::Runtime;
use crate::store::{EndpointCache, Ingested, NewDelivery, PolicyCache, Store, StoreError};
use committer::Committer;
use plugins::PluginCache;

/// Errors of queue operations.
#[derive(Debug, Clone, thiserror::Error)]
pub enum QueueError {
    /// The store failed or is unreachable; nothing was written.
    #[error("the store is unavailable: {0}")]
    Store(Arc<StoreError>),
    /// The queue is shutting down.
    #[error("the queue is shutting down")]
    Closed,
}

/// Most deliveries claimed in one transaction.
const CLAIM_BATCH: usize = 64;

/// What the dispatcher and its workers share.
pub(crate) struct Shared {
    config: Arc<Config>,
    store: Arc<dyn Store>,
    runtime: Arc<Runtime>,
    endpoints: Arc<EndpointCache>,
    policies: Arc<PolicyCache>,
    plugins: PluginCache,
    committer: Committer,
    work_ready: Arc<Notify>,
}

/// A running queue: accepts deliveries and works them until stopped.
pub struct Queue {
    committer: Committer,
    work_ready: Arc<Notify>,
    replay_started: Arc<Notify>,
    depth: Arc<QueueDepth>,
    max_depth: u64,
    stop: CancellationToken,
    tasks: std::sync::Mutex<Vec<JoinHandle<()>>>,
}

impl Queue {
    /// Starts the committer, the dispatcher, the depth gauge, retention and
    /// the sweep of compiled artifacts.
    pub fn start(
        config: Arc<Config>,
        store: Arc<dyn Store>,
        runtime: Arc<Runtime>,
        endpoints: Arc<EndpointCache>,
        policies: Arc<PolicyCache>,
    ) -> Self {
        let depth = Arc::new(QueueDepth::default());
        let work_ready = Arc::new(Notify::new());
        let (committer, committer_task) =
            Committer::start(store.clone(), depth.clone(), work_ready.clone());
        let stop = CancellationToken::new();
        let listening = {
            let (store, wake, stop) = (store.clone(), work_ready.clone(), stop.clone());
            tokio::spawn(async move { store.listen_for_work(wake, stop).await })
        };
        let runtime_for_sweep = runtime.clone();
        let replay_started = Arc::new(Notify::new());
        let shared = Arc::new(Shared {
            plugins: PluginCache::new(store.clone(), runtime.clone()),
            config: config.clone(),
            store: store.clone(),
            runtime,
            endpoints,
            policies,
            committer: committer.clone(),
            work_ready: work_ready.clone(),
        });
        let tasks = vec![
            tokio::spawn(replays::run(
                shared.clone(),
                depth.clone(),
                replay_started.clone(),
                stop.clone(),
            )),
            tokio::spawn(worker::dispatch(
                shared,
                stop.clone(),
                config.shutdown_grace,
            )),
            tokio::spawn(depth.clone().refresh(store.clone(), stop.clone())),
            tokio::spawn(prune(store.clone(), config.retention, stop.clone())),
            tokio::spawn(sweep_compiled(store, runtime_for_sweep, stop.clone())),
            listening,
            committer_task,
        ];
        Self {
            committer,
            work_ready,
            replay_started,
            depth,
            max_depth: config.max_queue_depth,
            stop,
            tasks: std::sync::Mutex::new(tasks),
        }
    }

    /// Makes a delivery durable; returns once it is committed.
    pub async fn enqueue(&self, delivery: NewDelivery) -> Result<Ingested, QueueError> {
        let (tenant, waits) = (delivery.tenant.clone(), delivery.arrival.waits());
        let ingested = self.committer.ingest(delivery).await?;
        if let Ingested::Accepted(_) = ingested
            && waits
        {
            self.depth.accepted(&tenant);
        }
        Ok(ingested)
    }

    /// Tells the dispatcher that work fell due outside the committer (a
    /// replay), so it does not wait for its next poll.
    pub fn wake(&self) {
        self.work_ready.notify_one();
    }

    /// Tells this host's bulk replay runner that a job was started, so it
    /// begins at once rather than at its next look.
    pub fn replay_started(&self) {
        self.replay_started.notify_one();
    }

    /// Whether the queue is over its configured depth.
    pub fn is_full(&self) -> bool {
        self.depth.get() >= self.max_depth
    }

    /// Whether a tenant has `max` or more deliveries unfinished.
    pub fn tenant_is_full(&self, tenant: &TenantId, max: u64) -> bool {
        self.depth.of(tenant) >= max
    }

    /// The queue depth gauge.
    pub fn depth(&self) -> &QueueDepth {
        &self.depth
    }

    /// Stops claiming, lets running attempts finish within the grace period
    /// and hands back the rest. Call it once ingress has stopped: every write
    /// is awaited by its caller, so when the workers are done every answer
    /// has been given, and the committer, stopped last, has nothing left
    /// but answers nobody waits for (their callers went away): aborting it
    /// loses nothing that was acknowledged.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        let mut tasks = std::mem::take(&mut *self.tasks.lock().expect("poisoned"));
        let committer = tasks.pop();
        for task in tasks {
            let _ = task.await;
        }
        if let Some(committer) = committer {
            committer.abort();
        }
    }
}

/// Drops bodies of deliveries that succeeded longer than `retention` ago,
/// at start and then every tenth of the retention (at most hourly).
async fn prune(store: Arc<dyn Store>, retention: Duration, stop: CancellationToken) {
    let every = (retention / 10).clamp(Duration::from_secs(1), Duration::from_secs(3600));
    loop {
        let cutoff = Timestamp::now().before(retention);
        match store.prune_bodies(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(pruned = n, "pruned bodies of succeeded deliveries"),
            Err(e) => tracing::warn!(error = %e, "could not prune delivery bodies"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// How often compiled artifacts of deleted versions are swept from this
/// host's disk: another host may have deleted them.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// Deletes compiled artifacts no stored version needs, at start and hourly.
async fn sweep_compiled(store: Arc<dyn Store>, runtime: Arc<Runtime>, stop: CancellationToken) {
    loop {
        match store.plugin_digests().await {
            Ok(live) => {
                let runtime = runtime.clone();
                match tokio::task::spawn_blocking(move || runtime.sweep_cache(&live)).await {
                    Ok(0) | Err(_) => {}
                    Ok(n) => tracing::info!(deleted = n, "swept stale compiled components"),
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not list plugin versions to sweep"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
        }
    }
}
