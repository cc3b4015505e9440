//! The admin API's error type: every handler returns it, and `problem.rs`
//! turns it into a problem document, once.

use crate::store::StoreError;

/// One invalid field of a request, for 422 answers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// Where in the request: `limits.timeout_ms`, `secrets[1]`, `status`.
    pub field: String,
    /// What is wrong and what is accepted.
    pub message: String,
}

impl FieldError {
    /// An error on one field.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Why an admin request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No bearer token, or one that matches nothing.
    #[error("missing or unknown bearer token")]
    Unauthorized,
    /// The caller is a tenant, and this is for the operator.
    #[error("{0}")]
    Forbidden(String),
    /// No such thing, or one that belongs to another tenant.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// The request's fields are invalid.
    #[error("invalid request")]
    Invalid(Vec<FieldError>),
    /// The uploaded component is not a valid handler.
    #[error("{0}")]
    InvalidPlugin(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ApiError {
    /// A 422 with a single field error.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, message)])
    }
}
