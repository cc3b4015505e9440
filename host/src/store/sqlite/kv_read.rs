//! Point reads of plugins' KV data on the caller's thread.
//!
//! A guest's `kv::get` (and an `increment` of a key it has not read) waits
//! for one indexed row. Through sqlx that read crosses to a connection's
//! thread and back, a task woken at each end, which costs more than the
//! read itself; here it runs where it is asked, on one of a few read-only
//! connections. In WAL mode a reader never waits for a writer, and the row
//! is one B-tree descent, a few pages the operating system holds (SQLite
//! drops a connection's own cache whenever the log has changed), so the
//! caller's thread is held for microseconds.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::runtime::{KvNamespace, KvReadError};

/// Connections kept for reuse; more are opened while more threads read at
/// once, and closed after.
const IDLE: usize = 4;

/// A pool of read-only connections used synchronously.
#[derive(Debug)]
pub(super) struct KvReads {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl KvReads {
    pub(super) fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            idle: Mutex::default(),
        }
    }

    /// The committed value of `key` in `ns`.
    pub(super) fn get(&self, ns: &KvNamespace, key: &str) -> Result<Option<Vec<u8>>, KvReadError> {
        let conn = match self.idle.lock().expect("poisoned").pop() {
            Some(conn) => conn,
            None => self.open().map_err(read_error)?,
        };
        let value = conn
            .prepare_cached("SELECT value FROM kv WHERE tenant = ?1 AND plugin = ?2 AND key = ?3")
            .and_then(|mut read| {
                read.query_row(
                    params![ns.tenant.as_str(), ns.plugin.as_str(), key],
                    |row| row.get(0),
                )
                .optional()
            })
            .map_err(read_error)?;
        let mut idle = self.idle.lock().expect("poisoned");
        if idle.len() < IDLE {
            idle.push(conn);
        }
        Ok(value)
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // A reader waits only while a log is recovered after a crash; it
        // holds a runtime thread meanwhile, so not for long.
        conn.busy_timeout(Duration::from_millis(50))?;
        Ok(conn)
    }
}

fn read_error(e: rusqlite::Error) -> KvReadError {
    KvReadError(e.to_string())
}
