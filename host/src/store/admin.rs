//! The admin half of the store ([`AdminStore`](super::AdminStore) and the
//! plugins' KV reads), written once for both backends.
//!
//! Its SQL is the same text on SQLite and PostgreSQL: parameters are
//! numbered (`$1`, which sqlx's SQLite driver binds by number as well),
//! optional filters say `CAST($n AS TEXT) IS NULL`, and upserts name the
//! conflict target. One macro body therefore implements the traits for each
//! backend; the few statements that really differ (how payloads are keyed,
//! a prefix scan, a byte count) are the macro's arguments, so they stand
//! side by side where each backend invokes it (so is how a transaction
//! begins: SQLite's writer takes the write lock at once, since a transaction
//! that reads before it writes fails outright, past any busy timeout, if the
//! queue's writer commits in between). A backend provides
//! `admin_reader()` (a pool) and `admin_writer()` (a connection for writes).

/// Bytes of a tenant's plugin versions (`$1`), as a 64-bit integer on both
/// backends (PostgreSQL's `SUM` of `BIGINT` is `NUMERIC`).
pub(super) const PLUGIN_BYTES: &str =
    "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM plugin_versions WHERE tenant = $1";

/// Implements `AdminStore` and `KvReader` for a backend; see the module doc.
macro_rules! admin_store {
    (
        $store:ty,
        payloads_of_tenant: $payloads_of_tenant:literal,
        payload_join: $payload_join:literal,
        kv_keys: $kv_keys:literal,
        kv_usage: $kv_usage:literal,
        lock_row: $lock_row:literal,
        lock_endpoint: $lock_endpoint:expr,
        begin: $begin:literal $(,)?
    ) => {
        #[async_trait::async_trait]
        impl $crate::runtime::KvReader for $store {
            async fn get(
                &self,
                ns: &$crate::runtime::KvNamespace,
                key: &str,
            ) -> Result<Option<Vec<u8>>, $crate::runtime::KvReadError> {
                self.kv_value(ns, key).await
            }

            async fn list_keys(
                &self,
                ns: &$crate::runtime::KvNamespace,
                prefix: &str,
                limit: usize,
            ) -> Result<Vec<String>, $crate::runtime::KvReadError> {
                sqlx::query_scalar($kv_keys)
                    .bind(ns.tenant.as_str())
                    .bind(ns.plugin.as_str())
                    .bind(prefix)
                    .bind(limit as i64)
                    .fetch_all(self.admin_reader())
                    .await
                    .map_err($crate::store::rows::read_error)
            }

            async fn tenant_usage_bytes(
                &self,
                tenant: &$crate::ids::TenantId,
            ) -> Result<u64, $crate::runtime::KvReadError> {
                let used: i64 = sqlx::query_scalar($kv_usage)
                    .bind(tenant.as_str())
                    .fetch_one(self.admin_reader())
                    .await
                    .map_err($crate::store::rows::read_error)?;
                Ok(used as u64)
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::AdminStore for $store {
            async fn create_tenant(
                &self,
                id: &$crate::ids::TenantId,
                api_key_hash: Option<&str>,
            ) -> Result<bool, $crate::store::StoreError> {
                let done = sqlx::query(
                    "INSERT INTO tenants (id, api_key_hash, created_at) VALUES ($1, $2, $3)
                     ON CONFLICT (id) DO NOTHING",
                )
                .bind(id.as_str())
                .bind(api_key_hash)
                .bind($crate::domain::Timestamp::now().as_ms())
                .execute(&mut *self.admin_writer().await?)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn tenant(
                &self,
                id: &$crate::ids::TenantId,
            ) -> Result<Option<$crate::store::Tenant>, $crate::store::StoreError> {
                let row = sqlx::query("SELECT id, created_at FROM tenants WHERE id = $1")
                    .bind(id.as_str())
                    .fetch_optional(self.admin_reader())
                    .await?;
                row.as_ref().map($crate::store::rows::tenant).transpose()
            }

            async fn list_tenants(
                &self,
            ) -> Result<Vec<$crate::store::Tenant>, $crate::store::StoreError> {
                let rows = sqlx::query("SELECT id, created_at FROM tenants ORDER BY id")
                    .fetch_all(self.admin_reader())
                    .await?;
                rows.iter().map($crate::store::rows::tenant).collect()
            }

            async fn delete_tenant(
                &self,
                id: &$crate::ids::TenantId,
            ) -> Result<bool, $crate::store::StoreError> {
                let mut writer = self.admin_writer().await?;
                let mut tx = sqlx::Connection::begin_with(&mut *writer, $begin).await?;
                for statement in [
                    "DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE tenant = $1)",
                    $payloads_of_tenant,
                    "DELETE FROM deliveries WHERE tenant = $1",
                    "DELETE FROM kv WHERE tenant = $1",
                    "DELETE FROM endpoints WHERE tenant = $1",
                    "DELETE FROM plugin_versions WHERE tenant = $1",
                    "DELETE FROM replay_jobs WHERE tenant = $1",
                    "DELETE FROM alerts WHERE tenant = $1",
                    "DELETE FROM alert_destinations WHERE tenant = $1",
                    "DELETE FROM alert_raises WHERE tenant = $1",
                    "DELETE FROM endpoint_watch WHERE tenant = $1",
                    "DELETE FROM ui_sessions WHERE tenant = $1",
                ] {
                    sqlx::query(statement)
                        .bind(id.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
                let gone = sqlx::query("DELETE FROM tenants WHERE id = $1")
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok(gone == 1)
            }

            async fn set_tenant_key(
                &self,
                id: &$crate::ids::TenantId,
                api_key_hash: &str,
            ) -> Result<bool, $crate::store::StoreError> {
                let mut writer = self.admin_writer().await?;
                let mut tx = sqlx::Connection::begin_with(&mut *writer, $begin).await?;
                let done = sqlx::query("UPDATE tenants SET api_key_hash = $1 WHERE id = $2")
                    .bind(api_key_hash)
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
                // The old key's dashboard sessions end with it.
                sqlx::query("DELETE FROM ui_sessions WHERE tenant = $1")
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }

            async fn tenant_by_key_hash(
                &self,
                api_key_hash: &str,
            ) -> Result<Option<$crate::ids::TenantId>, $crate::store::StoreError> {
                let id: Option<String> =
                    sqlx::query_scalar("SELECT id FROM tenants WHERE api_key_hash = $1")
                        .bind(api_key_hash)
                        .fetch_optional(self.admin_reader())
                        .await?;
                id.map(|id| $crate::ids::TenantId::new(id).map_err($crate::store::rows::corrupt))
                    .transpose()
            }

            async fn setting(&self, key: &str) -> Result<Option<String>, $crate::store::StoreError> {
                Ok(sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                    .bind(key)
                    .fetch_optional(self.admin_reader())
                    .await?)
            }

            async fn set_setting(
                &self,
                key: &str,
                value: &str,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query(
                    "INSERT INTO settings (key, value) VALUES ($1, $2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                )
                .bind(key)
                .bind(value)
                .execute(&mut *self.admin_writer().await?)
                .await?;
                Ok(())
            }

            async fn ping(&self) -> Result<(), $crate::store::StoreError> {
                sqlx::query("SELECT 1").execute(self.admin_reader()).await?;
                Ok(())
            }

            async fn add_plugin_version(
                &self,
                tenant: &$crate::ids::TenantId,
                plugin: &$crate::ids::PluginName,
                digest: &str,
                imports: &[String],
                wasm: &[u8],
                max_bytes: u64,
            ) -> Result<$crate::store::PluginVersion, $crate::store::StoreError> {
                let now = $crate::domain::Timestamp::now();
                let no_tenant = |e: sqlx::Error| match &e {
                    sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                        $crate::store::StoreError::NoSuchTenant
                    }
                    _ => e.into(),
                };
                let mut writer = self.admin_writer().await?;
                let mut tx = sqlx::Connection::begin_with(&mut *writer, $begin).await?;
                // Checked in the transaction that inserts, so concurrent
                // uploads overshoot only by those committing at the same moment.
                let stored: i64 = sqlx::query_scalar($crate::store::admin::PLUGIN_BYTES)
                    .bind(tenant.as_str())
                    .fetch_one(&mut *tx)
                    .await?;
                let (stored, size) = (stored as u64, wasm.len() as u64);
                if stored.saturating_add(size) > max_bytes {
                    return Err($crate::store::StoreError::PluginQuota {
                        stored,
                        size,
                        max: max_bytes,
                    });
                }
                let version: i64 = sqlx::query_scalar(
                    "INSERT INTO plugin_counters (tenant, plugin, last_version) VALUES ($1, $2, 1)
                     ON CONFLICT (tenant, plugin) DO UPDATE
                       SET last_version = plugin_counters.last_version + 1
                     RETURNING last_version",
                )
                .bind(tenant.as_str())
                .bind(plugin.as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(no_tenant)?;
                sqlx::query(
                    "INSERT INTO plugin_versions (tenant, plugin, version, digest, size, imports, wasm, uploaded_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(tenant.as_str())
                .bind(plugin.as_str())
                .bind(version)
                .bind(digest)
                .bind(wasm.len() as i64)
                .bind($crate::store::rows::to_json(&imports))
                .bind(wasm)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(no_tenant)?;
                tx.commit().await?;
                Ok($crate::store::PluginVersion {
                    plugin: plugin.clone(),
                    version: version as u32,
                    digest: digest.to_owned(),
                    size: wasm.len() as u64,
                    imports: imports.to_vec(),
                    uploaded_at: now,
                })
            }

            async fn plugin_bytes(
                &self,
                tenant: &$crate::ids::TenantId,
            ) -> Result<u64, $crate::store::StoreError> {
                let stored: i64 = sqlx::query_scalar($crate::store::admin::PLUGIN_BYTES)
                    .bind(tenant.as_str())
                    .fetch_one(self.admin_reader())
                    .await?;
                Ok(stored as u64)
            }

            async fn plugin_digests(&self) -> Result<Vec<String>, $crate::store::StoreError> {
                Ok(
                    sqlx::query_scalar("SELECT DISTINCT digest FROM plugin_versions")
                        .fetch_all(self.admin_reader())
                        .await?,
                )
            }

            async fn plugin_wasm(
                &self,
                tenant: &$crate::ids::TenantId,
                plugin: &$crate::ids::PluginName,
                version: u32,
            ) -> Result<Option<Vec<u8>>, $crate::store::StoreError> {
                Ok(sqlx::query_scalar(
                    "SELECT wasm FROM plugin_versions WHERE tenant = $1 AND plugin = $2 AND version = $3",
                )
                .bind(tenant.as_str())
                .bind(plugin.as_str())
                .bind(version as i64)
                .fetch_optional(self.admin_reader())
                .await?)
            }

            async fn plugin_versions(
                &self,
                tenant: &$crate::ids::TenantId,
                plugin: Option<&$crate::ids::PluginName>,
            ) -> Result<Vec<$crate::store::PluginVersion>, $crate::store::StoreError> {
                let rows = sqlx::query(
                    "SELECT plugin, version, digest, size, imports, uploaded_at FROM plugin_versions
                     WHERE tenant = $1 AND (CAST($2 AS TEXT) IS NULL OR plugin = $2)
                     ORDER BY plugin, version",
                )
                .bind(tenant.as_str())
                .bind(plugin.map($crate::ids::PluginName::as_str))
                .fetch_all(self.admin_reader())
                .await?;
                rows.iter().map($crate::store::rows::plugin_version).collect()
            }

            async fn delete_plugin_version(
                &self,
                tenant: &$crate::ids::TenantId,
                plugin: &$crate::ids::PluginName,
                version: u32,
            ) -> Result<$crate::store::DeleteVersion, $crate::store::StoreError> {
                let mut writer = self.admin_writer().await?;
                let mut tx = sqlx::Connection::begin_with(&mut *writer, $begin).await?;
                let bound: Vec<String> = sqlx::query_scalar(
                    "SELECT id FROM endpoints WHERE tenant = $1 AND plugin = $2 AND plugin_version = $3
                     ORDER BY id",
                )
                .bind(tenant.as_str())
                .bind(plugin.as_str())
                .bind(version as i64)
                .fetch_all(&mut *tx)
                .await?;
                if !bound.is_empty() {
                    return Ok($crate::store::DeleteVersion::Bound(
                        bound
                            .into_iter()
                            .map(|id| {
                                $crate::ids::EndpointId::new(id)
                                    .map_err($crate::store::rows::corrupt)
                            })
                            .collect::<Result<_, _>>()?,
                    ));
                }
                let gone = sqlx::query(
                    "DELETE FROM plugin_versions WHERE tenant = $1 AND plugin = $2 AND version = $3",
                )
                .bind(tenant.as_str())
                .bind(plugin.as_str())
                .bind(version as i64)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                Ok(if gone == 1 {
                    $crate::store::DeleteVersion::Deleted
                } else {
                    $crate::store::DeleteVersion::NotFound
                })
            }

            async fn put_endpoint(
                &self,
                tenant: &$crate::ids::TenantId,
                id: &$crate::ids::EndpointId,
                spec: &$crate::domain::EndpointSpec,
            ) -> Result<bool, $crate::store::StoreError> {
                let now = $crate::domain::Timestamp::now();
                let keys = self.keys();
                let spec_json = $crate::store::rows::to_json(&$crate::store::sealing::seal_signing(
                    keys,
                    tenant.as_str(),
                    id.as_str(),
                    spec,
                ));
                let mut writer = self.admin_writer().await?;
                let mut tx = sqlx::Connection::begin_with(&mut *writer, $begin).await?;
                // Insert, or else update: exact about which happened on
                // both backends. A delete committed between the two leaves
                // the update nothing to change; then insert again.
                loop {
                    let created = sqlx::query(
                        "INSERT INTO endpoints (tenant, id, spec, plugin, plugin_version, created_at, updated_at,
                                                sealed_with, max_concurrent)
                         VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8)
                         ON CONFLICT (tenant, id) DO NOTHING",
                    )
                    .bind(tenant.as_str())
                    .bind(id.as_str())
                    .bind(&spec_json)
                    .bind(spec.plugin.as_str())
                    .bind(spec.plugin_version as i64)
                    .bind(now)
                    .bind(keys.current_id())
                    .bind(spec.limits.max_concurrent.map(i64::from))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                        == 1;
                    if created {
                        tx.commit().await?;
                        return Ok(true);
                    }
                    let updated = sqlx::query(
                        "UPDATE endpoints SET spec = $3, plugin = $4, plugin_version = $5, updated_at = $6,
                                              sealed_with = $7, max_concurrent = $8
                         WHERE tenant = $1 AND id = $2",
                    )
                    .bind(tenant.as_str())
                    .bind(id.as_str())
                    .bind(&spec_json)
                    .bind(spec.plugin.as_str())
                    .bind(spec.plugin_version as i64)
                    .bind(now)
                    .bind(keys.current_id())
                    .bind(spec.limits.max_concurrent.map(i64::from))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if updated == 1 {
                        tx.commit().await?;
                        return Ok(false);
                    }
                }
            }

            async fn endpoint(
                &self,
                tenant: &$crate::ids::TenantId,
                id: &$crate::ids::EndpointId,
            ) -> Result<Option<$crate::store::Endpoint>, $crate::store::StoreError> {
                let Some(row) = sqlx::query(
                    "SELECT id, spec, sealed_with, created_at, updated_at, paused_at FROM endpoints
                     WHERE tenant = $1 AND id = $2",
                )
                .bind(tenant.as_str())
                .bind(id.as_str())
                .fetch_optional(self.admin_reader())
                .await?
                else {
                    return Ok(None);
                };
                let sealed: Vec<(String, String, String)> = sqlx::query_as(
                    "SELECT endpoint, name, sealed FROM endpoint_secrets WHERE tenant = $1 AND endpoint = $2",
                )
                .bind(tenant.as_str())
                .bind(id.as_str())
                .fetch_all(self.admin_reader())
                .await?;
                let mut secrets = $crate::store::rows::plugin_secrets(self.keys(), tenant, sealed)?;
                let secrets = secrets.remove(id.as_str()).unwrap_or_default();
                $crate::store::rows::endpoint(self.keys(), tenant, &row, secrets).map(Some)
            }

            async fn list_endpoints(
                &self,
                tenant: &$crate::ids::TenantId,
            ) -> Result<Vec<$crate::store::Endpoint>, $crate::store::StoreError> {
                let rows = sqlx::query(
                    "SELECT id, spec, sealed_with, created_at, updated_at, paused_at FROM endpoints
                     WHERE tenant = $1 ORDER BY id",
                )
                .bind(tenant.as_str())
                .fetch_all(self.admin_reader())
                .await?;
                let sealed: Vec<(String, String, String)> = sqlx::query_as(
                    "SELECT endpoint, name, sealed FROM endpoint_secrets WHERE tenant = $1",
                )
                .bind(tenant.as_str())
                .fetch_all(self.admin_reader())
                .await?;
                let mut secrets = $crate::store::rows::plugin_secrets(self.keys(), tenant, sealed)?;
                rows.iter()
                    .map(|row| {
                        let id: &str = sqlx::Row::try_get(row, "id")?;
                        let own = secrets.remove(id).unwrap_or_default();
                        $crate::store::rows::endpoint(self.keys(), tenant, row, own)
                    })
                    .collect()
            }

            async fn pause_endpoint(
                &self,
                tenant: &$crate::ids::TenantId,
                id: &$crate::ids::EndpointId,
                now: Timestamp,
            ) -> Result<Option<u64>, $crate::store::StoreError> {
                let mut writer = self.admin_writer().await?;
                let mut tx = sqlx::Connection::begin_with(&mut *writer, $begin).await?;
                // Before the endpoint's row: a claim holding the lock may
                // still mark that row, and must not wait for this.
                sqlx::query($lock_endpoint)
                    .bind(tenant.as_str())
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
                let found = sqlx::query(
                    "UPDATE endpoints SET paused_at = COALESCE(paused_at, $3), waiting_since = NULL
                     WHERE tenant = $1 AND id = $2",
                )
                .bind(tenant.as_str())
                .bind(id.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if found == 0 {
                    return Ok(None);
                }
                // Through the due-time index: only the waiting ones; and
                // those waiting for room, which wait for the resume instead.
                let mut parked = sqlx::query(
                    "UPDATE deliveries SET status = 'paused', due_at = NULL
                     WHERE tenant = $1 AND due_at IS NOT NULL AND endpoint = $2
                       AND status IN ('pending', 'retrying')",
                )
                .bind(tenant.as_str())
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                parked += sqlx::query(
                    "UPDATE deliveries SET status = 'paused'
                     WHERE tenant = $1 AND endpoint = $2 AND status = 'waiting'",
                )
                .bind(tenant.as_str())
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                Ok(Some(parked))
            }

            async fn resume_endpoint(
                &self,
                tenant: &$crate::ids::TenantId,
                id: &$crate::ids::EndpointId,
            ) -> Result<Option<u64>, $crate::store::StoreError> {
                let mut writer = self.admin_writer().await?;
                let mut tx = sqlx::Connection::begin_with(&mut *writer, $begin).await?;
                let found = sqlx::query(
                    "UPDATE endpoints SET paused_at = NULL WHERE tenant = $1 AND id = $2",
                )
                .bind(tenant.as_str())
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if found == 0 {
                    return Ok(None);
                }
                let resumed = sqlx::query($crate::store::UNPARK)
                .bind(tenant.as_str())
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                Ok(Some(resumed))
            }

            async fn delete_endpoint(
                &self,
                tenant: &$crate::ids::TenantId,
                id: &$crate::ids::EndpointId,
            ) -> Result<bool, $crate::store::StoreError> {
                let mut writer = self.admin_writer().await?;
                let mut tx = sqlx::Connection::begin_with(&mut *writer, $begin).await?;
                // A claim setting deliveries of the endpoint aside holds its
                // lock until it commits; waited for, so they are released
                // below rather than left waiting for an endpoint that is gone.
                sqlx::query($lock_endpoint)
                    .bind(tenant.as_str())
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
                let gone = sqlx::query("DELETE FROM endpoints WHERE tenant = $1 AND id = $2")
                    .bind(tenant.as_str())
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                // What waited for a resume that can no longer come, or for
                // a running delivery of the endpoint, runs as any delivery
                // of a deleted endpoint does, rather than holding the
                // tenant's queue depth for good.
                for release in [$crate::store::UNPARK, $crate::store::UNWAIT] {
                    sqlx::query(release)
                        .bind(tenant.as_str())
                        .bind(id.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(gone == 1)
            }

            async fn put_plugin_secret(
                &self,
                tenant: &$crate::ids::TenantId,
                endpoint: &$crate::ids::EndpointId,
                name: &$crate::ids::SecretName,
                value: &$crate::domain::SecretValue,
                max: usize,
            ) -> Result<$crate::store::SecretWrite, $crate::store::StoreError> {
                use $crate::store::SecretWrite;
                let keys = self.keys();
                let sealed = keys.seal(
                    &$crate::store::sealing::plugin_place(tenant.as_str(), endpoint.as_str(), name.as_str()),
                    value.expose(),
                );
                let mut writer = self.admin_writer().await?;
                let mut tx = sqlx::Connection::begin_with(&mut *writer, $begin).await?;
                // The endpoint's row is the lock two writers of its secrets
                // take in turn, so neither counts past the other's write.
                let found = sqlx::query(
                    "UPDATE endpoints SET updated_at = updated_at WHERE tenant = $1 AND id = $2",
                )
                .bind(tenant.as_str())
                .bind(endpoint.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if found == 0 {
                    return Ok(SecretWrite::NoEndpoint);
                }
                let (others, exists): (i64, i64) = sqlx::query_as(
                    "SELECT CAST(COUNT(*) FILTER (WHERE name <> $3) AS BIGINT),
                            CAST(COUNT(*) FILTER (WHERE name = $3) AS BIGINT)
                     FROM endpoint_secrets WHERE tenant = $1 AND endpoint = $2",
                )
                .bind(tenant.as_str())
                .bind(endpoint.as_str())
                .bind(name.as_str())
                .fetch_one(&mut *tx)
                .await?;
                if exists == 0 && others as usize >= max {
                    return Ok(SecretWrite::Full);
                }
                sqlx::query(
                    "INSERT INTO endpoint_secrets (tenant, endpoint, name, sealed, sealed_with, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (tenant, endpoint, name)
                     DO UPDATE SET sealed = excluded.sealed, sealed_with = excluded.sealed_with,
                                   updated_at = excluded.updated_at",
                )
                .bind(tenant.as_str())
                .bind(endpoint.as_str())
                .bind(name.as_str())
                .bind(&sealed)
                .bind(keys.current_id())
                .bind($crate::domain::Timestamp::now())
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(if exists == 0 {
                    SecretWrite::Created
                } else {
                    SecretWrite::Replaced
                })
            }

            async fn delete_plugin_secret(
                &self,
                tenant: &$crate::ids::TenantId,
                endpoint: &$crate::ids::EndpointId,
                name: &$crate::ids::SecretName,
            ) -> Result<bool, $crate::store::StoreError> {
                let mut writer = self.admin_writer().await?;
                let gone = sqlx::query(
                    "DELETE FROM endpoint_secrets WHERE tenant = $1 AND endpoint = $2 AND name = $3",
                )
                .bind(tenant.as_str())
                .bind(endpoint.as_str())
                .bind(name.as_str())
                .execute(&mut *writer)
                .await?
                .rows_affected();
                Ok(gone == 1)
            }

            async fn reseal(&self) -> Result<u64, $crate::store::StoreError> {
                use $crate::store::sealing::{
                    KEY_CHECK_PLACE, KEY_CHECK_SETTING, key_id_of, plugin_place, seal_signing,
                    signing_place,
                };
                let keys = self.keys();
                let current = keys.current_id();
                let mut writer = self.admin_writer().await?;
                let mut tx = sqlx::Connection::begin_with(&mut *writer, $begin).await?;
                // The first host to start leaves its key's check value; one
                // started together with it under another key finds it here
                // once the first commits (the insert waits for it).
                sqlx::query(
                    "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
                )
                .bind(KEY_CHECK_SETTING)
                .bind(keys.seal(KEY_CHECK_PLACE, KEY_CHECK_SETTING))
                .execute(&mut *tx)
                .await?;
                let check: String = sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                    .bind(KEY_CHECK_SETTING)
                    .fetch_one(&mut *tx)
                    .await?;
                keys.open(KEY_CHECK_PLACE, &check)
                    .map_err(|e| $crate::store::rows::unopened(KEY_CHECK_PLACE, e))?;
                let used: Vec<Option<String>> = sqlx::query_scalar(
                    "SELECT DISTINCT sealed_with FROM endpoints
                     UNION SELECT DISTINCT sealed_with FROM endpoint_secrets",
                )
                .fetch_all(&mut *tx)
                .await?;
                if let Some(unknown) = used.into_iter().flatten().find(|id| !keys.has(id)) {
                    return Err($crate::store::SealError::UnknownKey(unknown).into());
                }
                let mut written = 0;
                let stale: Vec<(String, String, String, Option<String>)> = sqlx::query_as(concat!(
                    "SELECT tenant, id, spec, sealed_with FROM endpoints
                     WHERE sealed_with IS NULL OR sealed_with <> $1",
                    $lock_row
                ))
                .bind(current)
                .fetch_all(&mut *tx)
                .await?;
                for (tenant, id, spec, sealed_with) in stale {
                    let mut spec: $crate::domain::EndpointSpec = $crate::store::rows::json(&spec)?;
                    if sealed_with.is_some() {
                        let place = signing_place(&tenant, &id);
                        spec.secrets = spec
                            .secrets
                            .iter()
                            .map(|s| keys.open(&place, s))
                            .collect::<Result<_, _>>()
                            .map_err(|e| $crate::store::rows::unopened(&place, e))?;
                    }
                    let spec = seal_signing(keys, &tenant, &id, &spec);
                    sqlx::query(
                        "UPDATE endpoints SET spec = $3, sealed_with = $4 WHERE tenant = $1 AND id = $2",
                    )
                    .bind(&tenant)
                    .bind(&id)
                    .bind($crate::store::rows::to_json(&spec))
                    .bind(current)
                    .execute(&mut *tx)
                    .await?;
                    written += 1;
                }
                let stale: Vec<(String, String, String, String)> = sqlx::query_as(concat!(
                    "SELECT tenant, endpoint, name, sealed FROM endpoint_secrets WHERE sealed_with <> $1",
                    $lock_row
                ))
                .bind(current)
                .fetch_all(&mut *tx)
                .await?;
                for (tenant, endpoint, name, sealed) in stale {
                    let place = plugin_place(&tenant, &endpoint, &name);
                    let value = keys
                        .open(&place, &sealed)
                        .map_err(|e| $crate::store::rows::unopened(&place, e))?;
                    sqlx::query(
                        "UPDATE endpoint_secrets SET sealed = $4, sealed_with = $5
                         WHERE tenant = $1 AND endpoint = $2 AND name = $3",
                    )
                    .bind(&tenant)
                    .bind(&endpoint)
                    .bind(&name)
                    .bind(keys.seal(&place, &value))
                    .bind(current)
                    .execute(&mut *tx)
                    .await?;
                    written += 1;
                }
                if key_id_of(&check) != Some(current) {
                    sqlx::query("UPDATE settings SET value = $2 WHERE key = $1")
                        .bind(KEY_CHECK_SETTING)
                        .bind(keys.seal(KEY_CHECK_PLACE, KEY_CHECK_SETTING))
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(written)
            }

            async fn list_deliveries(
                &self,
                tenant: &$crate::ids::TenantId,
                filter: &$crate::store::DeliveryFilter,
            ) -> Result<$crate::store::DeliveryPage, $crate::store::StoreError> {
                use $crate::store::{DeliveryStatus, LIST_SCAN, replays::{id_ceiling, id_floor}};
                // Only the conditions asked for are written, so each
                // backend plans the walk it needs: the (tenant, id) index
                // newest first, within the time range's ids, or the index
                // of the event id or of a rare status.
                let (floor, ceiling) = (filter.since.map(id_floor), filter.until.map(id_ceiling));
                let ceiling = match (ceiling, &filter.before) {
                    (Some(c), Some(b)) => Some(c.min(b.as_str().to_owned())),
                    (c, b) => c.or_else(|| b.as_ref().map(|b| b.as_str().to_owned())),
                };
                // A filter no index serves reads a bounded stretch of the
                // tenant's deliveries: the stretch ends at the LIST_SCAN-th
                // id below the cursor, found by a walk of the index alone.
                let indexed = filter.event_id.is_some()
                    || (filter.endpoint.is_none()
                        && filter.event_type.is_none()
                        && matches!(
                            filter.status,
                            None | Some(DeliveryStatus::Dead | DeliveryStatus::Retrying)
                        ));
                let stop: Option<String> = if indexed {
                    None
                } else {
                    let mut q = sqlx::QueryBuilder::new("SELECT id FROM deliveries WHERE tenant = ");
                    q.push_bind(tenant.as_str());
                    if let Some(f) = &floor {
                        q.push(" AND id >= ").push_bind(f.clone());
                    }
                    if let Some(c) = &ceiling {
                        q.push(" AND id < ").push_bind(c.clone());
                    }
                    q.push(" ORDER BY id DESC LIMIT 1 OFFSET ")
                        .push_bind(i64::from(LIST_SCAN) - 1);
                    q.build_query_scalar().fetch_optional(self.admin_reader()).await?
                };
                // The page is chosen first and joined with its payloads
                // after: a join over the whole range could walk the
                // payloads from the newest down to a deep cursor.
                let mut q = sqlx::QueryBuilder::new(
                    "SELECT id, tenant, endpoint, event_id, provider, event_type, status, attempts,
                            plugin, plugin_version, received_at, due_at, finished_at, last_error, headers
                     FROM (SELECT * FROM deliveries WHERE tenant = ",
                );
                q.push_bind(tenant.as_str());
                if let Some(status) = filter.status {
                    q.push(" AND status = ").push_bind(status.as_str());
                }
                if let Some(endpoint) = &filter.endpoint {
                    q.push(" AND endpoint = ").push_bind(endpoint.as_str());
                }
                if let Some(event_type) = &filter.event_type {
                    q.push(" AND event_type = ").push_bind(event_type.clone());
                }
                if let Some(event_id) = &filter.event_id {
                    // Through the unique (tenant, endpoint, event_id) index,
                    // one probe per endpoint.
                    q.push(" AND event_id = ")
                        .push_bind(event_id.clone())
                        .push(" AND endpoint IN (SELECT id FROM endpoints WHERE tenant = ")
                        .push_bind(tenant.as_str())
                        .push(")");
                }
                if let Some(since) = filter.since {
                    q.push(" AND received_at >= ").push_bind(since);
                }
                if let Some(until) = filter.until {
                    q.push(" AND received_at <= ").push_bind(until);
                }
                if let Some(f) = floor.max(stop.clone()) {
                    q.push(" AND id >= ").push_bind(f);
                }
                if let Some(c) = ceiling {
                    q.push(" AND id < ").push_bind(c);
                }
                q.push(" ORDER BY id DESC LIMIT ")
                    .push_bind(i64::from(filter.limit))
                    .push(concat!(") AS deliveries ", $payload_join, " ORDER BY id DESC"));
                let rows = q.build().fetch_all(self.admin_reader()).await?;
                let deliveries = rows
                    .iter()
                    .map(|row| $crate::store::rows::delivery(row, false))
                    .collect::<Result<Vec<_>, _>>()?;
                let next = if deliveries.len() == filter.limit as usize {
                    deliveries.last().map(|d| d.id.clone())
                } else {
                    stop.map($crate::ids::DeliveryId::from_string)
                };
                Ok($crate::store::DeliveryPage { deliveries, next })
            }

            async fn delivery(
                &self,
                tenant: &$crate::ids::TenantId,
                id: &$crate::ids::DeliveryId,
            ) -> Result<Option<$crate::store::Delivery>, $crate::store::StoreError> {
                let row = sqlx::query(concat!(
                    "SELECT * FROM deliveries ",
                    $payload_join,
                    " WHERE tenant = $1 AND id = $2"
                ))
                .bind(tenant.as_str())
                .bind(id.as_str())
                .fetch_optional(self.admin_reader())
                .await?;
                row.map(|row| $crate::store::rows::delivery(&row, true))
                    .transpose()
            }

            async fn attempts(
                &self,
                id: &$crate::ids::DeliveryId,
            ) -> Result<Vec<$crate::store::Attempt>, $crate::store::StoreError> {
                let rows =
                    sqlx::query("SELECT * FROM attempts WHERE delivery_id = $1 ORDER BY attempt")
                        .bind(id.as_str())
                        .fetch_all(self.admin_reader())
                        .await?;
                rows.iter().map($crate::store::rows::attempt).collect()
            }

            async fn replay(
                &self,
                tenant: &$crate::ids::TenantId,
                id: &$crate::ids::DeliveryId,
                plugin_version: Option<u32>,
                now: Timestamp,
            ) -> Result<$crate::store::Replay, $crate::store::StoreError> {
                let mut writer = self.admin_writer().await?;
                let mut tx = sqlx::Connection::begin_with(&mut *writer, $begin).await?;
                let row: Option<(String, bool)> = sqlx::query_as(concat!(
                    "SELECT status, body_pruned FROM deliveries WHERE tenant = $1 AND id = $2",
                    $lock_row
                ))
                .bind(tenant.as_str())
                .bind(id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                let verdict = match row {
                    None => $crate::store::Replay::NotFound,
                    Some((status, _))
                        if status == $crate::store::DeliveryStatus::Running.as_str() =>
                    {
                        $crate::store::Replay::Running
                    }
                    Some((_, true)) => $crate::store::Replay::BodyPruned,
                    Some(_) => {
                        sqlx::query(
                            "UPDATE deliveries SET status = 'pending', run_start = attempts, due_at = $1,
                               plugin_version = COALESCE($2, plugin_version), finished_at = NULL,
                               last_error = NULL
                             WHERE id = $3",
                        )
                        .bind(now.as_ms())
                        .bind(plugin_version.map(i64::from))
                        .bind(id.as_str())
                        .execute(&mut *tx)
                        .await?;
                        $crate::store::Replay::Queued
                    }
                };
                tx.commit().await?;
                Ok(verdict)
            }

            async fn replay_dead(
                &self,
                tenant: &$crate::ids::TenantId,
                endpoint: &$crate::ids::EndpointId,
                now: Timestamp,
            ) -> Result<u64, $crate::store::StoreError> {
                let done = sqlx::query(
                    "UPDATE deliveries SET status = 'pending', run_start = attempts, due_at = $1,
                                           finished_at = NULL, last_error = NULL
                     WHERE tenant = $2 AND endpoint = $3 AND status = 'dead' AND NOT body_pruned",
                )
                .bind(now.as_ms())
                .bind(tenant.as_str())
                .bind(endpoint.as_str())
                .execute(&mut *self.admin_writer().await?)
                .await?;
                Ok(done.rows_affected())
            }

            async fn tenant_policy(
                &self,
                id: &$crate::ids::TenantId,
            ) -> Result<Option<$crate::domain::PolicyOverrides>, $crate::store::StoreError> {
                let row: Option<(Option<String>,)> =
                    sqlx::query_as("SELECT policy FROM tenants WHERE id = $1")
                        .bind(id.as_str())
                        .fetch_optional(self.admin_reader())
                        .await?;
                row.map(|(policy,)| $crate::store::rows::policy(policy.as_deref()))
                    .transpose()
            }

            async fn set_tenant_policy(
                &self,
                id: &$crate::ids::TenantId,
                policy: &$crate::domain::PolicyOverrides,
            ) -> Result<bool, $crate::store::StoreError> {
                let text = (!policy.0.is_empty())
                    .then(|| serde_json::to_string(policy).expect("a policy serialises"));
                let done = sqlx::query("UPDATE tenants SET policy = $1 WHERE id = $2")
                    .bind(text)
                    .bind(id.as_str())
                    .execute(&mut *self.admin_writer().await?)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn queue_depth_by_tenant(
                &self,
            ) -> Result<Vec<($crate::ids::TenantId, u64)>, $crate::store::StoreError> {
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    concat!(
                        // Three counts, each through its own partial index.
                        "SELECT tenant, CAST(SUM(n) AS BIGINT) FROM (",
                        "SELECT tenant, COUNT(*) AS n FROM deliveries WHERE due_at IS NOT NULL GROUP BY tenant ",
                        "UNION ALL ",
                        "SELECT tenant, COUNT(*) AS n FROM deliveries WHERE status = 'paused' GROUP BY tenant ",
                        "UNION ALL ",
                        "SELECT tenant, COUNT(*) AS n FROM deliveries WHERE status = 'waiting' GROUP BY tenant",
                        ") AS counts GROUP BY tenant"
                    ),
                )
                .fetch_all(self.admin_reader())
                .await?;
                rows.into_iter()
                    .map(|(tenant, n)| {
                        Ok(($crate::ids::TenantId::new(tenant).map_err($crate::store::rows::corrupt)?, n as u64))
                    })
                    .collect()
            }

            async fn queue_depth(&self) -> Result<u64, $crate::store::StoreError> {
                let n: i64 =
                    sqlx::query_scalar(
                        "SELECT (SELECT COUNT(*) FROM deliveries WHERE due_at IS NOT NULL)
                              + (SELECT COUNT(*) FROM deliveries WHERE status = 'paused')
                              + (SELECT COUNT(*) FROM deliveries WHERE status = 'waiting')",
                    )
                        .fetch_one(self.admin_reader())
                        .await?;
                Ok(n as u64)
            }
        }
    };
}

pub(super) use admin_store;
