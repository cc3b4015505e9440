//! Group commit: every queue write of this host funnels through one task that
//! packs whatever is waiting into one transaction, so a burst of webhooks and
//! completions shares one fsync, and each caller hears back only once its
//! write is durable. A waiting claim runs beside the batch, on a task and in
//! a transaction of its own that does not wait for the disk (see
//! `Store::claim`), so neither waits for the other's round trips. Answers wait
//! for their batch's [`Durable`](crate::store::Durable) in tasks of their
//! own, so the next batch need not wait for the last one's fsync.

use std::sync::Arc;

use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinSet;

use super::{QueueError, depth::QueueDepth};
use crate::ids::DeliveryId;
use crate::store::{
    Claim, ClaimRequest, Completion, Ingested, LeaseToken, NewDelivery, Next, Store, StoreError,
    WriteBatch, WriteResults,
};

/// Upper bound on the writes packed into one transaction, so one commit
/// never holds the writer for long.
const MAX_BATCH: usize = 512;

type Reply<T> = oneshot::Sender<Result<T, QueueError>>;

enum Op {
    Ingest(NewDelivery, Reply<Ingested>),
    Complete(Completion, Reply<bool>),
    Release(DeliveryId, LeaseToken, Reply<()>),
    Claim(ClaimRequest, Reply<Claim>),
}

/// A handle to the commit task; cheap to clone.
#[derive(Clone)]
pub(crate) struct Committer {
    tx: mpsc::Sender<Op>,
}

impl Committer {
    /// Starts the commit task. It ends once every handle is dropped and the
    /// last batch is written.
    pub(crate) fn start(
        store: Arc<dyn Store>,
        depth: Arc<QueueDepth>,
        work_ready: Arc<Notify>,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        let task = tokio::spawn(run(store, depth, work_ready, rx));
        (Self { tx }, task)
    }

    async fn call<T>(&self, op: impl FnOnce(Reply<T>) -> Op) -> Result<T, QueueError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(op(reply))
            .await
            .map_err(|_| QueueError::Closed)?;
        answer.await.map_err(|_| QueueError::Closed)?
    }

    pub(crate) async fn ingest(&self, d: NewDelivery) -> Result<Ingested, QueueError> {
        self.call(|r| Op::Ingest(d, r)).await
    }

    pub(crate) async fn complete(&self, c: Completion) -> Result<bool, QueueError> {
        self.call(|r| Op::Complete(c, r)).await
    }

    pub(crate) async fn release(
        &self,
        id: DeliveryId,
        lease: LeaseToken,
    ) -> Result<(), QueueError> {
        self.call(|r| Op::Release(id, lease, r)).await
    }

    pub(crate) async fn claim(&self, req: ClaimRequest) -> Result<Claim, QueueError> {
        self.call(|r| Op::Claim(req, r)).await
    }
}

async fn run(
    store: Arc<dyn Store>,
    depth: Arc<QueueDepth>,
    work_ready: Arc<Notify>,
    mut rx: mpsc::Receiver<Op>,
) {
    let mut ops = Vec::with_capacity(MAX_BATCH);
    // Answers waiting for their commit to reach the disk, while the loop
    // goes on with the next batch.
    let mut answering = JoinSet::new();
    while rx.recv_many(&mut ops, MAX_BATCH).await > 0 {
        while answering.try_join_next().is_some() {}
        let mut batch = WriteBatch::default();
        let mut replies = Replies::default();
        let mut claim = None;
        for op in ops.drain(..) {
            match op {
                Op::Ingest(d, r) => {
                    batch.ingests.push(d);
                    replies.ingests.push(r);
                }
                Op::Complete(c, r) => {
                    batch.completions.push(c);
                    replies.completions.push(r);
                }
                Op::Release(id, lease, r) => {
                    batch.releases.push((id, lease));
                    replies.releases.push(r);
                }
                // A host has one dispatcher, so one claim is ever waiting;
                // should a second come, it finds nothing and polls again.
                Op::Claim(req, r) if claim.is_none() => claim = Some((req, r)),
                Op::Claim(_, r) => drop(r.send(Ok(Claim::default()))),
            }
        }

        if let Some((req, reply)) = claim {
            // On a task of its own, so the batch goes on while the claim runs
            // (on PostgreSQL, its round trips); the dispatcher logs a failure
            // and tries again.
            let store = store.clone();
            answering.spawn(async move {
                let answer = match store.claim(req).await {
                    Ok((claimed, durable)) => {
                        durable.wait().await.map(|()| claimed).map_err(failed)
                    }
                    Err(e) => Err(failed(e)),
                };
                let _ = reply.send(answer);
            });
        }
        if batch.is_empty() {
            continue;
        }

        let finishing: Vec<bool> = batch
            .completions
            .iter()
            .map(|c| !matches!(c.next, Next::Retry { .. }))
            .collect();
        let released = !batch.releases.is_empty();
        let batch = Arc::new(batch);
        match store.write(batch.clone()).await {
            Ok((results, durable)) => {
                let accepted = results
                    .ingested
                    .iter()
                    .zip(&batch.ingests)
                    .filter(|(i, d)| matches!(i, Ingested::Accepted(_)) && d.arrival.waits())
                    .count();
                let finished = finishing
                    .iter()
                    .zip(&results.completed)
                    .filter(|(finishing, counted)| **finishing && **counted)
                    .count();
                let wake = accepted > 0 || released;
                // On SQLite the batch is visible now, and whatever the
                // dispatcher claims is handed out only once it is durable
                // (see `Store::claim`); on PostgreSQL it is visible only once
                // durable, so the dispatcher is woken again then.
                if wake {
                    work_ready.notify_one();
                }
                let (depth, work_ready) = (depth.clone(), work_ready.clone());
                answering.spawn(async move {
                    match durable.wait().await {
                        Ok(()) => {
                            depth.adjust(accepted as i64 - finished as i64);
                            if wake {
                                work_ready.notify_one();
                            }
                            replies.send(results);
                        }
                        Err(e) => replies.fail(&failed(e)),
                    }
                });
            }
            // One record the database refuses must not fail the writes it
            // was batched with: write each on its own, so only it fails.
            Err(StoreError::Refused(e)) => {
                tracing::warn!(error = %e, "the database refused a record; writing the batch's records one by one");
                let accepted = isolate(store.as_ref(), &batch, replies).await;
                depth.adjust(accepted as i64);
                if accepted > 0 || released {
                    work_ready.notify_one();
                }
            }
            Err(e) => replies.fail(&failed(e)),
        }
    }
    while answering.join_next().await.is_some() {}
}

/// Writes each record of a refused batch in a transaction of its own and
/// answers it. A completion the database refuses is written again as an
/// attempt that says why, without what the plugin produced, and
/// dead-letters its delivery; any other refused record fails alone. Returns
/// how many webhooks were accepted.
async fn isolate(store: &dyn Store, batch: &WriteBatch, replies: Replies) -> usize {
    async fn alone(store: &dyn Store, batch: WriteBatch) -> Result<WriteResults, StoreError> {
        let (results, durable) = store.write(Arc::new(batch)).await?;
        durable.wait().await?;
        Ok(results)
    }
    let mut accepted = 0;
    for (c, reply) in batch.completions.iter().zip(replies.completions) {
        let mut result = alone(store, WriteBatch::completing(c.clone())).await;
        if let Err(StoreError::Refused(e)) = &result {
            let reason = format!(
                "the database refused this attempt's record ({e}); its logs, calls and KV writes were dropped"
            );
            result = alone(store, WriteBatch::completing(c.refused(reason))).await;
        }
        let _ = reply.send(result.map(|r| r.completed[0]).map_err(failed));
    }
    for ((id, lease), reply) in batch.releases.iter().zip(replies.releases) {
        let release = WriteBatch {
            releases: vec![(id.clone(), lease.clone())],
            ..WriteBatch::default()
        };
        let _ = reply.send(alone(store, release).await.map(drop).map_err(failed));
    }
    for (d, reply) in batch.ingests.iter().zip(replies.ingests) {
        let ingest = WriteBatch {
            ingests: vec![d.clone()],
            ..WriteBatch::default()
        };
        let result = alone(store, ingest).await.map(|mut r| r.ingested.remove(0));
        accepted += usize::from(matches!(result, Ok(Ingested::Accepted(_))) && d.arrival.waits());
        let _ = reply.send(result.map_err(failed));
    }
    accepted
}

fn failed(e: StoreError) -> QueueError {
    // Once the log could not be fsynced, every write fails the same way;
    // that was logged where it happened.
    if !matches!(e, StoreError::NotDurable(_)) {
        tracing::error!(error = %e, "queue write failed");
    }
    QueueError::Store(Arc::new(e))
}

/// Whoever waits on a batch, in the batch's order.
#[derive(Default)]
struct Replies {
    ingests: Vec<Reply<Ingested>>,
    completions: Vec<Reply<bool>>,
    releases: Vec<Reply<()>>,
}

impl Replies {
    fn send(self, results: WriteResults) {
        for (reply, result) in self.ingests.into_iter().zip(results.ingested) {
            let _ = reply.send(Ok(result));
        }
        for (reply, result) in self.completions.into_iter().zip(results.completed) {
            let _ = reply.send(Ok(result));
        }
        for reply in self.releases {
            let _ = reply.send(Ok(()));
        }
    }

    fn fail(self, e: &QueueError) {
        for reply in self.ingests {
            let _ = reply.send(Err(e.clone()));
        }
        for reply in self.completions {
            let _ = reply.send(Err(e.clone()));
        }
        for reply in self.releases {
            let _ = reply.send(Err(e.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::time::Duration;

    use super::*;
    use crate::ids::{PluginName, TenantId};
    use crate::store::testing::{delivery, tenant_with_plugin};
    use crate::store::{AdminStore, SqliteStore};

    struct Fixture {
        committer: Committer,
        tenant: TenantId,
        plugin: PluginName,
        _dir: tempfile::TempDir,
    }

    /// A committer on a store whose fsyncs wait for the gate.
    async fn gated() -> (Fixture, crate::store::FsyncGate) {
        let dir = tempfile::tempdir().unwrap();
        let (store, gate) = SqliteStore::open_gated(&dir.path().join("t.db")).await;
        let (tenant, plugin) = tenant_with_plugin(&store).await;
        let (committer, _) = Committer::start(Arc::new(store), Arc::default(), Arc::default());
        let fixture = Fixture {
            committer,
            tenant,
            plugin,
            _dir: dir,
        };
        (fixture, gate)
    }

    impl Fixture {
        fn ingest(&self) -> tokio::task::JoinHandle<Result<Ingested, QueueError>> {
            let (committer, delivery) =
                (self.committer.clone(), delivery(&self.tenant, &self.plugin));
            tokio::spawn(async move { committer.ingest(delivery).await })
        }
    }

    /// Time enough for an answer that did not wait for the disk to arrive.
    async fn settle() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    #[tokio::test]
    async fn a_record_the_database_refuses_fails_alone_and_its_batch_commits() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db"), crate::store::testing_keys())
            .await
            .unwrap();
        let (tenant, plugin) = tenant_with_plugin(&store).await;
        let store = Arc::new(store);
        let (committer, _) = Committer::start(store.clone(), Arc::default(), Arc::default());
        let (first, second) = (delivery(&tenant, &plugin), delivery(&tenant, &plugin));
        let mut clash = delivery(&tenant, &plugin);
        clash.id = first.id.clone();
        // Sent before the commit task runs, so they share one batch.
        let (a, b, c) = tokio::join!(
            committer.ingest(first),
            committer.ingest(clash),
            committer.ingest(second)
        );
        assert!(matches!(a, Ok(Ingested::Accepted(_))), "{a:?}");
        assert!(b.is_err(), "a second delivery under one id is refused");
        let Ok(Ingested::Accepted(id)) = c else {
            panic!("{c:?}")
        };
        assert!(store.delivery(&tenant, &id).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn an_ingest_is_answered_only_once_its_batch_is_fsynced() {
        let (f, mut gate) = gated().await;
        let ingest = f.ingest();
        gate.started().await;
        settle().await;
        assert!(!ingest.is_finished(), "answered before the fsync ended");

        gate.finish(Ok(()));
        let ingested = ingest.await.unwrap().unwrap();
        assert!(matches!(ingested, Ingested::Accepted(_)), "{ingested:?}");
    }

    #[tokio::test]
    async fn a_claim_waits_for_the_fsync_of_the_batches_before_it() {
        let (f, mut gate) = gated().await;
        let ingest = f.ingest();
        gate.started().await;
        let committer = f.committer.clone();
        let claim = tokio::spawn(async move {
            let req = ClaimRequest {
                now: crate::domain::Timestamp::now(),
                max: 10,
                running: Default::default(),
                default_share: u32::MAX,
            };
            committer.claim(req).await
        });
        settle().await;
        assert!(!claim.is_finished(), "handed out work not yet on disk");

        gate.finish(Ok(()));
        let Ingested::Accepted(id) = ingest.await.unwrap().unwrap() else {
            panic!("a fresh delivery");
        };
        let claim = claim.await.unwrap().unwrap();
        assert_eq!(claim.claimed.len(), 1);
        assert_eq!(claim.claimed[0].id, id);
    }

    #[tokio::test]
    async fn a_failed_fsync_fails_every_write_of_its_batch_and_every_later_one() {
        let (f, mut gate) = gated().await;
        let first = f.ingest();
        gate.started().await;
        let second = f.ingest();
        settle().await;
        gate.finish(Err(io::Error::other("EIO")));

        for ingest in [first, second] {
            let err = ingest.await.unwrap().unwrap_err();
            assert!(err.to_string().contains("EIO"), "{err}");
        }
        let err = f.ingest().await.unwrap().unwrap_err();
        assert!(err.to_string().contains("EIO"), "{err}");
    }
}
