//! The records the store keeps, as plain data shared by ingress, queue and api.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::domain::{EndpointSpec, PluginSecrets, Provider, Timestamp};
use crate::ids::{DeliveryId, EndpointId, PluginName, TenantId};
use crate::runtime::{KvNamespace, KvWrite, LogLine, OutboundCall, Outcome};

/// A tenant: the unit of isolation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tenant {
    /// The tenant's id.
    pub id: TenantId,
    /// When it was created.
    pub created_at: Timestamp,
}

/// One uploaded, immutable version of a plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PluginVersion {
    /// The plugin's name.
    pub plugin: PluginName,
    /// 1, 2, 3… in upload order.
    pub version: u32,
    /// `sha256:<hex>` of the component.
    pub digest: String,
    /// Size of the component in bytes.
    pub size: u64,
    /// The interfaces the component imports.
    pub imports: Vec<String>,
    /// When it was uploaded.
    pub uploaded_at: Timestamp,
}

/// A configured endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The owning tenant.
    pub tenant: TenantId,
    /// The endpoint's id.
    pub id: EndpointId,
    /// Its configuration.
    pub spec: EndpointSpec,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was last changed.
    pub updated_at: Timestamp,
    /// Since when it has been paused: it stores what arrives and runs nothing.
    pub paused_at: Option<Timestamp>,
    /// What its plugin reads through `secret::get`.
    pub plugin_secrets: PluginSecrets,
}

/// What writing a plugin secret came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretWrite {
    /// A new secret.
    Created,
    /// It replaced the value under the same name.
    Replaced,
    /// There is no such endpoint.
    NoEndpoint,
    /// The endpoint already holds the most secrets it may.
    Full,
}

/// Where a delivery is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Accepted, not tried yet.
    Pending,
    /// Leased by a worker.
    Running,
    /// Failed, waiting for its next attempt.
    Retrying,
    /// The handler returned ok.
    Succeeded,
    /// Rejected, or out of attempts.
    Dead,
    /// Waiting for its endpoint to be resumed.
    Paused,
    /// Due, but its endpoint runs as many deliveries as its
    /// `limits.max_concurrent`; one of them finishing lets it run.
    Waiting,
    /// Its event type matches none of its endpoint's `event_types`: stored
    /// without running; a replay runs it.
    Filtered,
}

impl DeliveryStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Retrying => "retrying",
            Self::Succeeded => "succeeded",
            Self::Dead => "dead",
            Self::Paused => "paused",
            Self::Waiting => "waiting",
            Self::Filtered => "filtered",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "running" => Self::Running,
            "retrying" => Self::Retrying,
            "succeeded" => Self::Succeeded,
            "dead" => Self::Dead,
            "paused" => Self::Paused,
            "waiting" => Self::Waiting,
            "filtered" => Self::Filtered,
            _ => return None,
        })
    }
}

/// A webhook that passed verification, about to be made durable.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    /// Its fresh id.
    pub id: DeliveryId,
    /// Tenant and endpoint it arrived at.
    pub tenant: TenantId,
    /// The endpoint.
    pub endpoint: EndpointId,
    /// The provider's event id, the key of deduplication.
    pub event_id: Option<String>,
    /// The endpoint's provider.
    pub provider: Provider,
    /// The provider's event type.
    pub event_type: Option<String>,
    /// Request headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: bytes::Bytes,
    /// When it arrived.
    pub received_at: Timestamp,
    /// The plugin version bound to the endpoint at arrival.
    pub plugin: PluginName,
    /// Its version.
    pub plugin_version: u32,
    /// How long each claim of it lasts.
    pub lease_ms: u64,
    /// Whether it is due at once.
    pub arrival: Arrival,
}

impl NewDelivery {
    /// When it is first due: on arrival, unless it is finished.
    pub fn due_at(&self) -> Option<Timestamp> {
        (self.arrival == Arrival::Due).then_some(self.received_at)
    }

    /// When it finished: on arrival if filtered.
    pub fn finished_at(&self) -> Option<Timestamp> {
        (self.arrival == Arrival::Filtered).then_some(self.received_at)
    }
}

/// How a webhook enters the queue, as its endpoint says when it arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Due at once; if its endpoint is paused, the claim that finds it sets
    /// it aside (decided there, in the transaction that reads the endpoint,
    /// so it cannot race a resume).
    Due,
    /// Its endpoint's `event_types` do not run it: finished as it is stored.
    Filtered,
}

impl Arrival {
    /// The status it is stored with.
    pub fn status(self) -> DeliveryStatus {
        match self {
            Self::Due => DeliveryStatus::Pending,
            Self::Filtered => DeliveryStatus::Filtered,
        }
    }

    /// Whether it counts in the queue's depth: it is unfinished.
    pub fn waits(self) -> bool {
        self != Self::Filtered
    }
}

/// What ingesting one delivery came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    /// Newly stored.
    Accepted(DeliveryId),
    /// The provider's event id was seen before: the earlier delivery.
    Duplicate(DeliveryId),
}

/// Proof of holding a claim; a completion counts only with the current token.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LeaseToken(pub String);

impl LeaseToken {
    /// A fresh, unguessable token.
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string())
    }
}

/// A delivery leased to this host for one attempt.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The delivery.
    pub id: DeliveryId,
    /// Its tenant.
    pub tenant: TenantId,
    /// Its endpoint.
    pub endpoint: EndpointId,
    /// The endpoint's provider.
    pub provider: Provider,
    /// Event type.
    pub event_type: Option<String>,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
    /// Arrival time.
    pub received_at: Timestamp,
    /// The plugin to run.
    pub plugin: PluginName,
    /// Its version.
    pub plugin_version: u32,
    /// The digest of that version's component, read in the claim's own
    /// transaction; `None` when the version no longer exists.
    pub plugin_digest: Option<String>,
    /// This attempt's number over the delivery's life, 1-based.
    pub attempt: u32,
    /// This attempt's number within the current run (a replay starts a run).
    pub run_attempt: u32,
    /// The lease.
    pub lease: LeaseToken,
    /// When the claim was made.
    pub started_at: Timestamp,
}

/// What one attempt did, as recorded.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    /// The attempt's number.
    pub attempt: u32,
    /// The plugin version it ran.
    pub plugin_version: u32,
    /// When it started.
    pub started_at: Timestamp,
    /// How long it ran.
    pub duration_ms: u64,
    /// How it ended.
    pub outcome: Outcome,
    /// What it logged.
    pub logs: Vec<LogLine>,
    /// Whether the log was cut at its cap.
    pub logs_truncated: bool,
    /// The outbound calls it made.
    pub http_calls: Vec<OutboundCall>,
}

/// What happens to a delivery after an attempt.
#[derive(Debug, Clone)]
pub enum Next {
    /// Done; the handler's KV writes commit with this state.
    Succeeded {
        /// Where the writes go.
        namespace: KvNamespace,
        /// The writes, in order.
        writes: Vec<KvWrite>,
    },
    /// Try again at this time.
    Retry {
        /// When.
        due_at: Timestamp,
    },
    /// Out of attempts, or rejected.
    Dead,
}

/// The end of one attempt, to be recorded if the lease still holds.
#[derive(Debug, Clone)]
pub struct Completion {
    /// The delivery.
    pub id: DeliveryId,
    /// The lease the attempt ran under.
    pub lease: LeaseToken,
    /// The attempt.
    pub record: AttemptRecord,
    /// What follows.
    pub next: Next,
}

impl Completion {
    /// This completion as an attempt the database refused to record: the
    /// reason in place of what the plugin produced, and a dead delivery, so
    /// the refusal is seen and not retried into the same wall.
    pub fn refused(&self, reason: String) -> Self {
        Self {
            id: self.id.clone(),
            lease: self.lease.clone(),
            record: AttemptRecord {
                outcome: Outcome::Trap(crate::domain::clip(
                    reason,
                    crate::runtime::MAX_MESSAGE_BYTES,
                )),
                logs: Vec::new(),
                logs_truncated: false,
                http_calls: Vec::new(),
                ..self.record.clone()
            },
            next: Next::Dead,
        }
    }
}

/// A request for due deliveries, fairly across tenants, each within its
/// share of this host's workers.
#[derive(Debug, Clone)]
pub struct ClaimRequest {
    /// The clock.
    pub now: Timestamp,
    /// How many to claim at most.
    pub max: usize,
    /// Invocations running on this host, per tenant that has any.
    pub running: HashMap<TenantId, u32>,
    /// The worker share of a tenant whose policy sets none
    /// (`tenant.max_concurrent`).
    pub default_share: u32,
}

impl ClaimRequest {
    /// How many more deliveries a tenant may start, given the share its
    /// stored policy sets, if any.
    pub fn room(&self, tenant: &str, share: Option<u32>) -> usize {
        let running = self.running.get(tenant).copied().unwrap_or(0);
        share.unwrap_or(self.default_share).saturating_sub(running) as usize
    }

    /// How many tenants to consider: every tenant at its share may sort
    /// first without being served, so look past them.
    pub fn tenants_to_consider(&self) -> i64 {
        (self.max + self.running.len()) as i64
    }
}

/// Writes that share one transaction (and one fsync).
#[derive(Debug, Default)]
pub struct WriteBatch {
    /// Attempts that finished.
    pub completions: Vec<Completion>,
    /// Webhooks to make durable.
    pub ingests: Vec<NewDelivery>,
    /// Leases to give back unfinished (shutdown), as (delivery, token).
    pub releases: Vec<(DeliveryId, LeaseToken)>,
}

impl WriteBatch {
    /// A batch of one completion.
    pub fn completing(c: Completion) -> Self {
        Self {
            completions: vec![c],
            ..Self::default()
        }
    }

    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.completions.is_empty() && self.ingests.is_empty() && self.releases.is_empty()
    }
}

/// The results of a [`WriteBatch`], position for position.
#[derive(Debug, Default)]
pub struct WriteResults {
    /// Per completion: whether the lease still held and the attempt counted.
    pub completed: Vec<bool>,
    /// Per ingest.
    pub ingested: Vec<Ingested>,
}

/// What a claim took.
#[derive(Debug, Default)]
pub struct Claim {
    /// The claimed deliveries, each under a fresh lease.
    pub claimed: Vec<Claimed>,
    /// When the next delivery falls due, if any is queued.
    pub next_due_at: Option<Timestamp>,
    /// Some endpoint has deliveries waiting for one of its running ones to
    /// finish: claim again when an attempt is recorded.
    pub waiting: bool,
}

/// A delivery as the API and tests read it.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    /// Its id.
    pub id: DeliveryId,
    /// Its tenant.
    pub tenant: TenantId,
    /// Its endpoint.
    pub endpoint: EndpointId,
    /// The provider's event id.
    pub event_id: Option<String>,
    /// The provider.
    pub provider: Provider,
    /// The event type.
    pub event_type: Option<String>,
    /// Where it is.
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: u32,
    /// The plugin.
    pub plugin: PluginName,
    /// The plugin version the next (or last) attempt runs.
    pub plugin_version: u32,
    /// Arrival.
    pub received_at: Timestamp,
    /// When it next falls due, while queued.
    pub due_at: Option<Timestamp>,
    /// When it succeeded or died.
    pub finished_at: Option<Timestamp>,
    /// The last failure's message.
    pub last_error: Option<String>,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// The body; `None` once pruned by retention.
    #[serde(skip)]
    pub body: Option<Vec<u8>>,
}

/// One recorded attempt, as the API and tests read it.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// Its number.
    pub attempt: u32,
    /// The plugin version it ran.
    pub plugin_version: u32,
    /// Start.
    pub started_at: Timestamp,
    /// Duration.
    pub duration_ms: u64,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// The handler's or the trap's message.
    pub message: Option<String>,
    /// Log lines.
    pub logs: Vec<LogLine>,
    /// Whether the log was cut at its cap.
    pub logs_truncated: bool,
    /// Outbound calls.
    pub http_calls: Vec<OutboundCall>,
}

/// How a recorded attempt ended: an invocation's [`Outcome`] without its
/// message, or `Lost` when the host running it stopped before it finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// The handler returned ok.
    Ok,
    /// The handler asked for another attempt.
    Retry,
    /// The handler refused the event.
    Reject,
    /// The guest trapped.
    Trap,
    /// The invocation ran past its deadline.
    Timeout,
    /// The guest ran out of memory.
    OutOfMemory,
    /// The host running it stopped; its lease expired.
    Lost,
}

impl AttemptOutcome {
    /// Every outcome, in the order of the enum.
    pub const ALL: &'static [AttemptOutcome] = &[
        Self::Ok,
        Self::Retry,
        Self::Reject,
        Self::Trap,
        Self::Timeout,
        Self::OutOfMemory,
        Self::Lost,
    ];

    /// The stored name, also the one metrics and the API use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Retry => "retry",
            Self::Reject => "reject",
            Self::Trap => "trap",
            Self::Timeout => "timeout",
            Self::OutOfMemory => "out_of_memory",
            Self::Lost => "lost",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|o| o.as_str() == s)
    }
}

impl From<&Outcome> for AttemptOutcome {
    fn from(outcome: &Outcome) -> Self {
        match outcome {
            Outcome::Ok => Self::Ok,
            Outcome::Retry(_) => Self::Retry,
            Outcome::Reject(_) => Self::Reject,
            Outcome::Trap(_) => Self::Trap,
            Outcome::Timeout => Self::Timeout,
            Outcome::OutOfMemory => Self::OutOfMemory,
        }
    }
}

impl std::fmt::Display for AttemptOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
