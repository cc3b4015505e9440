//! Group commit: every queue write of this host funnels through one task that
//! packs whatever is waiting into one transaction, so a burst of webhooks and
//! completions shares one fsync, and each caller hears back only once its
//! write is durable. A waiting claim goes first, in a transaction of its own
//! that does not wait for the disk (see `Store::claim`), so the workers it
//! feeds start while the batch behind it is being made durable.

use std::sync::Arc;

use tokio::sync::{Notify, mpsc, oneshot};

use super::{QueueError, depth::QueueDepth};
use crate::ids::DeliveryId;
use crate::store::{
    Claim, ClaimRequest, Completion, Ingested, LeaseToken, NewDelivery, Next, Store, WriteBatch,
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
    while rx.recv_many(&mut ops, MAX_BATCH).await > 0 {
        let mut batch = WriteBatch::default();
        let mut ingest_replies = Vec::new();
        let mut complete_replies = Vec::new();
        let mut release_replies = Vec::new();
        let mut claim = None;
        for op in ops.drain(..) {
            match op {
                Op::Ingest(d, r) => {
                    batch.ingests.push(d);
                    ingest_replies.push(r);
                }
                Op::Complete(c, r) => {
                    batch.completions.push(c);
                    complete_replies.push(r);
                }
                Op::Release(id, lease, r) => {
                    batch.releases.push((id, lease));
                    release_replies.push(r);
                }
                // A host has one dispatcher, so one claim is ever waiting;
                // should a second come, it finds nothing and polls again.
                Op::Claim(req, r) if claim.is_none() => claim = Some((req, r)),
                Op::Claim(_, r) => drop(r.send(Ok(Claim::default()))),
            }
        }

        if let Some((req, reply)) = claim {
            // The dispatcher logs a failure and tries again.
            let claimed = store
                .claim(req)
                .await
                .map_err(|e| QueueError::Store(Arc::new(e)));
            let _ = reply.send(claimed);
        }
        if batch.is_empty() {
            continue;
        }

        match store.write(&batch).await {
            Ok(results) => {
                let accepted = results
                    .ingested
                    .iter()
                    .filter(|i| matches!(i, Ingested::Accepted(_)))
                    .count();
                let finished = batch
                    .completions
                    .iter()
                    .zip(&results.completed)
                    .filter(|(c, counted)| **counted && !matches!(c.next, Next::Retry { .. }))
                    .count();
                depth.adjust(accepted as i64 - finished as i64);
                if accepted > 0 || !batch.releases.is_empty() {
                    work_ready.notify_one();
                }
                for (reply, result) in ingest_replies.into_iter().zip(results.ingested) {
                    let _ = reply.send(Ok(result));
                }
                for (reply, result) in complete_replies.into_iter().zip(results.completed) {
                    let _ = reply.send(Ok(result));
                }
                for reply in release_replies {
                    let _ = reply.send(Ok(()));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "queue write failed");
                let e = QueueError::Store(Arc::new(e));
                ingest_replies
                    .into_iter()
                    .for_each(|r| drop(r.send(Err(e.clone()))));
                complete_replies
                    .into_iter()
                    .for_each(|r| drop(r.send(Err(e.clone()))));
                release_replies
                    .into_iter()
                    .for_each(|r| drop(r.send(Err(e.clone()))));
            }
        }
    }
}
