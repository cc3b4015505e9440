//! Outbound HTTP to the hosts the endpoint allows, and nowhere else.
//!
//! The host checks every request against the endpoint's allow-list, refuses
//! private and loopback addresses unless the operator allows them, does not
//! follow redirects, limits the number of calls per invocation, and adds
//! `Idempotency-Key: {event id}:{call index}` unless the request sets one.
//!
//! [`send`] and [`Request::send`] return every response, whatever its status;
//! [`get`] and [`post_json`] turn a status outside 2xx into
//! [`Error::Status`]. With `?` in a handler that error becomes a retry or a
//! reject by its status (see [`Error`]): a 429 or 503 that says when to come
//! back with `Retry-After` is retried no sooner than that, and a 410 Gone is
//! rejected, since the receiver says the resource is gone for good.
//!
//! ```no_run
//! use hookhost_sdk::http::{self, Request};
//! use std::time::Duration;
//!
//! # fn main() -> Result<(), http::Error> {
//! // Any status comes back as a response.
//! let resp = Request::post("https://api.example.com/orders")
//!     .header("authorization", "Bearer secret")
//!     .json(&serde_json::json!({ "sku": "A-1", "quantity": 2 }))
//!     .timeout(Duration::from_secs(5))
//!     .send()?;
//! if resp.status == 409 {
//!     // already there
//! }
//!
//! // Anything but 2xx is an error.
//! let user: serde_json::Value = http::get("https://api.example.com/users/1")?
//!     .json()
//!     .map_err(|e| http::Error::Other(e.to_string()))?;
//! # let _ = user;
//! # Ok(())
//! # }
//! ```

use core::fmt;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::wit::hookhost::plugin::http_out as wit;

/// An outbound request, built step by step and sent with [`send`](Request::send).
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a request does nothing until it is sent"]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout: Option<Duration>,
    /// A body that could not be serialised, reported by `send`.
    json_error: Option<String>,
}

impl Request {
    /// A request with `method` (upper-cased: "GET", "POST", "PUT", "PATCH",
    /// "DELETE", "HEAD" or "OPTIONS") to the absolute `http` or `https` `url`,
    /// with no headers and an empty body.
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Self {
        Request {
            method: method.into().to_ascii_uppercase(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: None,
            json_error: None,
        }
    }

    /// A `GET` request to `url`.
    pub fn get(url: impl Into<String>) -> Self {
        Request::new("GET", url)
    }

    /// A `POST` request to `url`.
    pub fn post(url: impl Into<String>) -> Self {
        Request::new("POST", url)
    }

    /// A `PUT` request to `url`.
    pub fn put(url: impl Into<String>) -> Self {
        Request::new("PUT", url)
    }

    /// A `PATCH` request to `url`.
    pub fn patch(url: impl Into<String>) -> Self {
        Request::new("PATCH", url)
    }

    /// A `DELETE` request to `url`.
    pub fn delete(url: impl Into<String>) -> Self {
        Request::new("DELETE", url)
    }

    /// Adds a header; earlier headers of the same name are kept.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self.json_error = None;
        self
    }

    /// Sets the body to `value` serialised as JSON, and the `content-type`
    /// header to `application/json` (replacing any set before).
    ///
    /// A value that cannot be serialised makes [`send`](Request::send) fail
    /// with [`Error::InvalidRequest`].
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => {
                self.body = body;
                self.json_error = None;
            }
            Err(e) => {
                self.body = Vec::new();
                self.json_error = Some(format!("could not serialise the JSON body: {e}"));
            }
        }
        self.headers
            .retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
        self.headers
            .push(("content-type".into(), "application/json".into()));
        self
    }

    /// Limits how long this call may take. The host caps it with its own
    /// limit and with what is left of the invocation's deadline.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sends the request and returns the response, whatever its status.
    pub fn send(self) -> Result<Response, Error> {
        if let Some(e) = self.json_error {
            return Err(Error::InvalidRequest(e));
        }
        let timeout_ms = self
            .timeout
            .map(|t| u32::try_from(t.as_millis()).unwrap_or(u32::MAX));
        let request = wit::Request {
            method: self.method,
            url: self.url,
            headers: self.headers,
            body: self.body,
            timeout_ms,
        };
        match wit::send(&request) {
            Ok(r) => Ok(Response {
                status: r.status,
                headers: r.headers,
                body: r.body,
            }),
            Err(e) => Err(e.into()),
        }
    }
}

/// The answer of the remote server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// Response headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The response body, at most the host's response cap.
    pub body: Vec<u8>,
}

impl Response {
    /// Parses the body as JSON into `T`.
    ///
    /// With `?` in a handler, a parse error becomes a
    /// [`Reject`](crate::HandlerError::Reject).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// The body as text, invalid UTF-8 replaced by U+FFFD.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The value of the first header named `name`, compared without regard to case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The wait the `Retry-After` header asks for: delta-seconds, or an
    /// HTTP-date counted from now (a date already past asks for none).
    /// `None` without the header or when it is neither.
    ///
    /// ```
    /// use hookhost_sdk::http::Response;
    /// use std::time::Duration;
    ///
    /// let busy = Response {
    ///     status: 503,
    ///     headers: vec![("retry-after".into(), "120".into())],
    ///     ..Response::default()
    /// };
    /// assert_eq!(busy.retry_after(), Some(Duration::from_secs(120)));
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        parse_retry_after(self.header("retry-after")?, SystemTime::now())
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The response itself if its status is 2xx, else [`Error::Status`],
    /// with the `Retry-After` wait of a 429 or 503.
    ///
    /// ```
    /// use hookhost_sdk::http::{Error, Response};
    /// use std::time::Duration;
    ///
    /// let ok = Response { status: 201, ..Response::default() };
    /// assert!(ok.error_for_status().is_ok());
    ///
    /// let busy = Response {
    ///     status: 503,
    ///     headers: vec![("retry-after".into(), "30".into())],
    ///     body: b"try later".to_vec(),
    /// };
    /// assert_eq!(
    ///     busy.error_for_status(),
    ///     Err(Error::Status {
    ///         status: 503,
    ///         body: "try later".into(),
    ///         retry_after: Some(Duration::from_secs(30)),
    ///     })
    /// );
    /// ```
    pub fn error_for_status(self) -> Result<Response, Error> {
        if self.is_success() {
            return Ok(self);
        }
        let retry_after = match self.status {
            429 | 503 => self.retry_after(),
            _ => None,
        };
        Err(Error::Status {
            status: self.status,
            body: String::from_utf8_lossy(&self.body).into_owned(),
            retry_after,
        })
    }
}

/// Why a request failed.
///
/// With `?` in a handler:
/// - a 429 or 503 with `Retry-After` becomes a
///   [`RetryAfter`](crate::HandlerError::RetryAfter) with its wait, so the
///   host comes back no sooner than the receiver asked;
/// - [`Timeout`](Error::Timeout), [`Other`](Error::Other) and the other
///   statuses 408, 429 and 5xx become a [`Retry`](crate::HandlerError::Retry);
/// - everything else becomes a [`Reject`](crate::HandlerError::Reject),
///   among them 410 Gone: the receiver says the resource is gone for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The host is not on the endpoint's allow-list, or resolves to a refused address.
    AccessDenied(String),
    /// The request is malformed: bad URL, scheme, method or header, or a JSON
    /// body that could not be serialised.
    InvalidRequest(String),
    /// No complete answer within the timeout.
    Timeout,
    /// The response body is larger than the host's cap.
    TooLarge,
    /// This invocation has used all the outbound calls it is allowed.
    BudgetExhausted,
    /// A transport failure: connection refused or reset, TLS, DNS.
    Other(String),
    /// The server answered with a status outside 2xx (from [`get`],
    /// [`post_json`] or [`Response::error_for_status`]).
    Status {
        /// The HTTP status code.
        status: u16,
        /// The response body, invalid UTF-8 replaced by U+FFFD.
        body: String,
        /// The wait `Retry-After` asks for, on a 429 or 503 (elsewhere the
        /// header means something else, or nothing).
        retry_after: Option<Duration>,
    },
}

impl Error {
    /// Whether trying again later may succeed: a timeout, a transport
    /// failure, or the status 408, 429 or 5xx.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Timeout | Error::Other(_) => true,
            Error::Status { status, .. } => matches!(status, 408 | 429 | 500..=599),
            Error::AccessDenied(_)
            | Error::InvalidRequest(_)
            | Error::BudgetExhausted
            | Error::TooLarge => false,
        }
    }
}

/// How much of a response body an error message shows.
const BODY_SHOWN: usize = 512;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::AccessDenied(m) => write!(f, "access denied: {m}"),
            Error::InvalidRequest(m) => write!(f, "invalid request: {m}"),
            Error::Timeout => f.write_str("request timed out"),
            Error::TooLarge => f.write_str("response body too large"),
            Error::BudgetExhausted => f.write_str("outbound call budget exhausted"),
            Error::Other(m) => write!(f, "request failed: {m}"),
            Error::Status { status, body, .. } => {
                write!(f, "HTTP status {status}")?;
                let body = body.trim();
                if body.is_empty() {
                    return Ok(());
                }
                if body.len() <= BODY_SHOWN {
                    return write!(f, ": {body}");
                }
                let mut end = BODY_SHOWN;
                while !body.is_char_boundary(end) {
                    end -= 1;
                }
                write!(f, ": {}...", &body[..end])
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<wit::Error> for Error {
    fn from(e: wit::Error) -> Self {
        match e {
            wit::Error::AccessDenied(m) => Error::AccessDenied(m),
            wit::Error::InvalidRequest(m) => Error::InvalidRequest(m),
            wit::Error::Timeout => Error::Timeout,
            wit::Error::TooLarge => Error::TooLarge,
            wit::Error::BudgetExhausted => Error::BudgetExhausted,
            wit::Error::Other(m) => Error::Other(m),
        }
    }
}

/// The wait a `Retry-After` value asks for at `now`.
fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Only digits: a number too large for u64 is a very long wait.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Sends `request` and returns the response, whatever its status.
pub fn send(request: Request) -> Result<Response, Error> {
    request.send()
}

/// `GET url`; a status outside 2xx is [`Error::Status`].
pub fn get(url: impl Into<String>) -> Result<Response, Error> {
    Request::get(url).send()?.error_for_status()
}

/// `POST url` with `body` serialised as JSON (`content-type:
/// application/json`); a status outside 2xx is [`Error::Status`].
///
/// ```no_run
/// use hookhost_sdk::http;
/// use serde_json::json;
///
/// # fn main() -> Result<(), http::Error> {
/// http::post_json("https://hooks.slack.com/services/T000/B000/XXXX", &json!({ "text": "hello" }))?;
/// # Ok(())
/// # }
/// ```
pub fn post_json<T: Serialize + ?Sized>(
    url: impl Into<String>,
    body: &T,
) -> Result<Response, Error> {
    Request::post(url).json(body).send()?.error_for_status()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HandlerError;

    fn response(status: u16, retry_after: Option<&str>) -> Response {
        Response {
            status,
            headers: retry_after
                .map(|v| vec![("retry-after".to_owned(), v.to_owned())])
                .unwrap_or_default(),
            body: b"busy".to_vec(),
        }
    }

    fn handler_error(response: Response) -> HandlerError {
        response.error_for_status().unwrap_err().into()
    }

    #[test]
    fn retry_after_is_delta_seconds_or_an_http_date_from_now() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        let wait = |v| parse_retry_after(v, now);
        assert_eq!(wait("120"), Some(Duration::from_secs(120)));
        assert_eq!(wait(" 0 "), Some(Duration::ZERO));
        assert_eq!(
            wait("Sun, 06 Nov 1994 08:50:37 GMT"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(wait("Sun, 06 Nov 1994 08:00:00 GMT"), Some(Duration::ZERO));
        assert_eq!(
            wait("99999999999999999999999"),
            Some(Duration::from_secs(u64::MAX))
        );
        for unreadable in ["", "-5", "1.5", "soon"] {
            assert_eq!(wait(unreadable), None, "{unreadable:?}");
        }
    }

    #[test]
    fn a_429_or_503_with_retry_after_is_retried_no_sooner_than_asked() {
        for status in [429, 503] {
            assert_eq!(
                handler_error(response(status, Some("30"))),
                HandlerError::RetryAfter {
                    message: format!("HTTP status {status}: busy"),
                    after: Duration::from_secs(30),
                }
            );
        }
    }

    #[test]
    fn without_a_readable_retry_after_429_and_503_are_plain_retries() {
        assert_eq!(
            handler_error(response(429, None)),
            HandlerError::Retry("HTTP status 429: busy".into())
        );
        assert_eq!(
            handler_error(response(503, Some("whenever"))),
            HandlerError::Retry("HTTP status 503: busy".into())
        );
    }

    #[test]
    fn retry_after_on_another_status_is_not_a_wait() {
        assert_eq!(
            handler_error(response(500, Some("30"))),
            HandlerError::Retry("HTTP status 500: busy".into())
        );
        assert_eq!(
            handler_error(response(301, Some("30"))),
            HandlerError::Reject("HTTP status 301: busy".into())
        );
    }

    #[test]
    fn a_410_gone_is_rejected() {
        assert_eq!(
            handler_error(response(410, None)),
            HandlerError::Reject("HTTP status 410: busy".into())
        );
    }
}
