//! `kv`: a key-value store private to one tenant's plugin.
//!
//! Reads go to the store through [`KvReader`]; writes are buffered here, seen
//! by later reads of the same invocation, and handed back in the invocation's
//! record. The caller commits them only when the handler returned `ok`, in the
//! same transaction as the delivery's state, so a failed, trapped or timed-out
//! invocation leaves no trace. Increments stay deltas until commit, so
//! concurrent invocations never lose an update.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::ids::{PluginName, TenantId};
use crate::runtime::bindings::kv::{Error, Host};
use crate::runtime::state::State;

/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 512;
/// Largest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 1024 * 1024;

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
    /// Committed keys starting with `prefix`, ascending.
    async fn list_keys(&self, ns: &KvNamespace, prefix: &str) -> Result<Vec<String>, KvReadError>;
    /// Bytes of keys and values the tenant stores, across its plugins.
    async fn tenant_usage_bytes(&self, tenant: &TenantId) -> Result<u64, KvReadError>;
}

/// The pending state of one key in this invocation.
#[derive(Debug, Clone)]
enum Pending {
    Set(Vec<u8>),
    Deleted,
    Delta(i64),
}

/// One invocation's view of its namespace.
pub(crate) struct KvState {
    reader: Arc<dyn KvReader>,
    ns: KvNamespace,
    pending: BTreeMap<String, Pending>,
    log: Vec<KvWrite>,
    written_bytes: u64,
    max_written_bytes: u64,
    quota_bytes: u64,
    usage_bytes: Option<u64>,
}

impl KvState {
    pub(crate) fn new(
        reader: Arc<dyn KvReader>,
        ns: KvNamespace,
        max_written_bytes: u64,
        quota_bytes: u64,
    ) -> Self {
        Self {
            reader,
            ns,
            pending: BTreeMap::new(),
            log: Vec::new(),
            written_bytes: 0,
            max_written_bytes,
            quota_bytes,
            usage_bytes: None,
        }
    }

    pub(crate) fn into_writes(self) -> Vec<KvWrite> {
        self.log
    }

    async fn committed(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        self.reader
            .get(&self.ns, key)
            .await
            .map_err(|e| Error::Other(e.to_string()))
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        check_key(key)?;
        match self.pending.get(key) {
            Some(Pending::Set(v)) => Ok(Some(v.clone())),
            Some(Pending::Deleted) => Ok(None),
            Some(Pending::Delta(d)) => {
                let base = parse_counter(key, self.committed(key).await?.as_deref())?;
                Ok(Some(base.saturating_add(*d).to_string().into_bytes()))
            }
            None => self.committed(key).await,
        }
    }

    async fn charge(&mut self, bytes: u64) -> Result<(), Error> {
        if self.written_bytes + bytes > self.max_written_bytes {
            return Err(Error::TooLarge(format!(
                "this invocation may write at most {} bytes to KV",
                self.max_written_bytes
            )));
        }
        let usage = match self.usage_bytes {
            Some(u) => u,
            None => {
                let u = self
                    .reader
                    .tenant_usage_bytes(&self.ns.tenant)
                    .await
                    .map_err(|e| Error::Other(e.to_string()))?;
                *self.usage_bytes.insert(u)
            }
        };
        if usage + self.written_bytes + bytes > self.quota_bytes {
            return Err(Error::QuotaExceeded(format!(
                "tenant {} has used its KV quota of {} bytes",
                self.ns.tenant, self.quota_bytes
            )));
        }
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
        self.charge((key.len() + value.len()) as u64).await?;
        self.pending
            .insert(key.clone(), Pending::Set(value.clone()));
        self.log.push(KvWrite::Set { key, value });
        Ok(())
    }

    async fn delete(&mut self, key: String) -> Result<(), Error> {
        check_key(&key)?;
        self.pending.insert(key.clone(), Pending::Deleted);
        self.log.push(KvWrite::Delete { key });
        Ok(())
    }

    async fn increment(&mut self, key: String, delta: i64) -> Result<i64, Error> {
        check_key(&key)?;
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
        self.charge(key.len() as u64 + 20).await?;
        self.log.push(KvWrite::Increment { key, delta });
        Ok(value)
    }

    async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, Error> {
        let committed = self
            .reader
            .list_keys(&self.ns, prefix)
            .await
            .map_err(|e| Error::Other(e.to_string()))?;
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
