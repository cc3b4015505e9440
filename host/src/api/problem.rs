//! Errors as HTTP answers: every error that reaches a client becomes an RFC
//! 9457 `application/problem+json` body here, and nowhere else.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::error::{ApiError, FieldError};
use crate::ingress::IngressError;
use crate::queue::QueueError;
use crate::store::StoreError;

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Always `about:blank`: the title and detail carry the meaning.
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub kind: &'static str,
    /// A short, fixed summary of the kind of problem.
    #[schema(value_type = String)]
    pub title: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong in this case and what to do about it.
    pub detail: String,
    /// For verification failures: which check failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub check: Option<&'static str>,
    /// For 422: each invalid field and what is wrong with it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Seconds to wait before trying again, for 503.
    #[serde(skip)]
    #[schema(ignore)]
    pub retry_after_s: Option<u64>,
}

impl Problem {
    /// A problem with a status, a title and a detail.
    pub fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> Self {
        Self {
            kind: "about:blank",
            title,
            status: status.as_u16(),
            detail: detail.into(),
            check: None,
            errors: Vec::new(),
            retry_after_s: None,
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = self.retry_after_s;
        let mut response = (status, axum::Json(self)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(s) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        response
    }
}

/// How long a client should wait after a 503.
const RETRY_AFTER_S: u64 = 5;

impl From<&QueueError> for Problem {
    /// Not logged here: the committer logs a store's failures, once for a
    /// failure every later write repeats, rather than once per request.
    fn from(_: &QueueError) -> Self {
        let mut p = Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service unavailable",
            "the webhook could not be stored right now and was not accepted; send it again later",
        );
        p.retry_after_s = Some(RETRY_AFTER_S);
        p
    }
}

impl IntoResponse for IngressError {
    fn into_response(self) -> Response {
        let problem = match &self {
            IngressError::NotFound => Problem::new(
                StatusCode::NOT_FOUND,
                "Not found",
                "no such tenant or endpoint; check the URL against the endpoint's inbound_url",
            ),
            IngressError::TooLarge { limit } => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Payload too large",
                format!(
                    "the body exceeds this endpoint's limit of {limit} bytes (limits.body_limit_bytes)"
                ),
            ),
            IngressError::BadBody(reason) => Problem::new(
                StatusCode::BAD_REQUEST,
                "Bad request",
                format!("the request body could not be read: {reason}"),
            ),
            IngressError::Unverified(e) => {
                tracing::info!(check = e.check(), reason = %e, "webhook refused");
                let mut p = Problem::new(
                    StatusCode::UNAUTHORIZED,
                    "Signature verification failed",
                    e.to_string(),
                );
                p.check = Some(e.check());
                p
            }
            IngressError::Overloaded => {
                let mut p = Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Queue full",
                    "too many deliveries are waiting; the webhook was not accepted, send it again later",
                );
                p.retry_after_s = Some(RETRY_AFTER_S);
                p
            }
            IngressError::Unavailable(e) => Problem::from(e),
        };
        problem.into_response()
    }
}

impl From<&StoreError> for Problem {
    fn from(e: &StoreError) -> Self {
        tracing::error!(error = %e, "store error");
        let mut p = Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service unavailable",
            "the database could not be reached or failed; try again shortly",
        );
        p.retry_after_s = Some(RETRY_AFTER_S);
        p
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
