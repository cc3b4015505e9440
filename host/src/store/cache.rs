//! A read-through cache of endpoint configurations: every inbound webhook
//! and every attempt needs one, and they change rarely.
//!
//! Entries live for a second, so a change made by another host (or another
//! process on the same database) is seen within a second everywhere; this
//! host's own changes are seen at once. Unknown endpoints are cached too, so
//! a flood to a wrong URL does not reach the database.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Endpoint, Store, StoreError};
use crate::ids::{EndpointId, TenantId};

const TTL: Duration = Duration::from_secs(1);
/// Beyond this many entries the cache starts over rather than grow.
const MAX_ENTRIES: usize = 100_000;

type Key = (TenantId, EndpointId);
/// When an entry was read, and what was found (`None`: no such endpoint).
type Entry = (Instant, Option<Arc<Endpoint>>);

/// Endpoint configurations by tenant and id.
pub struct EndpointCache {
    store: Arc<dyn Store>,
    entries: Mutex<HashMap<Key, Entry>>,
}

impl EndpointCache {
    /// An empty cache over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            entries: Mutex::default(),
        }
    }

    /// The endpoint, or `None` when it does not exist.
    pub async fn get(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
    ) -> Result<Option<Arc<Endpoint>>, StoreError> {
        let key = (tenant.clone(), id.clone());
        if let Some((at, entry)) = self.entries.lock().expect("poisoned").get(&key)
            && at.elapsed() < TTL
        {
            return Ok(entry.clone());
        }
        let fresh = self.store.endpoint(tenant, id).await?.map(Arc::new);
        let mut entries = self.entries.lock().expect("poisoned");
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (Instant::now(), fresh.clone()));
        Ok(fresh)
    }

    /// Forgets an endpoint after this host changed it.
    pub fn invalidate(&self, tenant: &TenantId, id: &EndpointId) {
        self.entries
            .lock()
            .expect("poisoned")
            .remove(&(tenant.clone(), id.clone()));
    }
}
