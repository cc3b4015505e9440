//! Durable state: the only place SQL is written.
//!
//! A [`Store`] is the two halves every backend implements: [`AdminStore`]
//! (tenants, keys, plugins, endpoints, reads of deliveries and KV, replays),
//! written once for both backends in `admin.rs`, and [`QueueStore`] (batched
//! writes, claims, retention, wake-ups), whose SQL is each backend's own.
//! SQLite in a data directory is the embedded default. Queue writes (ingest, complete, release)
//! arrive as a [`WriteBatch`] so that a backend commits many of them in one
//! transaction; claims are transactions of their own, committed without
//! waiting for the disk. Both hand back a [`Durable`], so a backend may let
//! its next transaction run while the disk catches up. The batching itself
//! lives in `queue::committer`.

mod admin;
mod alerts;
mod cache;
mod dashboard;
mod kv_compose;
mod model;
mod owner_only;
mod postgres;
mod replays;
mod rows;
mod sealing;
mod sqlite;
#[cfg(test)]
pub(crate) mod testing;

pub use alerts::{
    Alert, AlertScope, AlertState, AlertStore, Destination, DestinationPut, KEPT_ALERTS,
    MAX_DESTINATIONS, MAX_PENDING_ALERTS, RaiseAlert, Raised, SendResult, Watched,
};
pub use cache::{EndpointCache, PolicyCache};
pub use dashboard::{
    DashboardStore, LATENCY_BOUNDS_MS, LatencyCount, MAX_SESSIONS_PER_KEY, NewSession, Session,
    TRAFFIC_SCAN, Traffic, TrafficCount,
};
pub use model::*;
pub use postgres::PostgresStore;
pub use replays::{
    KEPT_REPLAYS, MAX_RUNNING_REPLAYS, ReplayBudget, ReplayFilter, ReplayJob, ReplayStart,
    ReplayState, ReplayStep, ReplayStore, StepNext,
};
#[cfg(test)]
pub(crate) use sealing::testing as testing_keys;
pub use sealing::{Keyring, MASTER_KEY_FILE, SealError, generate as generate_master_key};
#[cfg(test)]
pub(crate) use sqlite::FsyncGate;
pub use sqlite::SqliteStore;

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::domain::{EndpointSpec, PolicyOverrides, SecretValue, Timestamp};
use crate::ids::{DeliveryId, EndpointId, PluginName, SecretName, TenantId};
use crate::runtime::{KvNamespace, KvReader, KvWrite};

/// Errors of the store, whatever the backend. The database drivers' own
/// errors stay inside: callers see what happened, not which crate said so.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed a statement, or went away.
    #[error("database error: {0}")]
    Database(DriverError),
    /// The database refused a record it was given (a value out of range,
    /// text it cannot hold, a constraint): writing the same again fails the
    /// same way, so the record must be left out, not retried.
    #[error("the database refused a record: {0}")]
    Refused(DriverError),
    /// The schema could not be brought up to date.
    #[error("database migration failed: {0}")]
    Migrate(DriverError),
    /// The data directory could not be created or locked.
    #[error("data directory: {0}")]
    Io(#[from] std::io::Error),
    /// A commit could not be made durable: what reached the disk is
    /// unknown, so nothing more is acknowledged until a restart recovers
    /// from the log (as PostgreSQL stops on a failed fsync).
    #[error("could not make commits durable ({0}); restart hookhost to recover from its log")]
    NotDurable(String),
    /// Another process serves this data directory.
    #[error(
        "another hookhost process is using the data directory {0}; stop it, or use another --data-dir"
    )]
    Locked(String),
    /// A secret could not be sealed or opened.
    #[error("{0}")]
    Sealing(#[from] SealError),
    /// A stored record could not be read back.
    #[error("stored record is unreadable: {0}")]
    Corrupt(String),
    /// The tenant does not exist.
    #[error("no such tenant")]
    NoSuchTenant,
    /// Storing a plugin version would take the tenant past its
    /// `max_plugin_bytes`.
    #[error(
        "the tenant's plugins take {stored} bytes and this version {size} more, past the {max} its policy allows (max_plugin_bytes); delete versions no endpoint uses"
    )]
    PluginQuota {
        /// Bytes of the versions already stored.
        stored: u64,
        /// Bytes of the version refused.
        size: u64,
        /// The policy's `max_plugin_bytes`.
        max: u64,
    },
}

/// What a database driver reported, kept opaque.
#[derive(Debug)]
pub struct DriverError(Box<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for DriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for DriverError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl StoreError {
    /// Whether PostgreSQL aborted the transaction to break a deadlock
    /// (SQLSTATE 40P01): nothing of it was written, and it may run again.
    pub(crate) fn is_deadlock(&self) -> bool {
        let Self::Database(DriverError(e)) = self else {
            return false;
        };
        matches!(
            e.downcast_ref::<sqlx::Error>(),
            Some(sqlx::Error::Database(db)) if db.code().as_deref() == Some("40P01")
        )
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        // PostgreSQL's SQLSTATE classes of a refused value: data exceptions
        // (22: out of range, NUL, bad encoding), integrity constraints (23)
        // and program limits (54: a value too large to index or store).
        let refused = match &e {
            sqlx::Error::Database(db) => {
                db.code().is_some_and(|code| {
                    ["22", "23", "54"]
                        .iter()
                        .any(|class| code.starts_with(class))
                }) || matches!(
                    db.kind(),
                    sqlx::error::ErrorKind::UniqueViolation
                        | sqlx::error::ErrorKind::ForeignKeyViolation
                        | sqlx::error::ErrorKind::NotNullViolation
                        | sqlx::error::ErrorKind::CheckViolation
                )
            }
            _ => false,
        };
        let e = DriverError(Box::new(e));
        if refused {
            Self::Refused(e)
        } else {
            Self::Database(e)
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode::{ConstraintViolation, TooBig, TypeMismatch};
        let refused = matches!(
            e.sqlite_error_code(),
            Some(ConstraintViolation | TooBig | TypeMismatch)
        );
        let e = DriverError(Box::new(e));
        if refused {
            Self::Refused(e)
        } else {
            Self::Database(e)
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Self::Migrate(DriverError(Box::new(e)))
    }
}

/// A commit's way to the disk. A backend whose COMMIT itself waits for the
/// disk hands back one that has arrived; SQLite's queue writer hands back
/// one that waits for the log's next fsync, which a thread of its own does
/// while the writer runs the next batch (see ARCHITECTURE.md, "Durability").
#[must_use = "a write may be acknowledged only once it is durable"]
pub struct Durable(Option<BoxFuture<'static, Result<(), StoreError>>>);

impl Durable {
    /// Already on disk.
    pub fn arrived() -> Self {
        Self(None)
    }

    /// On disk once `until` resolves.
    pub(crate) fn after(
        until: impl Future<Output = Result<(), StoreError>> + Send + 'static,
    ) -> Self {
        Self(Some(Box::pin(until)))
    }

    /// Waits until the commit is on disk.
    pub async fn wait(self) -> Result<(), StoreError> {
        match self.0 {
            Some(until) => until.await,
            None => Ok(()),
        }
    }
}

/// What a replay request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// Queued to run again now.
    Queued,
    /// No such delivery for this tenant.
    NotFound,
    /// It is running right now; replay it once the attempt ends.
    Running,
    /// Its body was pruned by retention, so there is nothing to run.
    BodyPruned,
}

/// What deleting a plugin version came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteVersion {
    /// Gone.
    Deleted,
    /// There was no such version.
    NotFound,
    /// Endpoints are bound to it; rebind them first.
    Bound(Vec<EndpointId>),
}

/// Which deliveries to list.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    /// Only this status.
    pub status: Option<DeliveryStatus>,
    /// Only this endpoint.
    pub endpoint: Option<EndpointId>,
    /// Only this event type, exactly.
    pub event_type: Option<String>,
    /// Only the deliveries of this event id (one per endpoint at most).
    pub event_id: Option<String>,
    /// Only those received at or after this time.
    pub since: Option<Timestamp>,
    /// Only those received at or before this time (as a bulk replay's `until`).
    pub until: Option<Timestamp>,
    /// Only those older than this one (the cursor of the previous page).
    pub before: Option<DeliveryId>,
    /// Page size.
    pub limit: u32,
}

/// Most deliveries one page of a filtered list looks through: a filter that
/// no index serves (an endpoint, a common status, an event type) reads the
/// tenant's deliveries newest first, and stops after this many however few
/// matched, handing back where it stopped as the next page's cursor.
pub const LIST_SCAN: u32 = 10_000;

/// A page of deliveries.
#[derive(Debug, Clone, Default)]
pub struct DeliveryPage {
    /// The deliveries, newest first.
    pub deliveries: Vec<Delivery>,
    /// Where the next page starts, when there may be more: the last
    /// delivery of a full page, or where a page stopped looking
    /// ([`LIST_SCAN`]).
    pub next: Option<DeliveryId>,
}

/// Makes an endpoint's paused deliveries due at their arrival, which is
/// past: all at once, and claimed in the order they arrived (a resume, or
/// the endpoint's deletion).
const UNPARK: &str = "UPDATE deliveries SET due_at = received_at,
                        status = CASE WHEN attempts > run_start THEN 'retrying' ELSE 'pending' END
                      WHERE tenant = $1 AND endpoint = $2 AND status = 'paused'";

/// Makes a deleted endpoint's waiting deliveries due at their arrival, so
/// they end as deliveries of a deleted endpoint do rather than hold the
/// tenant's queue depth.
const UNWAIT: &str = "UPDATE deliveries SET due_at = received_at,
                        status = CASE WHEN attempts > run_start THEN 'retrying' ELSE 'pending' END
                      WHERE tenant = $1 AND endpoint = $2 AND status = 'waiting'";

/// When the next delivery falls due: the earliest `due_at` of each tenant,
/// read through the per-tenant index; and whether any endpoint has
/// deliveries waiting for room (through the small index of such
/// endpoints), which become claimable when an attempt ends, not at a time
/// the queue could sleep until. The same SQL on both backends.
const NEXT_WORK: &str = "SELECT (SELECT MIN((SELECT MIN(due_at) FROM deliveries d
                                            WHERE d.tenant = t.id AND d.due_at IS NOT NULL))
                                 FROM tenants t),
                                EXISTS (SELECT 1 FROM endpoints
                                        WHERE waiting_since IS NOT NULL AND paused_at IS NULL)";

/// Everything a backend provides: both halves.
pub trait Store: AdminStore + QueueStore + ReplayStore + AlertStore + DashboardStore {}

impl<T: AdminStore + QueueStore + ReplayStore + AlertStore + DashboardStore> Store for T {}

/// The admin API's half: tenants, keys, plugins, endpoints, reads of
/// deliveries and KV, and replays. Written once for both backends (`admin.rs`).
#[async_trait::async_trait]
pub trait AdminStore: KvReader + Send + Sync + 'static {
    /// Creates a tenant; `false` when it already exists.
    async fn create_tenant(
        &self,
        id: &TenantId,
        api_key_hash: Option<&str>,
    ) -> Result<bool, StoreError>;

    /// Reads a tenant.
    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError>;

    /// Every tenant, by id.
    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError>;

    /// Deletes a tenant with everything it owns but its plugins' version
    /// counters, which a tenant created again under the id continues: a
    /// version number never names two components. `false` when there was none.
    async fn delete_tenant(&self, id: &TenantId) -> Result<bool, StoreError>;

    /// Replaces a tenant's API key hash; `false` when there is no such tenant.
    async fn set_tenant_key(&self, id: &TenantId, api_key_hash: &str) -> Result<bool, StoreError>;

    /// The tenant whose API key has this hash.
    async fn tenant_by_key_hash(&self, api_key_hash: &str) -> Result<Option<TenantId>, StoreError>;

    /// A host-wide setting (the operator token's hash).
    async fn setting(&self, key: &str) -> Result<Option<String>, StoreError>;

    /// Writes a host-wide setting.
    async fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError>;

    /// Answers when the database does; for readiness probes.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Stores a new immutable version of a plugin, numbered after the last,
    /// unless the tenant's versions would then take more than `max_bytes`.
    async fn add_plugin_version(
        &self,
        tenant: &TenantId,
        plugin: &PluginName,
        digest: &str,
        imports: &[String],
        wasm: &[u8],
        max_bytes: u64,
    ) -> Result<PluginVersion, StoreError>;

    /// Bytes of all the tenant's plugin versions.
    async fn plugin_bytes(&self, tenant: &TenantId) -> Result<u64, StoreError>;

    /// The digest of every plugin version of every tenant, each once.
    async fn plugin_digests(&self) -> Result<Vec<String>, StoreError>;

    /// The component bytes of one plugin version.
    async fn plugin_wasm(
        &self,
        tenant: &TenantId,
        plugin: &PluginName,
        version: u32,
    ) -> Result<Option<Vec<u8>>, StoreError>;

    /// Versions of a tenant's plugins (of one plugin when named), by name and version.
    async fn plugin_versions(
        &self,
        tenant: &TenantId,
        plugin: Option<&PluginName>,
    ) -> Result<Vec<PluginVersion>, StoreError>;

    /// Deletes a plugin version unless an endpoint is bound to it.
    async fn delete_plugin_version(
        &self,
        tenant: &TenantId,
        plugin: &PluginName,
        version: u32,
    ) -> Result<DeleteVersion, StoreError>;

    /// Creates or replaces an endpoint; `true` when it was created.
    async fn put_endpoint(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
        spec: &EndpointSpec,
    ) -> Result<bool, StoreError>;

    /// Reads an endpoint.
    async fn endpoint(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
    ) -> Result<Option<Endpoint>, StoreError>;

    /// A tenant's endpoints, by id.
    async fn list_endpoints(&self, tenant: &TenantId) -> Result<Vec<Endpoint>, StoreError>;

    /// Deletes an endpoint; `false` when there was none. Its deliveries stay.
    async fn delete_endpoint(&self, tenant: &TenantId, id: &EndpointId)
    -> Result<bool, StoreError>;

    /// Sets the plugin secret `name` of an endpoint, sealed, unless that
    /// would give the endpoint more than `max` secrets.
    async fn put_plugin_secret(
        &self,
        tenant: &TenantId,
        endpoint: &EndpointId,
        name: &SecretName,
        value: &SecretValue,
        max: usize,
    ) -> Result<SecretWrite, StoreError>;

    /// Deletes a plugin secret; `false` when there was none.
    async fn delete_plugin_secret(
        &self,
        tenant: &TenantId,
        endpoint: &EndpointId,
        name: &SecretName,
    ) -> Result<bool, StoreError>;

    /// Seals again, under the current master key, every secret sealed under
    /// a previous one or stored before sealing existed; returns how many
    /// rows it wrote. A secret under a key this host lacks fails it,
    /// naming the key.
    async fn reseal(&self) -> Result<u64, StoreError>;

    /// Pauses an endpoint: its waiting deliveries, and those that arrive
    /// until it is resumed, are `paused`; running ones finish. Returns how
    /// many were set aside, `None` when there is no such endpoint. Pausing
    /// a paused endpoint keeps its `paused_at`.
    async fn pause_endpoint(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
        now: Timestamp,
    ) -> Result<Option<u64>, StoreError>;

    /// Resumes an endpoint: its paused deliveries fall due, in the order
    /// they arrived. Returns how many, `None` when there is no such endpoint.
    async fn resume_endpoint(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
    ) -> Result<Option<u64>, StoreError>;

    /// Lists a tenant's deliveries, newest first, one page at a time.
    async fn list_deliveries(
        &self,
        tenant: &TenantId,
        filter: &DeliveryFilter,
    ) -> Result<DeliveryPage, StoreError>;

    /// Reads a delivery of a tenant.
    async fn delivery(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
    ) -> Result<Option<Delivery>, StoreError>;

    /// The attempts of a delivery, in order.
    async fn attempts(&self, id: &DeliveryId) -> Result<Vec<Attempt>, StoreError>;

    /// Queues every dead delivery of an endpoint to run again; returns how many.
    async fn replay_dead(
        &self,
        tenant: &TenantId,
        endpoint: &EndpointId,
        now: Timestamp,
    ) -> Result<u64, StoreError>;

    /// Deliveries not finished yet (pending, running, retrying or paused).
    async fn queue_depth(&self) -> Result<u64, StoreError>;

    /// Deliveries not finished yet, per tenant that has any.
    async fn queue_depth_by_tenant(&self) -> Result<Vec<(TenantId, u64)>, StoreError>;

    /// The fields of a tenant's policy the operator set; `None` when there
    /// is no such tenant.
    async fn tenant_policy(&self, id: &TenantId) -> Result<Option<PolicyOverrides>, StoreError>;

    /// Replaces a tenant's policy overrides; `false` when there is no such tenant.
    async fn set_tenant_policy(
        &self,
        id: &TenantId,
        policy: &PolicyOverrides,
    ) -> Result<bool, StoreError>;

    /// Queues a delivery to run again (a new attempt, same event), optionally
    /// on another plugin version.
    async fn replay(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
        plugin_version: Option<u32>,
        now: Timestamp,
    ) -> Result<Replay, StoreError>;
}

/// How long a host counts as alive after its last heartbeat; hosts beat
/// every third of it.
pub const HOST_ALIVE: std::time::Duration = std::time::Duration::from_secs(15);

/// The queue's half: batched writes, claims, retention and wake-ups. Its SQL
/// is each backend's own, tuned to how it locks.
#[async_trait::async_trait]
pub trait QueueStore: Send + Sync + 'static {
    /// Applies a batch of queue writes in one transaction. Nobody may be
    /// told of the results before the [`Durable`] resolves. Shared, so a
    /// caller whose batch the database refused can still write its parts.
    async fn write(&self, batch: Arc<WriteBatch>) -> Result<(WriteResults, Durable), StoreError>;

    /// Claims due deliveries in a transaction of its own that is committed
    /// without waiting for the disk. Losing a claim to a power loss only
    /// means the delivery runs again under the same attempt number (and so
    /// the same Idempotency-Key); the completion that follows is durable and
    /// makes the claim before it durable too, since the log is written in
    /// order. The dispatcher's workers thus wait for no fsync of their own;
    /// the [`Durable`] resolves once every write the claim could have seen
    /// is on disk, so no delivery runs before its 202 could be sent.
    async fn claim(&self, req: ClaimRequest) -> Result<(Claim, Durable), StoreError>;

    /// Drops the bodies of deliveries that succeeded, or were filtered,
    /// before the cutoff; their metadata and attempts stay.
    async fn prune_bodies(&self, finished_before: Timestamp) -> Result<u64, StoreError>;

    /// Records that host `host` is alive, and returns how many hosts are
    /// (this one included), so that limits the hosts share can be divided
    /// among them. A host is alive for [`HOST_ALIVE`] after its last
    /// heartbeat, by the database's clock; a single-host backend answers 1.
    async fn heartbeat(&self, host: &str) -> Result<u32, StoreError>;

    /// Rings `wake` whenever another host sharing this database commits new
    /// work, until `stop`; a single-host backend has no one else to hear.
    async fn listen_for_work(
        &self,
        wake: std::sync::Arc<tokio::sync::Notify>,
        stop: tokio_util::sync::CancellationToken,
    ) {
        let _ = wake;
        stop.cancelled().await;
    }

    /// Applies one successful invocation's KV writes atomically, in order
    /// (for `hookhost plugin test`; the queue commits them with the delivery).
    async fn commit_kv(&self, ns: &KvNamespace, writes: &[KvWrite]) -> Result<(), StoreError>;
}

/// A delivery a claim found due or waiting: its row, its endpoint, and the
/// endpoint's `limits.max_concurrent` if it has one.
#[derive(Clone)]
pub(crate) struct Due<T> {
    pub row: T,
    pub endpoint: String,
    pub limit: Option<i64>,
}

/// The endpoints among each tenant's due deliveries that have a concurrency
/// limit, each once, in (tenant, endpoint) order: a backend that locks them
/// takes the locks in this order, so two claims never wait on each other.
pub(crate) fn limited_endpoints<T>(due: &[(String, Vec<Due<T>>)]) -> BTreeSet<(String, String)> {
    due.iter()
        .flat_map(|(tenant, rows)| {
            rows.iter()
                .filter(|d| d.limit.is_some())
                .map(move |d| (tenant.clone(), d.endpoint.clone()))
        })
        .collect()
}

/// A delivery over its endpoint's room, with its tenant and endpoint.
pub(crate) type Over<T> = (T, String, String);

/// Each tenant's deliveries its endpoints have room for, in order, and
/// apart those over it with their tenant and endpoint, the due ones of which
/// are set aside as `waiting`. `room` holds
/// what each limited endpoint may still start (its limit less those
/// running), used up here, or `None` when another claim holds the endpoint:
/// its deliveries are left as they are, for a later claim.
pub(crate) fn within_limits<T>(
    due: Vec<(String, Vec<Due<T>>)>,
    mut room: HashMap<(String, String), Option<i64>>,
) -> (Vec<Vec<T>>, Vec<Over<T>>) {
    let mut over = Vec::new();
    let within = due
        .into_iter()
        .map(|(tenant, rows)| {
            let mut kept = Vec::with_capacity(rows.len());
            for d in rows {
                if d.limit.is_none() {
                    kept.push(d.row);
                    continue;
                }
                match room.get_mut(&(tenant.clone(), d.endpoint.clone())) {
                    Some(Some(left)) if *left > 0 => {
                        *left -= 1;
                        kept.push(d.row);
                    }
                    Some(Some(_)) => over.push((d.row, tenant.clone(), d.endpoint)),
                    _ => {}
                }
            }
            kept
        })
        .collect();
    (within, over)
}

/// Interleaves per-tenant lists: everyone's first, then everyone's second…
pub(crate) fn round_robin<T>(lists: Vec<Vec<T>>, max: usize) -> Vec<T> {
    let mut iters: Vec<_> = lists.into_iter().map(Vec::into_iter).collect();
    let mut out = Vec::with_capacity(max);
    while out.len() < max {
        let before = out.len();
        for it in &mut iters {
            if out.len() == max {
                break;
            }
            if let Some(item) = it.next() {
                out.push(item);
            }
        }
        if out.len() == before {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::{Due, round_robin, within_limits};

    #[test]
    fn round_robin_takes_one_from_each_list_before_a_second_from_any() {
        let lists = vec![vec!["a1", "a2", "a3"], vec!["b1"], vec!["c1", "c2"]];
        assert_eq!(round_robin(lists, 5), ["a1", "b1", "c1", "a2", "c2"]);
    }

    #[test]
    fn an_endpoint_with_a_limit_gets_as_many_deliveries_as_it_has_room_for_and_the_rest_wait() {
        let due = |row, endpoint: &str, limit| Due {
            row,
            endpoint: endpoint.to_owned(),
            limit,
        };
        let tenants = vec![
            (
                "t1".to_owned(),
                vec![
                    due("serial-1", "serial", Some(1)),
                    due("open-1", "open", None),
                    due("serial-2", "serial", Some(1)),
                    due("pair-1", "pair", Some(2)),
                    due("pair-2", "pair", Some(2)),
                    due("open-2", "open", None),
                ],
            ),
            (
                "t2".to_owned(),
                vec![due("other-serial-1", "serial", Some(1))],
            ),
        ];
        let room = HashMap::from([
            (("t1".to_owned(), "serial".to_owned()), Some(1)),
            (("t1".to_owned(), "pair".to_owned()), Some(1)),
            (("t2".to_owned(), "serial".to_owned()), Some(0)),
        ]);
        let (within, over) = within_limits(tenants.clone(), room);
        assert_eq!(
            within,
            [vec!["serial-1", "open-1", "pair-1", "open-2"], vec![]]
        );
        let over: Vec<&str> = over.into_iter().map(|(row, ..)| row).collect();
        assert_eq!(over, ["serial-2", "pair-2", "other-serial-1"]);

        let busy = HashMap::from([
            (("t1".to_owned(), "serial".to_owned()), None),
            (("t1".to_owned(), "pair".to_owned()), Some(2)),
            (("t2".to_owned(), "serial".to_owned()), None),
        ]);
        let (within, over) = within_limits(tenants, busy);
        assert_eq!(
            within,
            [vec!["open-1", "pair-1", "pair-2", "open-2"], vec![]],
            "an endpoint another claim holds is left alone"
        );
        assert!(over.is_empty());
    }
}
