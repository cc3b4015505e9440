//! Group commit: every queue write of this host funnels through one task that
//! packs whatever is waiting into one transaction, so a burst of webhooks and
//! completions shares one fsync, and each caller hears back only once its
//! write is durable. A waiting claim goes first, in a transaction of its own
//! that does not wait for the disk (see `Store::claim`), so the workers it
//! feeds start while the batch behind it is being made durable. Answers wait
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
            // The dispatcher logs a failure and tries again.
            match store.claim(req).await {
                Ok((claimed, durable)) => {
                    answering.spawn(async move {
                        let _ = reply.send(durable.wait().await.map(|()| claimed).map_err(failed));
                    });
                }
                Err(e) => drop(reply.send(Err(failed(e)))),
            }
        }
        if batch.is_empty() {
            continue;
        }

        match store.write(&batch).await {
            Ok((results, durable)) => {
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
                // Whatever the dispatcher claims now is handed out only once
                // this batch is durable (see `Store::claim`).
                if accepted > 0 || !batch.releases.is_empty() {
                    work_ready.notify_one();
                }
                answering.spawn(async move {
                    match durable.wait().await {
                        Ok(()) => replies.send(results),
                        Err(e) => replies.fail(&failed(e)),
                    }
                });
            }
            Err(e) => replies.fail(&failed(e)),
        }
    }
    while answering.join_next().await.is_some() {}
}

fn failed(e: StoreError) -> QueueError {
    tracing::error!(error = %e, "queue write failed");
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
