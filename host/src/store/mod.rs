//! Durable state: the only place SQL is written.
//!
//! One [`Store`] trait, one implementation per backend; SQLite in a data
//! directory is the embedded default.

mod sqlite;

pub use sqlite::SqliteStore;

use crate::runtime::{KvNamespace, KvReader, KvWrite};

/// Errors of the store, whatever the backend.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed a statement, or went away.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The data directory could not be created.
    #[error("data directory: {0}")]
    Io(#[from] std::io::Error),
}

/// The operations every backend provides.
#[async_trait::async_trait]
pub trait Store: KvReader {
    /// Applies one successful invocation's KV writes atomically, in order.
    async fn commit_kv(&self, ns: &KvNamespace, writes: &[KvWrite]) -> Result<(), StoreError>;
}
