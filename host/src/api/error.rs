//! The admin API's error type: every handler returns it, and it turns into
//! a problem document here, once.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::problem::{FieldError, Problem};
use crate::store::StoreError;

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
    /// The tenant has as many deliveries waiting as its policy allows.
    #[error("{0}")]
    TenantQueueFull(String),
    /// The request body is over the limit.
    #[error("{0}")]
    TooLarge(String),
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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = match self {
            ApiError::Unauthorized => Problem::new(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "send `Authorization: Bearer <token>` with the operator token or a tenant API key",
            ),
            ApiError::Forbidden(detail) => Problem::new(StatusCode::FORBIDDEN, "Forbidden", detail),
            ApiError::NotFound(detail) => Problem::new(StatusCode::NOT_FOUND, "Not found", detail),
            ApiError::Conflict(detail) => Problem::new(StatusCode::CONFLICT, "Conflict", detail),
            ApiError::TenantQueueFull(detail) => {
                let mut p =
                    Problem::new(StatusCode::TOO_MANY_REQUESTS, "Tenant queue full", detail);
                p.retry_after_s = Some(crate::problem::RETRY_AFTER_S);
                p
            }
            ApiError::TooLarge(detail) => {
                Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "Payload too large", detail)
            }
            ApiError::InvalidPlugin(detail) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Not a valid handler component",
                detail,
            ),
            ApiError::Invalid(errors) => {
                let detail = errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect::<Vec<_>>()
                    .join("; ");
                let mut p =
                    Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid request", detail);
                p.errors = errors;
                p
            }
            ApiError::Store(e) => Problem::from(&e),
        };
        problem.into_response()
    }
}
