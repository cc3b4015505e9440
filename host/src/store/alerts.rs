//! Alerts in the store: tenants' destinations (their signing secrets
//! sealed), the outbox of alerts each sent with retries under a lease, the
//! time each (tenant, endpoint, kind) was last raised, and the per-endpoint
//! state the rules share across hosts. Written once for both backends, as
//! `replays.rs` is.

use std::time::Duration;

use super::{LeaseToken, StoreError};
use crate::domain::{AlertKind, DestinationKind, Timestamp};
use crate::ids::{AlertId, DestinationName, EndpointId, TenantId};

/// Most alert destinations of one tenant.
pub const MAX_DESTINATIONS: i64 = 8;

/// Most alerts of one tenant waiting to be sent; alerts raised beyond it
/// are dropped (and counted), so a tenant with an unreachable destination
/// holds a bounded outbox.
pub const MAX_PENDING_ALERTS: i64 = 1000;

/// Alerts of one tenant kept once sent or failed.
pub const KEPT_ALERTS: i64 = 1000;

/// A tenant's alert destination, its secret opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// Its name.
    pub name: DestinationName,
    /// How it is sent to.
    pub kind: DestinationKind,
    /// Where.
    pub url: String,
    /// The Standard Webhooks secret of a `webhook` destination.
    pub secret: Option<String>,
    /// When it was first set.
    pub created_at: Timestamp,
    /// When it was last set.
    pub updated_at: Timestamp,
}

/// What storing a destination came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestinationPut {
    /// Stored; `true` when it is new.
    Stored(bool),
    /// A new one would be one more than [`MAX_DESTINATIONS`].
    TooMany,
}

/// Whose destination an alert goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertScope {
    /// One of the alert's tenant's destinations.
    Tenant,
    /// One of the operator's, from the configuration.
    Operator,
}

impl AlertScope {
    fn as_str(self) -> &'static str {
        match self {
            Self::Tenant => "tenant",
            Self::Operator => "operator",
        }
    }
}

/// Where an alert is in its sending.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// Waiting for its next attempt.
    Pending,
    /// Its destination answered 2xx.
    Sent,
    /// Every attempt failed.
    Failed,
}

impl AlertState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Sent, Self::Failed]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// One alert to one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// Its id, also its `webhook-id`.
    pub id: AlertId,
    /// The tenant it is about.
    pub tenant: TenantId,
    /// Whose destination it goes to.
    pub scope: AlertScope,
    /// The destination's name.
    pub destination: String,
    /// What it is about.
    pub kind: AlertKind,
    /// The JSON event sent.
    pub payload: String,
    /// Where it is.
    pub state: AlertState,
    /// Attempts made.
    pub attempts: u32,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<Timestamp>,
    /// The last answer's status.
    pub last_status: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was raised.
    pub created_at: Timestamp,
    /// When it was delivered.
    pub sent_at: Option<Timestamp>,
}

/// An alert to raise for every destination of its tenant and the
/// operator's, unless the same (tenant, endpoint, kind) was raised within
/// `min_interval`.
#[derive(Debug, Clone)]
pub struct RaiseAlert<'a> {
    /// The tenant.
    pub tenant: &'a TenantId,
    /// The endpoint it is about.
    pub endpoint: &'a EndpointId,
    /// What it is about.
    pub kind: AlertKind,
    /// The JSON event.
    pub payload: &'a str,
    /// The operator's destinations.
    pub operator: &'a [String],
    /// Now.
    pub now: Timestamp,
    /// Shortest time between two alerts of this key.
    pub min_interval: Duration,
}

/// What raising an alert came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Raised {
    /// Neither the tenant nor the operator has a destination.
    Nowhere,
    /// Raised within the interval already, on this host or another.
    Throttled,
    /// Queued for `queued` destinations; `dropped` more found the tenant's
    /// outbox full.
    Queued {
        /// Alerts queued.
        queued: u32,
        /// Alerts dropped.
        dropped: u32,
    },
}

/// What one attempt to send an alert came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendResult {
    /// The answer's status, if there was one.
    pub status: Option<u16>,
    /// Why it failed; `None` when delivered.
    pub error: Option<String>,
    /// When to try again; `None` when delivered or out of attempts.
    pub retry_at: Option<Timestamp>,
}

/// An endpoint whose silence is watched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    /// Its tenant.
    pub tenant: TenantId,
    /// The endpoint.
    pub endpoint: EndpointId,
    /// Its `alerts.expect_every_s`.
    pub expect_every_s: u64,
    /// The last webhook received, else when it was configured.
    pub last_seen: Timestamp,
}

/// Alerts in the store.
#[async_trait::async_trait]
pub trait AlertStore: Send + Sync + 'static {
    /// Sets a tenant's destination, its secret sealed, unless the tenant
    /// has [`MAX_DESTINATIONS`] others.
    async fn put_destination(
        &self,
        tenant: &TenantId,
        d: &Destination,
    ) -> Result<DestinationPut, StoreError>;

    /// A tenant's destinations, by name.
    async fn destinations(&self, tenant: &TenantId) -> Result<Vec<Destination>, StoreError>;

    /// Deletes a destination; `false` when there was none.
    async fn delete_destination(
        &self,
        tenant: &TenantId,
        name: &DestinationName,
    ) -> Result<bool, StoreError>;

    /// Raises an alert: decided once across hosts, queued for each
    /// destination within the tenant's outbox bound.
    async fn raise_alert(&self, raise: &RaiseAlert<'_>) -> Result<Raised, StoreError>;

    /// A tenant's newest alerts, at most `limit`.
    async fn alerts(&self, tenant: &TenantId, limit: u32) -> Result<Vec<Alert>, StoreError>;

    /// Leases up to `max` due alerts, at most two per tenant, to `lease`.
    async fn lease_alerts(
        &self,
        lease: &LeaseToken,
        now: Timestamp,
        lease_for: Duration,
        max: u32,
    ) -> Result<Vec<Alert>, StoreError>;

    /// Records an attempt of an alert this lease holds.
    async fn record_send(
        &self,
        id: &AlertId,
        lease: &LeaseToken,
        result: &SendResult,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Counts a dead delivery of an endpoint (`dead`), or resets the count
    /// on a success; returns the dead deliveries in a row.
    async fn dead_streak(
        &self,
        tenant: &TenantId,
        endpoint: &EndpointId,
        dead: bool,
    ) -> Result<u32, StoreError>;

    /// Notes that an endpoint received a webhook.
    async fn note_received(
        &self,
        tenant: &TenantId,
        endpoint: &EndpointId,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Every endpoint with `alerts.expect_every_s`, and when it last
    /// received a webhook (or was configured).
    async fn watched_endpoints(&self) -> Result<Vec<Watched>, StoreError>;

    /// Seals again under the current key every destination secret sealed
    /// under a previous one; returns how many.
    async fn reseal_destinations(&self) -> Result<u64, StoreError>;
}

/// Where a destination's secret is sealed: bound to its tenant and name.
pub(super) fn destination_place(tenant: &str, name: &str) -> String {
    format!("alert-destination:{tenant}/{name}")
}

/// A destination's columns, in the order of [`DestinationRow`].
pub(super) const DESTINATION_COLUMNS: &str = "name, kind, url, sealed, created_at, updated_at";

/// A destination's row as read.
pub(super) type DestinationRow = (String, String, String, Option<String>, Timestamp, Timestamp);

/// A destination from its row, its secret opened.
pub(super) fn destination(
    keys: &super::Keyring,
    tenant: &TenantId,
    row: DestinationRow,
) -> Result<Destination, StoreError> {
    let (name, kind, url, sealed, created_at, updated_at) = row;
    let secret = sealed
        .map(|s| keys.open(&destination_place(tenant.as_str(), &name), &s))
        .transpose()?;
    Ok(Destination {
        name: DestinationName::new(name).map_err(super::rows::corrupt)?,
        kind: DestinationKind::parse(&kind).ok_or_else(|| super::rows::corrupt(kind))?,
        url,
        secret,
        created_at,
        updated_at,
    })
}

/// An alert's columns, in the order of [`AlertRow`].
pub(super) const ALERT_COLUMNS: &str =
    "id, tenant, scope, destination, kind, payload, state, attempts,
     next_attempt_at, last_status, last_error, created_at, sent_at";

/// An alert's row as read.
pub(super) type AlertRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    Option<Timestamp>,
    Option<i64>,
    Option<String>,
    Timestamp,
    Option<Timestamp>,
);

/// An alert from its row.
pub(super) fn alert(row: AlertRow) -> Result<Alert, StoreError> {
    use super::rows::corrupt;
    Ok(Alert {
        id: AlertId::from_string(row.0),
        tenant: TenantId::new(row.1).map_err(corrupt)?,
        scope: match row.2.as_str() {
            "tenant" => AlertScope::Tenant,
            "operator" => AlertScope::Operator,
            other => return Err(corrupt(other)),
        },
        destination: row.3,
        kind: AlertKind::parse(&row.4).ok_or_else(|| corrupt(&row.4))?,
        payload: row.5,
        state: AlertState::parse(&row.6).ok_or_else(|| corrupt(&row.6))?,
        attempts: row.7.clamp(0, i64::from(u32::MAX)) as u32,
        next_attempt_at: row.8,
        last_status: row.9.and_then(|s| u16::try_from(s).ok()),
        last_error: row.10,
        created_at: row.11,
        sent_at: row.12,
    })
}

/// A watched endpoint's row as read: tenant, endpoint, `expect_every_s`,
/// when it was configured, and its last webhook.
pub(super) type WatchedRow = (String, String, i64, Timestamp, Option<Timestamp>);

/// The scope name stored for `scope`.
pub(super) fn scope_name(scope: AlertScope) -> &'static str {
    scope.as_str()
}

/// Implements `AlertStore` for a backend: `lock_row` locks the rows a
/// `SELECT` reads where the backend locks rows, `begin` starts a write
/// transaction, and `expect_every` reads `alerts.expect_every_s` from an
/// endpoint's spec (`e.spec`) as an integer.
macro_rules! alert_store {
    ($store:ty, lock_row: $lock_row:literal, begin: $begin:literal, expect_every: $expect:literal $(,)?) => {
        #[async_trait::async_trait]
        impl $crate::store::AlertStore for $store {
            async fn put_destination(
                &self,
                tenant: &$crate::ids::TenantId,
                d: &$crate::store::Destination,
            ) -> Result<$crate::store::DestinationPut, $crate::store::StoreError> {
                use $crate::store::alerts as a;
                let sealed = d.secret.as_ref().map(|s| {
                    self.keys()
                        .seal(&a::destination_place(tenant.as_str(), d.name.as_str()), s)
                });
                let key_id = sealed.as_ref().map(|_| self.keys().current_id().to_owned());
                let mut writer = self.admin_writer().await?;
                let mut tx = sqlx::Connection::begin_with(&mut *writer, $begin).await?;
                // The tenant's row is locked so two puts at once count each other.
                sqlx::query(concat!("SELECT id FROM tenants WHERE id = $1", $lock_row))
                    .bind(tenant.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
                let others: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM alert_destinations WHERE tenant = $1 AND name <> $2",
                )
                .bind(tenant.as_str())
                .bind(d.name.as_str())
                .fetch_one(&mut *tx)
                .await?;
                let exists: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM alert_destinations WHERE tenant = $1 AND name = $2",
                )
                .bind(tenant.as_str())
                .bind(d.name.as_str())
                .fetch_one(&mut *tx)
                .await?;
                if others >= a::MAX_DESTINATIONS {
                    return Ok($crate::store::DestinationPut::TooMany);
                }
                sqlx::query(
                    "INSERT INTO alert_destinations (tenant, name, kind, url, sealed, sealed_with,
                                                     created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
                     ON CONFLICT (tenant, name) DO UPDATE SET kind = excluded.kind, url = excluded.url,
                         sealed = excluded.sealed, sealed_with = excluded.sealed_with,
                         updated_at = excluded.updated_at",
                )
                .bind(tenant.as_str())
                .bind(d.name.as_str())
                .bind(d.kind.as_str())
                .bind(&d.url)
                .bind(sealed)
                .bind(key_id)
                .bind(d.updated_at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok($crate::store::DestinationPut::Stored(exists == 0))
            }

            async fn destinations(
                &self,
                tenant: &$crate::ids::TenantId,
            ) -> Result<Vec<$crate::store::Destination>, $crate::store::StoreError> {
                use $crate::store::alerts as a;
                let rows: Vec<a::DestinationRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM alert_destinations WHERE tenant = $1 ORDER BY name",
                    a::DESTINATION_COLUMNS
                ))
                .bind(tenant.as_str())
                .fetch_all(self.admin_reader())
                .await?;
                rows.into_iter()
                    .map(|row| a::destination(self.keys(), tenant, row))
                    .collect()
            }

            async fn delete_destination(
                &self,
                tenant: &$crate::ids::TenantId,
                name: &$crate::ids::DestinationName,
            ) -> Result<bool, $crate::store::StoreError> {
                let gone = sqlx::query("DELETE FROM alert_destinations WHERE tenant = $1 AND name = $2")
                    .bind(tenant.as_str())
                    .bind(name.as_str())
                    .execute(&mut *self.admin_writer().await?)
                    .await?
                    .rows_affected();
                Ok(gone > 0)
            }

            async fn raise_alert(
                &self,
                raise: &$crate::store::RaiseAlert<'_>,
            ) -> Result<$crate::store::Raised, $crate::store::StoreError> {
                use $crate::store::alerts as a;
                use $crate::store::{AlertScope, Raised};
                let tenant = raise.tenant.as_str();
                // Read first, on a reader: most tenants have none, and then
                // nothing is written.
                let names: Vec<String> = sqlx::query_scalar(
                    "SELECT name FROM alert_destinations WHERE tenant = $1 ORDER BY name",
                )
                .bind(tenant)
                .fetch_all(self.admin_reader())
                .await?;
                if names.is_empty() && raise.operator.is_empty() {
                    return Ok(Raised::Nowhere);
                }
                let mut writer = self.admin_writer().await?;
                let mut tx = sqlx::Connection::begin_with(&mut *writer, $begin).await?;
                // One row per key: a second host's insert waits for the
                // first's, then finds the interval not yet over.
                let raised = sqlx::query(
                    "INSERT INTO alert_raises (tenant, endpoint, kind, last_raised_at)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (tenant, endpoint, kind) DO UPDATE
                         SET last_raised_at = excluded.last_raised_at
                         WHERE alert_raises.last_raised_at <= $5",
                )
                .bind(tenant)
                .bind(raise.endpoint.as_str())
                .bind(raise.kind.as_str())
                .bind(raise.now)
                .bind(raise.now.before(raise.min_interval))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if raised == 0 {
                    return Ok(Raised::Throttled);
                }
                let pending: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM alerts WHERE tenant = $1 AND state = 'pending'",
                )
                .bind(tenant)
                .fetch_one(&mut *tx)
                .await?;
                let targets = names
                    .iter()
                    .map(|n| (AlertScope::Tenant, n))
                    .chain(raise.operator.iter().map(|n| (AlertScope::Operator, n)));
                let room = (a::MAX_PENDING_ALERTS - pending).max(0) as usize;
                let (mut queued, mut dropped) = (0u32, 0u32);
                for (i, (scope, name)) in targets.enumerate() {
                    if i >= room {
                        dropped += 1;
                        continue;
                    }
                    sqlx::query(
                        "INSERT INTO alerts (id, tenant, scope, destination, kind, payload, state,
                                             attempts, next_attempt_at, created_at)
                         VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7)",
                    )
                    .bind($crate::ids::AlertId::generate().as_str())
                    .bind(tenant)
                    .bind(a::scope_name(scope))
                    .bind(name)
                    .bind(raise.kind.as_str())
                    .bind(raise.payload)
                    .bind(raise.now)
                    .execute(&mut *tx)
                    .await?;
                    queued += 1;
                }
                sqlx::query(
                    "DELETE FROM alerts WHERE tenant = $1 AND state <> 'pending'
                       AND id NOT IN (SELECT id FROM alerts WHERE tenant = $1 ORDER BY id DESC LIMIT $2)",
                )
                .bind(tenant)
                .bind(a::KEPT_ALERTS)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(Raised::Queued { queued, dropped })
            }

            async fn alerts(
                &self,
                tenant: &$crate::ids::TenantId,
                limit: u32,
            ) -> Result<Vec<$crate::store::Alert>, $crate::store::StoreError> {
                use $crate::store::alerts as a;
                let rows: Vec<a::AlertRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM alerts WHERE tenant = $1 ORDER BY id DESC LIMIT $2",
                    a::ALERT_COLUMNS
                ))
                .bind(tenant.as_str())
                .bind(i64::from(limit))
                .fetch_all(self.admin_reader())
                .await?;
                rows.into_iter().map(a::alert).collect()
            }

            async fn lease_alerts(
                &self,
                lease: &$crate::store::LeaseToken,
                now: $crate::domain::Timestamp,
                lease_for: std::time::Duration,
                max: u32,
            ) -> Result<Vec<$crate::store::Alert>, $crate::store::StoreError> {
                use $crate::store::alerts as a;
                let mut writer = self.admin_writer().await?;
                // The conditions are repeated outside the subquery: on
                // PostgreSQL a host that lost the race for a row finds them
                // false once the winner commits, and takes nothing.
                sqlx::query(
                    "UPDATE alerts SET lease_token = $1, lease_until = $2
                     WHERE state = 'pending' AND next_attempt_at <= $3
                       AND (lease_until IS NULL OR lease_until < $3)
                       AND id IN (SELECT id FROM (
                                    SELECT id, next_attempt_at, ROW_NUMBER() OVER
                                        (PARTITION BY tenant ORDER BY next_attempt_at, id) AS n
                                    FROM alerts
                                    WHERE state = 'pending' AND next_attempt_at <= $3
                                      AND (lease_until IS NULL OR lease_until < $3)) AS due
                                  WHERE n <= 2 ORDER BY next_attempt_at LIMIT $4)",
                )
                .bind(lease.0.as_str())
                .bind(now.after(lease_for))
                .bind(now)
                .bind(i64::from(max))
                .execute(&mut *writer)
                .await?;
                let rows: Vec<a::AlertRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM alerts WHERE lease_token = $1 AND state = 'pending'",
                    a::ALERT_COLUMNS
                ))
                .bind(lease.0.as_str())
                .fetch_all(&mut *writer)
                .await?;
                rows.into_iter().map(a::alert).collect()
            }

            async fn record_send(
                &self,
                id: &$crate::ids::AlertId,
                lease: &$crate::store::LeaseToken,
                result: &$crate::store::SendResult,
                now: $crate::domain::Timestamp,
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::AlertState;
                let state = match (&result.error, result.retry_at) {
                    (None, _) => AlertState::Sent,
                    (Some(_), Some(_)) => AlertState::Pending,
                    (Some(_), None) => AlertState::Failed,
                };
                sqlx::query(
                    "UPDATE alerts SET state = $3, attempts = attempts + 1, next_attempt_at = $4,
                                       last_status = $5, last_error = $6, sent_at = $7,
                                       lease_token = NULL, lease_until = NULL
                     WHERE id = $1 AND lease_token = $2",
                )
                .bind(id.as_str())
                .bind(lease.0.as_str())
                .bind(state.as_str())
                .bind(result.retry_at)
                .bind(result.status.map(i64::from))
                .bind(result.error.as_deref())
                .bind((state == AlertState::Sent).then_some(now))
                .execute(&mut *self.admin_writer().await?)
                .await?;
                Ok(())
            }

            async fn dead_streak(
                &self,
                tenant: &$crate::ids::TenantId,
                endpoint: &$crate::ids::EndpointId,
                dead: bool,
            ) -> Result<u32, $crate::store::StoreError> {
                let mut writer = self.admin_writer().await?;
                if !dead {
                    sqlx::query(
                        "UPDATE endpoint_watch SET dead_streak = 0
                         WHERE tenant = $1 AND endpoint = $2 AND dead_streak <> 0",
                    )
                    .bind(tenant.as_str())
                    .bind(endpoint.as_str())
                    .execute(&mut *writer)
                    .await?;
                    return Ok(0);
                }
                let streak: i64 = sqlx::query_scalar(
                    "INSERT INTO endpoint_watch (tenant, endpoint, dead_streak) VALUES ($1, $2, 1)
                     ON CONFLICT (tenant, endpoint) DO UPDATE
                         SET dead_streak = endpoint_watch.dead_streak + 1
                     RETURNING dead_streak",
                )
                .bind(tenant.as_str())
                .bind(endpoint.as_str())
                .fetch_one(&mut *writer)
                .await?;
                Ok(streak.clamp(0, i64::from(u32::MAX)) as u32)
            }

            async fn note_received(
                &self,
                tenant: &$crate::ids::TenantId,
                endpoint: &$crate::ids::EndpointId,
                now: $crate::domain::Timestamp,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query(
                    "INSERT INTO endpoint_watch (tenant, endpoint, last_received_at) VALUES ($1, $2, $3)
                     ON CONFLICT (tenant, endpoint) DO UPDATE SET last_received_at = excluded.last_received_at",
                )
                .bind(tenant.as_str())
                .bind(endpoint.as_str())
                .bind(now)
                .execute(&mut *self.admin_writer().await?)
                .await?;
                Ok(())
            }

            async fn watched_endpoints(
                &self,
            ) -> Result<Vec<$crate::store::Watched>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::alerts::WatchedRow> =
                    sqlx::query_as(concat!(
                        "SELECT e.tenant, e.id, ", $expect, ", e.updated_at, w.last_received_at
                         FROM endpoints e LEFT JOIN endpoint_watch w ON w.tenant = e.tenant AND w.endpoint = e.id
                         WHERE ", $expect, " IS NOT NULL"
                    ))
                    .fetch_all(self.admin_reader())
                    .await?;
                rows.into_iter()
                    .map(|(tenant, endpoint, every, updated, received)| {
                        Ok($crate::store::Watched {
                            tenant: $crate::ids::TenantId::new(tenant).map_err($crate::store::rows::corrupt)?,
                            endpoint: $crate::ids::EndpointId::new(endpoint).map_err($crate::store::rows::corrupt)?,
                            expect_every_s: every.max(1) as u64,
                            last_seen: received.map_or(updated, |r| r.max(updated)),
                        })
                    })
                    .collect()
            }

            async fn reseal_destinations(&self) -> Result<u64, $crate::store::StoreError> {
                use $crate::store::alerts as a;
                let keys = self.keys();
                let stale: Vec<(String, String, String)> = sqlx::query_as(
                    "SELECT tenant, name, sealed FROM alert_destinations
                     WHERE sealed IS NOT NULL AND sealed_with <> $1",
                )
                .bind(keys.current_id())
                .fetch_all(self.admin_reader())
                .await?;
                let mut writer = self.admin_writer().await?;
                for (tenant, name, sealed) in &stale {
                    let place = a::destination_place(tenant, name);
                    let secret = keys.open(&place, sealed)?;
                    sqlx::query(
                        "UPDATE alert_destinations SET sealed = $3, sealed_with = $4
                         WHERE tenant = $1 AND name = $2 AND sealed = $5",
                    )
                    .bind(tenant)
                    .bind(name)
                    .bind(keys.seal(&place, &secret))
                    .bind(keys.current_id())
                    .bind(sealed)
                    .execute(&mut *writer)
                    .await?;
                }
                Ok(stale.len() as u64)
            }
        }
    };
}
pub(super) use alert_store;
