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
use crate::domain::TenantPolicy;
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

/// A read-through cache of tenants' resolved policies: every webhook and
/// every attempt needs one, and they change rarely. Entries live for a
/// second, as endpoints do; this host's own changes are seen at once.
pub struct PolicyCache {
    store: Arc<dyn Store>,
    defaults: Arc<TenantPolicy>,
    entries: Mutex<HashMap<TenantId, (Instant, Arc<TenantPolicy>)>>,
}

impl PolicyCache {
    /// An empty cache over `store`, resolving over `defaults`.
    pub fn new(store: Arc<dyn Store>, defaults: TenantPolicy) -> Self {
        Self {
            store,
            defaults: Arc::new(defaults),
            entries: Mutex::default(),
        }
    }

    /// The server-wide defaults.
    pub fn defaults(&self) -> &TenantPolicy {
        &self.defaults
    }

    /// The tenant's policy: the defaults with its overrides put over them.
    /// A tenant that does not exist (deleted a moment ago) gets the defaults.
    pub async fn get(&self, tenant: &TenantId) -> Result<Arc<TenantPolicy>, StoreError> {
        if let Some((at, policy)) = self.entries.lock().expect("poisoned").get(tenant)
            && at.elapsed() < TTL
        {
            return Ok(policy.clone());
        }
        let overrides = self.store.tenant_policy(tenant).await?.unwrap_or_default();
        let policy = match self.defaults.with(&overrides) {
            Ok(policy) => Arc::new(policy),
            // Overrides are checked when written, against these same
            // fields; only a downgrade that dropped a field can get here.
            Err(v) => {
                tracing::warn!(%tenant, field = %v.field, reason = %v.message, "stored tenant policy is unreadable; using the defaults");
                self.defaults.clone()
            }
        };
        let mut entries = self.entries.lock().expect("poisoned");
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(tenant.clone(), (Instant::now(), policy.clone()));
        Ok(policy)
    }

    /// Forgets a tenant's policy after this host changed it.
    pub fn invalidate(&self, tenant: &TenantId) {
        self.entries.lock().expect("poisoned").remove(tenant);
    }
}
