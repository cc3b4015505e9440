//! `kv`: a key-value store private to one tenant's plugin.
//!
//! Reads go to the store through [`KvReader`]; writes are buffered here, seen
//! by later reads of the same invocation, and handed back in the invocation's
//! record. The caller commits them only when the handler returned `ok`, in the
//! same transaction as the delivery's state, so a failed, trapped or timed-out
//! invocation leaves no trace. Increments stay deltas until commit, so
//! concurrent invocations never lose an update.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::ids::{PluginName, TenantId};
use crate::runtime::bindings::kv::{Error, Host};
use crate::runtime::state::State;

/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 512;
/// Largest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 1024 * 1024;
/// Most keys one `list-keys` returns; past it the guest is told to narrow
/// its prefix (the 0.1 interface has no cursor), and no more are read.
pub const MAX_LIST_KEYS: usize = 1_000;
/// What each write costs the invocation's budget on top of its key and
/// value, so that deletes and 1-byte writes are not free; each stored key
/// costs the tenant's quota as much.
pub const WRITE_OVERHEAD_BYTES: u64 = 32;
/// How long a tenant's measured KV usage serves quota checks on this host.
/// On SQLite the measure reads one row that triggers keep; on PostgreSQL it
/// scans the tenant's keys, so it is taken at most this often, by one
/// invocation at a time.
const USAGE_TTL: Duration = Duration::from_secs(1);

/// Whose data a key belongs to: one plugin of one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KvNamespace {
    /// The tenant.
    pub tenant: TenantId,
    /// The plugin (all versions share the namespace).
    pub plugin: PluginName,
}

/// One buffered write, as committed after a successful invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum KvWrite {
    /// Store `value` under `key`.
    Set {
        /// The key.
        key: String,
        /// The value.
        #[serde(with = "lossy_bytes")]
        value: Vec<u8>,
    },
    /// Remove `key`.
    Delete {
        /// The key.
        key: String,
    },
    /// Add `delta` to the decimal integer under `key`.
    Increment {
        /// The key.
        key: String,
        /// The amount.
        delta: i64,
    },
}

impl KvWrite {
    /// The key written.
    pub fn key(&self) -> &str {
        match self {
            Self::Set { key, .. } | Self::Delete { key } | Self::Increment { key, .. } => key,
        }
    }
}

mod lossy_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&String::from_utf8_lossy(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        Ok(String::deserialize(d)?.into_bytes())
    }
}

/// A failure to read the backing store.
#[derive(Debug, thiserror::Error)]
#[error("key-value store unavailable: {0}")]
pub struct KvReadError(pub String);

/// Read access to committed KV data; the store implements it.
#[async_trait::async_trait]
pub trait KvReader: Send + Sync {
    /// The committed value of `key`.
    async fn get(&self, ns: &KvNamespace, key: &str) -> Result<Option<Vec<u8>>, KvReadError>;
    /// Committed keys starting with `prefix`, ascending, at most `limit`.
    async fn list_keys(
        &self,
        ns: &KvNamespace,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<String>, KvReadError>;
    /// Bytes of keys and values the tenant stores, across its plugins, with
    /// [`WRITE_OVERHEAD_BYTES`] for each key: what its quota counts.
    async fn tenant_usage_bytes(&self, tenant: &TenantId) -> Result<u64, KvReadError>;
}

/// The pending state of one key in this invocation.
#[derive(Debug, Clone)]
enum Pending {
    Set(Vec<u8>),
    Deleted,
    Delta(i64),
}

/// Each tenant's KV usage as last measured on this host.
#[derive(Default)]
pub(crate) struct UsageCache(Mutex<HashMap<TenantId, Arc<Measure>>>);

/// One tenant's last measure; its lock is held while the store is asked,
/// so however many invocations find it stale at once, one asks.
type Measure = tokio::sync::Mutex<Option<Measured>>;

/// What the store last said of a tenant's usage, and when.
#[derive(Clone)]
enum Measured {
    Bytes(Instant, u64),
    /// The store failed: those waiting meanwhile fail too rather than each
    /// asking again in turn.
    Failed(Instant, String),
}

/// Tenants past which measures nobody is waiting for are forgotten.
const USAGE_TENANTS: usize = 1024;

impl UsageCache {
    /// The tenant's usage, measured at most once per [`USAGE_TTL`].
    async fn usage(&self, reader: &dyn KvReader, tenant: &TenantId) -> Result<u64, KvReadError> {
        let measure = {
            let mut tenants = self.0.lock().expect("poisoned");
            if tenants.len() >= USAGE_TENANTS {
                tenants.retain(|_, m| Arc::strong_count(m) > 1);
            }
            tenants.entry(tenant.clone()).or_default().clone()
        };
        let mut last = measure.lock().await;
        match &*last {
            Some(Measured::Bytes(at, bytes)) if at.elapsed() < USAGE_TTL => return Ok(*bytes),
            Some(Measured::Failed(at, e)) if at.elapsed() < USAGE_TTL => {
                return Err(KvReadError(e.clone()));
            }
            _ => {}
        }
        let measured = reader.tenant_usage_bytes(tenant).await;
        *last = Some(match &measured {
            Ok(bytes) => Measured::Bytes(Instant::now(), *bytes),
            Err(e) => Measured::Failed(Instant::now(), e.0.clone()),
        });
        measured
    }
}

/// How much KV work one invocation may do.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KvBudget {
    /// Bytes of keys and values written, each write also charged
    /// [`WRITE_OVERHEAD_BYTES`].
    pub(crate) write_bytes: u64,
    /// Writes (set, delete, increment).
    pub(crate) writes: u32,
    /// Reads that reach the store (get, list-keys, increment of an unread key).
    pub(crate) reads: u32,
    /// Bytes the tenant may hold in all.
    pub(crate) quota_bytes: u64,
}

/// One invocation's view of its namespace.
pub(crate) struct KvState {
    reader: Arc<dyn KvReader>,
    usage: Arc<UsageCache>,
    ns: KvNamespace,
    /// The last state of every key written: what commits, one write per key.
    pending: BTreeMap<String, Pending>,
    budget: KvBudget,
    written_bytes: u64,
    writes: u32,
    reads: u32,
    usage_bytes: Option<u64>,
}

impl KvState {
    pub(crate) fn new(
        reader: Arc<dyn KvReader>,
        usage: Arc<UsageCache>,
        ns: KvNamespace,
        budget: KvBudget,
    ) -> Self {
        Self {
            reader,
            usage,
            ns,
            pending: BTreeMap::new(),
            budget,
            written_bytes: 0,
            writes: 0,
            reads: 0,
            usage_bytes: None,
        }
    }

    /// What the invocation wrote, one write per key in key order: a key set
    /// twice commits its last value, increments commit their sum.
    pub(crate) fn into_writes(self) -> Vec<KvWrite> {
        self.pending
            .into_iter()
            .map(|(key, pending)| match pending {
                Pending::Set(value) => KvWrite::Set { key, value },
                Pending::Deleted => KvWrite::Delete { key },
                Pending::Delta(delta) => KvWrite::Increment { key, delta },
            })
            .collect()
    }

    fn count_read(&mut self) -> Result<(), Error> {
        if self.reads >= self.budget.reads {
            return Err(Error::TooLarge(format!(
                "this invocation may read KV at most {} times",
                self.budget.reads
            )));
        }
        self.reads += 1;
        Ok(())
    }

    async fn committed(&mut self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        self.count_read()?;
        self.reader
            .get(&self.ns, key)
            .await
            .map_err(|e| Error::Other(e.to_string()))
    }

    async fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        check_key(key)?;
        match self.pending.get(key) {
            Some(Pending::Set(v)) => Ok(Some(v.clone())),
            Some(Pending::Deleted) => Ok(None),
            Some(Pending::Delta(d)) => {
                let d = *d;
                let base = parse_counter(key, self.committed(key).await?.as_deref())?;
                Ok(Some(base.saturating_add(d).to_string().into_bytes()))
            }
            None => self.committed(key).await,
        }
    }

    /// Charges one write of `bytes` (key and value) before it is buffered;
    /// a delete (`grows` false) frees space, so the tenant's quota does not
    /// stop it, only the invocation's budget.
    async fn charge(&mut self, bytes: u64, grows: bool) -> Result<(), Error> {
        if self.writes >= self.budget.writes {
            return Err(Error::TooLarge(format!(
                "this invocation may write to KV at most {} times",
                self.budget.writes
            )));
        }
        let bytes = bytes + WRITE_OVERHEAD_BYTES;
        if self.written_bytes + bytes > self.budget.write_bytes {
            return Err(Error::TooLarge(format!(
                "this invocation may write at most {} bytes to KV",
                self.budget.write_bytes
            )));
        }
        if !grows {
            self.writes += 1;
            self.written_bytes += bytes;
            return Ok(());
        }
        let usage = match self.usage_bytes {
            Some(u) => u,
            None => {
                let u = self
                    .usage
                    .usage(self.reader.as_ref(), &self.ns.tenant)
                    .await
                    .map_err(|e| Error::Other(e.to_string()))?;
                *self.usage_bytes.insert(u)
            }
        };
        if usage + self.written_bytes + bytes > self.budget.quota_bytes {
            return Err(Error::QuotaExceeded(format!(
                "tenant {} has used its KV quota of {} bytes",
                self.ns.tenant, self.budget.quota_bytes
            )));
        }
        self.writes += 1;
        self.written_bytes += bytes;
        Ok(())
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), Error> {
        check_key(&key)?;
        if value.len() > MAX_VALUE_BYTES {
            return Err(Error::TooLarge(format!(
                "value of {} bytes is over the limit of {MAX_VALUE_BYTES}",
                value.len()
            )));
        }
        self.charge((key.len() + value.len()) as u64, true).await?;
        self.pending.insert(key, Pending::Set(value));
        Ok(())
    }

    async fn delete(&mut self, key: String) -> Result<(), Error> {
        check_key(&key)?;
        self.charge(key.len() as u64, false).await?;
        self.pending.insert(key, Pending::Deleted);
        Ok(())
    }

    async fn increment(&mut self, key: String, delta: i64) -> Result<i64, Error> {
        check_key(&key)?;
        self.charge(key.len() as u64 + 20, true).await?;
        let value = match self.pending.get(&key).cloned() {
            Some(Pending::Set(v)) => {
                let value = parse_counter(&key, Some(&v))?.saturating_add(delta);
                self.pending
                    .insert(key.clone(), Pending::Set(value.to_string().into_bytes()));
                value
            }
            Some(Pending::Deleted) => {
                self.pending
                    .insert(key.clone(), Pending::Set(delta.to_string().into_bytes()));
                delta
            }
            other => {
                let pending = match other {
                    Some(Pending::Delta(d)) => d,
                    _ => 0,
                };
                let base = parse_counter(&key, self.committed(&key).await?.as_deref())?;
                self.pending
                    .insert(key.clone(), Pending::Delta(pending.saturating_add(delta)));
                base.saturating_add(pending).saturating_add(delta)
            }
        };
        Ok(value)
    }

    async fn list_keys(&mut self, prefix: &str) -> Result<Vec<String>, Error> {
        if prefix.len() > MAX_KEY_BYTES {
            return Ok(Vec::new());
        }
        self.count_read()?;
        let committed = self
            .reader
            .list_keys(&self.ns, prefix, MAX_LIST_KEYS + 1)
            .await
            .map_err(|e| Error::Other(e.to_string()))?;
        let too_many = || {
            Error::TooLarge(format!(
                "more than {MAX_LIST_KEYS} keys start with {prefix:?}; list a narrower prefix"
            ))
        };
        if committed.len() > MAX_LIST_KEYS {
            return Err(too_many());
        }
        let mut keys: std::collections::BTreeSet<String> = committed.into_iter().collect();
        for (key, pending) in self.pending.range(prefix.to_owned()..) {
            if !key.starts_with(prefix) {
                break;
            }
            match pending {
                Pending::Deleted => keys.remove(key),
                _ => keys.insert(key.clone()),
            };
        }
        if keys.len() > MAX_LIST_KEYS {
            return Err(too_many());
        }
        Ok(keys.into_iter().collect())
    }
}

fn check_key(key: &str) -> Result<(), Error> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(Error::InvalidKey(format!(
            "keys must be 1 to {MAX_KEY_BYTES} bytes, got {}",
            key.len()
        )));
    }
    if key.contains('\0') {
        return Err(Error::InvalidKey("keys may not contain NUL".into()));
    }
    Ok(())
}

fn parse_counter(key: &str, value: Option<&[u8]>) -> Result<i64, Error> {
    match value {
        None => Ok(0),
        Some(v) => std::str::from_utf8(v)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| Error::NotANumber(format!("the value of {key:?} is not an integer"))),
    }
}

impl Host for State {
    async fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, Error> {
        self.kv.get(&key).await
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), Error> {
        self.kv.set(key, value).await
    }

    async fn delete(&mut self, key: String) -> Result<(), Error> {
        self.kv.delete(key).await
    }

    async fn increment(&mut self, key: String, delta: i64) -> Result<i64, Error> {
        self.kv.increment(key, delta).await
    }

    async fn list_keys(&mut self, prefix: String) -> Result<Vec<String>, Error> {
        self.kv.list_keys(&prefix).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store whose tenant already holds `usage` bytes and `keys` keys.
    struct Full {
        usage: u64,
        keys: usize,
    }

    #[async_trait::async_trait]
    impl KvReader for Full {
        async fn get(&self, _: &KvNamespace, _: &str) -> Result<Option<Vec<u8>>, KvReadError> {
            Ok(None)
        }
        async fn list_keys(
            &self,
            _: &KvNamespace,
            _: &str,
            limit: usize,
        ) -> Result<Vec<String>, KvReadError> {
            Ok((0..self.keys.min(limit))
                .map(|i| format!("k{i:05}"))
                .collect())
        }
        async fn tenant_usage_bytes(&self, _: &TenantId) -> Result<u64, KvReadError> {
            Ok(self.usage)
        }
    }

    fn kv(usage: u64, keys: usize) -> KvState {
        KvState::new(
            Arc::new(Full { usage, keys }),
            Arc::default(),
            KvNamespace {
                tenant: TenantId::new("t").unwrap(),
                plugin: PluginName::new("p").unwrap(),
            },
            KvBudget {
                write_bytes: 4096,
                writes: 3,
                reads: 2,
                quota_bytes: 1000,
            },
        )
    }

    #[tokio::test]
    async fn a_tenant_at_its_quota_can_still_delete_but_not_write() {
        let mut kv = kv(1000, 0);
        assert!(matches!(
            kv.set("a".into(), b"x".to_vec()).await,
            Err(Error::QuotaExceeded(_))
        ));
        assert!(kv.delete("a".into()).await.is_ok());
    }

    #[tokio::test]
    async fn writes_and_reads_are_counted_and_coalesce_per_key() {
        let mut kv = kv(0, 0);
        kv.set("a".into(), b"1".to_vec()).await.unwrap();
        kv.set("a".into(), b"2".to_vec()).await.unwrap();
        kv.delete("b".into()).await.unwrap();
        assert!(matches!(
            kv.delete("c".into()).await,
            Err(Error::TooLarge(_))
        ));
        kv.get("z").await.unwrap();
        kv.get("z").await.unwrap();
        assert!(matches!(kv.get("z").await, Err(Error::TooLarge(_))));
        assert_eq!(
            kv.into_writes(),
            [
                KvWrite::Set {
                    key: "a".into(),
                    value: b"2".to_vec()
                },
                KvWrite::Delete { key: "b".into() }
            ]
        );
    }

    #[tokio::test]
    async fn a_list_past_the_bound_is_refused_even_when_pending_deletes_would_hide_it() {
        let mut kv = kv(0, MAX_LIST_KEYS + 5);
        kv.delete("k00000".into()).await.unwrap();
        kv.delete("k00001".into()).await.unwrap();
        assert!(matches!(kv.list_keys("").await, Err(Error::TooLarge(_))));
    }
}
