//! How many deliveries are queued, in all and per tenant, for back-pressure
//! (503 for the host, 429 for a tenant over its policy) and metrics.
//!
//! Counting rows on every request would cost a query per webhook, so the
//! counts are read from the store every second and adjusted in between by
//! what this host commits. A tenant's count only grows in between (its
//! finished deliveries are seen at the next read), and acceptances made
//! while a read runs are added to its result, so it errs towards refusing.
//! It can still be overshot by the requests that passed the check at once,
//! and, across several hosts, by what the others accept in a second.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::ids::TenantId;
use crate::store::Store;

/// The number of unfinished deliveries, approximately current.
#[derive(Debug, Default)]
pub struct QueueDepth {
    all: AtomicI64,
    tenants: Mutex<TenantCounts>,
}

#[derive(Debug, Default)]
struct TenantCounts {
    /// The estimate per tenant.
    depth: HashMap<TenantId, u64>,
    /// Acceptances since the last read began, added to its result.
    since_read: HashMap<TenantId, u64>,
}

impl QueueDepth {
    /// The current estimate.
    pub fn get(&self) -> u64 {
        self.all.load(Ordering::Relaxed).max(0) as u64
    }

    /// The current estimate for one tenant.
    pub fn of(&self, tenant: &TenantId) -> u64 {
        self.tenants
            .lock()
            .expect("poisoned")
            .depth
            .get(tenant)
            .copied()
            .unwrap_or(0)
    }

    pub(crate) fn adjust(&self, delta: i64) {
        self.all.fetch_add(delta, Ordering::Relaxed);
    }

    pub(crate) fn accepted(&self, tenant: &TenantId) {
        let mut guard = self.tenants.lock().expect("poisoned");
        let counts = &mut *guard;
        for map in [&mut counts.depth, &mut counts.since_read] {
            // Looked up first: on the ingest path the tenant is nearly always
            // there, and its id need not be copied.
            match map.get_mut(tenant) {
                Some(n) => *n += 1,
                None => {
                    map.insert(tenant.clone(), 1);
                }
            }
        }
    }

    /// Re-reads the counts from the store every second until cancelled.
    pub(crate) async fn refresh(self: Arc<Self>, store: Arc<dyn Store>, stop: CancellationToken) {
        loop {
            self.tenants.lock().expect("poisoned").since_read.clear();
            match store.queue_depth_by_tenant().await {
                Ok(read) => {
                    let all: u64 = read.iter().map(|(_, n)| n).sum();
                    self.all.store(all as i64, Ordering::Relaxed);
                    let mut counts = self.tenants.lock().expect("poisoned");
                    let mut depth: HashMap<TenantId, u64> = read.into_iter().collect();
                    for (tenant, n) in std::mem::take(&mut counts.since_read) {
                        *depth.entry(tenant).or_default() += n;
                    }
                    counts.depth = depth;
                }
                Err(e) => tracing::warn!(error = %e, "could not read the queue depth"),
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
}
