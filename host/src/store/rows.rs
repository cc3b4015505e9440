//! Every row the store reads, decoded once for both backends, generic over
//! sqlx's `Row`: the columns both select, and what they mean, are the same.

use std::collections::HashMap;

use sqlx::error::BoxDynError;
use sqlx::{ColumnIndex, Database, Decode, Encode, Row, Type};

use super::sealing::{self, Keyring, SealError};
use super::{
    Attempt, AttemptOutcome, ClaimRequest, Claimed, Delivery, DeliveryStatus, Endpoint, LeaseToken,
    PluginVersion, StoreError, Tenant,
};
use crate::domain::{
    EndpointSpec, PluginSecrets, PolicyOverrides, Provider, SecretValue, Timestamp,
};
use crate::ids::{DeliveryId, EndpointId, PluginName, TenantId};
use crate::runtime::{KvReadError, Outcome};

/// Times are stored as milliseconds since the epoch, a 64-bit integer on
/// both backends.
impl<DB: Database> Type<DB> for Timestamp
where
    i64: Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <i64 as Type<DB>>::type_info()
    }

    fn compatible(ty: &DB::TypeInfo) -> bool {
        <i64 as Type<DB>>::compatible(ty)
    }
}

impl<'q, DB: Database> Encode<'q, DB> for Timestamp
where
    i64: Encode<'q, DB>,
{
    fn encode_by_ref(
        &self,
        buf: &mut <DB as Database>::ArgumentBuffer<'q>,
    ) -> Result<sqlx::encode::IsNull, BoxDynError> {
        self.as_ms().encode_by_ref(buf)
    }
}

impl<'r, DB: Database> Decode<'r, DB> for Timestamp
where
    i64: Decode<'r, DB>,
{
    fn decode(value: <DB as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Timestamp::from_ms(i64::decode(value)?))
    }
}

impl sqlx::postgres::PgHasArrayType for Timestamp {
    fn array_type_info() -> sqlx::postgres::PgTypeInfo {
        <i64 as sqlx::postgres::PgHasArrayType>::array_type_info()
    }
}

impl rusqlite::ToSql for Timestamp {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_ms().into())
    }
}

/// A value the database holds that the host cannot make sense of.
pub(super) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// Decodes a JSON column.
pub(super) fn json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(corrupt)
}

/// A tenant's stored policy overrides; none stored is none overridden.
pub(super) fn policy(text: Option<&str>) -> Result<PolicyOverrides, StoreError> {
    Ok(text.map(json).transpose()?.unwrap_or_default())
}

/// How many of `tenant`'s due deliveries a claim may take, given its
/// stored policy: its share of the workers less those it runs, at most the
/// claim's size.
pub(super) fn room(req: &ClaimRequest, tenant: &str, policy: Option<&str>) -> usize {
    req.room(tenant, worker_share(policy)).min(req.max)
}

/// The worker share a tenant's stored policy sets, if it sets one; an
/// unreadable policy sets none (as the policy cache falls back to the
/// defaults), so it cannot stall every tenant's claims.
fn worker_share(text: Option<&str>) -> Option<u32> {
    let policy = policy(text)
        .inspect_err(|e| tracing::warn!(error = %e, "stored tenant policy is unreadable"))
        .ok()?;
    policy
        .0
        .get("max_concurrent")
        .and_then(serde_json::Value::as_u64)
        .map(|n| n.min(u32::MAX.into()) as u32)
}

/// Encodes a JSON column.
pub(super) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serialises")
}

/// What an attempt records as its message: the plugin's own words, or
/// what stopped it; none for a success.
pub(super) fn outcome_message(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::Ok => None,
        Outcome::Retry(m) | Outcome::Reject(m) | Outcome::Trap(m) => Some(m.clone()),
        Outcome::Timeout | Outcome::OutOfMemory => Some(outcome.to_string()),
    }
}

/// A stored provider name.
fn provider(name: &str) -> Result<Provider, StoreError> {
    name.parse().map_err(corrupt)
}

/// A failed KV read, as plugins see it.
pub(super) fn read_error(e: sqlx::Error) -> KvReadError {
    KvReadError(e.to_string())
}

/// A claimed delivery joined with its payload, as selected by a claim.
pub(super) fn claimed<'r, R>(
    row: &'r R,
    lease: LeaseToken,
    now: Timestamp,
) -> Result<Claimed, StoreError>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    Timestamp: Decode<'r, R::Database> + Type<R::Database>,
    Option<Vec<u8>>: Decode<'r, R::Database> + Type<R::Database>,
{
    ClaimedRow {
        id: row.try_get("id")?,
        tenant: row.try_get("tenant")?,
        endpoint: row.try_get("endpoint")?,
        provider: row.try_get("provider")?,
        event_type: row.try_get("event_type")?,
        headers: row.try_get("headers")?,
        body: row.try_get("body")?,
        received_at: row.try_get("received_at")?,
        plugin: row.try_get("plugin")?,
        plugin_version: row.try_get("plugin_version")?,
        attempts: row.try_get("attempts")?,
        run_start: row.try_get("run_start")?,
        plugin_digest: row.try_get("plugin_digest")?,
    }
    .checked(lease, now)
}

/// The columns a claim reads, as stored, in the order the claims select
/// them; [`checked`](Self::checked) makes a [`Claimed`] of them.
pub(super) struct ClaimedRow {
    pub(super) id: String,
    pub(super) tenant: String,
    pub(super) endpoint: String,
    pub(super) provider: String,
    pub(super) event_type: Option<String>,
    pub(super) headers: String,
    pub(super) body: Option<Vec<u8>>,
    pub(super) received_at: Timestamp,
    pub(super) plugin: String,
    pub(super) plugin_version: i64,
    pub(super) attempts: i64,
    pub(super) run_start: i64,
    pub(super) plugin_digest: Option<String>,
}

impl ClaimedRow {
    pub(super) fn checked(self, lease: LeaseToken, now: Timestamp) -> Result<Claimed, StoreError> {
        Ok(Claimed {
            id: DeliveryId::from_string(self.id),
            tenant: TenantId::new(self.tenant).map_err(corrupt)?,
            endpoint: EndpointId::new(self.endpoint).map_err(corrupt)?,
            plugin: PluginName::new(self.plugin).map_err(corrupt)?,
            plugin_version: self.plugin_version as u32,
            plugin_digest: self.plugin_digest,
            provider: provider(&self.provider)?,
            event_type: self.event_type,
            headers: json(&self.headers)?,
            body: self.body.unwrap_or_default(),
            received_at: self.received_at,
            attempt: self.attempts as u32,
            run_attempt: (self.attempts - self.run_start) as u32,
            lease,
            started_at: now,
        })
    }
}

/// A delivery joined with its payload's headers, as the admin API shows it;
/// with its body when `with_body` (the column `body` selected).
pub(super) fn delivery<'r, R>(row: &'r R, with_body: bool) -> Result<Delivery, StoreError>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    &'r str: Decode<'r, R::Database> + Type<R::Database>,
    Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    Timestamp: Decode<'r, R::Database> + Type<R::Database>,
    Option<Timestamp>: Decode<'r, R::Database> + Type<R::Database>,
    Option<Vec<u8>>: Decode<'r, R::Database> + Type<R::Database>,
{
    let status: String = row.try_get("status")?;
    Ok(Delivery {
        id: DeliveryId::from_string(row.try_get("id")?),
        tenant: TenantId::new(row.try_get::<String, _>("tenant")?).map_err(corrupt)?,
        endpoint: EndpointId::new(row.try_get::<String, _>("endpoint")?).map_err(corrupt)?,
        plugin: PluginName::new(row.try_get::<String, _>("plugin")?).map_err(corrupt)?,
        plugin_version: row.try_get::<i64, _>("plugin_version")? as u32,
        status: DeliveryStatus::parse(&status).ok_or_else(|| corrupt(status))?,
        attempts: row.try_get::<i64, _>("attempts")? as u32,
        event_id: row.try_get("event_id")?,
        provider: provider(row.try_get("provider")?)?,
        event_type: row.try_get("event_type")?,
        received_at: row.try_get("received_at")?,
        due_at: row.try_get("due_at")?,
        finished_at: row.try_get("finished_at")?,
        last_error: row.try_get("last_error")?,
        headers: json(row.try_get::<&str, _>("headers")?)?,
        body: if with_body {
            row.try_get("body")?
        } else {
            None
        },
    })
}

/// An endpoint of `tenant` (columns `id`, `spec`, `sealed_with`,
/// `created_at`, `updated_at`, `paused_at`), its signing secrets opened, and
/// the plugin secrets read beside it.
pub(super) fn endpoint<'r, R>(
    keys: &Keyring,
    tenant: &TenantId,
    row: &'r R,
    plugin_secrets: PluginSecrets,
) -> Result<Endpoint, StoreError>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Option<String>: Decode<'r, R::Database>,
    &'r str: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    Timestamp: Decode<'r, R::Database> + Type<R::Database>,
    Option<Timestamp>: Decode<'r, R::Database>,
{
    let id = EndpointId::new(row.try_get::<String, _>("id")?).map_err(corrupt)?;
    let mut spec: EndpointSpec = json(row.try_get::<&str, _>("spec")?)?;
    // Rows from before sealing hold their secrets as they came; the next
    // start seals them (`reseal`).
    if row.try_get::<Option<String>, _>("sealed_with")?.is_some() {
        let place = sealing::signing_place(tenant.as_str(), id.as_str());
        spec.secrets = spec
            .secrets
            .iter()
            .map(|sealed| keys.open(&place, sealed))
            .collect::<Result<_, _>>()
            .map_err(|e| unopened(&place, e))?;
    }
    Ok(Endpoint {
        tenant: tenant.clone(),
        id,
        spec,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        paused_at: row.try_get("paused_at")?,
        plugin_secrets,
    })
}

/// A secret at `place` that did not open: a key this host lacks is said as
/// it is (its id is what the operator needs); anything else names the row.
pub(super) fn unopened(place: &str, e: SealError) -> StoreError {
    match e {
        SealError::UnknownKey(_) => e.into(),
        e => corrupt(format!("{place}: {e}")),
    }
}

/// Plugin secrets of `tenant`'s endpoints, opened, by endpoint, from rows
/// of `(endpoint, name, sealed)`.
pub(super) fn plugin_secrets(
    keys: &Keyring,
    tenant: &TenantId,
    rows: Vec<(String, String, String)>,
) -> Result<HashMap<String, PluginSecrets>, StoreError> {
    let mut by_endpoint: HashMap<String, Vec<(String, SecretValue)>> = HashMap::new();
    for (endpoint, name, sealed) in rows {
        let place = sealing::plugin_place(tenant.as_str(), &endpoint, &name);
        let value = SecretValue::new(
            keys.open(&place, &sealed)
                .map_err(|e| unopened(&place, e))?,
        );
        by_endpoint.entry(endpoint).or_default().push((name, value));
    }
    Ok(by_endpoint
        .into_iter()
        .map(|(endpoint, secrets)| (endpoint, secrets.into_iter().collect()))
        .collect())
}

/// A tenant (columns `id`, `created_at`).
pub(super) fn tenant<'r, R>(row: &'r R) -> Result<Tenant, StoreError>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    Timestamp: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(Tenant {
        id: TenantId::new(row.try_get::<String, _>("id")?).map_err(corrupt)?,
        created_at: row.try_get("created_at")?,
    })
}

/// A plugin version's metadata, without its component bytes.
pub(super) fn plugin_version<'r, R>(row: &'r R) -> Result<PluginVersion, StoreError>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    &'r str: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    Timestamp: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(PluginVersion {
        plugin: PluginName::new(row.try_get::<String, _>("plugin")?).map_err(corrupt)?,
        version: row.try_get::<i64, _>("version")? as u32,
        digest: row.try_get("digest")?,
        size: row.try_get::<i64, _>("size")? as u64,
        imports: json(row.try_get::<&str, _>("imports")?)?,
        uploaded_at: row.try_get("uploaded_at")?,
    })
}

/// A recorded attempt.
pub(super) fn attempt<'r, R>(row: &'r R) -> Result<Attempt, StoreError>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    &'r str: Decode<'r, R::Database> + Type<R::Database>,
    Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    Timestamp: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
{
    let outcome: &str = row.try_get("outcome")?;
    Ok(Attempt {
        attempt: row.try_get::<i64, _>("attempt")? as u32,
        plugin_version: row.try_get::<i64, _>("plugin_version")? as u32,
        started_at: row.try_get("started_at")?,
        duration_ms: row.try_get::<i64, _>("duration_ms")? as u64,
        outcome: AttemptOutcome::parse(outcome).ok_or_else(|| corrupt(outcome))?,
        message: row.try_get("message")?,
        logs: json(row.try_get::<&str, _>("logs")?)?,
        logs_truncated: row.try_get("logs_truncated")?,
        http_calls: json(row.try_get::<&str, _>("http_calls")?)?,
    })
}
