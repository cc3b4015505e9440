//! SQLite in WAL mode: the queue's writer thread for batches of webhooks
//! and completions (write.rs), one sqlx writer connection for claims and
//! admin writes (writer.rs), and a small pool of readers. SQLite has one
//! writer at a time: the two writers take turns on its write lock, waiting
//! for each other within the busy timeout.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};

use super::rows::{self, corrupt, json, outcome_message, read_error, to_json};
use super::{
    Attempt, Claim, ClaimRequest, Claimed, DeleteVersion, Delivery, DeliveryFilter, DeliveryStatus,
    Durable, Endpoint, EndpointSpec, LeaseToken, PluginVersion, Replay, Store, StoreError, Tenant,
    WriteBatch, WriteResults, now_ms,
};
use crate::ids::{DeliveryId, EndpointId, PluginName, TenantId};
use crate::runtime::{KvNamespace, KvReadError, KvReader, KvWrite};

mod wal_sync;
mod write;
mod writer;

#[cfg(test)]
pub(crate) use wal_sync::FsyncGate;
use wal_sync::WalSync;
use write::QueueWriter;
use writer::Writer;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The database file inside a data directory.
pub const DATABASE_FILE: &str = "hookhost.db";
const LOCK_FILE: &str = "hookhost.lock";

/// A SQLite database file with its writer and readers.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: Arc<Writer>,
    queue: QueueWriter,
    reader: SqlitePool,
    /// Held while serving, so a second server on the same directory refuses to start.
    _lock: Option<Arc<File>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, WalSync::start).await
    }

    /// Opens a database whose log's fsyncs wait for the test.
    #[cfg(test)]
    pub(crate) async fn open_gated(path: &Path) -> (Self, FsyncGate) {
        let (gate, fsync) = FsyncGate::new();
        let store = Self::open_with(path, |_| WalSync::with(fsync))
            .await
            .unwrap();
        (store, gate)
    }

    async fn open_with(
        path: &Path,
        sync: impl FnOnce(std::path::PathBuf) -> std::io::Result<WalSync>,
    ) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        // synchronous=FULL: in WAL mode NORMAL survives a crash of the process
        // but can lose the last commits on power loss; an accepted webhook must
        // survive both (see ARCHITECTURE.md, "Durability"). The queue's batches
        // commit with NORMAL and leave the fsync to `WalSync`.
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // Statement journals (kept by a write that may abort inside a
            // transaction; the queue writer's `OR FAIL` avoids them, see
            // write.rs) stay in memory instead of a temporary file.
            .pragma("temp_store", "memory");
        let writer = Writer::open(options.clone(), sync).await?;
        MIGRATOR.run(&mut *writer.lock().await?).await?;
        let queue = QueueWriter::start(path, writer.wal())?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        Ok(Self {
            writer: Arc::new(writer),
            queue,
            reader,
            _lock: None,
        })
    }

    /// Opens the database of a data directory for a server: takes the
    /// directory's lock first, so exactly one process works its queue. Every
    /// lease found then belonged to a process that died, so its deliveries
    /// are due at once rather than when the lease would have expired.
    pub async fn open_exclusive(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir)?;
        let lock = File::create(data_dir.join(LOCK_FILE))?;
        if lock.try_lock().is_err() {
            return Err(StoreError::Locked(data_dir.display().to_string()));
        }
        let mut store = Self::open(&data_dir.join(DATABASE_FILE)).await?;
        store._lock = Some(Arc::new(lock));
        let orphaned = sqlx::query("UPDATE deliveries SET due_at = ?1 WHERE status = 'running'")
            .bind(now_ms())
            .execute(&mut *store.writer.lock().await?)
            .await?
            .rows_affected();
        if orphaned > 0 {
            tracing::warn!(
                orphaned,
                "deliveries were running when the last process stopped; they run again now"
            );
        }
        Ok(store)
    }
}

#[async_trait::async_trait]
impl KvReader for SqliteStore {
    async fn get(&self, ns: &KvNamespace, key: &str) -> Result<Option<Vec<u8>>, KvReadError> {
        sqlx::query_scalar("SELECT value FROM kv WHERE tenant = ? AND plugin = ? AND key = ?")
            .bind(ns.tenant.as_str())
            .bind(ns.plugin.as_str())
            .bind(key)
            .fetch_optional(&self.reader)
            .await
            .map_err(read_error)
    }

    async fn list_keys(&self, ns: &KvNamespace, prefix: &str) -> Result<Vec<String>, KvReadError> {
        // A range scan rather than LIKE: keys may contain % and _.
        let upper = format!("{prefix}\u{10FFFF}");
        sqlx::query_scalar(
            "SELECT key FROM kv WHERE tenant = ? AND plugin = ? AND key >= ? AND key < ? ORDER BY key",
        )
        .bind(ns.tenant.as_str())
        .bind(ns.plugin.as_str())
        .bind(prefix)
        .bind(upper)
        .fetch_all(&self.reader)
        .await
        .map_err(read_error)
    }

    async fn tenant_usage_bytes(&self, tenant: &TenantId) -> Result<u64, KvReadError> {
        let used: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(length(key) + length(value)), 0) FROM kv WHERE tenant = ?",
        )
        .bind(tenant.as_str())
        .fetch_one(&self.reader)
        .await
        .map_err(read_error)?;
        Ok(used as u64)
    }
}

/// Claims up to `max` due deliveries, round-robin over the tenants that have
/// due work, starting with the tenant served longest ago.
async fn claim_due(
    conn: &mut SqliteConnection,
    req: ClaimRequest,
) -> Result<Vec<Claimed>, StoreError> {
    let max = req.max as i64;
    let tenants: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM tenants t
         WHERE EXISTS (SELECT 1 FROM deliveries d WHERE d.tenant = t.id AND d.due_at <= ?1)
         ORDER BY claim_seq, id LIMIT ?2",
    )
    .bind(req.now_ms)
    .bind(max)
    .fetch_all(&mut *conn)
    .await?;
    let mut per_tenant = Vec::with_capacity(tenants.len());
    for tenant in &tenants {
        let due: Vec<(String, String, i64, Option<i64>, i64)> = sqlx::query_as(
            "SELECT id, status, attempts, started_at, plugin_version FROM deliveries
             WHERE tenant = ?1 AND due_at <= ?2 ORDER BY due_at LIMIT ?3",
        )
        .bind(tenant)
        .bind(req.now_ms)
        .bind(max)
        .fetch_all(&mut *conn)
        .await?;
        per_tenant.push(due);
    }
    let chosen = super::round_robin(per_tenant, req.max);

    if chosen.is_empty() {
        return Ok(Vec::new());
    }
    for (id, status, attempts, started_at, plugin_version) in &chosen {
        if status == DeliveryStatus::Running.as_str() {
            let id = DeliveryId::from_string(id.clone());
            let started_at = started_at.unwrap_or(req.now_ms);
            record_lost_attempt(
                conn,
                &id,
                *attempts,
                *plugin_version,
                started_at,
                req.now_ms,
            )
            .await?;
        }
    }
    // One token per claim: it changes with every claim of a delivery, which
    // is all a completion needs to tell a stale attempt from the current one.
    let lease = LeaseToken::generate();
    let mut update = QueryBuilder::<Sqlite>::new(
        "UPDATE deliveries SET status = 'running', attempts = attempts + 1, lease_token = ",
    );
    update
        .push_bind(lease.0.as_str())
        .push(", started_at = ")
        .push_bind(req.now_ms)
        .push(", due_at = ")
        .push_bind(req.now_ms)
        .push(" + lease_ms WHERE id IN (");
    let mut ids = update.separated(", ");
    for (id, ..) in &chosen {
        ids.push_bind(id.as_str());
    }
    update.push(")");
    update.build().execute(&mut *conn).await?;
    let mut read = QueryBuilder::<Sqlite>::new(
        "SELECT d.id AS id, tenant, endpoint, provider, event_type, headers, body, received_at, plugin,
                plugin_version, attempts, run_start
         FROM deliveries d JOIN payloads p ON p.seq = d.seq WHERE d.id IN (",
    );
    let mut ids = read.separated(", ");
    for (id, ..) in &chosen {
        ids.push_bind(id.as_str());
    }
    read.push(")");
    let rows = read.build().fetch_all(&mut *conn).await?;
    let claimed = rows
        .iter()
        .map(|row| rows::claimed(row, lease.clone(), req.now_ms))
        .collect::<Result<Vec<_>, _>>()?;

    let mut served: Vec<&str> = Vec::new();
    for c in &claimed {
        if !served.contains(&c.tenant.as_str()) {
            served.push(c.tenant.as_str());
        }
    }
    for tenant in served {
        sqlx::query(
            "UPDATE tenants SET claim_seq = (SELECT MAX(claim_seq) FROM tenants) + 1 WHERE id = ?1",
        )
        .bind(tenant)
        .execute(&mut *conn)
        .await?;
    }
    Ok(claimed)
}

/// A claim that found its delivery still running: the host that held it died.
async fn record_lost_attempt(
    conn: &mut SqliteConnection,
    id: &DeliveryId,
    attempt: i64,
    plugin_version: i64,
    started_at: i64,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT OR IGNORE INTO attempts (delivery_id, attempt, plugin_version, started_at, duration_ms,
                                         outcome, message, logs, logs_truncated, http_calls)
         VALUES (?1, ?2, ?3, ?4, ?5, 'lost',
                 'the host running this attempt stopped before it finished; its lease expired',
                 '[]', 0, '[]')",
    )
    .bind(id.as_str())
    .bind(attempt)
    .bind(plugin_version)
    .bind(started_at)
    .bind((now - started_at).max(0))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn create_tenant(
        &self,
        id: &TenantId,
        api_key_hash: Option<&str>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO tenants (id, api_key_hash, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(id.as_str())
        .bind(api_key_hash)
        .bind(now_ms())
        .execute(&mut *self.writer.lock().await?)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        let created: Option<i64> =
            sqlx::query_scalar("SELECT created_at FROM tenants WHERE id = ?1")
                .bind(id.as_str())
                .fetch_optional(&self.reader)
                .await?;
        Ok(created.map(|created_at_ms| Tenant {
            id: id.clone(),
            created_at_ms,
        }))
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT id, created_at FROM tenants ORDER BY id")
                .fetch_all(&self.reader)
                .await?;
        rows.into_iter()
            .map(|(id, created_at_ms)| {
                Ok(Tenant {
                    id: TenantId::new(id).map_err(corrupt)?,
                    created_at_ms,
                })
            })
            .collect()
    }

    async fn delete_tenant(&self, id: &TenantId) -> Result<bool, StoreError> {
        let mut writer = self.writer.lock().await?;
        let mut tx = writer.begin().await?;
        for statement in [
            "DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE tenant = ?1)",
            "DELETE FROM payloads WHERE seq IN (SELECT seq FROM deliveries WHERE tenant = ?1)",
            "DELETE FROM deliveries WHERE tenant = ?1",
            "DELETE FROM kv WHERE tenant = ?1",
            "DELETE FROM endpoints WHERE tenant = ?1",
            "DELETE FROM plugin_versions WHERE tenant = ?1",
            "DELETE FROM plugin_counters WHERE tenant = ?1",
        ] {
            sqlx::query(statement)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        let gone = sqlx::query("DELETE FROM tenants WHERE id = ?1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(gone == 1)
    }

    async fn set_tenant_key(&self, id: &TenantId, api_key_hash: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE tenants SET api_key_hash = ?1 WHERE id = ?2")
            .bind(api_key_hash)
            .bind(id.as_str())
            .execute(&mut *self.writer.lock().await?)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn tenant_by_key_hash(&self, api_key_hash: &str) -> Result<Option<TenantId>, StoreError> {
        let id: Option<String> =
            sqlx::query_scalar("SELECT id FROM tenants WHERE api_key_hash = ?1")
                .bind(api_key_hash)
                .fetch_optional(&self.reader)
                .await?;
        id.map(|id| TenantId::new(id).map_err(corrupt)).transpose()
    }

    async fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE key = ?1")
                .bind(key)
                .fetch_optional(&self.reader)
                .await?,
        )
    }

    async fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&mut *self.writer.lock().await?)
        .await?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn plugin_versions(
        &self,
        tenant: &TenantId,
        plugin: Option<&PluginName>,
    ) -> Result<Vec<PluginVersion>, StoreError> {
        let rows = sqlx::query(
            "SELECT plugin, version, digest, size, imports, uploaded_at FROM plugin_versions
             WHERE tenant = ?1 AND (?2 IS NULL OR plugin = ?2) ORDER BY plugin, version",
        )
        .bind(tenant.as_str())
        .bind(plugin.map(PluginName::as_str))
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(PluginVersion {
                    plugin: PluginName::new(row.try_get::<String, _>("plugin")?)
                        .map_err(corrupt)?,
                    version: row.try_get::<i64, _>("version")? as u32,
                    digest: row.try_get("digest")?,
                    size: row.try_get::<i64, _>("size")? as u64,
                    imports: json(row.try_get::<&str, _>("imports")?)?,
                    uploaded_at_ms: row.try_get("uploaded_at")?,
                })
            })
            .collect()
    }

    async fn delete_plugin_version(
        &self,
        tenant: &TenantId,
        plugin: &PluginName,
        version: u32,
    ) -> Result<DeleteVersion, StoreError> {
        let mut writer = self.writer.lock().await?;
        let mut tx = writer.begin().await?;
        let bound: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM endpoints WHERE tenant = ?1 AND plugin = ?2 AND plugin_version = ?3 ORDER BY id",
        )
        .bind(tenant.as_str())
        .bind(plugin.as_str())
        .bind(version as i64)
        .fetch_all(&mut *tx)
        .await?;
        if !bound.is_empty() {
            return Ok(DeleteVersion::Bound(
                bound
                    .into_iter()
                    .map(|id| EndpointId::new(id).map_err(corrupt))
                    .collect::<Result<_, _>>()?,
            ));
        }
        let gone = sqlx::query(
            "DELETE FROM plugin_versions WHERE tenant = ?1 AND plugin = ?2 AND version = ?3",
        )
        .bind(tenant.as_str())
        .bind(plugin.as_str())
        .bind(version as i64)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(if gone == 1 {
            DeleteVersion::Deleted
        } else {
            DeleteVersion::NotFound
        })
    }

    async fn list_endpoints(&self, tenant: &TenantId) -> Result<Vec<Endpoint>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, spec, created_at, updated_at FROM endpoints WHERE tenant = ?1 ORDER BY id",
        )
        .bind(tenant.as_str())
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(|row| rows::endpoint(tenant, row)).collect()
    }

    async fn delete_endpoint(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
    ) -> Result<bool, StoreError> {
        let gone = sqlx::query("DELETE FROM endpoints WHERE tenant = ?1 AND id = ?2")
            .bind(tenant.as_str())
            .bind(id.as_str())
            .execute(&mut *self.writer.lock().await?)
            .await?
            .rows_affected();
        Ok(gone == 1)
    }

    async fn list_deliveries(
        &self,
        tenant: &TenantId,
        filter: &DeliveryFilter,
    ) -> Result<Vec<Delivery>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, tenant, endpoint, event_id, provider, event_type, status, attempts, plugin,
                    plugin_version, received_at, due_at, finished_at, last_error, headers,
                    NULL AS body
             FROM deliveries JOIN payloads USING (seq)
             WHERE tenant = ?1
               AND (?2 IS NULL OR status = ?2)
               AND (?3 IS NULL OR endpoint = ?3)
               AND (?4 IS NULL OR received_at >= ?4)
               AND (?5 IS NULL OR id < ?5)
             ORDER BY id DESC LIMIT ?6",
        )
        .bind(tenant.as_str())
        .bind(filter.status.map(DeliveryStatus::as_str))
        .bind(filter.endpoint.as_ref().map(EndpointId::as_str))
        .bind(filter.since_ms)
        .bind(filter.before.as_ref().map(DeliveryId::as_str))
        .bind(filter.limit as i64)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(rows::delivery).collect()
    }

    async fn replay_dead(
        &self,
        tenant: &TenantId,
        endpoint: &EndpointId,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE deliveries SET status = 'pending', run_start = attempts, due_at = ?1,
                                   finished_at = NULL, last_error = NULL
             WHERE tenant = ?2 AND endpoint = ?3 AND status = 'dead' AND body_pruned = 0",
        )
        .bind(now_ms)
        .bind(tenant.as_str())
        .bind(endpoint.as_str())
        .execute(&mut *self.writer.lock().await?)
        .await?;
        Ok(done.rows_affected())
    }

    async fn add_plugin_version(
        &self,
        tenant: &TenantId,
        plugin: &PluginName,
        digest: &str,
        imports: &[String],
        wasm: &[u8],
    ) -> Result<PluginVersion, StoreError> {
        let now = now_ms();
        let no_tenant = |e: sqlx::Error| match &e {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NoSuchTenant,
            _ => e.into(),
        };
        let mut writer = self.writer.lock().await?;
        let mut tx = writer.begin().await?;
        let version: i64 = sqlx::query_scalar(
            "INSERT INTO plugin_counters (tenant, plugin, last_version) VALUES (?1, ?2, 1)
             ON CONFLICT (tenant, plugin) DO UPDATE SET last_version = last_version + 1
             RETURNING last_version",
        )
        .bind(tenant.as_str())
        .bind(plugin.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(no_tenant)?;
        sqlx::query(
            "INSERT INTO plugin_versions (tenant, plugin, version, digest, size, imports, wasm, uploaded_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .bind(tenant.as_str())
        .bind(plugin.as_str())
        .bind(version)
        .bind(digest)
        .bind(wasm.len() as i64)
        .bind(to_json(&imports))
        .bind(wasm)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(no_tenant)?;
        tx.commit().await?;
        Ok(PluginVersion {
            plugin: plugin.clone(),
            version: version as u32,
            digest: digest.to_owned(),
            size: wasm.len() as u64,
            imports: imports.to_vec(),
            uploaded_at_ms: now,
        })
    }

    async fn plugin_wasm(
        &self,
        tenant: &TenantId,
        plugin: &PluginName,
        version: u32,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT wasm FROM plugin_versions WHERE tenant = ?1 AND plugin = ?2 AND version = ?3",
        )
        .bind(tenant.as_str())
        .bind(plugin.as_str())
        .bind(version as i64)
        .fetch_optional(&self.reader)
        .await?)
    }

    async fn put_endpoint(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
        spec: &EndpointSpec,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let mut writer = self.writer.lock().await?;
        let mut tx = writer.begin().await?;
        let existed: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM endpoints WHERE tenant = ?1 AND id = ?2")
                .bind(tenant.as_str())
                .bind(id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        sqlx::query(
            "INSERT INTO endpoints (tenant, id, spec, plugin, plugin_version, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
             ON CONFLICT (tenant, id) DO UPDATE SET
               spec = excluded.spec, plugin = excluded.plugin,
               plugin_version = excluded.plugin_version, updated_at = excluded.updated_at",
        )
        .bind(tenant.as_str())
        .bind(id.as_str())
        .bind(to_json(spec))
        .bind(spec.plugin.as_str())
        .bind(spec.plugin_version as i64)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(existed.is_none())
    }

    async fn endpoint(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
    ) -> Result<Option<Endpoint>, StoreError> {
        let row = sqlx::query(
            "SELECT id, spec, created_at, updated_at FROM endpoints WHERE tenant = ?1 AND id = ?2",
        )
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_optional(&self.reader)
        .await?;
        row.map(|row| rows::endpoint(tenant, &row)).transpose()
    }

    async fn write(&self, batch: WriteBatch) -> Result<(WriteResults, Durable), StoreError> {
        self.queue.write(batch).await
    }

    async fn claim(&self, req: ClaimRequest) -> Result<(Claim, Durable), StoreError> {
        let mut writer = self.writer.lock().await?;
        // NORMAL for this one transaction: written to the WAL, not fsynced
        // (see `Store::claim`); every other write keeps FULL, so until it is
        // back the writer is closed rather than used again.
        writer.unsettle();
        sqlx::query("PRAGMA synchronous = NORMAL")
            .execute(&mut *writer)
            .await?;
        let claimed = async {
            let mut tx = writer.begin().await?;
            let claimed = claim_due(&mut tx, req).await?;
            let next_due_at_ms = sqlx::query_scalar(super::NEXT_DUE)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(Claim {
                claimed,
                next_due_at_ms,
            })
        }
        .await;
        sqlx::query("PRAGMA synchronous = FULL")
            .execute(&mut *writer)
            .await?;
        writer.settle();
        Ok((claimed?, writer.caught_up()))
    }

    async fn queue_depth(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE due_at IS NOT NULL")
            .fetch_one(&self.reader)
            .await?;
        Ok(n as u64)
    }

    async fn replay(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
        plugin_version: Option<u32>,
        now_ms: i64,
    ) -> Result<Replay, StoreError> {
        let mut writer = self.writer.lock().await?;
        let mut tx = writer.begin().await?;
        let row: Option<(String, bool)> = sqlx::query_as(
            "SELECT status, body_pruned FROM deliveries WHERE tenant = ?1 AND id = ?2",
        )
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let verdict = match row {
            None => Replay::NotFound,
            Some((status, _)) if status == DeliveryStatus::Running.as_str() => Replay::Running,
            Some((_, true)) => Replay::BodyPruned,
            Some(_) => {
                sqlx::query(
                    "UPDATE deliveries SET status = 'pending', run_start = attempts, due_at = ?1,
                       plugin_version = COALESCE(?2, plugin_version), finished_at = NULL,
                       last_error = NULL
                     WHERE id = ?3",
                )
                .bind(now_ms)
                .bind(plugin_version.map(i64::from))
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
                Replay::Queued
            }
        };
        tx.commit().await?;
        Ok(verdict)
    }

    async fn prune_bodies(&self, succeeded_before_ms: i64) -> Result<u64, StoreError> {
        let mut pruned = 0;
        loop {
            // In slices, so the writer is never held for long.
            let mut writer = self.writer.lock().await?;
            let mut tx = writer.begin().await?;
            let done = sqlx::query(
                "UPDATE deliveries SET body_pruned = 1 WHERE seq IN (
                   SELECT seq FROM deliveries
                   WHERE status = 'succeeded' AND body_pruned = 0 AND finished_at < ?1
                   LIMIT 1000)
                 RETURNING seq",
            )
            .bind(succeeded_before_ms)
            .fetch_all(&mut *tx)
            .await?;
            if !done.is_empty() {
                let mut update =
                    QueryBuilder::<Sqlite>::new("UPDATE payloads SET body = NULL WHERE seq IN (");
                let mut seqs = update.separated(", ");
                for row in &done {
                    seqs.push_bind(row.try_get::<i64, _>("seq")?);
                }
                update.push(")");
                update.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            pruned += done.len() as u64;
            if done.len() < 1000 {
                return Ok(pruned);
            }
        }
    }

    async fn delivery(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
    ) -> Result<Option<Delivery>, StoreError> {
        let row = sqlx::query(
            "SELECT * FROM deliveries JOIN payloads USING (seq) WHERE tenant = ?1 AND id = ?2",
        )
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(rows::delivery).transpose()
    }

    async fn attempts(&self, id: &DeliveryId) -> Result<Vec<Attempt>, StoreError> {
        let rows = sqlx::query("SELECT * FROM attempts WHERE delivery_id = ?1 ORDER BY attempt")
            .bind(id.as_str())
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Attempt {
                    attempt: row.try_get::<i64, _>("attempt")? as u32,
                    plugin_version: row.try_get::<i64, _>("plugin_version")? as u32,
                    started_at_ms: row.try_get("started_at")?,
                    duration_ms: row.try_get::<i64, _>("duration_ms")? as u64,
                    outcome: row.try_get("outcome")?,
                    message: row.try_get("message")?,
                    logs: json(row.try_get::<&str, _>("logs")?)?,
                    logs_truncated: row.try_get("logs_truncated")?,
                    http_calls: json(row.try_get::<&str, _>("http_calls")?)?,
                })
            })
            .collect()
    }

    async fn commit_kv(&self, ns: &KvNamespace, writes: &[KvWrite]) -> Result<(), StoreError> {
        self.queue
            .kv(ns.clone(), writes.to_vec())
            .await?
            .wait()
            .await
    }
}
