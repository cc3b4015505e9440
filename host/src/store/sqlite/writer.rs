//! The writer connection of everything but the queue's batches (those have
//! a thread of their own, see write.rs): claims, admin writes, migrations;
//! held rather than pooled.
//!
//! sqlx's pool pings every connection given back to it, from a task it
//! spawns: a round trip to the connection's thread, 0.3–0.5 ms on busy
//! cores (measured), that the dispatcher's claims would pay every time.
//! The store keeps this connection behind a lock instead, and opens it
//! again only after it had to be closed.

use std::io;
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::sync::Arc;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, SqliteConnection};
use tokio::sync::{Mutex, MutexGuard};

use super::wal_sync::WalSync;
use crate::store::{Durable, StoreError};

/// The writer connection and how to open it again.
#[derive(Debug)]
pub(super) struct Writer {
    options: SqliteConnectOptions,
    conn: Mutex<Option<SqliteConnection>>,
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
            options,
            conn: Mutex::new(Some(conn)),
            wal: Arc::new(wal),
        })
    }

    /// The log's fsync thread, for the queue's writer to share.
    pub(super) fn wal(&self) -> Arc<WalSync> {
        Arc::clone(&self.wal)
    }

    /// Waits for the writer; opens it again if it was closed. Once an fsync
    /// of the log failed, refuses: nothing written could be acknowledged.
    pub(super) async fn lock(&self) -> Result<WriterGuard<'_>, StoreError> {
        let mut conn = self.conn.lock().await;
        if let Some(failure) = self.wal.failure() {
            return Err(StoreError::NotDurable(failure));
        }
        if conn.is_none() {
            *conn = Some(self.reopen().await?);
        }
        Ok(WriterGuard {
            conn,
            wal: &self.wal,
            fragile: false,
        })
    }

    /// Opens the writer again after it was closed. A connection closed
    /// mid-claim may still have committed the claim, with
    /// `synchronous=NORMAL` and without anyone asking for the fsync: once
    /// the new connection holds the write lock, the old one has committed
    /// or rolled back, and the fsync asked for then covers it, so claims
    /// (which wait for every fsync asked for) never hand out its work first.
    async fn reopen(&self) -> Result<SqliteConnection, StoreError> {
        let mut conn = self.options.connect().await?;
        for sql in ["BEGIN IMMEDIATE", "ROLLBACK"] {
            sqlx::query(sql).execute(&mut conn).await?;
        }
        // Nobody waits on this commit; `caught_up` does.
        drop(self.wal.committed());
        Ok(conn)
    }
}

/// The locked writer. While it is *fragile* (a raw `BEGIN` without its
/// `COMMIT` yet, a pragma changed for one transaction), dropping it closes
/// the connection, which rolls back whatever was half done; so an error or
/// a caller that stops waiting never leaves that state to the next user.
pub(super) struct WriterGuard<'a> {
    conn: MutexGuard<'a, Option<SqliteConnection>>,
    wal: &'a WalSync,
    fragile: bool,
}

impl WriterGuard<'_> {
    /// Durable once every commit that is waiting for an fsync is.
    pub(super) fn caught_up(&self) -> Durable {
        self.wal.caught_up()
    }

    /// From now until [`settle`](Self::settle), dropping closes the connection.
    pub(super) fn unsettle(&mut self) {
        self.fragile = true;
    }

    /// The connection is back in its normal state.
    pub(super) fn settle(&mut self) {
        self.fragile = false;
    }
}

impl Deref for WriterGuard<'_> {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        self.conn.as_ref().expect("opened by lock")
    }
}

impl DerefMut for WriterGuard<'_> {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.conn.as_mut().expect("opened by lock")
    }
}

impl Drop for WriterGuard<'_> {
    fn drop(&mut self) {
        if self.fragile {
            self.conn.take();
        }
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
        drop(SqliteStore::open(&real).await.unwrap());
        let link = dir.path().join("link.db");
        std::os::unix::fs::symlink(&real, &link).unwrap();

        // SQLite follows the link: its log is real.db-wal, and no
        // link.db-wal ever exists to be fsynced instead.
        let store = SqliteStore::open(&link).await.unwrap();
        ingest_one(&store).await.wait().await.unwrap();
        assert!(dir.path().join("real.db-wal").exists());
        assert!(!dir.path().join("link.db-wal").exists());
    }

    #[tokio::test]
    async fn the_writer_is_back_to_synchronous_full_after_a_batch_and_a_claim() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
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
    async fn a_claim_cut_off_after_its_commit_is_fsynced_before_the_next_claim_hands_out_work() {
        let (_dir, store, mut gate) = gated().await;
        tenant_with_plugin(&store).await;
        {
            // A claim whose caller went away after its COMMIT: nobody
            // asked for its fsync, and the writer is closed.
            let mut writer = store.writer.lock().await.unwrap();
            writer.unsettle();
            sqlx::raw_sql(
                "PRAGMA synchronous = NORMAL; BEGIN; UPDATE tenants SET claim_seq = 1; COMMIT",
            )
            .execute(&mut *writer)
            .await
            .unwrap();
        }

        let (_, claimed) = store.claim(claim_all()).await.unwrap();
        gate.started().await;
        gate.holds(claimed).await;
        assert_eq!(synchronous(&store).await, 2, "the new connection is FULL");
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
