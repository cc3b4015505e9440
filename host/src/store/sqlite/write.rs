//! The queue's writes: a thread of their own with a connection of their
//! own, taking whole batches (webhooks, finished attempts, released
//! leases) and committing each in one transaction, and the dispatcher's
//! claims between them. With every queue write on one connection, a claim
//! never waits on SQLite's write lock behind a batch (nor a batch behind a
//! claim): SQLite's busy handler would sleep a millisecond or more each time.
//!
//! Why not sqlx: its SQLite driver runs a connection on a thread of its own
//! too, but a batch then crosses to that thread and back as arguments boxed
//! and copied for the crossing, rows sent back one by one, and a tokio task
//! woken at each end; measured on the request path, that overhead was a
//! third of the writer thread's time. Here the batch crosses once, each
//! statement is prepared once for the connection's life, and a completion
//! can check its lease before anything else of it is written.
//!
//! Every insert and update says `OR FAIL`: a statement that may abort
//! inside a transaction (a foreign key, a unique index) otherwise makes
//! SQLite keep a statement journal so that it can undo that statement
//! alone; here any failure rolls the whole transaction back, so there is
//! nothing to keep.
//!
//! Batches commit with `synchronous=NORMAL` and leave the fsync to
//! `WalSync`, so the thread is free for the next batch while this one
//! reaches the disk. A claim asks for no fsync of its own (see
//! `Store::claim`). Admin writes stay on the sqlx writer, which keeps
//! `synchronous=FULL`; the two connections share SQLite's write lock and
//! the one `WalSync`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use tokio::sync::oneshot;

use super::wal_sync::WalSync;
use super::{outcome_message, to_json};
use crate::domain::Timestamp;
use crate::ids::DeliveryId;
use crate::runtime::{KvNamespace, KvWrite};
use crate::store::kv_compose::compose;
use crate::store::rows::{self, ClaimedRow};
use crate::store::{
    AttemptOutcome, Claim, ClaimRequest, Claimed, Completion, DeliveryStatus, Due, Durable,
    Ingested, LeaseToken, NEXT_WORK, NewDelivery, Next, StoreError, WriteBatch, WriteResults,
    limited_endpoints, round_robin, within_limits,
};

/// Statements each connection keeps prepared: every statement below, with room.
const PREPARED: usize = 32;

enum Job {
    Batch(
        Arc<WriteBatch>,
        oneshot::Sender<Result<(WriteResults, Durable), StoreError>>,
    ),
    Kv(
        KvNamespace,
        Vec<KvWrite>,
        oneshot::Sender<Result<Durable, StoreError>>,
    ),
    Claim(
        ClaimRequest,
        oneshot::Sender<Result<(Claim, Durable), StoreError>>,
    ),
}

/// A handle to the queue's writer thread. The thread ends, closing its
/// connection, once every handle is dropped.
#[derive(Debug, Clone)]
pub(super) struct QueueWriter {
    jobs: mpsc::Sender<Job>,
}

impl QueueWriter {
    /// Opens a connection to the (migrated) database at `path` and starts
    /// the thread; its commits are made durable by `wal`.
    pub(super) fn start(path: &Path, wal: Arc<WalSync>) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.set_prepared_statement_cache_capacity(PREPARED);
        conn.execute_batch(
            "PRAGMA foreign_keys = ON;
             PRAGMA synchronous = NORMAL;
             PRAGMA temp_store = memory;",
        )?;
        let (jobs, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("hookhost-queue-writer".into())
            .spawn(move || run(conn, &wal, rx))?;
        Ok(Self { jobs })
    }

    /// Writes a batch in one transaction; durable once the [`Durable`] resolves.
    pub(super) async fn write(
        &self,
        batch: Arc<WriteBatch>,
    ) -> Result<(WriteResults, Durable), StoreError> {
        self.call(|reply| Job::Batch(batch, reply)).await
    }

    /// Applies KV writes outside any delivery (`hookhost plugin test`'s), in
    /// one transaction.
    pub(super) async fn kv(
        &self,
        ns: KvNamespace,
        writes: Vec<KvWrite>,
    ) -> Result<Durable, StoreError> {
        self.call(|reply| Job::Kv(ns, writes, reply)).await
    }

    /// Claims due deliveries (see `Store::claim`): durable once every
    /// commit that asked for an fsync before it is, which covers the
    /// webhooks it hands out.
    pub(super) async fn claim(&self, req: ClaimRequest) -> Result<(Claim, Durable), StoreError> {
        self.call(|reply| Job::Claim(req, reply)).await
    }

    async fn call<T>(
        &self,
        job: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Job,
    ) -> Result<T, StoreError> {
        let stopped = || StoreError::NotDurable("the queue's writer thread stopped".into());
        let (reply, answer) = oneshot::channel();
        self.jobs.send(job(reply)).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn run(mut conn: Connection, wal: &WalSync, jobs: mpsc::Receiver<Job>) {
    for job in jobs {
        match job {
            Job::Batch(batch, reply) => {
                let _ = reply.send(commit(&mut conn, wal, |tx| {
                    write(tx, &batch, Timestamp::now())
                }));
            }
            Job::Kv(ns, writes, reply) => {
                let now = Timestamp::now();
                let result = commit(&mut conn, wal, |tx| {
                    writes.iter().try_for_each(|w| kv(tx, &ns, w, now))
                });
                let _ = reply.send(result.map(|((), durable)| durable));
            }
            Job::Claim(req, reply) => {
                let _ = reply.send(claim(&mut conn, wal, &req));
            }
        }
    }
}

/// Claims and reads when the next delivery falls due, in one transaction
/// that asks for no fsync.
fn claim(
    conn: &mut Connection,
    wal: &WalSync,
    req: &ClaimRequest,
) -> Result<(Claim, Durable), StoreError> {
    if let Some(failure) = wal.failure() {
        return Err(StoreError::NotDurable(failure));
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let claimed = claim_due(&tx, req)?;
    let (next_due_at, waiting) = tx.prepare_cached(NEXT_WORK)?.query_row([], |row| {
        Ok((
            row.get::<_, Option<i64>>(0)?.map(Timestamp::from_ms),
            row.get(1)?,
        ))
    })?;
    tx.commit()?;
    Ok((
        Claim {
            claimed,
            next_due_at,
            waiting,
        },
        wal.caught_up(),
    ))
}

/// Claims up to `max` due deliveries, round-robin over the tenants that
/// have due work, starting with the tenant served longest ago, each within
/// its share of the workers.
fn claim_due(tx: &Transaction<'_>, req: &ClaimRequest) -> Result<Vec<Claimed>, StoreError> {
    let tenants = tx
        .prepare_cached(
            "SELECT id, policy FROM tenants t
             WHERE EXISTS (SELECT 1 FROM deliveries d WHERE d.tenant = t.id AND d.due_at <= ?1)
                OR EXISTS (SELECT 1 FROM endpoints e
                           WHERE e.tenant = t.id AND e.waiting_since IS NOT NULL
                                 AND e.paused_at IS NULL)
             ORDER BY claim_seq, id LIMIT ?2",
        )?
        .query_map(params![req.now, req.tenants_to_consider()], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, Option<String>>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut per_tenant = Vec::with_capacity(tenants.len());
    let mut rooms = Vec::with_capacity(tenants.len());
    for (tenant, policy) in tenants {
        let room = rows::room(req, &tenant, policy.as_deref());
        if room == 0 {
            continue;
        }
        // Waiting deliveries first: they are older than any due now.
        let mut found = waiting(tx, &tenant, room, req.now)?;
        let due = tx
            .prepare_cached(DUE)?
            .query_map(params![tenant, req.now, room as i64], |row| {
                Ok((
                    Due {
                        row: (
                            row.get::<_, String>(0)?,
                            row.get::<_, String>(1)?,
                            row.get::<_, i64>(2)?,
                            row.get::<_, Option<i64>>(3)?,
                            row.get::<_, i64>(4)?,
                        ),
                        endpoint: row.get(5)?,
                        limit: row.get(7)?,
                    },
                    row.get::<_, bool>(6)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let (paused, due): (Vec<_>, Vec<_>) = due.into_iter().partition(|(_, paused)| *paused);
        for (Due { row, .. }, _) in paused {
            let (id, status, attempts, started_at, plugin_version) = row;
            if status == DeliveryStatus::Running.as_str() {
                let started_at = started_at.map_or(req.now, Timestamp::from_ms);
                record_lost_attempt(tx, &id, attempts, plugin_version, started_at, req.now)?;
            }
            tx.prepare_cached(PARK)?.execute([&id])?;
        }
        found.extend(due.into_iter().map(|(due, _)| due));
        per_tenant.push((tenant, found));
        rooms.push(room);
    }
    let mut room = HashMap::new();
    for (tenant, endpoint) in limited_endpoints(&per_tenant) {
        let (limit, running) = tx
            .prepare_cached(ROOM)?
            .query_row(params![tenant, endpoint, req.now], |row| {
                Ok((row.get::<_, Option<i64>>(0)?, row.get::<_, i64>(1)?))
            })?;
        room.insert(
            (tenant, endpoint),
            Some(limit.map_or(i64::MAX, |limit| limit - running)),
        );
    }
    let (mut per_tenant, over) = within_limits(per_tenant, room);
    // Waiting deliveries of several endpoints and due ones: no more than
    // the tenant's share; the rest stay as they are.
    for (kept, room) in per_tenant.iter_mut().zip(rooms) {
        kept.truncate(room);
    }
    let mut full = Vec::new();
    for ((id, status, attempts, started_at, plugin_version), tenant, endpoint) in over {
        if status == DeliveryStatus::Waiting.as_str() {
            continue;
        }
        if status == DeliveryStatus::Running.as_str() {
            let started_at = started_at.map_or(req.now, Timestamp::from_ms);
            record_lost_attempt(tx, &id, attempts, plugin_version, started_at, req.now)?;
        }
        tx.prepare_cached(WAIT)?.execute([&id])?;
        if !full.contains(&(tenant.clone(), endpoint.clone())) {
            full.push((tenant, endpoint));
        }
    }
    // An endpoint found full: the rest of its due deliveries among the
    // tenant's oldest go aside at once, so a burst into a serial endpoint
    // leaves the way clear for the tenant's others within a few claims.
    for (tenant, endpoint) in full {
        tx.prepare_cached(WAIT_MORE)?
            .execute(params![tenant, endpoint, req.now])?;
        tx.prepare_cached(
            "UPDATE OR FAIL endpoints SET waiting_since = COALESCE(waiting_since, ?3)
             WHERE tenant = ?1 AND id = ?2",
        )?
        .execute(params![tenant, endpoint, req.now])?;
    }
    let chosen = round_robin(per_tenant, req.max);
    if chosen.is_empty() {
        return Ok(Vec::new());
    }
    // One token per claim: it changes with every claim of a delivery, which
    // is all a completion needs to tell a stale attempt from the current one.
    let lease = LeaseToken::generate();
    let mut update = tx.prepare_cached(
        "UPDATE OR FAIL deliveries SET status = 'running', attempts = attempts + 1,
                                       lease_token = ?1, started_at = ?2, due_at = ?2 + lease_ms
         WHERE id = ?3",
    )?;
    let mut read = tx.prepare_cached(
        "SELECT d.id, d.tenant, endpoint, provider, event_type, headers, body, received_at,
                d.plugin, plugin_version, attempts, run_start, pv.digest
         FROM deliveries d JOIN payloads p ON p.seq = d.seq
              LEFT JOIN plugin_versions pv
                ON pv.tenant = d.tenant AND pv.plugin = d.plugin AND pv.version = d.plugin_version
         WHERE d.id = ?1",
    )?;
    let mut claimed = Vec::with_capacity(chosen.len());
    for (id, status, attempts, started_at, plugin_version) in &chosen {
        if status == DeliveryStatus::Running.as_str() {
            let started_at = started_at.map_or(req.now, Timestamp::from_ms);
            record_lost_attempt(tx, id, *attempts, *plugin_version, started_at, req.now)?;
        }
        update.execute(params![lease.0.as_str(), req.now, id])?;
        let row = read
            .query_row([id], |row| {
                Ok(ClaimedRow {
                    id: row.get(0)?,
                    tenant: row.get(1)?,
                    endpoint: row.get(2)?,
                    provider: row.get(3)?,
                    event_type: row.get(4)?,
                    headers: row.get(5)?,
                    body: row.get(6)?,
                    received_at: Timestamp::from_ms(row.get(7)?),
                    plugin: row.get(8)?,
                    plugin_version: row.get(9)?,
                    attempts: row.get(10)?,
                    run_start: row.get(11)?,
                    plugin_digest: row.get(12)?,
                })
            })
            .optional()?;
        // A delivery without its payload (never written so by this host)
        // stays running with its lease rather than failing every claim.
        let Some(row) = row else {
            tracing::error!(delivery = %id, "a due delivery has no payload; skipped");
            continue;
        };
        claimed.push(row.checked(lease.clone(), req.now)?);
    }
    let mut served: Vec<&str> = Vec::new();
    for c in &claimed {
        if !served.contains(&c.tenant.as_str()) {
            served.push(c.tenant.as_str());
        }
    }
    let mut rotate = tx.prepare_cached(
        "UPDATE OR FAIL tenants SET claim_seq = (SELECT MAX(claim_seq) FROM tenants) + 1
         WHERE id = ?1",
    )?;
    for tenant in served {
        rotate.execute([tenant])?;
    }
    Ok(claimed)
}

/// A tenant's due deliveries, oldest first, with each one's endpoint,
/// whether that is paused, and its concurrency limit.
const DUE: &str = "SELECT d.id, d.status, d.attempts, d.started_at, d.plugin_version, d.endpoint,
                          e.paused_at IS NOT NULL, e.max_concurrent
                   FROM deliveries d LEFT JOIN endpoints e ON e.tenant = d.tenant AND e.id = d.endpoint
                   WHERE d.tenant = ?1 AND d.due_at <= ?2
                   ORDER BY d.due_at LIMIT ?3";

/// Sets aside a due delivery whose endpoint runs as many as its limit: it
/// waits, out of the claims' way, until a claim finds the endpoint with room.
const WAIT: &str =
    "UPDATE OR FAIL deliveries SET status = 'waiting', due_at = NULL, lease_token = NULL
                    WHERE id = ?1";

/// Sets aside the due deliveries of a full endpoint (`?1`, `?2`) among its
/// tenant's 1,000 oldest due: bounded, so it never scans a long queue.
const WAIT_MORE: &str = "UPDATE OR FAIL deliveries SET status = 'waiting', due_at = NULL
                         WHERE seq IN (SELECT seq FROM (SELECT seq, endpoint, status FROM deliveries
                                                        WHERE tenant = ?1 AND due_at <= ?3
                                                        ORDER BY due_at LIMIT 1000)
                                       WHERE endpoint = ?2 AND status IN ('pending', 'retrying'))";

/// The endpoints of a tenant (`?1`) with deliveries waiting for room, not
/// paused, longest waiting first: a few, and each at most 16 per claim.
const WAITING_ENDPOINTS: &str = "SELECT id, max_concurrent FROM endpoints
                                 WHERE tenant = ?1 AND waiting_since IS NOT NULL AND paused_at IS NULL
                                 ORDER BY waiting_since LIMIT 16";

/// An endpoint's oldest waiting deliveries, at most `?3`.
const OLDEST_WAITING: &str =
    "SELECT id, status, attempts, started_at, plugin_version FROM deliveries
                              WHERE tenant = ?1 AND endpoint = ?2 AND status = 'waiting'
                              ORDER BY id LIMIT ?3";

/// A delivery as a claim reads it: id, status, attempts, started_at and
/// plugin version.
type ClaimRow = (String, String, i64, Option<i64>, i64);

/// The waiting deliveries a claim may run for a tenant, at most `room` of
/// each endpoint's, oldest first. An endpoint with none left stops being
/// looked at; one with some goes to the back of the tenant's, so that no
/// more than 16 of them can keep the rest from being looked at.
fn waiting(
    tx: &Transaction<'_>,
    tenant: &str,
    room: usize,
    now: Timestamp,
) -> Result<Vec<Due<ClaimRow>>, StoreError> {
    let endpoints = tx
        .prepare_cached(WAITING_ENDPOINTS)?
        .query_map([tenant], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, Option<i64>>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut found = Vec::new();
    for (endpoint, limit) in endpoints {
        let rows = tx
            .prepare_cached(OLDEST_WAITING)?
            .query_map(params![tenant, endpoint, room as i64], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let looked = (!rows.is_empty()).then_some(now);
        tx.prepare_cached(
            "UPDATE OR FAIL endpoints SET waiting_since = ?3 WHERE tenant = ?1 AND id = ?2",
        )?
        .execute(params![tenant, endpoint, looked])?;
        found.extend(rows.into_iter().map(|row| Due {
            row,
            endpoint: endpoint.clone(),
            limit,
        }));
    }
    Ok(found)
}

/// An endpoint's concurrency limit and how many of its deliveries run under
/// a live lease (one past its lease is due again, its host gone).
// `+r.due_at` keeps SQLite on the small index of running deliveries rather
// than the tenant's due-time index, which holds every scheduled retry.
const ROOM: &str = "SELECT e.max_concurrent,
                           (SELECT COUNT(*) FROM deliveries r
                            WHERE r.tenant = e.tenant AND r.endpoint = e.id
                              AND r.status = 'running' AND +r.due_at > ?3)
                    FROM endpoints e WHERE e.tenant = ?1 AND e.id = ?2";

/// Sets aside a due delivery a claim found whose endpoint is paused (it was
/// accepted by a host that had not heard of the pause yet, or a retry fell
/// due): it waits with the endpoint's other paused deliveries.
const PARK: &str =
    "UPDATE OR FAIL deliveries SET status = 'paused', due_at = NULL, lease_token = NULL
                    WHERE id = ?1";

/// A claim that found its delivery still running: the host that held it died.
fn record_lost_attempt(
    tx: &Transaction<'_>,
    id: &str,
    attempt: i64,
    plugin_version: i64,
    started_at: Timestamp,
    now: Timestamp,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO attempts (delivery_id, attempt, plugin_version, started_at, duration_ms,
                                         outcome, message, logs, logs_truncated, http_calls)
         VALUES (?1, ?2, ?3, ?4, ?5, 'lost',
                 'the host running this attempt stopped before it finished; its lease expired',
                 '[]', 0, '[]')",
    )?
    .execute(params![
        id,
        attempt,
        plugin_version,
        started_at,
        now.since(started_at).as_millis() as i64
    ])?;
    Ok(())
}

/// Runs `body` in a transaction that takes the write lock at once, and
/// commits it; a failure anywhere rolls all of it back. Once an fsync of
/// the log failed, refuses: nothing written could be acknowledged.
fn commit<T>(
    conn: &mut Connection,
    wal: &WalSync,
    body: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
) -> Result<(T, Durable), StoreError> {
    if let Some(failure) = wal.failure() {
        return Err(StoreError::NotDurable(failure));
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let done = body(&tx)?;
    tx.commit()?;
    Ok((done, wal.committed()))
}

/// Finished attempts first with the KV writes of the successes among them,
/// composed into one write per key, then released leases, then new webhooks.
fn write(
    tx: &Transaction<'_>,
    batch: &WriteBatch,
    now: Timestamp,
) -> Result<WriteResults, StoreError> {
    let completed: Vec<bool> = batch
        .completions
        .iter()
        .map(|c| complete(tx, c, now))
        .collect::<Result<_, _>>()?;
    let kv_writes = batch
        .completions
        .iter()
        .zip(&completed)
        .filter(|(_, counted)| **counted)
        .flat_map(|(c, _)| match &c.next {
            Next::Succeeded { namespace, writes } => {
                writes.iter().map(|w| (namespace, w)).collect()
            }
            _ => Vec::new(),
        });
    for (ns, write) in compose(kv_writes) {
        kv(tx, &ns, &write, now)?;
    }
    for (id, lease) in &batch.releases {
        tx.prepare_cached(
            "UPDATE OR FAIL deliveries SET
               status = CASE WHEN attempts - 1 > run_start THEN 'retrying' ELSE 'pending' END,
               attempts = attempts - 1, lease_token = NULL, due_at = ?1
             WHERE id = ?2 AND lease_token = ?3",
        )?
        .execute(params![now, id.as_str(), lease.0.as_str()])?;
    }
    let ingested = batch
        .ingests
        .iter()
        .map(|d| ingest(tx, d))
        .collect::<Result<_, _>>()?;
    Ok(WriteResults {
        completed,
        ingested,
    })
}

/// Stores a webhook and its payload, unless its event id was seen before:
/// then it names the delivery it repeats.
fn ingest(tx: &Transaction<'_>, d: &NewDelivery) -> Result<Ingested, StoreError> {
    let inserted = tx
        .prepare_cached(
            "INSERT OR FAIL INTO deliveries (id, tenant, endpoint, event_id, provider, event_type,
                                     received_at, plugin, plugin_version, lease_ms, status, due_at,
                                     finished_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
             ON CONFLICT (tenant, endpoint, event_id) WHERE event_id IS NOT NULL DO NOTHING",
        )?
        .execute(params![
            d.id.as_str(),
            d.tenant.as_str(),
            d.endpoint.as_str(),
            d.event_id,
            d.provider.as_str(),
            d.event_type,
            d.received_at,
            d.plugin.as_str(),
            d.plugin_version,
            d.lease_ms as i64,
            d.arrival.status().as_str(),
            d.due_at(),
            d.finished_at(),
        ])?;
    if inserted == 0 {
        let existing: String = tx
            .prepare_cached(
                "SELECT id FROM deliveries WHERE tenant = ?1 AND endpoint = ?2 AND event_id = ?3",
            )?
            .query_row(
                params![d.tenant.as_str(), d.endpoint.as_str(), d.event_id],
                |row| row.get(0),
            )?;
        return Ok(Ingested::Duplicate(DeliveryId::from_string(existing)));
    }
    tx.prepare_cached("INSERT OR FAIL INTO payloads (seq, headers, body) VALUES (?1, ?2, ?3)")?
        .execute(params![
            tx.last_insert_rowid(),
            to_json(&d.headers),
            d.body.as_ref()
        ])?;
    Ok(Ingested::Accepted(d.id.clone()))
}

/// Records a finished attempt if its lease still holds: the attempt and
/// the delivery's next state (the caller writes a success's KV writes).
/// Reports whether it counted.
fn complete(tx: &Transaction<'_>, c: &Completion, now: Timestamp) -> Result<bool, StoreError> {
    let seq: Option<i64> = tx
        .prepare_cached("SELECT seq FROM deliveries WHERE id = ?1 AND lease_token = ?2")?
        .query_row(params![c.id.as_str(), c.lease.0.as_str()], |row| row.get(0))
        .optional()?;
    let Some(seq) = seq else {
        return Ok(false);
    };
    let r = &c.record;
    tx.prepare_cached(
        "INSERT OR FAIL INTO attempts (delivery_id, attempt, plugin_version, started_at, duration_ms,
                               outcome, message, logs, logs_truncated, http_calls)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        c.id.as_str(),
        r.attempt,
        r.plugin_version,
        r.started_at,
        r.duration_ms as i64,
        AttemptOutcome::from(&r.outcome).as_str(),
        outcome_message(&r.outcome),
        to_json(&r.logs),
        r.logs_truncated,
        to_json(&r.http_calls),
    ])?;
    let (status, due_at, finished_at) = match &c.next {
        Next::Succeeded { .. } => (DeliveryStatus::Succeeded, None, Some(now)),
        Next::Retry { due_at } => (DeliveryStatus::Retrying, Some(*due_at), None),
        Next::Dead => (DeliveryStatus::Dead, None, Some(now)),
    };
    tx.prepare_cached(
        "UPDATE OR FAIL deliveries SET status = ?1, due_at = ?2, finished_at = ?3, last_error = ?4,
                               lease_token = NULL
         WHERE seq = ?5",
    )?
    .execute(params![
        status.as_str(),
        due_at,
        finished_at,
        outcome_message(&r.outcome),
        seq
    ])?;
    Ok(true)
}

/// One KV write. Values are stored as decimal text for counters; a delta
/// arrives the same way. An increment never fails the batch it is in: a
/// stored value that is not an integer counts as 0 (a `set` raced it), and
/// the sum saturates at the ends of i64 (SQLite's sum overflows into a
/// REAL, which the cast to INTEGER clamps), as the guest's own view did.
fn kv(
    tx: &Transaction<'_>,
    ns: &KvNamespace,
    write: &KvWrite,
    now: Timestamp,
) -> Result<(), StoreError> {
    let (sql, key, value) = match write {
        KvWrite::Delete { key } => {
            tx.prepare_cached("DELETE FROM kv WHERE tenant = ?1 AND plugin = ?2 AND key = ?3")?
                .execute(params![ns.tenant.as_str(), ns.plugin.as_str(), key])?;
            return Ok(());
        }
        KvWrite::Set { key, value } => (
            "INSERT OR FAIL INTO kv (tenant, plugin, key, value, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (tenant, plugin, key) DO UPDATE SET updated_at = excluded.updated_at,
                                                             value = excluded.value",
            key,
            Cow::Borrowed(value.as_slice()),
        ),
        KvWrite::Increment { key, delta } => (
            "INSERT OR FAIL INTO kv (tenant, plugin, key, value, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (tenant, plugin, key) DO UPDATE SET updated_at = excluded.updated_at,
               value = CAST(CAST(CAST(CAST(CAST(kv.value AS TEXT) AS INTEGER)
                                      + CAST(CAST(excluded.value AS TEXT) AS INTEGER) AS INTEGER)
                                 AS TEXT) AS BLOB)",
            key,
            Cow::Owned(delta.to_string().into_bytes()),
        ),
    };
    tx.prepare_cached(sql)?.execute(params![
        ns.tenant.as_str(),
        ns.plugin.as_str(),
        key,
        value,
        now
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::store::testing::{delivery, tenant_with_plugin};
    use crate::store::{AdminStore, Ingested, QueueStore, SqliteStore, WriteBatch};

    async fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db"), crate::store::testing_keys())
            .await
            .unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn a_repeated_event_names_the_delivery_it_repeats_in_its_batch_and_after() {
        let (_dir, store) = store().await;
        let (tenant, plugin) = tenant_with_plugin(&store).await;
        let event = |n: u8| {
            let mut d = delivery(&tenant, &plugin);
            d.event_id = Some(format!("evt_{n}"));
            d
        };
        let (first, second, again) = (event(1), event(2), event(1));
        let first_id = first.id.clone();
        let batch = WriteBatch {
            ingests: vec![first, second, again],
            ..WriteBatch::default()
        };
        let (results, durable) = store.write(batch.into()).await.unwrap();
        durable.wait().await.unwrap();
        assert!(matches!(&results.ingested[..], [
            Ingested::Accepted(a), Ingested::Accepted(_), Ingested::Duplicate(d)
        ] if *a == first_id && *d == first_id));

        let batch = WriteBatch {
            ingests: vec![event(1)],
            ..WriteBatch::default()
        };
        let (results, _) = store.write(batch.into()).await.unwrap();
        assert!(matches!(&results.ingested[..], [Ingested::Duplicate(d)] if *d == first_id));
    }

    #[tokio::test]
    async fn a_batch_failing_midway_leaves_nothing_and_the_next_batch_goes_through() {
        let (_dir, store) = store().await;
        let (tenant, plugin) = tenant_with_plugin(&store).await;
        let first = delivery(&tenant, &plugin);
        let mut same_id = delivery(&tenant, &plugin);
        same_id.id = first.id.clone();
        let id = first.id.clone();
        let failed = store
            .write(std::sync::Arc::new(WriteBatch {
                ingests: vec![first, same_id],
                ..WriteBatch::default()
            }))
            .await;

        assert!(failed.is_err(), "a delivery id is unique");
        assert!(store.delivery(&tenant, &id).await.unwrap().is_none());
        let (results, durable) = store
            .write(std::sync::Arc::new(WriteBatch {
                ingests: vec![delivery(&tenant, &plugin)],
                ..WriteBatch::default()
            }))
            .await
            .unwrap();
        durable.wait().await.unwrap();
        let [Ingested::Accepted(id)] = &results.ingested[..] else {
            panic!("{:?}", results.ingested)
        };
        assert!(store.delivery(&tenant, id).await.unwrap().is_some());
    }
}
