//! The writer connection of everything but the queue (whose batches and
//! claims have a thread of their own, see write.rs): admin writes and
//! migrations; held rather than pooled.
//!
//! sqlx's pool pings every connection given back to it, from a task it
//! spawns: a round trip to the connection's thread, 0.3–0.5 ms on busy
//! cores (measured). The store keeps this connection behind a lock instead.

use std::io;
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::sync::Arc;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, SqliteConnection};
use tokio::sync::{Mutex, MutexGuard};

use super::wal_sync::WalSync;
use crate::store::StoreError;

/// The writer connection and the log's fsync thread.
#[derive(Debug)]
pub(super) struct Writer {
    conn: Mutex<SqliteConnection>,
    wal: Arc<WalSync>,
}

impl Writer {
    /// Opens the connection, and starts fsyncing the database's write-ahead
    /// log with `sync`.
    pub(super) async fn open(
        options: SqliteConnectOptions,
        sync: impl FnOnce(PathBuf) -> io::Result<WalSync>,
    ) -> Result<Self, StoreError> {
        let mut conn = options.connect().await?;
        // The file SQLite opened, symlinks resolved: its log is beside it.
        let database: String =
            sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
                .fetch_one(&mut conn)
                .await?;
        let wal = sync(format!("{database}-wal").into())?;
        Ok(Self {
            conn: Mutex::new(conn),
            wal: Arc::new(wal),
        })
    }

    /// The log's fsync thread, for the queue's writer to share.
    pub(super) fn wal(&self) -> Arc<WalSync> {
        Arc::clone(&self.wal)
    }

    /// Waits for the writer. Once an fsync of the log failed, refuses:
    /// nothing written could be acknowledged.
    pub(super) async fn lock(&self) -> Result<WriterGuard<'_>, StoreError> {
        let conn = self.conn.lock().await;
        if let Some(failure) = self.wal.failure() {
            return Err(StoreError::NotDurable(failure));
        }
        Ok(WriterGuard(conn))
    }
}

/// The locked writer.
pub(super) struct WriterGuard<'a>(MutexGuard<'a, SqliteConnection>);

impl Deref for WriterGuard<'_> {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        &self.0
    }
}

impl DerefMut for WriterGuard<'_> {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.0
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use crate::domain::Timestamp;
    use crate::ids::TenantId;
    use crate::store::testing::{delivery, tenant_with_plugin};
    use crate::store::{
        AdminStore, ClaimRequest, Durable, FsyncGate, QueueStore, SqliteStore, StoreError,
        WriteBatch,
    };

    async fn synchronous(store: &SqliteStore) -> i64 {
        sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *store.writer.lock().await.unwrap())
            .await
            .unwrap()
    }

    async fn gated() -> (tempfile::TempDir, SqliteStore, FsyncGate) {
        let dir = tempfile::tempdir().unwrap();
        let (store, gate) = SqliteStore::open_gated(&dir.path().join("t.db")).await;
        (dir, store, gate)
    }

    /// Stores a tenant, its plugin and one webhook for it.
    async fn ingest_one(store: &SqliteStore) -> Durable {
        let (tenant, plugin) = tenant_with_plugin(store).await;
        let batch = WriteBatch {
            ingests: vec![delivery(&tenant, &plugin)],
            ..Default::default()
        };
        store.write(batch.into()).await.unwrap().1
    }

    fn claim_all() -> ClaimRequest {
        ClaimRequest {
            now: Timestamp::now(),
            max: 10,
            running: Default::default(),
            default_share: u32::MAX,
        }
    }

    #[tokio::test]
    async fn the_log_fsynced_is_the_one_beside_the_file_sqlite_opened() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.db");
        drop(
            SqliteStore::open(&real, crate::store::testing_keys())
                .await
                .unwrap(),
        );
        let link = dir.path().join("link.db");
        std::os::unix::fs::symlink(&real, &link).unwrap();

        // SQLite follows the link: its log is real.db-wal, and no
        // link.db-wal ever exists to be fsynced instead.
        let store = SqliteStore::open(&link, crate::store::testing_keys())
            .await
            .unwrap();
        ingest_one(&store).await.wait().await.unwrap();
        assert!(dir.path().join("real.db-wal").exists());
        assert!(!dir.path().join("link.db-wal").exists());
    }

    #[tokio::test]
    async fn the_admin_writer_stays_synchronous_full_beside_the_queues_batches_and_claims() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db"), crate::store::testing_keys())
            .await
            .unwrap();
        assert_eq!(synchronous(&store).await, 2, "FULL from the start");

        ingest_one(&store).await.wait().await.unwrap();
        assert_eq!(synchronous(&store).await, 2, "FULL after a batch");

        let (claim, durable) = store.claim(claim_all()).await.unwrap();
        durable.wait().await.unwrap();
        assert_eq!(claim.claimed.len(), 1);
        assert_eq!(synchronous(&store).await, 2, "FULL after a claim");
    }

    #[tokio::test]
    async fn a_claim_hands_out_a_batch_only_once_the_batch_is_fsynced() {
        let (_dir, store, mut gate) = gated().await;
        let written = ingest_one(&store).await;
        gate.started().await;

        let (claim, claimed) = store.claim(claim_all()).await.unwrap();
        assert_eq!(claim.claimed.len(), 1, "the commit is visible at once");
        gate.holds(claimed).await;
        written.wait().await.unwrap();
    }

    #[tokio::test]
    async fn once_an_fsync_failed_the_writer_refuses_every_write() {
        let (_dir, store, mut gate) = gated().await;
        let durable = ingest_one(&store).await;
        gate.started().await;
        gate.finish(Err(io::Error::other("EIO")));
        assert!(matches!(
            durable.wait().await,
            Err(StoreError::NotDurable(_))
        ));

        let refused = store.write(WriteBatch::default().into()).await.err();
        assert!(
            matches!(refused, Some(StoreError::NotDurable(_))),
            "{refused:?}"
        );
        let other = TenantId::new("other").unwrap();
        let refused = store.create_tenant(&other, None).await.err();
        assert!(
            matches!(refused, Some(StoreError::NotDurable(_))),
            "{refused:?}"
        );
    }
}
