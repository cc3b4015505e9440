//! Request bodies as JSON and query strings, with errors that name the
//! field at fault (422) rather than axum's plain-text 400.

use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::problem::FieldError;

/// Largest JSON body: the largest endpoint `config` (1 MiB) with room for
/// its escaping; everything else the API takes is far smaller.
pub const MAX_JSON_BYTES: usize = 2 * 1024 * 1024;

/// A JSON body of at most [`MAX_JSON_BYTES`] (413 past it); a malformed or
/// mistyped one is a 422 naming the field
/// (`limits.timeout_ms: invalid value: integer -1, expected u64`).
/// An empty body reads as `{}`.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::to_bytes(req.into_body(), MAX_JSON_BYTES)
            .await
            .map_err(|e| {
                if std::error::Error::source(&e)
                    .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
                {
                    ApiError::TooLarge(format!("a JSON body may be at most {MAX_JSON_BYTES} bytes"))
                } else {
                    ApiError::field("body", e.to_string())
                }
            })?;
        parse(&bytes)
            .map(Body)
            .map_err(|e| ApiError::Invalid(vec![e]))
    }
}

/// Reads a request body as `T`, an empty one as `{}`; the error names the
/// field at fault.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, FieldError> {
    let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    let mut de = serde_json::Deserializer::from_slice(text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let e = e.into_inner();
        if path == "." {
            return FieldError::new("body", e.to_string());
        }
        // The field names where the fault is; a position in the text would
        // say no more, and differ between two bodies with the same fault.
        let message = e.to_string();
        let position = format!(" at line {} column {}", e.line(), e.column());
        let message = message.strip_suffix(&position).unwrap_or(&message);
        FieldError::new(path, message)
    })
}

/// A query string read as `T`; a malformed one is a 422 naming it.
#[derive(Debug)]
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(params)| Params(params))
            .map_err(|e| ApiError::field("query", e.body_text()))
    }
}

/// An RFC 3339 time of a query or body field; a malformed one adds the
/// field's error to `errors`, so every field at fault is named at once.
pub(crate) fn time(
    errors: &mut Vec<FieldError>,
    field: &str,
    text: Option<&str>,
) -> Option<crate::domain::Timestamp> {
    let text = text?;
    let at = crate::domain::Timestamp::parse_rfc3339(text);
    if at.is_none() {
        errors.push(FieldError::new(
            field,
            format!("{text:?} is not an RFC 3339 time such as 2026-11-23T12:00:00Z"),
        ));
    }
    at
}
