//! Signing in to the dashboard: the operator token or a tenant's API key
//! buys a session, a random value in an HttpOnly, SameSite=Strict cookie
//! stored only as its SHA-256; every form carries the session's CSRF token.
//!
//! A session stands for the credential it was opened with, which is checked
//! again on every request: rotating a tenant's key or the operator token
//! ends the sessions it opened.

use axum::extract::{FromRequestParts, State};
use axum::http::header::{COOKIE, HOST, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::page::{self, Page};
use super::{UiError, UiState};
use crate::api::{Caller, generate_key, hash_key};
use crate::domain::Timestamp;
use crate::store::NewSession;

/// The cookie's name.
const COOKIE_NAME: &str = "hookhost_session";

/// How long a session lasts, whatever is done with it.
const SESSION_S: u64 = 12 * 3600;

/// Longest credential a sign-in reads: keys and tokens are far shorter.
const MAX_TOKEN_BYTES: usize = 256;

/// Sign-in attempts per client address (an IPv6 /64 counts as one): this
/// many at once, then one more each [`SIGN_IN_REFILL`]. Sign-in is the one
/// form the internet reaches, and the operator token is a credential it
/// accepts.
const SIGN_IN_BURST: u32 = 10;
const SIGN_IN_REFILL: std::time::Duration = std::time::Duration::from_secs(6);

/// Beyond this many addresses, those whose bucket is full again are forgotten.
const MAX_TRACKED: usize = 10_000;

type Limiter = governor::RateLimiter<
    std::net::IpAddr,
    governor::state::keyed::HashMapStateStore<std::net::IpAddr>,
    governor::clock::DefaultClock,
>;

/// Each client address's sign-in attempts.
pub struct SignIns(Limiter);

impl Default for SignIns {
    fn default() -> Self {
        let quota = governor::Quota::with_period(SIGN_IN_REFILL)
            .expect("a period")
            .allow_burst(std::num::NonZeroU32::new(SIGN_IN_BURST).expect("not zero"));
        Self(governor::RateLimiter::hashmap(quota))
    }
}

impl SignIns {
    /// Whether `peer` may try once more now.
    fn allow(&self, peer: std::net::IpAddr) -> bool {
        let key = match peer {
            std::net::IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
                let mut octets = v6.octets();
                octets[8..].fill(0);
                std::net::IpAddr::from(octets)
            }
            std::net::IpAddr::V6(v6) => std::net::IpAddr::V4(v6.to_ipv4_mapped().expect("mapped")),
            v4 => v4,
        };
        if self.0.len() > MAX_TRACKED {
            self.0.retain_recent();
        }
        self.0.check_key(&key).is_ok()
    }
}

/// Who is looking, and the token their forms carry.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The credential's reach, exactly the API's.
    pub caller: Caller,
    /// The session's CSRF token.
    pub csrf: String,
}

impl Viewer {
    /// Refuses a form whose token is not this session's: a form posted from
    /// another site, or one rendered for an earlier session.
    pub fn check(&self, token: &str) -> Result<(), UiError> {
        if bool::from(self.csrf.as_bytes().ct_eq(token.as_bytes())) {
            Ok(())
        } else {
            Err(UiError::Csrf)
        }
    }
}

fn cookie_value(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value)
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

impl FromRequestParts<UiState> for Viewer {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &UiState) -> Result<Self, UiError> {
        let sign_in = || UiError::SignIn {
            next: parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
        };
        let Some(value) = cookie_value(&parts.headers) else {
            return Err(sign_in());
        };
        let api = &state.api;
        let Some(session) = api
            .store
            .session(&hash_key(value), Timestamp::now())
            .await?
        else {
            return Err(sign_in());
        };
        let caller = match &session.tenant {
            None if session.key_hash == *api.operator_hash => Caller::Operator,
            Some(tenant)
                if api
                    .store
                    .tenant_by_key_hash(&session.key_hash)
                    .await?
                    .as_ref()
                    == Some(tenant) =>
            {
                Caller::Tenant(tenant.clone())
            }
            _ => return Err(sign_in()),
        };
        Ok(Viewer {
            caller,
            csrf: session.csrf,
        })
    }
}

/// Where a sign-in may send the browser on: a page of the dashboard, never
/// another site.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(next)
            if next.starts_with("/ui/") && !next.starts_with("/ui//") && !next.contains('\\') =>
        {
            next
        }
        _ => "/ui",
    }
}

#[derive(Deserialize)]
pub(super) struct NextQuery {
    next: Option<String>,
}

/// The sign-in page.
pub(super) async fn login_page(
    axum::extract::Query(q): axum::extract::Query<NextQuery>,
) -> Response {
    login_form(safe_next(q.next.as_deref()), None).into_response()
}

fn login_form(next: &str, error: Option<&str>) -> Page {
    Page::bare(
        "Sign in",
        html! {
            main.signin {
                h1 { "hookhost" }
                form method="post" action="/ui/login" {
                    input type="hidden" name="next" value=(next);
                    label for="token" { "Operator token or tenant API key" }
                    input #token type="password" name="token" required autocomplete="current-password"
                        autofocus aria-describedby=[error.map(|_| "token-error")];
                    @if let Some(error) = error {
                        p #token-error .field-error role="alert" { (error) }
                    }
                    button type="submit" { "Sign in" }
                }
            }
        },
    )
}

#[derive(Deserialize)]
pub(super) struct SignIn {
    token: String,
    next: Option<String>,
}

/// Whether a request that changes something came from a page of this host:
/// a browser names the page's origin, which must be this host. SameSite
/// keeps the session cookie off other sites' requests; this covers the
/// sign-in form, which has no session yet.
/// The host is the `Host` header over HTTP/1.1, and the request's
/// authority over HTTP/2, where browsers send no `Host`.
pub(super) fn same_origin(headers: &HeaderMap, uri: &axum::http::Uri) -> bool {
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v != "same-origin" && v != "none")
    {
        return false;
    }
    let host = headers
        .get(HOST)
        .map(HeaderValue::as_bytes)
        .or_else(|| uri.authority().map(|a| a.as_str().as_bytes()));
    match (headers.get(ORIGIN), host) {
        (None, _) => true,
        (Some(origin), Some(host)) => origin
            .to_str()
            .ok()
            .and_then(|o| o.split_once("://"))
            .is_some_and(|(_, authority)| authority.as_bytes() == host),
        (Some(_), None) => false,
    }
}

/// Signs in: a known credential opens a session and goes on to `next`.
pub(super) async fn login(
    State(state): State<UiState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    axum::extract::Form(form): axum::extract::Form<SignIn>,
) -> Result<Response, UiError> {
    let next = safe_next(form.next.as_deref()).to_owned();
    if !same_origin(&headers, &uri) {
        return Err(UiError::Csrf);
    }
    if !state.sign_ins.allow(peer.ip()) {
        let mut page = login_form(
            &next,
            Some("Too many sign-in attempts from your address; wait a minute and try again."),
        )
        .into_response();
        *page.status_mut() = axum::http::StatusCode::TOO_MANY_REQUESTS;
        page.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            HeaderValue::from(SIGN_IN_REFILL.as_secs()),
        );
        return Ok(page);
    }
    let token = form.token.trim();
    let key_hash = hash_key(token);
    let api = &state.api;
    let tenant = if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
        None
    } else if key_hash == *api.operator_hash {
        Some(None)
    } else {
        api.store.tenant_by_key_hash(&key_hash).await?.map(Some)
    };
    let Some(tenant) = tenant else {
        let mut page = login_form(
            &next,
            Some("That is neither the operator token nor a tenant's API key."),
        )
        .into_response();
        *page.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
        return Ok(page);
    };
    let value = generate_key("");
    let now = Timestamp::now();
    api.store
        .create_session(&NewSession {
            id_hash: hash_key(&value),
            tenant,
            key_hash,
            csrf: generate_key(""),
            created_at: now,
            expires_at: now.after(std::time::Duration::from_secs(SESSION_S)),
        })
        .await?;
    let cookie = format!(
        "{COOKIE_NAME}={value}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={SESSION_S}{}",
        if state.secure_cookies { "; Secure" } else { "" }
    );
    let mut response = Redirect::to(&next).into_response();
    response.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("the cookie is ASCII"),
    );
    Ok(response)
}

#[derive(Deserialize)]
pub(super) struct Csrf {
    csrf: String,
}

/// Signs out: the session is deleted, not only forgotten by the browser.
pub(super) async fn logout(
    State(state): State<UiState>,
    viewer: Viewer,
    headers: HeaderMap,
    axum::extract::Form(form): axum::extract::Form<Csrf>,
) -> Result<Response, UiError> {
    viewer.check(&form.csrf)?;
    if let Some(value) = cookie_value(&headers) {
        state.api.store.delete_session(&hash_key(value)).await?;
    }
    let mut response = Redirect::to("/ui/login").into_response();
    response.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_static(
            "hookhost_session=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
    Ok(response)
}

/// The page a form lands on when its token was refused.
pub(super) fn csrf_page() -> Page {
    page::message(
        "Form refused",
        "This form came from another site, or from a page older than your session. Reload the page and try again.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sign_in_goes_on_only_to_a_page_of_the_dashboard() {
        assert_eq!(
            safe_next(Some("/ui/t/acme/deliveries?status=dead")),
            "/ui/t/acme/deliveries?status=dead"
        );
        for away in [
            "https://evil.example/",
            "//evil.example/ui/",
            "/ui//evil.example",
            "/v1/tenants",
            "/ui\\x",
        ] {
            assert_eq!(safe_next(Some(away)), "/ui", "{away}");
        }
        assert_eq!(safe_next(None), "/ui");
    }

    #[test]
    fn only_this_hosts_pages_may_post() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, HeaderValue::from_static(v));
            }
            h
        };
        let path: axum::http::Uri = "/ui/login".parse().unwrap();
        let h2: axum::http::Uri = "https://hooks.example/ui/login".parse().unwrap();
        let from = |pairs: &[(&'static str, &'static str)], uri| same_origin(&headers(pairs), uri);
        assert!(from(
            &[
                ("host", "hooks.example:8080"),
                ("origin", "https://hooks.example:8080")
            ],
            &path
        ));
        assert!(from(&[("host", "hooks.example")], &path));
        assert!(!from(
            &[
                ("host", "hooks.example"),
                ("origin", "https://evil.example")
            ],
            &path
        ));
        assert!(!from(
            &[("host", "hooks.example"), ("sec-fetch-site", "cross-site")],
            &path
        ));
        assert!(!from(&[("origin", "https://hooks.example")], &path));
        assert!(
            from(&[("origin", "https://hooks.example")], &h2),
            "HTTP/2 names its authority"
        );
    }

    #[test]
    fn an_address_gets_a_few_sign_ins_at_once_and_a_v6_network_counts_as_one() {
        let limits = SignIns::default();
        let one: std::net::IpAddr = "2001:db8::1".parse().unwrap();
        let neighbour: std::net::IpAddr = "2001:db8::2".parse().unwrap();
        for _ in 0..SIGN_IN_BURST {
            assert!(limits.allow(one));
        }
        assert!(!limits.allow(neighbour), "the same /64");
        assert!(
            limits.allow("2001:db8:0:1::1".parse().unwrap()),
            "another /64"
        );
        assert!(limits.allow("192.0.2.1".parse().unwrap()));
    }

    #[test]
    fn the_session_cookie_is_read_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_static("a=1; hookhost_session=abc; b=2"),
        );
        assert_eq!(cookie_value(&h), Some("abc"));
        h.insert(COOKIE, HeaderValue::from_static("hookhost_session="));
        assert_eq!(cookie_value(&h), None);
    }
}
