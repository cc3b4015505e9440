//! `http-out`: outbound HTTP to allow-listed hosts, with the address policy of
//! [`egress`](super::egress), a per-invocation call budget, timeouts and a
//! response cap.
//!
//! Each call is recorded with the invocation's secrets replaced in its method,
//! URL and error (`runtime::redact`). When traces are exported, it is also a
//! span of its own, which its `traceparent` names.
//!
//! Two shared clients serve every invocation: a strict one whose resolver
//! refuses non-public addresses (so the address connected to is the address
//! checked: no DNS-rebinding window), and an open one for endpoints with
//! `allow_private_network`. Neither follows redirects or uses a proxy.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::egress::is_public;
use crate::domain::{HostPattern, TraceId};
use crate::runtime::bindings::http_out::{Error, Host, Request, Response};
use crate::runtime::outcome::{
    MAX_CALL_ERROR_BYTES, MAX_METHOD_BYTES, MAX_URL_BYTES, OutboundCall,
};
use crate::runtime::redact::Redactor;
use crate::runtime::state::State;

/// Headers a guest may not set: they belong to the connection, not the request.
const FORBIDDEN_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-authorization",
    "proxy-connection",
];

const DNS_TIMEOUT: Duration = Duration::from_secs(5);

/// The two process-wide clients.
#[derive(Clone)]
pub(crate) struct HttpClients {
    strict: reqwest::Client,
    open: reqwest::Client,
}

impl HttpClients {
    pub(crate) fn new() -> Result<Self, reqwest::Error> {
        let base = || {
            reqwest::Client::builder()
                // One protocol whose bounds are known: a receiver offering
                // h2 does not get a plugin's calls multiplexed.
                .http1_only()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .connect_timeout(Duration::from_secs(5))
                .user_agent(concat!("hookhost/", env!("CARGO_PKG_VERSION")))
        };
        Ok(Self {
            strict: base().dns_resolver(Arc::new(PolicyResolver)).build()?,
            open: base().build()?,
        })
    }
}

/// Refuses names that resolve to any non-public address; alerts to a
/// tenant's destinations resolve through it too.
pub(crate) struct PolicyResolver;

/// The resolver's refusal, found again in the error chain to answer `access-denied`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Refused(String);

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let lookup = tokio::net::lookup_host((host.as_str(), 0));
            let addrs: Vec<SocketAddr> = tokio::time::timeout(DNS_TIMEOUT, lookup)
                .await
                .map_err(|_| format!("DNS lookup of {host} timed out"))??
                .collect();
            if let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
                let refused = Refused(format!(
                    "{host} resolves to {}, which is not a public address; the endpoint does not set allow_private_network",
                    bad.ip()
                ));
                return Err(refused.into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// What one invocation may do over HTTP, and what it did.
pub(crate) struct HttpState {
    pub(crate) clients: HttpClients,
    pub(crate) allowed_hosts: Arc<Vec<HostPattern>>,
    pub(crate) allow_private_network: bool,
    pub(crate) event_id: String,
    pub(crate) trace: Option<TraceId>,
    pub(crate) max_calls: u32,
    pub(crate) call_timeout: Duration,
    pub(crate) response_max_bytes: u64,
    pub(crate) deadline: Instant,
    pub(crate) calls: Vec<OutboundCall>,
}

impl HttpState {
    async fn send(&mut self, request: Request, redactor: &Redactor) -> Result<Response, Error> {
        if self.calls.len() as u32 >= self.max_calls {
            return Err(Error::BudgetExhausted);
        }
        let index = self.calls.len() + 1;
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .ok()
            .filter(|m| {
                ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"].contains(&m.as_str())
            })
            .ok_or_else(|| {
                Error::InvalidRequest(format!("method {:?} is not supported", request.method))
            })?;
        let url = reqwest::Url::parse(&request.url)
            // The URL itself is in the call's record, redacted; quoted here
            // it would be escaped, and a secret in it no longer found.
            .map_err(|e| Error::InvalidRequest(format!("the url is invalid: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::InvalidRequest(format!(
                "scheme {:?} is not allowed: use http or https",
                url.scheme()
            )));
        }
        let (host, ip) = match url.host() {
            Some(url::Host::Domain(d)) => (d.to_ascii_lowercase(), None),
            Some(url::Host::Ipv4(ip)) => (ip.to_string(), Some(IpAddr::V4(ip))),
            Some(url::Host::Ipv6(ip)) => (ip.to_string(), Some(IpAddr::V6(ip))),
            None => return Err(Error::InvalidRequest("url has no host".into())),
        };
        let port = url.port_or_known_default().unwrap_or(80);
        if !self.allowed_hosts.iter().any(|p| p.matches(&host, port)) {
            return Err(Error::AccessDenied(format!(
                "{host}:{port} is not in this endpoint's allowed_hosts"
            )));
        }
        if let Some(ip) = ip.filter(|ip| !self.allow_private_network && !is_public(*ip)) {
            return Err(Error::AccessDenied(format!(
                "{ip} is not a public address; the endpoint does not set allow_private_network"
            )));
        }
        let span = exported_span(&method, &host, port, redactor);
        let headers = self.headers(request.headers, index, span.as_ref().map(|(_, id)| *id))?;
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        let timeout = request
            .timeout_ms
            .map(|ms| Duration::from_millis(ms.into()))
            .unwrap_or(self.call_timeout)
            .min(self.call_timeout)
            .min(remaining);
        let client = if self.allow_private_network {
            &self.clients.open
        } else {
            &self.clients.strict
        };
        let mut response = client
            .request(method, url)
            .headers(headers)
            .body(request.body)
            .timeout(timeout)
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status().as_u16();
        if let Some((span, _)) = &span {
            // As i64: tracing-opentelemetry writes other integers as text.
            span.record("http.response.status_code", i64::from(status));
        }
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        if response
            .content_length()
            .is_some_and(|len| len > self.response_max_bytes)
        {
            return Err(Error::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
            if (body.len() + chunk.len()) as u64 > self.response_max_bytes {
                return Err(Error::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    /// The request's headers: the guest's, then `Idempotency-Key` and
    /// `traceparent` (naming `span`, else a fresh span id) unless it set them.
    fn headers(
        &self,
        raw: Vec<(String, String)>,
        index: usize,
        span: Option<[u8; 8]>,
    ) -> Result<HeaderMap, Error> {
        let mut headers = HeaderMap::new();
        for (name, value) in raw {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Error::InvalidRequest(format!("header name {name:?} is invalid")))?;
            if FORBIDDEN_HEADERS.contains(&name.as_str()) {
                return Err(Error::InvalidRequest(format!(
                    "header {name} is set by the host and may not be set by a handler"
                )));
            }
            let value = HeaderValue::from_str(&value).map_err(|_| {
                Error::InvalidRequest(format!("header {name} has an invalid value"))
            })?;
            headers.append(name, value);
        }
        if !headers.contains_key("idempotency-key") {
            let key = format!("{}:{index}", self.event_id);
            headers.insert(
                "idempotency-key",
                HeaderValue::from_str(&key).expect("delivery ids are header-safe"),
            );
        }
        if let Some(trace) = self.trace.filter(|_| !headers.contains_key("traceparent")) {
            let span = span.unwrap_or_else(|| {
                let mut span: [u8; 8] = rand::random();
                span[7] |= 1;
                span
            });
            headers.insert(
                "traceparent",
                HeaderValue::from_str(&trace.traceparent(span)).expect("hex is header-safe"),
            );
        }
        Ok(headers)
    }
}

/// The call as a span of its own under the attempt's, with that span's id,
/// when traces are exported (an OpenTelemetry span is current): the call's
/// `traceparent` names it, so the receiver's spans join the trace. The host
/// is redacted like the call's record, since the spans leave the host too.
fn exported_span(
    method: &reqwest::Method,
    host: &str,
    port: u16,
    redactor: &Redactor,
) -> Option<(tracing::Span, [u8; 8])> {
    use opentelemetry::trace::TraceContextExt;
    if !opentelemetry::Context::current().has_active_span() {
        return None;
    }
    let span = tracing::info_span!(
        "http-out",
        otel.kind = "client",
        http.request.method = %method,
        server.address = %redactor.redact(host.to_owned()),
        server.port = i64::from(port),
        http.response.status_code = tracing::field::Empty,
    );
    // Entered, the span is the current OpenTelemetry context.
    let id = span.in_scope(|| {
        opentelemetry::Context::current()
            .span()
            .span_context()
            .span_id()
    });
    Some((span, id.to_bytes()))
}

fn transport_error(e: reqwest::Error) -> Error {
    if e.is_timeout() {
        return Error::Timeout;
    }
    // reqwest names the URL percent-encoded, where a secret in it would no
    // longer be found; the call's record holds the URL, redacted.
    let e = e.without_url();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    let mut chain = Vec::new();
    while let Some(err) = source {
        if let Some(refused) = err.downcast_ref::<Refused>() {
            return Error::AccessDenied(refused.0.clone());
        }
        chain.push(err.to_string());
        source = err.source();
    }
    chain.dedup();
    Error::Other(chain.join(": "))
}

fn describe(error: &Error) -> String {
    match error {
        Error::AccessDenied(m) => format!("access denied: {m}"),
        Error::InvalidRequest(m) => format!("invalid request: {m}"),
        Error::Timeout => "timeout".into(),
        Error::TooLarge => "response too large".into(),
        Error::BudgetExhausted => "call budget exhausted".into(),
        Error::Other(m) => m.clone(),
    }
}

impl Host for State {
    async fn send(&mut self, request: Request) -> Result<Response, Error> {
        let started = Instant::now();
        let method = request.method.clone();
        let url = request.url.clone();
        let budget_spent = self.http.calls.len() as u32 >= self.http.max_calls;
        let result = self.http.send(request, &self.redactor).await;
        if !budget_spent {
            let redactor = &self.redactor;
            self.http.calls.push(OutboundCall::new(
                redactor.clip(method, MAX_METHOD_BYTES),
                redactor.clip(url, MAX_URL_BYTES),
                result.as_ref().ok().map(|r| r.status),
                started.elapsed().as_millis() as u64,
                result
                    .as_ref()
                    .err()
                    .map(|e| redactor.clip(describe(e), MAX_CALL_ERROR_BYTES)),
            ));
        }
        result
    }
}
