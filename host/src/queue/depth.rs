//! How many deliveries are queued, for back-pressure (503) and metrics.
//!
//! Counting rows on every request would cost a query per webhook, so the
//! count is read from the store every second and adjusted in between by what
//! this host commits.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::store::Store;

/// The number of unfinished deliveries, approximately current.
#[derive(Debug, Default)]
pub struct QueueDepth(AtomicI64);

impl QueueDepth {
    /// The current estimate.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed).max(0) as u64
    }

    pub(crate) fn adjust(&self, delta: i64) {
        self.0.fetch_add(delta, Ordering::Relaxed);
    }

    /// Re-reads the count from the store every second until cancelled.
    pub(crate) async fn refresh(self: Arc<Self>, store: Arc<dyn Store>, stop: CancellationToken) {
        loop {
            match store.queue_depth().await {
                Ok(n) => self.0.store(n as i64, Ordering::Relaxed),
                Err(e) => tracing::warn!(error = %e, "could not read the queue depth"),
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
}
