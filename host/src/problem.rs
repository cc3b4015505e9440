//! Errors as HTTP answers: every error that reaches a client becomes an RFC
//! 9457 `application/problem+json` body. The document and the answers to the
//! errors of the layers below (store, queue) are here; ingress and the admin
//! API each map their own error enum onto it once, beside the enum.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::queue::QueueError;
use crate::store::StoreError;

/// One invalid field of a request, for 422 answers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
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
pub const RETRY_AFTER_S: u64 = 5;

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
