//! What the admin API takes and answers with: plain JSON views of the
//! store's records, with RFC 3339 times and secrets cut to their last four
//! characters. The CLI writes its requests and reads the answers with the
//! same types.

use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{EndpointSpec, PolicyOverrides, Provider, TenantPolicy, Timestamp, masked};
use crate::problem::FieldError;
use crate::runtime::{LogLine, OutboundCall};
use crate::store::{
    Attempt, AttemptOutcome, Delivery, DeliveryStatus, Endpoint, PluginVersion, ReplayJob,
    ReplayState, Tenant,
};

/// A tenant to create.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    /// 1 to 64 characters of a-z, 0-9, '-' and '_'.
    pub id: String,
}

/// Options of a replay.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// Run this version of the delivery's plugin instead of the one it had.
    pub plugin_version: Option<u32>,
}

/// A tenant.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TenantView {
    /// Its id.
    pub id: String,
    /// Creation time.
    pub created_at: String,
}

impl From<&Tenant> for TenantView {
    fn from(t: &Tenant) -> Self {
        Self {
            id: t.id.to_string(),
            created_at: t.created_at.rfc3339(),
        }
    }
}

/// A tenant's policy: what it is, which fields the operator set for this
/// tenant, and the endpoints whose settings go beyond it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PolicyView {
    /// The tenant.
    pub tenant: String,
    /// The policy in force: the server's defaults with the overrides over them.
    pub policy: TenantPolicy,
    /// The fields set for this tenant; the rest follow the server's defaults.
    pub overrides: PolicyOverrides,
    /// Endpoints configured beyond the policy (by the operator, or before
    /// it was tightened); they keep running as configured.
    pub endpoints_over_policy: Vec<EndpointOverPolicy>,
}

/// An endpoint whose settings go beyond its tenant's policy.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EndpointOverPolicy {
    /// The endpoint.
    pub endpoint: String,
    /// Each setting beyond the policy, with the ceiling it passes.
    pub violations: Vec<FieldError>,
}

/// A new tenant, with its API key: shown this once.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TenantCreated {
    /// Its id.
    pub id: String,
    /// The tenant's API key; only its hash is kept.
    pub api_key: String,
    /// Creation time.
    pub created_at: String,
}

/// A fresh API key: shown this once.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiKey {
    /// The tenant.
    pub id: String,
    /// The new key; the old one stops working now.
    pub api_key: String,
}

/// Every tenant.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TenantList {
    /// By id.
    pub tenants: Vec<TenantView>,
}

/// One plugin version's metadata.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PluginVersionView {
    /// The plugin.
    pub plugin: String,
    /// Its number.
    pub version: u32,
    /// `sha256:<hex>` of the component.
    pub digest: String,
    /// Bytes.
    pub size: u64,
    /// Interfaces it imports.
    pub imports: Vec<String>,
    /// Upload time.
    pub uploaded_at: String,
}

impl From<&PluginVersion> for PluginVersionView {
    fn from(v: &PluginVersion) -> Self {
        Self {
            plugin: v.plugin.to_string(),
            version: v.version,
            digest: v.digest.clone(),
            size: v.size,
            imports: v.imports.clone(),
            uploaded_at: v.uploaded_at.rfc3339(),
        }
    }
}

/// A plugin with its versions.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PluginView {
    /// The plugin's name.
    pub name: String,
    /// Its versions, oldest first.
    pub versions: Vec<PluginVersionView>,
}

/// A tenant's plugins.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PluginList {
    /// By name.
    pub plugins: Vec<PluginView>,
}

/// One plugin's versions.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VersionList {
    /// Oldest first.
    pub versions: Vec<PluginVersionView>,
}

/// An endpoint's configuration as the API shows it: its spec, secrets masked.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EndpointView {
    /// The tenant.
    pub tenant: String,
    /// The endpoint.
    pub id: String,
    /// Where the provider sends webhooks.
    pub inbound_url: String,
    /// The configuration, each secret shown as `…` and its last four characters.
    #[serde(flatten)]
    pub spec: EndpointSpec,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
    /// Since when it has been paused (it stores what arrives and runs
    /// nothing); `null` while it runs.
    pub paused_at: Option<String>,
    /// The secrets its plugin reads with `secret::get`, by name, each shown
    /// as `…` and its last four characters; set them with
    /// `PUT …/secrets/{name}`.
    pub plugin_secrets: BTreeMap<String, String>,
}

impl EndpointView {
    /// The view of `e`, reachable at `base` (`http://host:port`).
    pub fn new(e: &Endpoint, base: &str) -> Self {
        Self {
            tenant: e.tenant.to_string(),
            id: e.id.to_string(),
            inbound_url: format!("{base}/hooks/{}/{}", e.tenant, e.id),
            spec: EndpointSpec {
                secrets: e.spec.secrets.iter().map(|s| masked(s)).collect(),
                ..e.spec.clone()
            },
            created_at: e.created_at.rfc3339(),
            updated_at: e.updated_at.rfc3339(),
            paused_at: e.paused_at.map(Timestamp::rfc3339),
            plugin_secrets: e
                .plugin_secrets
                .iter()
                .map(|(name, value)| (name.to_owned(), masked(value)))
                .collect(),
        }
    }
}

/// A plugin secret to set.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretRequest {
    /// The value: 8 to 4096 bytes on one line, without control characters;
    /// no answer ever shows it again.
    pub value: String,
}

/// A plugin secret as the API shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SecretView {
    /// Its name.
    pub name: String,
    /// `…` and its last four characters.
    pub value: String,
}

/// A tenant's endpoints.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EndpointList {
    /// By id.
    pub endpoints: Vec<EndpointView>,
}

/// What a delivery's list entry and its full view share.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeliveryBase {
    /// Its id.
    pub id: String,
    /// The endpoint it arrived at.
    pub endpoint: String,
    /// The provider's event id.
    pub event_id: Option<String>,
    /// The provider's event type.
    pub event_type: Option<String>,
    /// Where it is.
    pub status: DeliveryStatus,
    /// The plugin.
    pub plugin: String,
    /// The version its next (or last) attempt runs.
    pub plugin_version: u32,
    /// Arrival.
    pub received_at: String,
    /// When it succeeded or died.
    pub finished_at: Option<String>,
    /// The last failure.
    pub last_error: Option<String>,
}

impl From<&Delivery> for DeliveryBase {
    fn from(d: &Delivery) -> Self {
        Self {
            id: d.id.to_string(),
            endpoint: d.endpoint.to_string(),
            event_id: d.event_id.clone(),
            event_type: d.event_type.clone(),
            status: d.status,
            plugin: d.plugin.to_string(),
            plugin_version: d.plugin_version,
            received_at: d.received_at.rfc3339(),
            finished_at: d.finished_at.map(Timestamp::rfc3339),
            last_error: d.last_error.clone(),
        }
    }
}

/// A delivery in a list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeliverySummary {
    /// The delivery.
    #[serde(flatten)]
    pub delivery: DeliveryBase,
    /// Attempts so far.
    pub attempts: u32,
}

impl From<&Delivery> for DeliverySummary {
    fn from(d: &Delivery) -> Self {
        Self {
            delivery: DeliveryBase::from(d),
            attempts: d.attempts,
        }
    }
}

/// A page of deliveries, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeliveryList {
    /// This page.
    pub deliveries: Vec<DeliverySummary>,
    /// Pass as `cursor` for the next page; absent on the last one.
    pub next_cursor: Option<String>,
}

/// One attempt.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AttemptView {
    /// Its number.
    pub attempt: u32,
    /// The plugin version it ran.
    pub plugin_version: u32,
    /// Start.
    pub started_at: String,
    /// Duration.
    pub duration_ms: u64,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// The handler's or the trap's message.
    pub message: Option<String>,
    /// What it logged.
    pub logs: Vec<LogLine>,
    /// Whether the log was cut at its cap.
    pub logs_truncated: bool,
    /// Its outbound calls.
    pub http_calls: Vec<OutboundCall>,
}

impl From<Attempt> for AttemptView {
    fn from(a: Attempt) -> Self {
        Self {
            attempt: a.attempt,
            plugin_version: a.plugin_version,
            started_at: a.started_at.rfc3339(),
            duration_ms: a.duration_ms,
            outcome: a.outcome,
            message: a.message,
            logs: a.logs,
            logs_truncated: a.logs_truncated,
            http_calls: a.http_calls,
        }
    }
}

/// A delivery with its event and its attempts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeliveryView {
    /// The delivery.
    #[serde(flatten)]
    pub delivery: DeliveryBase,
    /// The provider.
    pub provider: Provider,
    /// The W3C trace its attempts' outbound calls carry as `traceparent`:
    /// the sender's, when its `traceparent` named one, else its own.
    pub trace_id: String,
    /// Request headers as received (credentials dropped).
    pub headers: Vec<(String, String)>,
    /// The body: text when it is UTF-8, base64 otherwise; absent once pruned.
    pub body: Option<String>,
    /// `utf8` or `base64`; absent once pruned.
    pub body_encoding: Option<String>,
    /// Attempts, in order.
    pub attempts: Vec<AttemptView>,
}

/// Bytes as text when they are UTF-8, else base64, with the encoding's name.
pub fn encode(bytes: Vec<u8>) -> (String, String) {
    match String::from_utf8(bytes) {
        Ok(text) => (text, "utf8".into()),
        Err(e) => (
            base64::engine::general_purpose::STANDARD.encode(e.into_bytes()),
            "base64".into(),
        ),
    }
}

/// A queued replay.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReplayQueued {
    /// The delivery.
    pub delivery_id: String,
    /// `pending`.
    pub status: DeliveryStatus,
}

/// An endpoint paused or resumed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PauseChange {
    /// Since when it has been paused; `null` once resumed.
    pub paused_at: Option<String>,
    /// Deliveries set aside by the pause, or due again by the resume.
    pub deliveries: u64,
}

/// How many dead deliveries were queued again.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReplayedDead {
    /// Count.
    pub replayed: u64,
}

/// A bulk replay to start: which deliveries of an endpoint run again.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkReplayRequest {
    /// The endpoint whose deliveries run again.
    pub endpoint: String,
    /// Only deliveries in this state: `succeeded`, `dead` or `filtered`;
    /// any of the three when omitted.
    pub status: Option<String>,
    /// Only deliveries whose event type matches this pattern, `*` standing
    /// for any run of characters.
    pub event_type: Option<String>,
    /// Only deliveries received at or after this RFC 3339 time.
    pub since: Option<String>,
    /// Only deliveries received at or before this RFC 3339 time; the start
    /// of the replay when omitted.
    pub until: Option<String>,
    /// Only deliveries bound to this version of the plugin.
    pub plugin_version: Option<u32>,
    /// Run this version of the endpoint's plugin instead of each
    /// delivery's own; then only deliveries of that plugin run.
    pub to_version: Option<u32>,
}

/// A bulk replay and its progress.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReplayJobView {
    /// Its id, for `GET /v1/tenants/{tenant}/replays/{id}`.
    pub id: String,
    /// The tenant.
    pub tenant: String,
    /// The endpoint whose deliveries it replays.
    pub endpoint: String,
    /// `running`, `done`, `cancelled` or `failed`.
    pub state: ReplayState,
    /// Only deliveries in this state; `null` for any finished one.
    pub status: Option<DeliveryStatus>,
    /// Only deliveries whose event type matches.
    pub event_type: Option<String>,
    /// Only deliveries received at or after this.
    pub since: Option<String>,
    /// Only deliveries received at or before this.
    pub until: String,
    /// Only deliveries bound to this plugin version.
    pub plugin_version: Option<u32>,
    /// The plugin version they run; their own when `null`.
    pub to_version: Option<u32>,
    /// How far through its time range it has gone, from 0 to 1.
    pub progress: f64,
    /// Deliveries that matched the filter so far.
    pub matched: u64,
    /// Of those, the ones queued to run again.
    pub replayed: u64,
    /// Of those, the ones that could not run again: their bodies were
    /// pruned by retention, or they were running.
    pub skipped: u64,
    /// When it started.
    pub created_at: String,
    /// When it stopped.
    pub finished_at: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
}

impl From<&ReplayJob> for ReplayJobView {
    fn from(job: &ReplayJob) -> Self {
        let f = &job.filter;
        Self {
            id: job.id.to_string(),
            tenant: job.tenant.to_string(),
            endpoint: f.endpoint.to_string(),
            state: job.state,
            status: f.status,
            event_type: f.event_type.as_ref().map(ToString::to_string),
            since: f.since.map(Timestamp::rfc3339),
            until: f.until.rfc3339(),
            plugin_version: f.plugin_version,
            to_version: job.to_version,
            progress: job.progress,
            matched: job.matched,
            replayed: job.replayed,
            skipped: job.skipped,
            created_at: job.created_at.rfc3339(),
            finished_at: job.finished_at.map(Timestamp::rfc3339),
            error: job.error.clone(),
        }
    }
}

/// A tenant's bulk replays, newest first: those running and the last
/// hundred finished.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReplayJobList {
    /// The replays.
    pub replays: Vec<ReplayJobView>,
}

/// Keys of a plugin's KV.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct KvKeys {
    /// In order; at most 1,000.
    pub keys: Vec<String>,
    /// More keys match than are listed; ask for a narrower prefix.
    #[serde(default)]
    pub truncated: bool,
}

/// One KV value.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct KvValue {
    /// The key.
    pub key: String,
    /// The value: text when UTF-8, base64 otherwise.
    pub value: String,
    /// `utf8` or `base64`.
    pub encoding: String,
}

/// An alert destination to set.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DestinationRequest {
    /// `webhook` (signed with Standard Webhooks) or `slack`.
    pub kind: crate::domain::DestinationKind,
    /// Where alerts are posted: http or https, at most 2048 bytes, a host
    /// the tenant's policy allows.
    pub url: String,
    /// A `webhook` destination's Standard Webhooks secret (`whsec_…`);
    /// omitted, one is generated and answered once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// An alert destination as the API shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DestinationView {
    /// Its name.
    pub name: String,
    /// `webhook` or `slack`.
    pub kind: crate::domain::DestinationKind,
    /// Where alerts are posted.
    pub url: String,
    /// The signing secret: whole only in the answer that generated it,
    /// masked ever after.
    pub secret: Option<String>,
    /// When it was first set.
    pub created_at: String,
    /// When it was last set.
    pub updated_at: String,
}

impl DestinationView {
    /// The view of `d`, its secret masked.
    pub fn new(d: &crate::store::Destination) -> Self {
        Self {
            name: d.name.to_string(),
            kind: d.kind,
            url: d.url.clone(),
            secret: d.secret.as_deref().map(masked),
            created_at: d.created_at.rfc3339(),
            updated_at: d.updated_at.rfc3339(),
        }
    }
}

/// A tenant's alert destinations.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DestinationList {
    /// By name.
    pub destinations: Vec<DestinationView>,
}

/// An alert and its sending.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AlertView {
    /// Its id, also the `webhook-id` it was sent with.
    pub id: String,
    /// `delivery.dead`, `endpoint.failing`, `endpoint.silent` or `endpoint.paused`.
    pub kind: crate::domain::AlertKind,
    /// The destination's name; `operator:NAME` for one of the operator's.
    pub destination: String,
    /// `pending`, `sent` or `failed`.
    pub state: crate::store::AlertState,
    /// Attempts made.
    pub attempts: u32,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<String>,
    /// The last answer's status.
    pub last_status: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// The event sent.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// When it was raised.
    pub created_at: String,
    /// When it was delivered.
    pub sent_at: Option<String>,
}

impl From<&crate::store::Alert> for AlertView {
    fn from(a: &crate::store::Alert) -> Self {
        Self {
            id: a.id.as_str().to_owned(),
            kind: a.kind,
            destination: match a.scope {
                crate::store::AlertScope::Tenant => a.destination.clone(),
                crate::store::AlertScope::Operator => format!("operator:{}", a.destination),
            },
            state: a.state,
            attempts: a.attempts,
            next_attempt_at: a.next_attempt_at.map(Timestamp::rfc3339),
            last_status: a.last_status,
            last_error: a.last_error.clone(),
            payload: serde_json::from_str(&a.payload).unwrap_or_default(),
            created_at: a.created_at.rfc3339(),
            sent_at: a.sent_at.map(Timestamp::rfc3339),
        }
    }
}

/// A tenant's newest alerts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AlertList {
    /// Newest first, at most a hundred.
    pub alerts: Vec<AlertView>,
}
