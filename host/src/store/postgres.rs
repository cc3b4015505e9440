//! PostgreSQL, for several hosts on one database: claims lock their rows
//! with `FOR UPDATE SKIP LOCKED`, so hosts never claim the same delivery,
//! and batches go in as arrays (`UNNEST`), one statement per batch.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{ConnectOptions, PgConnection, PgPool};

use super::rows::{self, outcome_message, to_json};
use super::sealing::Keyring;
use super::{
    AttemptOutcome, Claim, ClaimRequest, Claimed, Completion, DeliveryStatus, Durable, Ingested,
    LeaseToken, NewDelivery, Next, QueueStore, StoreError, WriteBatch, WriteResults,
};
use crate::domain::Timestamp;
use crate::ids::DeliveryId;
use crate::runtime::{KvNamespace, KvWrite};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The NOTIFY channel on which a host announces new due work to the others.
const WORK_CHANNEL: &str = "hookhost_work";

/// A PostgreSQL database shared by any number of hosts.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// Batches whose COMMIT (the WAL flush) is under way; see `write`.
    committing: Arc<Semaphore>,
    keys: Arc<Keyring>,
}

/// Batches committing at once, each on a connection of the pool of 16.
const COMMITS_IN_FLIGHT: usize = 4;

/// Advisory locks a batch with KV writes takes at most (a power of two).
const KV_LOCK_BUCKETS: i32 = 64;

/// Runs of a batch that keeps being a deadlock's victim before it fails.
const DEADLOCK_TRIES: u32 = 3;

impl PostgresStore {
    /// Connects with `options` and migrates the schema (migrations take an
    /// advisory lock, so hosts starting together do not race).
    /// `keys` seal the secrets it stores.
    pub async fn connect(
        options: PgConnectOptions,
        keys: Arc<Keyring>,
    ) -> Result<Self, StoreError> {
        let options = options.statement_cache_capacity(256);
        // Migrations may rewrite big tables: they run on a connection of
        // their own, without the statement timeout of the pool.
        MIGRATOR.run(&mut options.connect().await?).await?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            // A database that went away answers 503 quickly rather than
            // letting requests pile up behind a dead connection.
            .acquire_timeout(Duration::from_secs(3))
            .connect_with(with_session_limits(options))
            .await?;
        Ok(Self {
            pool,
            committing: Arc::new(Semaphore::new(COMMITS_IN_FLIGHT)),
            keys,
        })
    }

    /// Connects to `postgres://…`.
    pub async fn open(url: &str, keys: Arc<Keyring>) -> Result<Self, StoreError> {
        Self::connect(url.parse().map_err(StoreError::from)?, keys).await
    }
}

/// Bounds on what one session may hold, unless the operator's URL sets its
/// own: no statement runs longer than 30 s (the longest, a batch of 512
/// ingests or a 1,000-row prune, takes milliseconds), and a transaction left
/// open by a host that hangs or is cut off by the network releases its row
/// locks after 60 s instead of holding claimed rows forever.
fn with_session_limits(options: PgConnectOptions) -> PgConnectOptions {
    let set = options.get_options().unwrap_or_default().to_owned();
    let limits = [
        ("statement_timeout", "30s"),
        ("idle_in_transaction_session_timeout", "60s"),
    ];
    let missing: Vec<_> = limits
        .into_iter()
        .filter(|(name, _)| !set.contains(name))
        .collect();
    if missing.is_empty() {
        return options;
    }
    options.options(missing)
}

impl PostgresStore {
    /// What seals the secrets this store holds.
    fn keys(&self) -> &Keyring {
        &self.keys
    }

    /// Reads and writes share the pool.
    fn admin_reader(&self) -> &PgPool {
        &self.pool
    }

    /// A KV value.
    async fn kv_value(
        &self,
        ns: &crate::runtime::KvNamespace,
        key: &str,
    ) -> Result<Option<Vec<u8>>, crate::runtime::KvReadError> {
        sqlx::query_scalar("SELECT value FROM kv WHERE tenant = $1 AND plugin = $2 AND key = $3")
            .bind(ns.tenant.as_str())
            .bind(ns.plugin.as_str())
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(super::rows::read_error)
    }

    /// A connection of the pool, for a write or a transaction.
    async fn admin_writer(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, StoreError> {
        Ok(self.pool.acquire().await?)
    }
}

super::admin::admin_store! {
    PostgresStore,
    payloads_of_tenant: "DELETE FROM payloads WHERE delivery_id IN (SELECT id FROM deliveries WHERE tenant = $1)",
    payload_join: "JOIN payloads ON delivery_id = id",
    // Keys compare bytewise, as on SQLite, whatever the database's collation.
    kv_keys: "SELECT key FROM kv WHERE tenant = $1 AND plugin = $2 AND starts_with(key, $3)
              ORDER BY key COLLATE \"C\" LIMIT $4",
    // Each row is charged its key, its value and kv::WRITE_OVERHEAD_BYTES.
    kv_usage: "SELECT COALESCE(SUM(octet_length(key) + length(value) + 32), 0)::BIGINT FROM kv WHERE tenant = $1",
    // Another host's claim may be taking the same row.
    lock_row: " FOR UPDATE",
    lock_endpoint: ENDPOINT_LOCK,
    begin: "BEGIN",
}

super::replays::replay_store! {
    PostgresStore,
    lock_row: " FOR UPDATE",
    begin: "BEGIN",
}

super::dashboard::dashboard_store! {
    PostgresStore,
    begin: "BEGIN",
}

super::alerts::alert_store! {
    PostgresStore,
    lock_row: " FOR UPDATE",
    begin: "BEGIN",
    expect_every: "CAST(CAST(e.spec AS jsonb) -> 'alerts' ->> 'expect_every_s' AS BIGINT)",
}

/// KV writes of successful invocations, composed into one per key
/// (`kv_compose`), in three statements at most. An increment never fails
/// the batch it is in: a stored value that is not an integer counts as 0
/// (a `set` raced it), and the sum saturates at the ends of BIGINT, as the
/// guest's own view did.
async fn apply_kv<'a>(
    conn: &mut PgConnection,
    writes: impl IntoIterator<Item = (&'a KvNamespace, &'a KvWrite)>,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    #[derive(Default)]
    struct Columns<T> {
        tenants: Vec<String>,
        plugins: Vec<String>,
        keys: Vec<String>,
        values: Vec<T>,
    }
    impl<T> Columns<T> {
        fn push(&mut self, ns: &KvNamespace, key: String, value: T) {
            self.tenants.push(ns.tenant.to_string());
            self.plugins.push(ns.plugin.to_string());
            self.keys.push(key);
            self.values.push(value);
        }
    }
    let (mut sets, mut deletes, mut increments) = (
        Columns::<Vec<u8>>::default(),
        Columns::<()>::default(),
        Columns::<i64>::default(),
    );
    let composed = super::kv_compose::compose(writes);
    if composed.is_empty() {
        return Ok(());
    }
    // Batches on other hosts may write the same keys: each statement below
    // takes its keys in order, but the three statements come in one order
    // of kinds, so a key set here and incremented there, and another the
    // other way round, would deadlock. Advisory locks on the keys' buckets,
    // taken in one order before any row, make every such pair wait instead.
    // Buckets, not keys: each advisory lock takes an entry of PostgreSQL's
    // shared lock table (64 per connection by default), which a batch of
    // tenants' keys would otherwise exhaust, failing the batch.
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtext('hookhost.kv'), b) FROM (
             SELECT DISTINCT (hashtext(t || '/' || p || '/' || k) & $4) AS b
             FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[]) AS u (t, p, k)
         ) AS buckets ORDER BY b",
    )
    .bind(
        composed
            .iter()
            .map(|(ns, _)| ns.tenant.to_string())
            .collect::<Vec<_>>(),
    )
    .bind(
        composed
            .iter()
            .map(|(ns, _)| ns.plugin.to_string())
            .collect::<Vec<_>>(),
    )
    .bind(
        composed
            .iter()
            .map(|(_, w)| w.key().to_owned())
            .collect::<Vec<_>>(),
    )
    .bind(KV_LOCK_BUCKETS - 1)
    .execute(&mut *conn)
    .await?;
    for (ns, write) in composed {
        match write {
            KvWrite::Set { key, value } => sets.push(&ns, key, value),
            KvWrite::Delete { key } => deletes.push(&ns, key, ()),
            KvWrite::Increment { key, delta } => increments.push(&ns, key, delta),
        }
    }
    if !deletes.keys.is_empty() {
        sqlx::query(
            "DELETE FROM kv USING UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[]) AS d (tenant, plugin, key)
             WHERE kv.tenant = d.tenant AND kv.plugin = d.plugin AND kv.key = d.key",
        )
        .bind(deletes.tenants)
        .bind(deletes.plugins)
        .bind(deletes.keys)
        .execute(&mut *conn)
        .await?;
    }
    if !sets.keys.is_empty() {
        sqlx::query(
            "INSERT INTO kv (tenant, plugin, key, value, updated_at)
             SELECT tenant, plugin, key, value, $5
             FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::BYTEA[]) AS s (tenant, plugin, key, value)
             ON CONFLICT (tenant, plugin, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(sets.tenants)
        .bind(sets.plugins)
        .bind(sets.keys)
        .bind(sets.values)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    if !increments.keys.is_empty() {
        sqlx::query(
            "INSERT INTO kv (tenant, plugin, key, value, updated_at)
             SELECT tenant, plugin, key, convert_to(delta::TEXT, 'UTF8'), $5
             FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[]) AS i (tenant, plugin, key, delta)
             ON CONFLICT (tenant, plugin, key) DO UPDATE SET
               value = convert_to(LEAST(GREATEST(
                 COALESCE(substring(encode(kv.value, 'escape')
                                    FROM '^[[:space:]]*([-+]?[0-9]{1,19})[[:space:]]*$')::NUMERIC, 0)
                   + convert_from(excluded.value, 'UTF8')::NUMERIC,
                 -9223372036854775808), 9223372036854775807)::BIGINT::TEXT, 'UTF8'),
               updated_at = excluded.updated_at",
        )
        .bind(increments.tenants)
        .bind(increments.plugins)
        .bind(increments.keys)
        .bind(increments.values)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn ingest(
    conn: &mut PgConnection,
    deliveries: &[NewDelivery],
) -> Result<Vec<Ingested>, StoreError> {
    if deliveries.is_empty() {
        return Ok(Vec::new());
    }
    let inserted: HashSet<String> = sqlx::query_scalar(
        "WITH d AS (
             SELECT * FROM UNNEST(
                 $1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::TEXT[],
                 $8::BYTEA[], $9::BIGINT[], $10::TEXT[], $11::BIGINT[], $12::BIGINT[],
                 $13::TEXT[], $14::BIGINT[], $15::BIGINT[])
               AS d (id, tenant, endpoint, event_id, provider, event_type, headers, body,
                     received_at, plugin, plugin_version, lease_ms, status, due_at, finished_at)
         ), accepted AS (
             INSERT INTO deliveries (id, tenant, endpoint, event_id, provider, event_type,
                                     received_at, plugin, plugin_version, lease_ms, status, due_at,
                                     finished_at)
             SELECT id, tenant, endpoint, event_id, provider, event_type, received_at, plugin,
                    plugin_version, lease_ms, status, due_at, finished_at
             FROM d
             ON CONFLICT (tenant, endpoint, event_id) WHERE event_id IS NOT NULL DO NOTHING
             RETURNING id
         ), payloads AS (
             INSERT INTO payloads (delivery_id, headers, body)
             SELECT d.id, d.headers, d.body FROM d JOIN accepted USING (id)
         )
         SELECT id FROM accepted",
    )
    .bind(
        deliveries
            .iter()
            .map(|d| d.id.to_string())
            .collect::<Vec<_>>(),
    )
    .bind(
        deliveries
            .iter()
            .map(|d| d.tenant.to_string())
            .collect::<Vec<_>>(),
    )
    .bind(
        deliveries
            .iter()
            .map(|d| d.endpoint.to_string())
            .collect::<Vec<_>>(),
    )
    .bind(
        deliveries
            .iter()
            .map(|d| d.event_id.clone())
            .collect::<Vec<_>>(),
    )
    .bind(
        deliveries
            .iter()
            .map(|d| d.provider.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        deliveries
            .iter()
            .map(|d| d.event_type.clone())
            .collect::<Vec<_>>(),
    )
    .bind(
        deliveries
            .iter()
            .map(|d| to_json(&d.headers))
            .collect::<Vec<_>>(),
    )
    .bind(
        deliveries
            .iter()
            .map(|d| d.body.to_vec())
            .collect::<Vec<_>>(),
    )
    .bind(deliveries.iter().map(|d| d.received_at).collect::<Vec<_>>())
    .bind(
        deliveries
            .iter()
            .map(|d| d.plugin.to_string())
            .collect::<Vec<_>>(),
    )
    .bind(
        deliveries
            .iter()
            .map(|d| d.plugin_version as i64)
            .collect::<Vec<_>>(),
    )
    .bind(
        deliveries
            .iter()
            .map(|d| d.lease_ms as i64)
            .collect::<Vec<_>>(),
    )
    .bind(
        deliveries
            .iter()
            .map(|d| d.arrival.status().as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        deliveries
            .iter()
            .map(NewDelivery::due_at)
            .collect::<Vec<_>>(),
    )
    .bind(
        deliveries
            .iter()
            .map(NewDelivery::finished_at)
            .collect::<Vec<_>>(),
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .collect();
    let mut results = Vec::with_capacity(deliveries.len());
    for d in deliveries {
        if inserted.contains(d.id.as_str()) {
            results.push(Ingested::Accepted(d.id.clone()));
            continue;
        }
        let existing: String = sqlx::query_scalar(
            "SELECT id FROM deliveries WHERE tenant = $1 AND endpoint = $2 AND event_id = $3",
        )
        .bind(d.tenant.as_str())
        .bind(d.endpoint.as_str())
        .bind(d.event_id.as_deref())
        .fetch_one(&mut *conn)
        .await?;
        results.push(Ingested::Duplicate(DeliveryId::from_string(existing)));
    }
    Ok(results)
}

async fn complete(
    conn: &mut PgConnection,
    completions: &[Completion],
    now: Timestamp,
) -> Result<Vec<bool>, StoreError> {
    if completions.is_empty() {
        return Ok(Vec::new());
    }
    let mut statuses = Vec::new();
    let mut due = Vec::new();
    let mut finished = Vec::new();
    for c in completions {
        let (status, due_at, finished_at) = match &c.next {
            Next::Succeeded { .. } => (DeliveryStatus::Succeeded, None, Some(now)),
            Next::Retry { due_at } => (DeliveryStatus::Retrying, Some(*due_at), None),
            Next::Dead => (DeliveryStatus::Dead, None, Some(now)),
        };
        statuses.push(status.as_str());
        due.push(due_at);
        finished.push(finished_at);
    }
    let applied: HashSet<String> = sqlx::query_scalar(
        "UPDATE deliveries d SET status = c.status, due_at = c.due_at, finished_at = c.finished_at,
                                 last_error = c.last_error, lease_token = NULL
         FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::BIGINT[], $6::TEXT[])
           AS c (id, lease, status, due_at, finished_at, last_error)
         WHERE d.id = c.id AND d.lease_token = c.lease
         RETURNING d.id",
    )
    .bind(
        completions
            .iter()
            .map(|c| c.id.to_string())
            .collect::<Vec<_>>(),
    )
    .bind(
        completions
            .iter()
            .map(|c| c.lease.0.clone())
            .collect::<Vec<_>>(),
    )
    .bind(statuses)
    .bind(due)
    .bind(finished)
    .bind(
        completions
            .iter()
            .map(|c| outcome_message(&c.record.outcome))
            .collect::<Vec<_>>(),
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .collect();
    let counted: Vec<&Completion> = completions
        .iter()
        .filter(|c| applied.contains(c.id.as_str()))
        .collect();
    if !counted.is_empty() {
        sqlx::query(
            "INSERT INTO attempts (delivery_id, attempt, plugin_version, started_at, duration_ms,
                                   outcome, message, logs, logs_truncated, http_calls)
             SELECT * FROM UNNEST($1::TEXT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[], $5::BIGINT[],
                                  $6::TEXT[], $7::TEXT[], $8::TEXT[], $9::BOOLEAN[], $10::TEXT[])",
        )
        .bind(counted.iter().map(|c| c.id.to_string()).collect::<Vec<_>>())
        .bind(counted.iter().map(|c| c.record.attempt as i64).collect::<Vec<_>>())
        .bind(counted.iter().map(|c| c.record.plugin_version as i64).collect::<Vec<_>>())
        .bind(counted.iter().map(|c| c.record.started_at).collect::<Vec<_>>())
        .bind(counted.iter().map(|c| c.record.duration_ms as i64).collect::<Vec<_>>())
        .bind(counted.iter().map(|c| AttemptOutcome::from(&c.record.outcome).as_str()).collect::<Vec<_>>())
        .bind(counted.iter().map(|c| outcome_message(&c.record.outcome)).collect::<Vec<_>>())
        .bind(counted.iter().map(|c| to_json(&c.record.logs)).collect::<Vec<_>>())
        .bind(counted.iter().map(|c| c.record.logs_truncated).collect::<Vec<_>>())
        .bind(counted.iter().map(|c| to_json(&c.record.http_calls)).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    }
    let kv_writes = counted.iter().flat_map(|c| match &c.next {
        Next::Succeeded { namespace, writes } => writes.iter().map(|w| (namespace, w)).collect(),
        _ => Vec::new(),
    });
    apply_kv(conn, kv_writes, now).await?;
    Ok(completions
        .iter()
        .map(|c| applied.contains(c.id.as_str()))
        .collect())
}

/// The advisory lock of an endpoint (`$1` tenant, `$2` endpoint), one of
/// 1,024 buckets as the KV's are, so no tenant can make a claim take more
/// locks than it has limited endpoints in hand, or pick whose it shares.
/// Claims only try it (`ENDPOINT_TRY_LOCK`) and never wait, so no lock
/// order can deadlock them; deleting an endpoint waits for it.
const ENDPOINT_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtext('hookhost.endpoint'),
                                                          hashtext($1 || '/' || $2) & 1023)";

/// [`ENDPOINT_LOCK`] if no other transaction holds it: whether it was taken.
const ENDPOINT_TRY_LOCK: &str = "SELECT pg_try_advisory_xact_lock(hashtext('hookhost.endpoint'),
                                                                  hashtext($1 || '/' || $2) & 1023)";

/// Claims up to `max` due deliveries, round-robin over tenants with due
/// work; rows another host has locked are skipped, not waited for.
async fn claim_due(conn: &mut PgConnection, req: ClaimRequest) -> Result<Vec<Claimed>, StoreError> {
    let tenants: Vec<(String, Option<String>, bool)> = sqlx::query_as(
        "SELECT id, policy, has_waiting FROM (
             SELECT id, policy, claim_seq,
                    EXISTS (SELECT 1 FROM endpoints e WHERE e.tenant = t.id
                            AND e.waiting_since IS NOT NULL AND e.paused_at IS NULL) AS has_waiting
             FROM tenants t) t
         WHERE has_waiting
            OR EXISTS (SELECT 1 FROM deliveries d WHERE d.tenant = t.id AND d.due_at <= $1)
         ORDER BY claim_seq, id LIMIT $2",
    )
    .bind(req.now)
    .bind(req.tenants_to_consider())
    .fetch_all(&mut *conn)
    .await?;
    let mut per_tenant = Vec::with_capacity(tenants.len());
    let mut rooms = Vec::with_capacity(tenants.len());
    let mut flagged = Vec::new();
    for (tenant, policy, has_waiting) in tenants {
        let room = rows::room(&req, &tenant, policy.as_deref());
        if room == 0 {
            continue;
        }
        // Waiting deliveries first: they are older than any due now. Locked
        // as read, skipping those another claim is taking: one it has taken
        // since this statement began is no longer `waiting`, and is not
        // returned.
        let mut found = Vec::new();
        let endpoints: Vec<(String, Option<i64>)> = if !has_waiting {
            Vec::new()
        } else {
            sqlx::query_as(
                "SELECT id, max_concurrent FROM endpoints
             WHERE tenant = $1 AND waiting_since IS NOT NULL AND paused_at IS NULL
             ORDER BY waiting_since LIMIT 16",
            )
            .bind(&tenant)
            .fetch_all(&mut *conn)
            .await?
        };
        for (endpoint, limit) in endpoints {
            let rows: Vec<(String, String, i64, Option<Timestamp>, i64)> = sqlx::query_as(
                "SELECT id, status, attempts, started_at, plugin_version FROM deliveries
                 WHERE tenant = $1 AND endpoint = $2 AND status = 'waiting'
                 ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED",
            )
            .bind(&tenant)
            .bind(&endpoint)
            .bind(room as i64)
            .fetch_all(&mut *conn)
            .await?;
            found.extend(rows.into_iter().map(|row| super::Due {
                row,
                endpoint: endpoint.clone(),
                limit,
            }));
            flagged.push((tenant.clone(), endpoint));
        }
        type Row = (
            String,
            String,
            i64,
            Option<Timestamp>,
            i64,
            String,
            bool,
            Option<i64>,
        );
        let due: Vec<Row> = sqlx::query_as(
            "SELECT d.id, d.status, d.attempts, d.started_at, d.plugin_version, d.endpoint,
                    e.paused_at IS NOT NULL, e.max_concurrent
             FROM deliveries d LEFT JOIN endpoints e ON e.tenant = d.tenant AND e.id = d.endpoint
             WHERE d.tenant = $1 AND d.due_at <= $2
             ORDER BY d.due_at LIMIT $3
             FOR UPDATE OF d SKIP LOCKED",
        )
        .bind(&tenant)
        .bind(req.now)
        .bind(room as i64)
        .fetch_all(&mut *conn)
        .await?;
        let (paused, due): (Vec<_>, Vec<_>) = due.into_iter().partition(|row| row.6);
        for (id, status, attempts, started_at, plugin_version, ..) in &paused {
            if status == DeliveryStatus::Running.as_str() {
                record_lost_attempt(conn, id, *attempts, *plugin_version, *started_at, req.now)
                    .await?;
            }
        }
        if !paused.is_empty() {
            // Due while its endpoint is paused: it waits with the endpoint's
            // others. The endpoint is read again under a share lock, so a
            // resume committing meanwhile either waits for this claim (and
            // then finds these rows) or is seen here (and nothing is set
            // aside); a row left alone stays due for the next claim.
            sqlx::query(
                "UPDATE deliveries d SET status = 'paused', due_at = NULL, lease_token = NULL
                 WHERE id = ANY($1)
                   AND EXISTS (SELECT 1 FROM endpoints e WHERE e.tenant = d.tenant
                               AND e.id = d.endpoint AND e.paused_at IS NOT NULL FOR SHARE)",
            )
            .bind(paused.into_iter().map(|row| row.0).collect::<Vec<_>>())
            .execute(&mut *conn)
            .await?;
        }
        found.extend(due.into_iter().map(
            |(id, status, attempts, started_at, version, endpoint, _, limit)| super::Due {
                row: (id, status, attempts, started_at, version),
                endpoint,
                limit,
            },
        ));
        per_tenant.push((tenant, found));
        rooms.push(room);
    }
    // Claims on several hosts could each see an endpoint below its limit
    // and together take it past, or one could set deliveries aside as
    // another finds none left and stops looking. So each claim counts an
    // endpoint's running deliveries only holding its advisory lock, in a
    // statement after taking it (which, under READ COMMITTED, sees what the
    // claim before it committed). Claims only try the lock: one held
    // elsewhere leaves the endpoint's deliveries as they are, for the next
    // claim, so no claim ever waits on another, or on an admin write.
    let mut room = HashMap::new();
    let mut limited: Vec<(String, String)> =
        super::limited_endpoints(&per_tenant).into_iter().collect();
    limited.extend(flagged);
    limited.sort();
    limited.dedup();
    for (tenant, endpoint) in limited {
        let taken: bool = sqlx::query_scalar(ENDPOINT_TRY_LOCK)
            .bind(&tenant)
            .bind(&endpoint)
            .fetch_one(&mut *conn)
            .await?;
        if !taken {
            room.insert((tenant, endpoint), None);
            continue;
        }
        let (limit, running): (Option<i64>, i64) = sqlx::query_as(
            "SELECT (SELECT max_concurrent FROM endpoints WHERE tenant = $1 AND id = $2),
                    (SELECT COUNT(*) FROM deliveries
                     WHERE tenant = $1 AND endpoint = $2 AND status = 'running' AND due_at > $3)",
        )
        .bind(&tenant)
        .bind(&endpoint)
        .bind(req.now)
        .fetch_one(&mut *conn)
        .await?;
        // Seen under the lock: none waiting, stop looking at the endpoint;
        // some, it goes to the back of its tenant's, so that no more than
        // 16 of them can keep the rest from being looked at.
        sqlx::query(
            "UPDATE endpoints
             SET waiting_since = CASE WHEN EXISTS (SELECT 1 FROM deliveries
                                                   WHERE tenant = $1 AND endpoint = $2
                                                     AND status = 'waiting')
                                      THEN $3 END
             WHERE tenant = $1 AND id = $2 AND waiting_since IS NOT NULL",
        )
        .bind(&tenant)
        .bind(&endpoint)
        .bind(req.now)
        .execute(&mut *conn)
        .await?;
        room.insert(
            (tenant, endpoint),
            Some(limit.map_or(i64::MAX, |limit| limit - running)),
        );
    }
    let (mut per_tenant, over) = super::within_limits(per_tenant, room);
    // Waiting deliveries of several endpoints and due ones: no more than
    // the tenant's share; the rest stay as they are.
    for (kept, room) in per_tenant.iter_mut().zip(rooms) {
        kept.truncate(room);
    }
    let mut full: Vec<(String, String)> = Vec::new();
    let mut set_aside = Vec::new();
    for ((id, status, attempts, started_at, plugin_version), tenant, endpoint) in over {
        if status == DeliveryStatus::Waiting.as_str() {
            continue;
        }
        if status == DeliveryStatus::Running.as_str() {
            record_lost_attempt(conn, &id, attempts, plugin_version, started_at, req.now).await?;
        }
        set_aside.push(id);
        if !full.contains(&(tenant.clone(), endpoint.clone())) {
            full.push((tenant, endpoint));
        }
    }
    if !set_aside.is_empty() {
        sqlx::query(
            "UPDATE deliveries SET status = 'waiting', due_at = NULL, lease_token = NULL
             WHERE id = ANY($1)",
        )
        .bind(set_aside)
        .execute(&mut *conn)
        .await?;
    }
    // An endpoint found full: the rest of its due deliveries among the
    // tenant's oldest go aside at once, so a burst into a serial endpoint
    // leaves the way clear for the tenant's others within a few claims.
    for (tenant, endpoint) in full {
        sqlx::query(
            "WITH head AS (SELECT id FROM deliveries WHERE tenant = $1 AND due_at <= $3
                           ORDER BY due_at LIMIT 1000),
                  mine AS (SELECT d.id FROM deliveries d JOIN head USING (id)
                           WHERE d.endpoint = $2 AND d.status IN ('pending', 'retrying')
                             AND d.due_at <= $3
                           FOR UPDATE OF d SKIP LOCKED)
             UPDATE deliveries SET status = 'waiting', due_at = NULL FROM mine
             WHERE deliveries.id = mine.id",
        )
        .bind(&tenant)
        .bind(&endpoint)
        .bind(req.now)
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "UPDATE endpoints SET waiting_since = COALESCE(waiting_since, $3)
             WHERE tenant = $1 AND id = $2",
        )
        .bind(&tenant)
        .bind(&endpoint)
        .bind(req.now)
        .execute(&mut *conn)
        .await?;
    }
    let chosen = super::round_robin(per_tenant, req.max);
    if chosen.is_empty() {
        return Ok(Vec::new());
    }
    for (id, status, attempts, started_at, plugin_version) in &chosen {
        if status == DeliveryStatus::Running.as_str() {
            record_lost_attempt(conn, id, *attempts, *plugin_version, *started_at, req.now).await?;
        }
    }
    let lease = LeaseToken::generate();
    let ids: Vec<String> = chosen.iter().map(|(id, ..)| id.clone()).collect();
    let rows = sqlx::query(
        "WITH c AS (
             UPDATE deliveries SET status = 'running', attempts = attempts + 1, lease_token = $1,
                                   started_at = $2, due_at = $2 + lease_ms
             WHERE id = ANY($3)
             RETURNING id, tenant, endpoint, provider, event_type, received_at, plugin,
                       plugin_version, attempts, run_start
         )
         SELECT c.*, p.headers, p.body, pv.digest AS plugin_digest
         FROM c JOIN payloads p ON p.delivery_id = c.id
                LEFT JOIN plugin_versions pv
                  ON pv.tenant = c.tenant AND pv.plugin = c.plugin AND pv.version = c.plugin_version",
    )
    .bind(lease.0.as_str())
    .bind(req.now)
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
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
        sqlx::query("UPDATE tenants SET claim_seq = nextval('tenant_claim_seq') WHERE id = $1")
            .bind(tenant)
            .execute(&mut *conn)
            .await?;
    }
    Ok(claimed)
}

/// A claim that found its delivery still running: the host that held it died.
async fn record_lost_attempt(
    conn: &mut PgConnection,
    id: &str,
    attempt: i64,
    plugin_version: i64,
    started_at: Option<Timestamp>,
    now: Timestamp,
) -> Result<(), StoreError> {
    let started_at = started_at.unwrap_or(now);
    sqlx::query(
        "INSERT INTO attempts (delivery_id, attempt, plugin_version, started_at, duration_ms,
                               outcome, message, logs, logs_truncated, http_calls)
         VALUES ($1, $2, $3, $4, $5, 'lost',
                 'the host running this attempt stopped before it finished; its lease expired',
                 '[]', FALSE, '[]')
         ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(attempt)
    .bind(plugin_version)
    .bind(started_at)
    .bind(now.since(started_at).as_millis() as i64)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A batch's statements in a transaction, left for the caller to commit.
/// It sends no NOTIFY: PostgreSQL makes transactions that notify commit one
/// at a time, WAL flush included (a lock held from before the commit until
/// after it), which would undo `write`'s overlapping commits.
async fn write_batch(
    pool: &PgPool,
    batch: &WriteBatch,
) -> Result<(WriteResults, sqlx::Transaction<'static, sqlx::Postgres>), StoreError> {
    let now = Timestamp::now();
    let mut results = WriteResults::default();
    let mut tx = pool.begin().await?;
    results.completed = complete(&mut tx, &batch.completions, now).await?;
    results.ingested = ingest(&mut tx, &batch.ingests).await?;
    for (id, lease) in &batch.releases {
        sqlx::query(
            "UPDATE deliveries SET
                   status = CASE WHEN attempts - 1 > run_start THEN 'retrying' ELSE 'pending' END,
                   attempts = attempts - 1, due_at = $1, lease_token = NULL
                 WHERE id = $2 AND lease_token = $3",
        )
        .bind(now)
        .bind(id.as_str())
        .bind(lease.0.as_str())
        .execute(&mut *tx)
        .await?;
    }
    Ok((results, tx))
}

#[async_trait::async_trait]
impl QueueStore for PostgresStore {
    /// The batch's statements run here; its COMMIT, which returns once the
    /// WAL is flushed (`synchronous_commit = on`), runs on a task of its own
    /// that the [`Durable`] waits for, so the committer goes on with the next
    /// batch on another connection meanwhile and PostgreSQL flushes several
    /// commits at once. Until then the batch is invisible to every other
    /// transaction, claims included. A batch chosen as a deadlock's victim
    /// (two batches' KV writes meeting on the same keys) is run again.
    async fn write(&self, batch: Arc<WriteBatch>) -> Result<(WriteResults, Durable), StoreError> {
        let committing = self
            .committing
            .clone()
            .acquire_owned()
            .await
            .expect("never closed");
        let mut tries = 0;
        let (results, tx) = loop {
            tries += 1;
            match write_batch(&self.pool, &batch).await {
                Err(e) if e.is_deadlock() && tries < DEADLOCK_TRIES => {
                    tracing::debug!(error = %e, "a batch was a deadlock's victim; writing it again");
                }
                done => break done?,
            }
        };
        // Other hosts hear of new work once it is committed; should the
        // notification be lost, they find the work when they next poll.
        let wake_others = results
            .ingested
            .iter()
            .any(|i| matches!(i, Ingested::Accepted(_)))
            || !batch.releases.is_empty();
        let pool = self.pool.clone();
        let (committed, outcome) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let result = tx.commit().await.map_err(StoreError::from);
            let notify = wake_others && result.is_ok();
            let _ = committed.send(result);
            // Still within the batch's place among those in flight, so the
            // notifications take no more connections than the commits.
            if notify
                && let Err(e) = sqlx::query("SELECT pg_notify($1, '')")
                    .bind(WORK_CHANNEL)
                    .execute(&pool)
                    .await
            {
                tracing::debug!(error = %e, "could not tell other hosts of new work; they poll");
            }
            drop(committing);
        });
        let durable = Durable::after(async move {
            outcome.await.unwrap_or_else(|_| {
                Err(StoreError::NotDurable(
                    "the task committing a batch stopped".into(),
                ))
            })
        });
        Ok((results, durable))
    }

    async fn heartbeat(&self, host: &str) -> Result<u32, StoreError> {
        // On the database's clock, so hosts whose clocks disagree still
        // agree on who is alive.
        let live: i64 = sqlx::query_scalar(
            "WITH now AS (
                 SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT) AS ms
             ), beat AS (
                 INSERT INTO hosts (id, seen_at) SELECT $1, ms FROM now
                 ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at
             ), gone AS (
                 DELETE FROM hosts WHERE seen_at < (SELECT ms FROM now) - 3600000
             )
             SELECT 1 + COUNT(*) FROM hosts, now WHERE seen_at >= now.ms - $2 AND id <> $1",
        )
        .bind(host)
        .bind(super::HOST_ALIVE.as_millis() as i64)
        .fetch_one(&self.pool)
        .await?;
        Ok(u32::try_from(live).unwrap_or(u32::MAX))
    }

    async fn claim(&self, req: ClaimRequest) -> Result<(Claim, Durable), StoreError> {
        let mut tx = self.pool.begin().await?;
        // Committed without waiting for the WAL flush (see `Store::claim`);
        // this also keeps the tenants' rows locked for less time.
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(&mut *tx)
            .await?;
        let claimed = claim_due(&mut tx, req).await?;
        let (next_due_at, waiting) = sqlx::query_as(super::NEXT_WORK).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        // Every write it could see was committed, and so flushed, already.
        let claim = Claim {
            claimed,
            next_due_at,
            waiting,
        };
        Ok((claim, Durable::arrived()))
    }

    async fn prune_bodies(&self, finished_before: Timestamp) -> Result<u64, StoreError> {
        let mut pruned = 0;
        loop {
            let done: i64 = sqlx::query_scalar(
                "WITH pruned AS (
                     UPDATE deliveries SET body_pruned = TRUE WHERE id IN (
                       SELECT id FROM deliveries
                       WHERE status IN ('succeeded', 'filtered') AND NOT body_pruned AND finished_at < $1
                       LIMIT 1000)
                     RETURNING id
                 ), emptied AS (
                     UPDATE payloads SET body = NULL
                     WHERE delivery_id IN (SELECT id FROM pruned)
                 )
                 SELECT COUNT(*) FROM pruned",
            )
            .bind(finished_before)
            .fetch_one(&self.pool)
            .await?;
            pruned += done as u64;
            if done < 1000 {
                return Ok(pruned);
            }
        }
    }

    async fn listen_for_work(&self, wake: Arc<Notify>, stop: CancellationToken) {
        loop {
            let listener = tokio::select! {
                _ = stop.cancelled() => return,
                l = PgListener::connect_with(&self.pool) => l,
            };
            let listening = match listener {
                Ok(mut listener) => match listener.listen(WORK_CHANNEL).await {
                    Ok(()) => Ok(listener),
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            };
            match listening {
                Ok(mut listener) => {
                    // Work committed while nobody listened raised no notification.
                    wake.notify_one();
                    loop {
                        // Ok(None): the connection dropped and was re-established;
                        // notifications may have been missed, so wake anyway.
                        tokio::select! {
                            _ = stop.cancelled() => return,
                            n = listener.try_recv() => match n {
                                Ok(_) => wake.notify_one(),
                                Err(_) => break,
                            },
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot listen for work; polling meanwhile"),
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    async fn commit_kv(&self, ns: &KvNamespace, writes: &[KvWrite]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        apply_kv(&mut tx, writes.iter().map(|w| (ns, w)), Timestamp::now()).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_get_a_statement_timeout_and_an_idle_transaction_timeout() {
        let options: PgConnectOptions = "postgres://h/db".parse().unwrap();
        assert_eq!(
            with_session_limits(options).get_options(),
            Some("-c statement_timeout=30s -c idle_in_transaction_session_timeout=60s")
        );
    }

    #[test]
    fn limits_the_operator_set_in_the_url_are_kept() {
        let options: PgConnectOptions = "postgres://h/db?options=-c%20statement_timeout%3D5min"
            .parse()
            .unwrap();
        assert_eq!(
            with_session_limits(options).get_options(),
            Some("-c statement_timeout=5min -c idle_in_transaction_session_timeout=60s")
        );
    }
}
