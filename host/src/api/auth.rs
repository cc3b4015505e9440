//! Bearer tokens: one operator token for the whole host, one API key per
//! tenant. Both are stored as SHA-256 hashes and shown once, at creation.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use rand::Rng;
use sha2::{Digest, Sha256};

use super::ApiState;
use super::error::ApiError;
use crate::ids::TenantId;
use crate::store::{Store, StoreError};

const OPERATOR_SETTING: &str = "operator_token_sha256";

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The operator: reaches everything.
    Operator,
    /// A tenant's key: reaches only that tenant.
    Tenant(TenantId),
}

impl Caller {
    /// Lets the operator and the tenant itself through; anyone else sees 404,
    /// exactly as for a tenant that does not exist.
    pub fn reach(&self, tenant: &TenantId) -> Result<(), ApiError> {
        match self {
            Caller::Operator => Ok(()),
            Caller::Tenant(own) if own == tenant => Ok(()),
            Caller::Tenant(_) => Err(no_tenant(tenant)),
        }
    }

    /// Lets only the operator through.
    pub fn operator(&self) -> Result<(), ApiError> {
        match self {
            Caller::Operator => Ok(()),
            Caller::Tenant(_) => Err(ApiError::Forbidden(
                "this needs the operator token; a tenant API key cannot do it".into(),
            )),
        }
    }
}

/// The 404 of a tenant that does not exist or is not the caller's.
pub fn no_tenant(tenant: &TenantId) -> ApiError {
    ApiError::NotFound(format!("no tenant {tenant}"))
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthorized)?;
        let hash = hash_key(token);
        if *state.operator_hash == *hash {
            return Ok(Caller::Operator);
        }
        match state.store.tenant_by_key_hash(&hash).await? {
            Some(tenant) => Ok(Caller::Tenant(tenant)),
            None => Err(ApiError::Unauthorized),
        }
    }
}

/// A fresh secret with a recognisable prefix (`hh_op_…`, `hh_key_…`).
pub fn generate_key(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let body: String = (0..32)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{prefix}{body}")
}

/// The stored form of a token: tokens are long random strings, so a plain
/// SHA-256 is enough (no password hashing needed).
pub fn hash_key(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Sets up the operator token at start: `from_env` (HOOKHOST_ADMIN_TOKEN)
/// replaces the stored one; without it, a token is generated the first time
/// and returned so it can be printed, once. Returns the hash to check against.
pub async fn init_operator_token(
    store: &dyn Store,
    from_env: Option<&str>,
) -> Result<(String, Option<String>), StoreError> {
    if let Some(token) = from_env {
        let hash = hash_key(token);
        store.set_setting(OPERATOR_SETTING, &hash).await?;
        return Ok((hash, None));
    }
    if let Some(hash) = store.setting(OPERATOR_SETTING).await? {
        return Ok((hash, None));
    }
    let token = generate_key("hh_op_");
    let hash = hash_key(&token);
    store.set_setting(OPERATOR_SETTING, &hash).await?;
    Ok((hash, Some(token)))
}
