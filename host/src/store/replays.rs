//! Bulk replays: jobs that queue again every delivery of an endpoint
//! matching a filter, a step at a time, from whichever host holds the job's
//! lease. Written once for both backends, as `admin.rs` is.
//!
//! A job walks its tenant's deliveries in id order behind a cursor kept in
//! its row, so any host can take it over where another left it, and its
//! progress is visible from every host. Ids begin with their creation time
//! (UUIDv7), so the job's time range bounds the walk, and each step reads at
//! most a fixed number of rows through the (tenant, id) index, whatever
//! the filter matches: no step scans, and a job over a sparse filter still
//! moves on. The rows are read outside the write transaction, which then
//! re-checks the job and queues each delivery only if it is still finished.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{DeliveryStatus, LeaseToken, StoreError};
use crate::domain::{self, EventTypePattern, Timestamp};
use crate::ids::{EndpointId, PluginName, ReplayId, TenantId};

/// Most bulk replays of one tenant running at once.
pub const MAX_RUNNING_REPLAYS: i64 = 2;

/// Most bulk replays of one tenant kept; starting one beyond this forgets
/// the oldest finished ones.
pub const KEPT_REPLAYS: i64 = 100;

/// Which deliveries of an endpoint a bulk replay queues again. Only
/// finished ones (succeeded, dead, filtered) are ever replayed: a pending
/// or retrying one runs anyway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayFilter {
    /// The endpoint whose deliveries are replayed.
    pub endpoint: EndpointId,
    /// Only deliveries in this state; any finished one when `None`.
    pub status: Option<DeliveryStatus>,
    /// Only deliveries whose event type matches.
    pub event_type: Option<EventTypePattern>,
    /// Only deliveries received at or after this.
    pub since: Option<Timestamp>,
    /// Only deliveries received at or before this: the job's start unless
    /// asked for earlier, so what it replays never comes round again.
    pub until: Timestamp,
    /// Only deliveries bound to this plugin version.
    pub plugin_version: Option<u32>,
    /// Only deliveries of this plugin: set when they are to run another
    /// version of it, which a delivery of another plugin does not have.
    pub plugin: Option<PluginName>,
}

/// Where a bulk replay is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReplayState {
    /// Queuing deliveries.
    Running,
    /// Every matching delivery was examined.
    Done,
    /// Stopped by a cancel; what it queued before stays queued.
    Cancelled,
    /// Stopped because it cannot go on: its endpoint was deleted.
    Failed,
}

impl ReplayState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Done => "done",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "running" => Self::Running,
            "done" => Self::Done,
            "cancelled" => Self::Cancelled,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

/// A bulk replay and its progress.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayJob {
    /// The job's id.
    pub id: ReplayId,
    /// The tenant whose deliveries it replays.
    pub tenant: TenantId,
    /// What it replays.
    pub filter: ReplayFilter,
    /// The plugin version replayed deliveries run; their own when `None`.
    pub to_version: Option<u32>,
    /// Where it is.
    pub state: ReplayState,
    /// How far through its time range it has walked, from 0 to 1.
    pub progress: f64,
    /// Deliveries that matched the filter so far.
    pub matched: u64,
    /// Of those, the ones queued again.
    pub replayed: u64,
    /// Of those, the ones that could not run again: their bodies were
    /// pruned by retention, or they were running.
    pub skipped: u64,
    /// When it started.
    pub created_at: Timestamp,
    /// When it stopped.
    pub finished_at: Option<Timestamp>,
    /// Why it failed.
    pub error: Option<String>,
}

/// What starting a bulk replay came to.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplayStart {
    /// Started.
    Started(Box<ReplayJob>),
    /// The tenant already runs [`MAX_RUNNING_REPLAYS`].
    TooMany,
}

/// How much one step of a job may do.
#[derive(Debug, Clone, Copy)]
pub struct ReplayBudget {
    /// Most rows it reads.
    pub read: u32,
    /// Most deliveries it queues.
    pub replay: u32,
    /// How long the job's lease lasts past the step.
    pub lease_for: Duration,
}

/// What one step of a job did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayStep {
    /// Deliveries it queued.
    pub replayed: u64,
    /// Whether to step the job again.
    pub next: StepNext,
}

/// What follows a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepNext {
    /// More to examine.
    More,
    /// This step ended the job: it is done, or failed.
    Finished(ReplayState),
    /// The job was cancelled, or its lease is another host's now.
    Stopped,
}

/// Bulk replays in the store.
#[async_trait::async_trait]
pub trait ReplayStore: Send + Sync + 'static {
    /// Starts a bulk replay of `tenant`'s deliveries matching `filter`.
    async fn start_replay(
        &self,
        tenant: &TenantId,
        filter: &ReplayFilter,
        to_version: Option<u32>,
        now: Timestamp,
    ) -> Result<ReplayStart, StoreError>;

    /// A tenant's bulk replay.
    async fn replay_job(
        &self,
        tenant: &TenantId,
        id: &ReplayId,
    ) -> Result<Option<ReplayJob>, StoreError>;

    /// A tenant's bulk replays, newest first.
    async fn replay_jobs(&self, tenant: &TenantId) -> Result<Vec<ReplayJob>, StoreError>;

    /// Cancels a running bulk replay; one already over is left as it is.
    /// The job, and whether this call cancelled it; `None` when there is
    /// no such job.
    async fn cancel_replay(
        &self,
        tenant: &TenantId,
        id: &ReplayId,
        now: Timestamp,
    ) -> Result<Option<(ReplayJob, bool)>, StoreError>;

    /// Takes the lease of a running job no host holds (or whose holder's
    /// lease ran out), if there is one.
    async fn lease_replay(
        &self,
        lease: &LeaseToken,
        now: Timestamp,
        lease_for: Duration,
    ) -> Result<Option<ReplayJob>, StoreError>;

    /// Examines the next deliveries of a job this lease holds and queues
    /// those that match, within `budget`.
    async fn replay_step(
        &self,
        job: &ReplayJob,
        lease: &LeaseToken,
        budget: ReplayBudget,
        now: Timestamp,
    ) -> Result<ReplayStep, StoreError>;

    /// Gives a job's lease back, so that any host may take it up again from
    /// `from`, after the jobs stepped less recently.
    async fn release_replay(
        &self,
        id: &ReplayId,
        lease: &LeaseToken,
        from: Timestamp,
    ) -> Result<(), StoreError>;
}

/// The next rows of a job's walk: `$1` tenant, after the cursor `$2`, up to
/// the last id its range allows `$3`, at most `$4`.
pub(super) const NEXT_ROWS: &str =
    "SELECT id, endpoint, status, received_at, plugin_version, plugin,
                                          event_type, body_pruned
                                   FROM deliveries WHERE tenant = $1 AND id > $2 AND id <= $3
                                   ORDER BY id LIMIT $4";

/// A row of [`NEXT_ROWS`].
pub(super) type NextRow = (
    String,
    String,
    String,
    Timestamp,
    i64,
    String,
    Option<String>,
    bool,
);

/// Queues one delivery again, if it is still finished and has its body.
pub(super) const REQUEUE: &str = "UPDATE deliveries
     SET status = 'pending', run_start = attempts, due_at = $1,
         plugin_version = COALESCE($2, plugin_version), finished_at = NULL, last_error = NULL
     WHERE id = $3 AND status IN ('succeeded', 'dead', 'filtered') AND NOT body_pruned";

/// A job's columns, in the order of [`JobRow`].
macro_rules! job_columns {
    () => {
        "id, tenant, filter, to_version, state, matched, replayed, skipped, cursor, scan_from,
         created_at, finished_at, error"
    };
}
pub(super) use job_columns;

/// A job's row as read: the columns of [`job_columns`].
pub(super) type JobRow = (
    String,
    String,
    String,
    Option<i64>,
    String,
    i64,
    i64,
    i64,
    String,
    Timestamp,
    Timestamp,
    Option<Timestamp>,
    Option<String>,
);

/// A job from its row.
pub(super) fn job(row: JobRow) -> Result<ReplayJob, StoreError> {
    let (id, tenant, filter, to_version, state, matched, replayed, skipped, cursor, scan_from) = (
        row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8, row.9,
    );
    let filter: ReplayFilter = super::rows::json(&filter)?;
    let state = ReplayState::parse(&state).ok_or_else(|| super::rows::corrupt(state))?;
    let progress = if state == ReplayState::Done {
        1.0
    } else {
        let reached = id_time(&cursor).unwrap_or(scan_from);
        let span = filter
            .until
            .as_ms()
            .saturating_sub(scan_from.as_ms())
            .max(1);
        (reached.as_ms().saturating_sub(scan_from.as_ms()) as f64 / span as f64).clamp(0.0, 1.0)
    };
    let count = |n: i64| n.max(0) as u64;
    Ok(ReplayJob {
        id: ReplayId::from_string(id),
        tenant: TenantId::new(tenant).map_err(super::rows::corrupt)?,
        filter,
        to_version: to_version.map(|v| v as u32),
        state,
        progress,
        matched: count(matched),
        replayed: count(replayed),
        skipped: count(skipped),
        created_at: row.10,
        finished_at: row.11,
        error: row.12,
    })
}

/// How far outside a job's range its walk reaches: a delivery's id is made
/// once its body is read, which takes up to the request timeout after its
/// `received_at`; the rows within reach are held to the range exactly.
const ID_SLACK_MS: i64 = 300_000;

/// The cursor before every delivery id made at `at` or later: ids are
/// `dlv_` and a UUIDv7, whose first 12 hex digits are its time in ms.
pub(super) fn id_floor(at: Timestamp) -> String {
    format!("dlv_{:012x}", (at.as_ms() - ID_SLACK_MS).max(0))
}

/// The greatest delivery id made at `at` or earlier.
pub(super) fn id_ceiling(at: Timestamp) -> String {
    format!(
        "dlv_{:012x}{}",
        (at.as_ms() + ID_SLACK_MS).max(0),
        "f".repeat(20)
    )
}

/// When a delivery id (or a cursor) was made.
fn id_time(id: &str) -> Option<Timestamp> {
    let hex = id.strip_prefix("dlv_")?.get(..12)?;
    i64::from_str_radix(hex, 16).ok().map(Timestamp::from_ms)
}

/// What a step will do, planned from the rows it read.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Plan {
    /// The last row read that the step got through: the job's next cursor.
    pub cursor: Option<String>,
    /// Rows that matched the filter.
    pub matched: u64,
    /// Deliveries to queue again, in order.
    pub requeue: Vec<String>,
    /// Deliveries that matched without a body to run.
    pub skipped: u64,
    /// Nothing is left after these.
    pub done: bool,
}

/// Whether a row matches a job's filter.
fn matches(filter: &ReplayFilter, row: &NextRow) -> bool {
    let (_, endpoint, status, received_at, plugin_version, plugin, event_type, _) = row;
    let finished = match filter.status {
        Some(wanted) => status == wanted.as_str(),
        None => ["succeeded", "dead", "filtered"].contains(&status.as_str()),
    };
    endpoint == filter.endpoint.as_str()
        && finished
        && filter.since.is_none_or(|since| *received_at >= since)
        && *received_at <= filter.until
        && filter
            .plugin_version
            .is_none_or(|v| i64::from(v) == *plugin_version)
        && filter.plugin.as_ref().is_none_or(|p| p.as_str() == plugin)
        && filter
            .event_type
            .as_ref()
            .is_none_or(|p| domain::runs(std::slice::from_ref(p), event_type.as_deref()))
}

/// Plans a step over `rows`, read with a limit of `budget.read`: it stops
/// once `budget.replay` deliveries are to be queued, so the cursor never
/// passes one it did not queue.
pub(super) fn plan(rows: Vec<NextRow>, filter: &ReplayFilter, budget: ReplayBudget) -> Plan {
    let read_all = (rows.len() as u64) < u64::from(budget.read);
    let mut plan = Plan::default();
    let mut cut = false;
    for row in rows {
        if plan.requeue.len() as u64 >= u64::from(budget.replay) {
            cut = true;
            break;
        }
        if matches(filter, &row) {
            plan.matched += 1;
            if row.7 {
                plan.skipped += 1;
            } else {
                plan.requeue.push(row.0.clone());
            }
        }
        plan.cursor = Some(row.0);
    }
    plan.done = read_all && !cut;
    plan
}

/// Implements `ReplayStore` for a backend: `lock_row` locks the rows a
/// `SELECT` reads where the backend locks rows, and `begin` starts a write
/// transaction (see `admin.rs`).
macro_rules! replay_store {
    ($store:ty, lock_row: $lock_row:literal, begin: $begin:literal $(,)?) => {
        #[async_trait::async_trait]
        impl $crate::store::ReplayStore for $store {
            async fn start_replay(
                &self,
                tenant: &$crate::ids::TenantId,
                filter: &$crate::store::ReplayFilter,
                to_version: Option<u32>,
                now: $crate::domain::Timestamp,
            ) -> Result<$crate::store::ReplayStart, $crate::store::StoreError> {
                use $crate::store::replays as r;
                let id = $crate::ids::ReplayId::generate();
                let mut writer = self.admin_writer().await?;
                let mut tx = sqlx::Connection::begin_with(&mut *writer, $begin).await?;
                // The tenant's row is locked so that two starts at once
                // count each other's jobs.
                sqlx::query(concat!("SELECT id FROM tenants WHERE id = $1", $lock_row))
                    .bind(tenant.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
                let running: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM replay_jobs WHERE tenant = $1 AND state = 'running'",
                )
                .bind(tenant.as_str())
                .fetch_one(&mut *tx)
                .await?;
                if running >= r::MAX_RUNNING_REPLAYS {
                    return Ok($crate::store::ReplayStart::TooMany);
                }
                // The walk starts at `since` or the tenant's oldest
                // delivery, whichever is later: one read of the (tenant, id)
                // index.
                let first: Option<$crate::domain::Timestamp> = sqlx::query_scalar(
                    "SELECT received_at FROM deliveries WHERE tenant = $1 ORDER BY id LIMIT 1",
                )
                .bind(tenant.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                let scan_from = first
                    .unwrap_or(now)
                    .max(filter.since.unwrap_or_default())
                    .min(filter.until);
                sqlx::query(
                    "INSERT INTO replay_jobs (id, tenant, endpoint, filter, to_version, state, matched,
                                              replayed, skipped, cursor, scan_from, created_at)
                     VALUES ($1, $2, $3, $4, $5, 'running', 0, 0, 0, $6, $7, $8)",
                )
                .bind(id.as_str())
                .bind(tenant.as_str())
                .bind(filter.endpoint.as_str())
                .bind($crate::store::rows::to_json(filter))
                .bind(to_version.map(i64::from))
                .bind(r::id_floor(scan_from))
                .bind(scan_from)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "DELETE FROM replay_jobs WHERE tenant = $1 AND state <> 'running'
                       AND id NOT IN (SELECT id FROM replay_jobs WHERE tenant = $1
                                      ORDER BY id DESC LIMIT $2)",
                )
                .bind(tenant.as_str())
                .bind(r::KEPT_REPLAYS)
                .execute(&mut *tx)
                .await?;
                let row: r::JobRow = sqlx::query_as(concat!(
                    "SELECT ",
                    r::job_columns!(),
                    " FROM replay_jobs WHERE id = $1"
                ))
                .bind(id.as_str())
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok($crate::store::ReplayStart::Started(Box::new(r::job(row)?)))
            }

            async fn replay_job(
                &self,
                tenant: &$crate::ids::TenantId,
                id: &$crate::ids::ReplayId,
            ) -> Result<Option<$crate::store::ReplayJob>, $crate::store::StoreError> {
                use $crate::store::replays as r;
                let row: Option<r::JobRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    r::job_columns!(),
                    " FROM replay_jobs WHERE tenant = $1 AND id = $2"
                ))
                .bind(tenant.as_str())
                .bind(id.as_str())
                .fetch_optional(self.admin_reader())
                .await?;
                row.map(r::job).transpose()
            }

            async fn replay_jobs(
                &self,
                tenant: &$crate::ids::TenantId,
            ) -> Result<Vec<$crate::store::ReplayJob>, $crate::store::StoreError> {
                use $crate::store::replays as r;
                let rows: Vec<r::JobRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    r::job_columns!(),
                    " FROM replay_jobs WHERE tenant = $1 ORDER BY id DESC LIMIT $2"
                ))
                .bind(tenant.as_str())
                .bind(r::KEPT_REPLAYS + r::MAX_RUNNING_REPLAYS)
                .fetch_all(self.admin_reader())
                .await?;
                rows.into_iter().map(r::job).collect()
            }

            async fn cancel_replay(
                &self,
                tenant: &$crate::ids::TenantId,
                id: &$crate::ids::ReplayId,
                now: $crate::domain::Timestamp,
            ) -> Result<Option<($crate::store::ReplayJob, bool)>, $crate::store::StoreError> {
                let cancelled = sqlx::query(
                    "UPDATE replay_jobs SET state = 'cancelled', finished_at = $3,
                                            lease_token = NULL, lease_until = NULL
                     WHERE tenant = $1 AND id = $2 AND state = 'running'",
                )
                .bind(tenant.as_str())
                .bind(id.as_str())
                .bind(now)
                .execute(&mut *self.admin_writer().await?)
                .await?
                .rows_affected()
                    == 1;
                Ok(self.replay_job(tenant, id).await?.map(|job| (job, cancelled)))
            }

            async fn lease_replay(
                &self,
                lease: &$crate::store::LeaseToken,
                now: $crate::domain::Timestamp,
                lease_for: std::time::Duration,
            ) -> Result<Option<$crate::store::ReplayJob>, $crate::store::StoreError> {
                use $crate::store::replays as r;
                let mut writer = self.admin_writer().await?;
                // Least recently stepped first, so jobs handed back take
                // turns. The conditions are repeated outside the subquery:
                // on PostgreSQL a host that lost the race for the row finds
                // them false once the winner commits, and takes nothing.
                let taken = sqlx::query(
                    "UPDATE replay_jobs SET lease_token = $1, lease_until = $2
                     WHERE state = 'running' AND (lease_until IS NULL OR lease_until < $3)
                       AND id = (SELECT id FROM replay_jobs
                                 WHERE state = 'running' AND (lease_until IS NULL OR lease_until < $3)
                                 ORDER BY COALESCE(lease_until, 0), id LIMIT 1)",
                )
                .bind(lease.0.as_str())
                .bind(now.after(lease_for))
                .bind(now)
                .execute(&mut *writer)
                .await?
                .rows_affected();
                if taken == 0 {
                    return Ok(None);
                }
                let row: Option<r::JobRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    r::job_columns!(),
                    " FROM replay_jobs WHERE lease_token = $1"
                ))
                .bind(lease.0.as_str())
                .fetch_optional(&mut *writer)
                .await?;
                row.map(r::job).transpose()
            }

            async fn replay_step(
                &self,
                job: &$crate::store::ReplayJob,
                lease: &$crate::store::LeaseToken,
                budget: $crate::store::ReplayBudget,
                now: $crate::domain::Timestamp,
            ) -> Result<$crate::store::ReplayStep, $crate::store::StoreError> {
                use $crate::store::replays as r;
                use $crate::store::{ReplayState, ReplayStep, StepNext};
                let stopped = ReplayStep {
                    replayed: 0,
                    next: StepNext::Stopped,
                };
                let cursor: Option<String> = sqlx::query_scalar(
                    "SELECT cursor FROM replay_jobs WHERE id = $1 AND lease_token = $2 AND state = 'running'",
                )
                .bind(job.id.as_str())
                .bind(lease.0.as_str())
                .fetch_optional(self.admin_reader())
                .await?;
                let Some(cursor) = cursor else {
                    return Ok(stopped);
                };
                let filter = &job.filter;
                let endpoint_exists: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM endpoints WHERE tenant = $1 AND id = $2")
                        .bind(job.tenant.as_str())
                        .bind(filter.endpoint.as_str())
                        .fetch_one(self.admin_reader())
                        .await?;
                let rows: Vec<r::NextRow> = if endpoint_exists == 0 {
                    Vec::new()
                } else {
                    sqlx::query_as(r::NEXT_ROWS)
                        .bind(job.tenant.as_str())
                        .bind(&cursor)
                        .bind(r::id_ceiling(filter.until))
                        .bind(i64::from(budget.read))
                        .fetch_all(self.admin_reader())
                        .await?
                };
                let plan = r::plan(rows, filter, budget);

                let mut writer = self.admin_writer().await?;
                let mut tx = sqlx::Connection::begin_with(&mut *writer, $begin).await?;
                // Under the row's lock, the job is still this lease's and
                // where the rows were read from: a cancel or another host
                // committed meanwhile stops the step.
                let current: Option<String> = sqlx::query_scalar(concat!(
                    "SELECT cursor FROM replay_jobs WHERE id = $1 AND lease_token = $2 AND state = 'running'",
                    $lock_row
                ))
                .bind(job.id.as_str())
                .bind(lease.0.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                if current.as_deref() != Some(cursor.as_str()) {
                    return Ok(stopped);
                }
                let mut replayed = 0u64;
                let mut skipped = plan.skipped;
                for id in &plan.requeue {
                    let done = sqlx::query(r::REQUEUE)
                        .bind(now.as_ms())
                        .bind(job.to_version.map(i64::from))
                        .bind(id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if done == 1 {
                        replayed += 1;
                    } else {
                        skipped += 1;
                    }
                }
                let end = if endpoint_exists == 0 {
                    Some(ReplayState::Failed)
                } else if plan.done {
                    Some(ReplayState::Done)
                } else {
                    None
                };
                sqlx::query(
                    "UPDATE replay_jobs SET cursor = $2, matched = matched + $3,
                            replayed = replayed + $4, skipped = skipped + $5, lease_until = $6,
                            state = COALESCE($7, state), finished_at = $8, error = $9
                     WHERE id = $1",
                )
                .bind(job.id.as_str())
                .bind(plan.cursor.as_deref().unwrap_or(cursor.as_str()))
                .bind(plan.matched as i64)
                .bind(replayed as i64)
                .bind(skipped as i64)
                .bind(now.after(budget.lease_for))
                .bind(end.map(ReplayState::as_str))
                .bind(end.map(|_| now))
                .bind((end == Some(ReplayState::Failed)).then(|| {
                    format!("endpoint {} was deleted", filter.endpoint)
                }))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(ReplayStep {
                    replayed,
                    next: end.map_or(StepNext::More, StepNext::Finished),
                })
            }

            async fn release_replay(
                &self,
                id: &$crate::ids::ReplayId,
                lease: &$crate::store::LeaseToken,
                from: $crate::domain::Timestamp,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query(
                    "UPDATE replay_jobs SET lease_token = NULL, lease_until = $3
                     WHERE id = $1 AND lease_token = $2",
                )
                .bind(id.as_str())
                .bind(lease.0.as_str())
                .bind(from)
                .execute(&mut *self.admin_writer().await?)
                .await?;
                Ok(())
            }
        }
    };
}
pub(super) use replay_store;

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(event_type: Option<&str>) -> ReplayFilter {
        ReplayFilter {
            endpoint: EndpointId::new("orders").unwrap(),
            status: None,
            event_type: event_type.map(|p| p.parse().unwrap()),
            since: None,
            until: Timestamp::from_ms(1_000),
            plugin_version: None,
            plugin: None,
        }
    }

    fn budget(read: u32, replay: u32) -> ReplayBudget {
        ReplayBudget {
            read,
            replay,
            lease_for: Duration::from_secs(1),
        }
    }

    /// Rows of endpoint, status, event type and whether the body is pruned,
    /// named a, b, c… in order, received at 500 ms.
    fn rows(specs: &[(&str, &str, &str, bool)]) -> Vec<NextRow> {
        specs
            .iter()
            .enumerate()
            .map(|(i, (endpoint, status, event_type, pruned))| {
                (
                    char::from(b'a' + i as u8).to_string(),
                    endpoint.to_string(),
                    status.to_string(),
                    Timestamp::from_ms(500),
                    1,
                    "echo".to_owned(),
                    Some(event_type.to_string()),
                    *pruned,
                )
            })
            .collect()
    }

    #[test]
    fn a_step_queues_the_endpoints_matching_finished_deliveries_and_skips_those_without_a_body() {
        let read = rows(&[
            ("orders", "dead", "charge.ok", false),
            ("orders", "dead", "push", false),
            ("other", "dead", "charge.ok", false),
            ("orders", "pending", "charge.ok", false),
            ("orders", "succeeded", "charge.no", true),
        ]);
        let plan = plan(read, &filter(Some("charge.*")), budget(10, 10));
        assert_eq!(
            plan,
            Plan {
                cursor: Some("e".into()),
                matched: 2,
                requeue: vec!["a".into()],
                skipped: 1,
                done: true,
            }
        );
    }

    #[test]
    fn a_step_stops_at_its_replay_budget_and_its_cursor_stays_on_the_last_queued() {
        let read = rows(&[
            ("orders", "dead", "x", false),
            ("orders", "dead", "x", false),
            ("orders", "dead", "x", false),
        ]);
        let plan = plan(read, &filter(None), budget(10, 2));
        assert_eq!(plan.requeue, ["a", "b"]);
        assert_eq!(plan.cursor.as_deref(), Some("b"));
        assert!(!plan.done, "c is still to come");
    }

    #[test]
    fn a_step_that_read_as_many_rows_as_it_may_is_not_the_last() {
        let read = rows(&[("other", "dead", "x", false), ("other", "dead", "x", false)]);
        let plan = plan(read, &filter(None), budget(2, 10));
        assert!(!plan.done);
        assert_eq!((plan.cursor.as_deref(), plan.matched), (Some("b"), 0));
    }

    #[test]
    fn a_cursor_bounds_the_ids_of_a_time_range_from_below_and_above() {
        let at = Timestamp::from_ms(0x0190_0000_0000);
        let id = format!("dlv_{:012x}{}", at.as_ms(), "7".repeat(20));
        assert!(id_floor(at) < id && id <= id_ceiling(at));
        assert_eq!(id_time(&id), Some(at));
        let later = format!("dlv_{:012x}{}", at.as_ms() + 301_000, "0".repeat(20));
        assert!(later > id_ceiling(at), "five minutes on is past the slack");
    }
}
