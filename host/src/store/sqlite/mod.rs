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

use super::rows::{self, outcome_message, to_json};
use super::{
    Claim, ClaimRequest, Claimed, DeliveryStatus, Durable, LeaseToken, QueueStore, StoreError,
    WriteBatch, WriteResults,
};
use crate::domain::Timestamp;
use crate::ids::DeliveryId;
use crate::runtime::{KvNamespace, KvWrite};

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
            .bind(Timestamp::now().as_ms())
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

impl SqliteStore {
    /// Reads go to the pool of read-only connections.
    fn admin_reader(&self) -> &SqlitePool {
        &self.reader
    }

    /// Admin writes take the sqlx writer; the queue's batches have their own.
    async fn admin_writer(&self) -> Result<writer::WriterGuard<'_>, StoreError> {
        self.writer.lock().await
    }
}

super::admin::admin_store! {
    SqliteStore,
    // Payloads are keyed by the delivery's integer seq (see migration 7).
    payloads_of_tenant: "DELETE FROM payloads WHERE seq IN (SELECT seq FROM deliveries WHERE tenant = $1)",
    payload_join: "JOIN payloads USING (seq)",
    // A range scan rather than LIKE: keys may contain % and _.
    kv_keys: "SELECT key FROM kv WHERE tenant = $1 AND plugin = $2 AND key >= $3 AND key < $3 || char(1114111)
              ORDER BY key LIMIT $4",
    // Bytes, as PostgreSQL's octet_length counts them: length() of TEXT counts characters.
    // Each row is charged its key, its value and kv::WRITE_OVERHEAD_BYTES.
    kv_usage: "SELECT COALESCE(SUM(length(CAST(key AS BLOB)) + length(value) + 32), 0) FROM kv WHERE tenant = $1",
    // The writer connection's transaction is the lock.
    lock_row: "",
}

/// Claims up to `max` due deliveries, round-robin over the tenants that have
/// due work, starting with the tenant served longest ago.
async fn claim_due(
    conn: &mut SqliteConnection,
    req: ClaimRequest,
) -> Result<Vec<Claimed>, StoreError> {
    let tenants: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT id, policy FROM tenants t
         WHERE EXISTS (SELECT 1 FROM deliveries d WHERE d.tenant = t.id AND d.due_at <= ?1)
         ORDER BY claim_seq, id LIMIT ?2",
    )
    .bind(req.now)
    .bind(req.tenants_to_consider())
    .fetch_all(&mut *conn)
    .await?;
    let mut per_tenant = Vec::with_capacity(tenants.len());
    for (tenant, policy) in &tenants {
        let room = req
            .room(tenant, rows::worker_share(policy.as_deref()))
            .min(req.max);
        if room == 0 {
            continue;
        }
        let due: Vec<(String, String, i64, Option<Timestamp>, i64)> = sqlx::query_as(
            "SELECT id, status, attempts, started_at, plugin_version FROM deliveries
             WHERE tenant = ?1 AND due_at <= ?2 ORDER BY due_at LIMIT ?3",
        )
        .bind(tenant)
        .bind(req.now)
        .bind(room as i64)
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
            let started_at = started_at.unwrap_or(req.now);
            record_lost_attempt(conn, &id, *attempts, *plugin_version, started_at, req.now).await?;
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
        .push_bind(req.now)
        .push(", due_at = ")
        .push_bind(req.now)
        .push(" + lease_ms WHERE id IN (");
    let mut ids = update.separated(", ");
    for (id, ..) in &chosen {
        ids.push_bind(id.as_str());
    }
    update.push(")");
    update.build().execute(&mut *conn).await?;
    let mut read = QueryBuilder::<Sqlite>::new(
        "SELECT d.id AS id, d.tenant AS tenant, endpoint, provider, event_type, headers, body,
                received_at, d.plugin AS plugin, plugin_version, attempts, run_start,
                pv.digest AS plugin_digest
         FROM deliveries d JOIN payloads p ON p.seq = d.seq
              LEFT JOIN plugin_versions pv
                ON pv.tenant = d.tenant AND pv.plugin = d.plugin AND pv.version = d.plugin_version
         WHERE d.id IN (",
    );
    let mut ids = read.separated(", ");
    for (id, ..) in &chosen {
        ids.push_bind(id.as_str());
    }
    read.push(")");
    let rows = read.build().fetch_all(&mut *conn).await?;
    let claimed = rows
        .iter()
        .map(|row| rows::claimed(row, lease.clone(), req.now))
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
    started_at: Timestamp,
    now: Timestamp,
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
    .bind(now.since(started_at).as_millis() as i64)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[async_trait::async_trait]
impl QueueStore for SqliteStore {
    async fn write(&self, batch: Arc<WriteBatch>) -> Result<(WriteResults, Durable), StoreError> {
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
            let next_due_at = sqlx::query_scalar(super::NEXT_DUE)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(Claim {
                claimed,
                next_due_at,
            })
        }
        .await;
        sqlx::query("PRAGMA synchronous = FULL")
            .execute(&mut *writer)
            .await?;
        writer.settle();
        Ok((claimed?, writer.caught_up()))
    }

    async fn prune_bodies(&self, succeeded_before: Timestamp) -> Result<u64, StoreError> {
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
            .bind(succeeded_before)
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

    async fn commit_kv(&self, ns: &KvNamespace, writes: &[KvWrite]) -> Result<(), StoreError> {
        self.queue
            .kv(ns.clone(), writes.to_vec())
            .await?
            .wait()
            .await
    }
}
