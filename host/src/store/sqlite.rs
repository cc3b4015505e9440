//! SQLite in WAL mode: one writer connection (SQLite has one writer anyway,
//! and a single connection means no SQLITE_BUSY between our own writers) and
//! a small pool of readers.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::{Store, StoreError};
use crate::ids::TenantId;
use crate::runtime::{KvNamespace, KvReadError, KvReader, KvWrite};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// A SQLite database file with its writer and readers.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        // synchronous=FULL: in WAL mode NORMAL survives a crash of the process
        // but can lose the last commits on power loss; an accepted webhook must
        // survive both (see ARCHITECTURE.md, "Durability").
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        MIGRATOR.run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        Ok(Self { writer, reader })
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

fn read_error(e: sqlx::Error) -> KvReadError {
    KvReadError(e.to_string())
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

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn commit_kv(&self, ns: &KvNamespace, writes: &[KvWrite]) -> Result<(), StoreError> {
        let now = now_ms();
        let mut tx = self.writer.begin().await?;
        for write in writes {
            let query = match write {
                KvWrite::Set { key, value } => sqlx::query(
                    "INSERT INTO kv (tenant, plugin, key, value, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (tenant, plugin, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                )
                .bind(ns.tenant.as_str())
                .bind(ns.plugin.as_str())
                .bind(key)
                .bind(value.as_slice())
                .bind(now),
                KvWrite::Delete { key } => {
                    sqlx::query("DELETE FROM kv WHERE tenant = ?1 AND plugin = ?2 AND key = ?3")
                        .bind(ns.tenant.as_str())
                        .bind(ns.plugin.as_str())
                        .bind(key)
                }
                KvWrite::Increment { key, delta } => sqlx::query(
                    "INSERT INTO kv (tenant, plugin, key, value, updated_at)
                     VALUES (?1, ?2, ?3, CAST(CAST(?4 AS TEXT) AS BLOB), ?5)
                     ON CONFLICT (tenant, plugin, key) DO UPDATE SET
                       value = CAST(CAST(CAST(CAST(kv.value AS TEXT) AS INTEGER) + ?4 AS TEXT) AS BLOB),
                       updated_at = ?5",
                )
                .bind(ns.tenant.as_str())
                .bind(ns.plugin.as_str())
                .bind(key)
                .bind(*delta)
                .bind(now),
            };
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
