use serde::de::DeserializeOwned;

use crate::{HandlerError, wit};

/// One webhook, as the host received and verified it.
///
/// The same event is handed to the handler on every attempt and replay; only
/// [`attempt`](Event::attempt) changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    /// The delivery id: stable across retries and replays, and the prefix of
    /// the `Idempotency-Key` the host puts on every outbound call.
    pub id: String,
    /// The tenant that owns the endpoint.
    pub tenant: String,
    /// The endpoint the webhook was posted to.
    pub endpoint: String,
    /// The verification scheme of the endpoint: "stripe", "github", "shopify",
    /// "slack", "standard-webhooks", "hmac" or "none".
    pub provider: String,
    /// The provider's event type where it names one: Stripe's
    /// `"payment_intent.succeeded"`, GitHub's `X-GitHub-Event` header,
    /// Shopify's `X-Shopify-Topic` header, ...
    pub event_type: Option<String>,
    /// When the host accepted the webhook, in milliseconds since the Unix epoch.
    pub received_at_ms: u64,
    /// 1 on the first try, incremented by every retry and replay.
    pub attempt: u32,
    /// The request headers as received, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The raw request body, byte for byte as the signature covered it.
    pub body: Vec<u8>,
}

impl Event {
    /// Parses the body as JSON into `T`.
    ///
    /// A body that is not JSON, or not shaped like `T`, is a
    /// [`Reject`](HandlerError::Reject) naming the JSON error: it will not
    /// parse better on the next attempt.
    ///
    /// ```
    /// use hookhost_sdk::Event;
    ///
    /// #[derive(Debug, serde::Deserialize)]
    /// struct Payload {
    ///     amount: u64,
    /// }
    ///
    /// let event = Event { body: br#"{"amount": 2000}"#.to_vec(), ..Event::default() };
    /// let payload: Payload = event.json().unwrap();
    /// assert_eq!(payload.amount, 2000);
    ///
    /// let event = Event { body: b"not json".to_vec(), ..Event::default() };
    /// assert!(event.json::<Payload>().unwrap_err().message().contains("expected ident"));
    /// ```
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, HandlerError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| HandlerError::Reject(format!("event body is not the expected JSON: {e}")))
    }

    /// The body as text; a body that is not UTF-8 is a
    /// [`Reject`](HandlerError::Reject).
    ///
    /// ```
    /// use hookhost_sdk::Event;
    ///
    /// let event = Event { body: b"token=abc".to_vec(), ..Event::default() };
    /// assert_eq!(event.body_str().unwrap(), "token=abc");
    /// ```
    pub fn body_str(&self) -> Result<&str, HandlerError> {
        core::str::from_utf8(&self.body)
            .map_err(|e| HandlerError::Reject(format!("event body is not UTF-8: {e}")))
    }

    /// The value of the first header named `name`, compared without regard to case.
    ///
    /// ```
    /// use hookhost_sdk::Event;
    ///
    /// let event = Event {
    ///     headers: vec![("x-github-delivery".into(), "72d3162e".into())],
    ///     ..Event::default()
    /// };
    /// assert_eq!(event.header("X-GitHub-Delivery"), Some("72d3162e"));
    /// assert_eq!(event.header("x-missing"), None);
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The provider's event type, if it names one.
    pub fn event_type(&self) -> Option<&str> {
        self.event_type.as_deref()
    }
}

impl From<wit::Event> for Event {
    fn from(e: wit::Event) -> Self {
        Event {
            id: e.id,
            tenant: e.tenant,
            endpoint: e.endpoint,
            provider: e.provider,
            event_type: e.event_type,
            received_at_ms: e.received_at_ms,
            attempt: e.attempt,
            headers: e.headers,
            body: e.body,
        }
    }
}
