//! A batch of queue writes as one script: `BEGIN`, every statement of the
//! batch, `COMMIT`, handed to SQLite's thread at once. The script commits
//! with `synchronous=NORMAL` and leaves the fsync to `WalSync`, so the
//! writer is free for the next batch while this one reaches the disk.
//!
//! sqlx runs each SQLite connection on a thread of its own, and a statement
//! is a round trip to that thread and back. On a loaded host a round trip
//! waits for two threads to be scheduled: 0.3–0.5 ms on two busy cores
//! (measured), about what the SQL of a whole batch of 32 webhooks costs. The
//! single writer runs batches back to back, so a round trip per statement
//! bounded ingest; a script makes it one per batch. No statement needs an
//! answer before the next is sent: every statement that depends on a
//! completion's lease checks the lease itself, and only when a batch held
//! duplicate events is a second query needed, after the commit, to name them.
//!
//! Every insert and update of a script says `OR FAIL`. A multi-row
//! statement that can abort inside a transaction makes SQLite copy each
//! page it touches into a statement journal first, so that the abort can
//! undo that statement alone; a script never needs that, because any
//! failure throws the whole transaction away (the writer is closed, see
//! [`Script::run`]). With `OR FAIL` there is nothing to undo, and no copy:
//! 12 % fewer instructions in SQLite for an ingest batch (callgrind).
//!
//! This relies on sqlx 0.8's SQLite driver running every statement of a
//! query string, with its bound parameters, in order: behaviour upstream
//! means to drop (launchbadge/sqlx#3108). The tests below pin it.

use std::collections::{HashMap, HashSet};

use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use super::to_json;
use super::writer::WriterGuard;
use crate::ids::DeliveryId;
use crate::runtime::{KvNamespace, KvWrite, Outcome};
use crate::store::{
    Completion, DeliveryStatus, Durable, Ingested, LeaseToken, NewDelivery, Next, StoreError,
    WriteBatch, WriteResults,
};

/// Rows per multi-row statement: well under SQLite's 32,766 bound parameters.
const CHUNK: usize = 500;

/// A transaction's statements, built one after another.
pub(super) struct Script<'a> {
    sql: QueryBuilder<'a, Sqlite>,
}

impl<'a> Script<'a> {
    pub(super) fn new() -> Self {
        Self {
            sql: QueryBuilder::new("PRAGMA synchronous = NORMAL;\nBEGIN"),
        }
    }

    /// Starts the next statement.
    fn next(&mut self, sql: &str) -> &mut QueryBuilder<'a, Sqlite> {
        self.sql.push(";\n").push(sql)
    }

    /// Runs the script on the writer; what it wrote is durable once the
    /// [`Durable`] resolves. Should it fail, or the caller stop waiting, the
    /// writer is closed rather than used again, so neither a half-run
    /// transaction nor `synchronous=NORMAL` stays on it (closing rolls the
    /// transaction back).
    pub(super) async fn run(
        mut self,
        writer: &mut WriterGuard<'_>,
    ) -> Result<(Vec<sqlx::sqlite::SqliteRow>, Durable), StoreError> {
        self.sql.push(";\nCOMMIT;\nPRAGMA synchronous = FULL");
        writer.unsettle();
        let rows = self.sql.build().fetch_all(&mut **writer).await?;
        writer.settle();
        Ok((rows, writer.committed()))
    }
}

/// Applies a batch in one transaction and one round trip, plus one more
/// after the commit when some webhooks were duplicates.
pub(super) async fn write(
    writer: &mut WriterGuard<'_>,
    batch: &WriteBatch,
    now: i64,
) -> Result<(WriteResults, Durable), StoreError> {
    let mut script = Script::new();
    for chunk in batch.completions.chunks(CHUNK) {
        complete(&mut script, chunk, now);
    }
    for (id, lease) in &batch.releases {
        release(&mut script, id, lease, now);
    }
    for chunk in batch.ingests.chunks(CHUNK) {
        ingest(&mut script, chunk);
    }
    let (rows, durable) = script.run(writer).await?;

    let mut applied = HashSet::new();
    let mut inserted = Vec::new();
    for row in &rows {
        match row.try_get::<&str, _>(0)? {
            "applied" => {
                applied.insert(row.try_get::<String, _>(1)?);
            }
            "inserted" => inserted.push(row.try_get::<i64, _>(1)? as usize),
            other => return Err(StoreError::Corrupt(format!("unexpected row {other}"))),
        }
    }
    let short = batch
        .ingests
        .chunks(CHUNK)
        .zip(&inserted)
        .any(|(chunk, n)| *n < chunk.len());
    let duplicates = if short {
        duplicates_of(writer, &batch.ingests).await?
    } else {
        HashMap::new()
    };
    let results = WriteResults {
        completed: batch
            .completions
            .iter()
            .map(|c| applied.contains(c.id.as_str()))
            .collect(),
        ingested: batch
            .ingests
            .iter()
            .map(|d| match duplicates.get(d.id.as_str()) {
                Some(existing) => Ingested::Duplicate(DeliveryId::from_string(existing.clone())),
                None => Ingested::Accepted(d.id.clone()),
            })
            .collect(),
    };
    Ok((results, durable))
}

/// Inserts deliveries and their payloads; a row that hits the event-id index
/// is a duplicate of a delivery already there (or earlier in the batch) and
/// goes in neither table. Reports how many went in.
fn ingest<'a>(script: &mut Script<'a>, chunk: &'a [NewDelivery]) {
    script
        .next(
            "INSERT OR FAIL INTO deliveries (id, tenant, endpoint, event_id, provider, event_type,
                                     received_at, plugin, plugin_version, lease_ms, status, due_at) ",
        )
        .push_values(chunk, |mut row, d| {
            row.push_bind(d.id.as_str())
                .push_bind(d.tenant.as_str())
                .push_bind(d.endpoint.as_str())
                .push_bind(d.event_id.as_deref())
                .push_bind(d.provider.as_str())
                .push_bind(d.event_type.as_deref())
                .push_bind(d.received_at_ms)
                .push_bind(d.plugin.as_str())
                .push_bind(d.plugin_version as i64)
                .push_bind(d.lease_ms as i64)
                .push_bind(DeliveryStatus::Pending.as_str())
                .push_bind(d.received_at_ms);
        })
        .push(" ON CONFLICT (tenant, endpoint, event_id) WHERE event_id IS NOT NULL DO NOTHING");
    script.next("SELECT 'inserted', changes()");
    script
        .next("INSERT OR FAIL INTO payloads (seq, headers, body) SELECT d.seq, p.column2, p.column3 FROM (")
        .push_values(chunk, |mut row, d| {
            row.push_bind(d.id.as_str())
                .push_bind(to_json(&d.headers))
                .push_bind(d.body.as_ref());
        })
        // CROSS JOIN makes the VALUES the outer loop, read as they come;
        // a plain JOIN copied them into a temporary table first.
        .push(") AS p CROSS JOIN deliveries d ON d.id = p.column1");
}

/// For each webhook of the batch that was a duplicate, the delivery it
/// repeats; read after the commit, on the writer, so it sees the batch.
async fn duplicates_of(
    conn: &mut SqliteConnection,
    ingests: &[NewDelivery],
) -> Result<HashMap<String, String>, StoreError> {
    let mut found = HashMap::new();
    for chunk in ingests.chunks(CHUNK) {
        let with_event: Vec<_> = chunk.iter().filter(|d| d.event_id.is_some()).collect();
        if with_event.is_empty() {
            continue;
        }
        let mut query = QueryBuilder::<Sqlite>::new("SELECT e.column1, d.id FROM (");
        query.push_values(&with_event, |mut row, d| {
            row.push_bind(d.id.as_str())
                .push_bind(d.tenant.as_str())
                .push_bind(d.endpoint.as_str())
                .push_bind(d.event_id.as_deref());
        });
        query.push(
            ") AS e JOIN deliveries d ON d.tenant = e.column2 AND d.endpoint = e.column3
                                     AND d.event_id = e.column4
             WHERE d.id <> e.column1",
        );
        found.extend(
            query
                .build_query_as::<(String, String)>()
                .fetch_all(&mut *conn)
                .await?,
        );
    }
    Ok(found)
}

/// Records finished attempts whose lease still holds: their attempts and the
/// KV writes of the successful ones first (each checking the lease), then
/// the deliveries themselves, which reports those that counted.
fn complete<'a>(script: &mut Script<'a>, chunk: &'a [Completion], now: i64) {
    script
        .next(
            "INSERT OR FAIL INTO attempts (delivery_id, attempt, plugin_version, started_at, duration_ms,
                                   outcome, message, logs, logs_truncated, http_calls)
             SELECT column1, column3, column4, column5, column6, column7, column8, column9,
                    column10, column11
             FROM (",
        )
        .push_values(chunk, |mut row, c| {
            let r = &c.record;
            row.push_bind(c.id.as_str())
                .push_bind(c.lease.0.as_str())
                .push_bind(r.attempt as i64)
                .push_bind(r.plugin_version as i64)
                .push_bind(r.started_at_ms)
                .push_bind(r.duration_ms as i64)
                .push_bind(r.outcome.kind())
                .push_bind(outcome_message(&r.outcome))
                .push_bind(to_json(&r.logs))
                .push_bind(r.logs_truncated)
                .push_bind(to_json(&r.http_calls));
        })
        .push(
            ") AS a WHERE EXISTS (SELECT 1 FROM deliveries d
                                  WHERE d.id = a.column1 AND d.lease_token = a.column2)",
        );
    for c in chunk {
        if let Next::Succeeded { namespace, writes } = &c.next {
            for write in writes {
                kv(script, namespace, write, Some((&c.id, &c.lease)), now);
            }
        }
    }
    script
        .next(
            "UPDATE OR FAIL deliveries SET status = c.column3, due_at = c.column4, finished_at = c.column5,
                                   last_error = c.column6, lease_token = NULL
             FROM (",
        )
        .push_values(chunk, |mut row, c| {
            let (status, due_at, finished_at) = match &c.next {
                Next::Succeeded { .. } => (DeliveryStatus::Succeeded, None, Some(now)),
                Next::Retry { due_at_ms } => (DeliveryStatus::Retrying, Some(*due_at_ms), None),
                Next::Dead => (DeliveryStatus::Dead, None, Some(now)),
            };
            row.push_bind(c.id.as_str())
                .push_bind(c.lease.0.as_str())
                .push_bind(status.as_str())
                .push_bind(due_at)
                .push_bind(finished_at)
                .push_bind(outcome_message(&c.record.outcome));
        })
        .push(
            ") AS c WHERE deliveries.id = c.column1 AND deliveries.lease_token = c.column2
             RETURNING 'applied', deliveries.id",
        );
}

fn outcome_message(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::Ok => None,
        Outcome::Retry(m) | Outcome::Reject(m) | Outcome::Trap(m) => Some(m.clone()),
        Outcome::Timeout | Outcome::OutOfMemory => Some(outcome.to_string()),
    }
}

/// One KV write; with a lease, only while the delivery still holds it.
pub(super) fn kv<'a>(
    script: &mut Script<'a>,
    ns: &'a KvNamespace,
    write: &'a KvWrite,
    lease: Option<(&'a DeliveryId, &'a LeaseToken)>,
    now: i64,
) {
    // Values are stored as decimal text for counters; a delta arrives the same way.
    let (key, value) = match write {
        KvWrite::Delete { key } => {
            let sql = script.next("DELETE FROM kv WHERE tenant = ");
            sql.push_bind(ns.tenant.as_str())
                .push(" AND plugin = ")
                .push_bind(ns.plugin.as_str())
                .push(" AND key = ")
                .push_bind(key.as_str());
            guard(sql, lease);
            return;
        }
        KvWrite::Set { key, value } => (key, value.clone()),
        KvWrite::Increment { key, delta } => (key, delta.to_string().into_bytes()),
    };
    let sql =
        script.next("INSERT OR FAIL INTO kv (tenant, plugin, key, value, updated_at) SELECT ");
    sql.separated(", ")
        .push_bind(ns.tenant.as_str())
        .push_bind(ns.plugin.as_str())
        .push_bind(key.as_str())
        .push_bind(value)
        .push_bind(now);
    // WHERE is required here: without it SQLite would read ON CONFLICT as a join's ON.
    sql.push(" WHERE true");
    guard(sql, lease);
    sql.push(" ON CONFLICT (tenant, plugin, key) DO UPDATE SET updated_at = excluded.updated_at, value = ");
    sql.push(match write {
        KvWrite::Increment { .. } => {
            "CAST(CAST(CAST(CAST(kv.value AS TEXT) AS INTEGER)
                       + CAST(CAST(excluded.value AS TEXT) AS INTEGER) AS TEXT) AS BLOB)"
        }
        _ => "excluded.value",
    });
}

fn guard<'a>(sql: &mut QueryBuilder<'a, Sqlite>, lease: Option<(&'a DeliveryId, &'a LeaseToken)>) {
    if let Some((id, lease)) = lease {
        sql.push(" AND EXISTS (SELECT 1 FROM deliveries WHERE id = ")
            .push_bind(id.as_str())
            .push(" AND lease_token = ")
            .push_bind(lease.0.as_str())
            .push(")");
    }
}

fn release<'a>(script: &mut Script<'a>, id: &'a DeliveryId, lease: &'a LeaseToken, now: i64) {
    script
        .next(
            "UPDATE OR FAIL deliveries SET
               status = CASE WHEN attempts - 1 > run_start THEN 'retrying' ELSE 'pending' END,
               attempts = attempts - 1, lease_token = NULL, due_at = ",
        )
        .push_bind(now)
        .push(" WHERE id = ")
        .push_bind(id.as_str())
        .push(" AND lease_token = ")
        .push_bind(lease.0.as_str());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

    async fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
        (dir, store)
    }

    async fn settings(store: &SqliteStore) -> Vec<(String, String)> {
        sqlx::query_as("SELECT key, value FROM settings ORDER BY key")
            .fetch_all(&mut *store.writer.lock().await.unwrap())
            .await
            .unwrap()
    }

    fn insert_setting<'a>(script: &mut Script<'a>, key: &'a str, value: &'a str) {
        script
            .next("INSERT INTO settings (key, value) VALUES (")
            .push_bind(key)
            .push(", ")
            .push_bind(value)
            .push(")");
    }

    #[tokio::test]
    async fn every_statement_of_a_script_gets_its_own_parameters() {
        let (_dir, store) = store().await;
        let mut script = Script::new();
        insert_setting(&mut script, "a", "1");
        script.next("SELECT 'inserted', changes()");
        insert_setting(&mut script, "b", "2");
        let (rows, durable) = script
            .run(&mut store.writer.lock().await.unwrap())
            .await
            .unwrap();
        durable.wait().await.unwrap();

        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].get::<i64, _>(1), 1);
        assert_eq!(
            settings(&store).await,
            [("a".into(), "1".into()), ("b".into(), "2".into())]
        );
    }

    #[tokio::test]
    async fn a_script_failing_midway_leaves_nothing_and_the_writer_keeps_working() {
        let (_dir, store) = store().await;
        let mut script = Script::new();
        insert_setting(&mut script, "a", "1");
        insert_setting(&mut script, "a", "again");
        let failed = script.run(&mut store.writer.lock().await.unwrap()).await;

        assert!(failed.is_err(), "a duplicate key fails the script");
        assert_eq!(settings(&store).await, []);
        let mut script = Script::new();
        insert_setting(&mut script, "b", "2");
        let (_, durable) = script
            .run(&mut store.writer.lock().await.unwrap())
            .await
            .unwrap();
        durable.wait().await.unwrap();
        assert_eq!(settings(&store).await, [("b".into(), "2".into())]);
    }
}
