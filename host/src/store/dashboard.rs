//! What the dashboard keeps and reads beyond the admin API: its sign-in
//! sessions, and recent traffic aggregated per endpoint. Written once for
//! both backends, as `admin.rs` is.
//!
//! Traffic is counted from the deliveries themselves, not from counters kept
//! on the hot path: the last day's deliveries are found through the
//! (tenant, id) index, since ids begin with their creation time, and at most
//! [`TRAFFIC_SCAN`] of them are read, newest first, once for the counts of
//! both windows (the day by hour, its last hour by minute) and once for
//! their latency, so however busy a tenant is, one look at its overview
//! costs a bounded read.

use super::{DeliveryStatus, StoreError};
use crate::domain::Timestamp;
use crate::ids::{EndpointId, TenantId};

/// Most sessions one tenant (or the operator) keeps; signing in beyond this
/// ends the oldest, so no key, nor a tenant rotating its key, can fill the
/// table however often it signs in.
pub const MAX_SESSIONS_PER_KEY: i64 = 16;

/// Most deliveries one traffic read takes, newest first.
pub const TRAFFIC_SCAN: i64 = 100_000;

/// Upper bounds of the end-to-end latency buckets, in ms; the last bucket
/// holds everything slower.
pub const LATENCY_BOUNDS_MS: [i64; 16] = [
    10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000, 900_000,
    3_600_000, 86_400_000,
];

/// A session to store.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// SHA-256 of the cookie's value; the value itself is never stored.
    pub id_hash: String,
    /// The tenant signed in, or `None` for the operator.
    pub tenant: Option<TenantId>,
    /// SHA-256 of the credential signed in with.
    pub key_hash: String,
    /// The token every form of the session carries.
    pub csrf: String,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it ends.
    pub expires_at: Timestamp,
}

/// A stored session, unexpired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The tenant signed in, or `None` for the operator.
    pub tenant: Option<TenantId>,
    /// SHA-256 of the credential signed in with.
    pub key_hash: String,
    /// The token every form of the session carries.
    pub csrf: String,
}

/// Deliveries of one endpoint received in one minute of the last hour, or
/// one hour of the day before it, by their status now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrafficCount {
    /// The endpoint.
    pub endpoint: EndpointId,
    /// The hour of the day: 0 is the day's first.
    pub hour: u32,
    /// The minute of the last hour, for those received in it.
    pub minute: Option<u32>,
    /// Their status now.
    pub status: DeliveryStatus,
    /// How many.
    pub count: u64,
}

/// The succeeded deliveries of one endpoint in one latency bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatencyCount {
    /// The endpoint.
    pub endpoint: EndpointId,
    /// The bucket, an index of [`LATENCY_BOUNDS_MS`] (or past its end).
    pub bucket: usize,
    /// Whether they were received in the last hour.
    pub last_hour: bool,
    /// How many.
    pub count: u64,
}

/// The last day's traffic.
#[derive(Debug, Clone, Default)]
pub struct Traffic {
    /// Counts per endpoint, hour, minute and status.
    pub counts: Vec<TrafficCount>,
    /// Succeeded deliveries per endpoint and latency bucket.
    pub latency: Vec<LatencyCount>,
    /// Where the read stopped when the day held more than
    /// [`TRAFFIC_SCAN`] deliveries: the counts cover only those received
    /// since then.
    pub cut_at: Option<Timestamp>,
}

/// The dashboard's half of the store.
#[async_trait::async_trait]
pub trait DashboardStore: Send + Sync + 'static {
    /// Stores a session, ending the tenant's (or the operator's) oldest ones beyond
    /// [`MAX_SESSIONS_PER_KEY`] and every expired one.
    async fn create_session(&self, session: &NewSession) -> Result<(), StoreError>;

    /// The session of a cookie, unless it has expired.
    async fn session(&self, id_hash: &str, now: Timestamp) -> Result<Option<Session>, StoreError>;

    /// Ends a session.
    async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError>;

    /// A tenant's deliveries received since `day`, counted per endpoint,
    /// hour, minute (from `hour` on) and status, and their end-to-end latency.
    async fn traffic(
        &self,
        tenant: &TenantId,
        day: Timestamp,
        hour: Timestamp,
    ) -> Result<Traffic, StoreError>;

    /// Each of a tenant's endpoints' unfinished deliveries.
    async fn depth_by_endpoint(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<(EndpointId, u64)>, StoreError>;

    /// Per tenant, the attempts made on deliveries received since `since`
    /// (of at most [`TRAFFIC_SCAN`] of them, newest first).
    async fn attempts_since(&self, since: Timestamp) -> Result<Vec<(TenantId, u64)>, StoreError>;
}

/// The latency bucket of a delivery's `finished_at - received_at`, as SQL.
fn latency_case() -> String {
    let mut case = String::from("CASE");
    for (i, bound) in LATENCY_BOUNDS_MS.iter().enumerate() {
        case.push_str(&format!(
            " WHEN finished_at - received_at <= {bound} THEN {i}"
        ));
    }
    case.push_str(&format!(" ELSE {} END", LATENCY_BOUNDS_MS.len()));
    case
}

/// The day's deliveries, newest first and at most [`TRAFFIC_SCAN`]:
/// binds tenant `$1`, the id floor `$2` and the scan `$3`; `$4` is the
/// day's start and `$5` the last hour's.
const RECENT: &str = "(SELECT endpoint, status, received_at, finished_at FROM deliveries
                        WHERE tenant = $1 AND id >= $2 ORDER BY id DESC LIMIT $3) AS recent";

pub(super) fn traffic_sql() -> String {
    format!(
        "SELECT endpoint, CAST((received_at - $4) / 3600000 AS BIGINT),
                CAST(CASE WHEN received_at >= $5 THEN (received_at - $5) / 60000 END AS BIGINT),
                status, COUNT(*), MIN(received_at)
         FROM {RECENT} WHERE received_at >= $4 GROUP BY 1, 2, 3, 4"
    )
}

pub(super) fn latency_sql() -> String {
    format!(
        "SELECT endpoint, CAST({} AS BIGINT), CAST(CASE WHEN received_at >= $5 THEN 1 ELSE 0 END AS BIGINT),
                COUNT(*)
         FROM {RECENT} WHERE status = 'succeeded' AND received_at >= $4 GROUP BY 1, 2, 3",
        latency_case()
    )
}

/// Implements `DashboardStore` for a backend: `begin` starts a write
/// transaction (see `admin.rs`).
macro_rules! dashboard_store {
    ($store:ty, begin: $begin:literal $(,)?) => {
        #[async_trait::async_trait]
        impl $crate::store::DashboardStore for $store {
            async fn create_session(
                &self,
                session: &$crate::store::NewSession,
            ) -> Result<(), $crate::store::StoreError> {
                let mut writer = self.admin_writer().await?;
                let mut tx = sqlx::Connection::begin_with(&mut *writer, $begin).await?;
                sqlx::query("DELETE FROM ui_sessions WHERE expires_at <= $1")
                    .bind(session.created_at)
                    .execute(&mut *tx)
                    .await?;
                let tenant = session.tenant.as_ref().map_or("", $crate::ids::TenantId::as_str);
                sqlx::query(
                    "DELETE FROM ui_sessions WHERE tenant = $1 AND created_at <=
                       (SELECT created_at FROM ui_sessions WHERE tenant = $1
                        ORDER BY created_at DESC LIMIT 1 OFFSET $2)",
                )
                .bind(tenant)
                .bind($crate::store::MAX_SESSIONS_PER_KEY - 1)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO ui_sessions (id_hash, tenant, key_hash, csrf, created_at, expires_at)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&session.id_hash)
                .bind(tenant)
                .bind(&session.key_hash)
                .bind(&session.csrf)
                .bind(session.created_at)
                .bind(session.expires_at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn session(
                &self,
                id_hash: &str,
                now: $crate::domain::Timestamp,
            ) -> Result<Option<$crate::store::Session>, $crate::store::StoreError> {
                let row: Option<(String, String, String)> = sqlx::query_as(
                    "SELECT tenant, key_hash, csrf FROM ui_sessions
                     WHERE id_hash = $1 AND expires_at > $2",
                )
                .bind(id_hash)
                .bind(now)
                .fetch_optional(self.admin_reader())
                .await?;
                row.map(|(tenant, key_hash, csrf)| {
                    Ok($crate::store::Session {
                        tenant: (!tenant.is_empty())
                            .then(|| $crate::ids::TenantId::new(tenant))
                            .transpose()
                            .map_err($crate::store::rows::corrupt)?,
                        key_hash,
                        csrf,
                    })
                })
                .transpose()
            }

            async fn delete_session(&self, id_hash: &str) -> Result<(), $crate::store::StoreError> {
                sqlx::query("DELETE FROM ui_sessions WHERE id_hash = $1")
                    .bind(id_hash)
                    .execute(&mut *self.admin_writer().await?)
                    .await?;
                Ok(())
            }

            async fn traffic(
                &self,
                tenant: &$crate::ids::TenantId,
                day: $crate::domain::Timestamp,
                hour: $crate::domain::Timestamp,
            ) -> Result<$crate::store::Traffic, $crate::store::StoreError> {
                use $crate::store::dashboard::{TRAFFIC_SCAN, latency_sql, traffic_sql};
                let floor = $crate::store::replays::id_floor(day);
                let rows: Vec<(String, i64, Option<i64>, String, i64, i64)> =
                    sqlx::query_as(&traffic_sql())
                        .bind(tenant.as_str())
                        .bind(&floor)
                        .bind(TRAFFIC_SCAN)
                        .bind(day)
                        .bind(hour)
                        .fetch_all(self.admin_reader())
                        .await?;
                let mut traffic = $crate::store::Traffic::default();
                let mut seen = 0i64;
                let mut oldest = i64::MAX;
                for (endpoint, hour, minute, status, count, first) in rows {
                    seen += count;
                    oldest = oldest.min(first);
                    traffic.counts.push($crate::store::TrafficCount {
                        endpoint: $crate::ids::EndpointId::new(endpoint)
                            .map_err($crate::store::rows::corrupt)?,
                        hour: hour.clamp(0, 23) as u32,
                        minute: minute.map(|m| m.clamp(0, 59) as u32),
                        status: $crate::store::DeliveryStatus::parse(&status)
                            .ok_or_else(|| $crate::store::rows::corrupt(format!("status {status:?}")))?,
                        count: count as u64,
                    });
                }
                if seen >= TRAFFIC_SCAN {
                    traffic.cut_at = Some($crate::domain::Timestamp::from_ms(oldest));
                }
                let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(&latency_sql())
                    .bind(tenant.as_str())
                    .bind(&floor)
                    .bind(TRAFFIC_SCAN)
                    .bind(day)
                    .bind(hour)
                    .fetch_all(self.admin_reader())
                    .await?;
                for (endpoint, bucket, last_hour, count) in rows {
                    traffic.latency.push($crate::store::LatencyCount {
                        endpoint: $crate::ids::EndpointId::new(endpoint)
                            .map_err($crate::store::rows::corrupt)?,
                        bucket: bucket.clamp(0, $crate::store::LATENCY_BOUNDS_MS.len() as i64) as usize,
                        last_hour: last_hour == 1,
                        count: count as u64,
                    });
                }
                Ok(traffic)
            }

            async fn depth_by_endpoint(
                &self,
                tenant: &$crate::ids::TenantId,
            ) -> Result<Vec<($crate::ids::EndpointId, u64)>, $crate::store::StoreError> {
                let rows: Vec<(String, i64)> = sqlx::query_as(concat!(
                    // Three counts, each through its own partial index, as
                    // the queue's depth is counted.
                    "SELECT endpoint, CAST(SUM(n) AS BIGINT) FROM (",
                    "SELECT endpoint, COUNT(*) AS n FROM deliveries WHERE tenant = $1 AND due_at IS NOT NULL GROUP BY endpoint ",
                    "UNION ALL ",
                    "SELECT endpoint, COUNT(*) AS n FROM deliveries WHERE tenant = $1 AND status = 'paused' GROUP BY endpoint ",
                    "UNION ALL ",
                    "SELECT endpoint, COUNT(*) AS n FROM deliveries WHERE tenant = $1 AND status = 'waiting' GROUP BY endpoint",
                    ") AS counts GROUP BY endpoint"
                ))
                .bind(tenant.as_str())
                .fetch_all(self.admin_reader())
                .await?;
                rows.into_iter()
                    .map(|(endpoint, n)| {
                        Ok((
                            $crate::ids::EndpointId::new(endpoint).map_err($crate::store::rows::corrupt)?,
                            n as u64,
                        ))
                    })
                    .collect()
            }

            async fn attempts_since(
                &self,
                since: $crate::domain::Timestamp,
            ) -> Result<Vec<($crate::ids::TenantId, u64)>, $crate::store::StoreError> {
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT t.id, CAST((SELECT COALESCE(SUM(attempts), 0) FROM
                                  (SELECT attempts FROM deliveries d
                                   WHERE d.tenant = t.id AND d.id >= $1 AND d.received_at >= $2
                                   ORDER BY d.id DESC LIMIT $3) AS recent) AS BIGINT)
                     FROM tenants t ORDER BY t.id",
                )
                .bind($crate::store::replays::id_floor(since))
                .bind(since)
                .bind($crate::store::dashboard::TRAFFIC_SCAN)
                .fetch_all(self.admin_reader())
                .await?;
                rows.into_iter()
                    .map(|(tenant, n)| {
                        Ok((
                            $crate::ids::TenantId::new(tenant).map_err($crate::store::rows::corrupt)?,
                            n as u64,
                        ))
                    })
                    .collect()
            }
        }
    };
}

pub(super) use dashboard_store;
