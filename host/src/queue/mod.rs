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
use crate::ids::{DeliveryId, EndpointId, TenantId};
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

/// Recorded attempts waiting for the alerts task; past it they are dropped
/// rather than making a worker wait.
const RECORDED_BACKLOG: usize = 8192;

/// Most endpoints whose last webhook this host remembers writing; past it
/// the memory starts afresh (a few writes more, never fewer).
const RECEIVED_REMEMBERED: usize = 100_000;

/// An attempt whose result the store took, for the alert rules.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The delivery's tenant.
    pub tenant: TenantId,
    /// Its endpoint.
    pub endpoint: EndpointId,
    /// The delivery.
    pub delivery: DeliveryId,
    /// What the attempt came to.
    pub result: RecordedResult,
}

/// What a recorded attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordedResult {
    /// The plugin succeeded.
    Succeeded,
    /// It failed and will be retried.
    Retrying,
    /// It failed for the last time: the delivery is dead.
    Dead,
}

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
    recorded: tokio::sync::mpsc::Sender<Recorded>,
}

impl Shared {
    /// Hands a recorded attempt to the alerts task, never waiting for it.
    fn recorded(&self, d: &crate::store::Claimed, next: &crate::store::Next) {
        use crate::store::Next;
        let result = match next {
            Next::Succeeded { .. } => RecordedResult::Succeeded,
            Next::Retry { .. } => RecordedResult::Retrying,
            Next::Dead => RecordedResult::Dead,
        };
        let _ = self.recorded.try_send(Recorded {
            tenant: d.tenant.clone(),
            endpoint: d.endpoint.clone(),
            delivery: d.id.clone(),
            result,
        });
    }
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
    store: Arc<dyn Store>,
    recorded: std::sync::Mutex<Option<tokio::sync::mpsc::Receiver<Recorded>>>,
    received: std::sync::Mutex<std::collections::HashMap<(TenantId, EndpointId), Timestamp>>,
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
        let (recorded, recorded_rx) = tokio::sync::mpsc::channel(RECORDED_BACKLOG);
        let shared = Arc::new(Shared {
            recorded,
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
            tokio::spawn(sweep_compiled(
                store.clone(),
                runtime_for_sweep,
                stop.clone(),
            )),
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
            store,
            recorded: std::sync::Mutex::new(Some(recorded_rx)),
            received: Default::default(),
        }
    }

    /// The attempts this host records, as they are recorded; only the
    /// first caller gets them.
    pub fn take_recorded(&self) -> Option<tokio::sync::mpsc::Receiver<Recorded>> {
        self.recorded.lock().expect("poisoned").take()
    }

    /// Notes that an endpoint watched for silence received a webhook:
    /// written to the store, which every host's silence check reads, at
    /// most once per `expect_every_s / 10` (1 s at least) per endpoint on
    /// this host, on a task of its own so the sender does not wait for it.
    pub fn note_received(&self, tenant: &TenantId, endpoint: &EndpointId, expect_every_s: u64) {
        let now = Timestamp::now();
        let every = Duration::from_secs(expect_every_s / 10).max(Duration::from_secs(1));
        {
            let mut received = self.received.lock().expect("poisoned");
            let key = (tenant.clone(), endpoint.clone());
            if received.get(&key).is_some_and(|at| now.since(*at) < every) {
                return;
            }
            if received.len() >= RECEIVED_REMEMBERED {
                received.clear();
            }
            received.insert(key, now);
        }
        let (store, tenant, endpoint) = (self.store.clone(), tenant.clone(), endpoint.clone());
        tokio::spawn(async move {
            if let Err(e) = store.note_received(&tenant, &endpoint, now).await {
                tracing::warn!(%tenant, %endpoint, error = %e, "could not note a webhook's arrival for the silence alert");
            }
        });
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
