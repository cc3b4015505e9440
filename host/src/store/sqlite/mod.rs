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
use sqlx::{Connection, QueryBuilder, Row, Sqlite, SqlitePool};

use super::owner_only;
use super::rows::{outcome_message, to_json};
use super::sealing::Keyring;
use super::{Claim, ClaimRequest, Durable, QueueStore, StoreError, WriteBatch, WriteResults};
use crate::domain::Timestamp;
use crate::runtime::{KvNamespace, KvWrite};

mod kv_read;
mod wal_sync;
mod write;
mod writer;

use kv_read::KvReads;
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
    kv_reads: Arc<KvReads>,
    keys: Arc<Keyring>,
    /// Held while serving, so a second server on the same directory refuses to start.
    _lock: Option<Arc<File>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it;
    /// `keys` seal the secrets it stores.
    pub async fn open(path: &Path, keys: Arc<Keyring>) -> Result<Self, StoreError> {
        Self::open_with(path, keys, WalSync::start).await
    }

    /// Opens a database whose log's fsyncs wait for the test.
    #[cfg(test)]
    pub(crate) async fn open_gated(path: &Path) -> (Self, FsyncGate) {
        let (gate, fsync) = FsyncGate::new();
        let store = Self::open_with(path, super::sealing::testing(), |_| WalSync::with(fsync))
            .await
            .unwrap();
        (store, gate)
    }

    async fn open_with(
        path: &Path,
        keys: Arc<Keyring>,
        sync: impl FnOnce(std::path::PathBuf) -> std::io::Result<WalSync>,
    ) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            owner_only::create_dir(dir)?;
        }
        owner_only::create_or_narrow(path)?;
        for suffix in ["-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            owner_only::narrow(Path::new(&name))?;
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
            kv_reads: Arc::new(KvReads::new(path)),
            keys,
            _lock: None,
        })
    }

    /// Opens the database of a data directory for a server: takes the
    /// directory's lock first, so exactly one process works its queue. Every
    /// lease found then belonged to a process that died, so its deliveries
    /// are due at once rather than when the lease would have expired.
    pub async fn open_exclusive(data_dir: &Path, keys: Arc<Keyring>) -> Result<Self, StoreError> {
        owner_only::create_dir(data_dir)?;
        owner_only::create_or_narrow(&data_dir.join(LOCK_FILE))?;
        let lock = File::options().write(true).open(data_dir.join(LOCK_FILE))?;
        if lock.try_lock().is_err() {
            return Err(StoreError::Locked(data_dir.display().to_string()));
        }
        let mut store = Self::open(&data_dir.join(DATABASE_FILE), keys).await?;
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
    /// What seals the secrets this store holds.
    fn keys(&self) -> &Keyring {
        &self.keys
    }

    /// Reads go to the pool of read-only connections.
    fn admin_reader(&self) -> &SqlitePool {
        &self.reader
    }

    /// A KV value, read on this thread (see kv_read.rs).
    async fn kv_value(
        &self,
        ns: &KvNamespace,
        key: &str,
    ) -> Result<Option<Vec<u8>>, crate::runtime::KvReadError> {
        self.kv_reads.get(ns, key)
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
    // Kept by triggers on `kv` (migration 10), one row per tenant.
    kv_usage: "SELECT COALESCE((SELECT bytes FROM kv_usage WHERE tenant = $1), 0)",
    // The writer connection's transaction is the lock.
    lock_row: "",
    // Claims and admin writes already take turns on SQLite's write lock.
    lock_endpoint: "SELECT $1, $2",
    // Write-locked from the start: see admin.rs.
    begin: "BEGIN IMMEDIATE",
}

super::replays::replay_store! {
    SqliteStore,
    lock_row: "",
    begin: "BEGIN IMMEDIATE",
}

super::dashboard::dashboard_store! {
    SqliteStore,
    begin: "BEGIN IMMEDIATE",
}

super::alerts::alert_store! {
    SqliteStore,
    lock_row: "",
    begin: "BEGIN IMMEDIATE",
    expect_every: "CAST(json_extract(e.spec, '$.alerts.expect_every_s') AS INTEGER)",
}

#[async_trait::async_trait]
impl QueueStore for SqliteStore {
    async fn write(&self, batch: Arc<WriteBatch>) -> Result<(WriteResults, Durable), StoreError> {
        self.queue.write(batch).await
    }

    async fn claim(&self, req: ClaimRequest) -> Result<(Claim, Durable), StoreError> {
        self.queue.claim(req).await
    }

    async fn heartbeat(&self, _host: &str) -> Result<u32, StoreError> {
        // The process holding the data directory's lock is its only host.
        Ok(1)
    }

    async fn prune_bodies(&self, finished_before: Timestamp) -> Result<u64, StoreError> {
        let mut pruned = 0;
        loop {
            // In slices, so the writer is never held for long.
            let mut writer = self.writer.lock().await?;
            let mut tx = writer.begin().await?;
            let done = sqlx::query(
                "UPDATE deliveries SET body_pruned = 1 WHERE seq IN (
                   SELECT seq FROM deliveries
                   WHERE status IN ('succeeded', 'filtered') AND body_pruned = 0 AND finished_at < ?1
                   LIMIT 1000)
                 RETURNING seq",
            )
            .bind(finished_before)
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
