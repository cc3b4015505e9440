//! The one writer connection, held rather than pooled.
//!
//! sqlx's pool pings every connection given back to it, from a task it
//! spawns: a round trip to the connection's thread, 0.3–0.5 ms on busy
//! cores (measured), that the queue's single writer would pay on every
//! batch before the next could start. SQLite has one writer anyway, so the
//! store keeps its writer connection behind a lock instead, and opens it
//! again only after it had to be closed.

use std::ops::{Deref, DerefMut};
use std::path::PathBuf;

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
    wal: WalSync,
}

impl Writer {
    /// Opens the connection to the database whose write-ahead log is `wal`.
    pub(super) async fn open(
        options: SqliteConnectOptions,
        wal: PathBuf,
    ) -> Result<Self, StoreError> {
        let conn = options.connect().await?;
        Ok(Self {
            options,
            conn: Mutex::new(Some(conn)),
            wal: WalSync::start(wal)?,
        })
    }

    /// Waits for the writer; opens it again if it was closed.
    pub(super) async fn lock(&self) -> Result<WriterGuard<'_>, StoreError> {
        let mut conn = self.conn.lock().await;
        if conn.is_none() {
            *conn = Some(self.options.connect().await?);
        }
        Ok(WriterGuard {
            conn,
            wal: &self.wal,
            fragile: false,
        })
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
    /// A commit with `synchronous=NORMAL` has just returned: durable after
    /// the log's next fsync.
    pub(super) fn committed(&self) -> Durable {
        self.wal.committed()
    }

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
