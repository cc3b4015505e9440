//! The entries of an endpoint's `allowed_hosts`: which host names a plugin's
//! outbound calls may name. The address policy applied after resolution is
//! the runtime's (`runtime::capabilities::egress`).

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One entry of an endpoint's `allowed_hosts`: `host`, `host:port`,
/// `*.example.com` (any subdomain, not the apex) or `*` (any host, still
/// subject to the address policy). Without a port, any port is allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HostPattern {
    host: HostMatch,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostMatch {
    Any,
    Exact(String),
    /// Holds the suffix with its leading dot: `.example.com`.
    Subdomains(String),
}

/// Why an `allowed_hosts` entry was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "allowed host {0:?} is not valid: use `host`, `host:port`, `*.domain` or `*` (no scheme, path or credentials)"
)]
pub struct InvalidHostPattern(String);

impl FromStr for HostPattern {
    type Err = InvalidHostPattern;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidHostPattern(raw.to_owned());
        let s = raw.trim().to_ascii_lowercase();
        if s.is_empty() || s.contains(['/', '@', '?', '#', ' ']) {
            return Err(invalid());
        }
        let (host, port) = split_host_port(&s).ok_or_else(invalid)?;
        let host = if host == "*" {
            HostMatch::Any
        } else if let Some(domain) = host.strip_prefix("*.") {
            let domain = domain.strip_suffix('.').unwrap_or(domain);
            if !is_domain(domain) {
                return Err(invalid());
            }
            HostMatch::Subdomains(format!(".{domain}"))
        } else if host.parse::<IpAddr>().is_ok()
            || is_domain(host.strip_suffix('.').unwrap_or(host))
        {
            HostMatch::Exact(host.strip_suffix('.').unwrap_or(host).to_owned())
        } else {
            return Err(invalid());
        };
        Ok(HostPattern { host, port })
    }
}

fn split_host_port(s: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after {
            "" => Some((host, None)),
            _ => Some((host, Some(after.strip_prefix(':')?.parse().ok()?))),
        };
    }
    match s.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => Some((host, Some(port.parse().ok()?))),
        Some(_) => s.parse::<Ipv6Addr>().ok().map(|_| (s, None)),
        None => Some((s, None)),
    }
}

fn is_domain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

impl HostPattern {
    /// Whether a request to `host` (lower case, IPv6 without brackets) on `port` is allowed.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        if self.port.is_some_and(|p| p != port) {
            return false;
        }
        let host = host.trim_end_matches('.');
        match &self.host {
            HostMatch::Any => true,
            HostMatch::Exact(h) => h == host,
            HostMatch::Subdomains(suffix) => host.ends_with(suffix.as_str()),
        }
    }

    /// Whether every host and port `other` allows, this allows too: how a
    /// tenant policy's patterns bound an endpoint's.
    pub fn covers(&self, other: &HostPattern) -> bool {
        if self.port.is_some() && self.port != other.port {
            return false;
        }
        match (&self.host, &other.host) {
            (HostMatch::Any, _) => true,
            (_, HostMatch::Any) => false,
            (HostMatch::Exact(a), HostMatch::Exact(b)) => a == b,
            (HostMatch::Exact(_), HostMatch::Subdomains(_)) => false,
            (HostMatch::Subdomains(suffix), HostMatch::Exact(h)) => h.ends_with(suffix.as_str()),
            (HostMatch::Subdomains(suffix), HostMatch::Subdomains(inner)) => {
                inner.ends_with(suffix.as_str())
            }
        }
    }

    /// Whether this allows every host, or every host under a one-label
    /// suffix (`*.com`, or `*.1`, which also matches IPv4 literals): what
    /// only the operator may grant a tenant.
    pub fn is_broad(&self) -> bool {
        match &self.host {
            HostMatch::Any => true,
            HostMatch::Subdomains(suffix) => !suffix[1..].contains('.'),
            HostMatch::Exact(_) => false,
        }
    }
}

/// In the OpenAPI document an entry is the string it is written as.
impl utoipa::PartialSchema for HostPattern {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        String::schema()
    }
}

impl utoipa::ToSchema for HostPattern {}

impl TryFrom<String> for HostPattern {
    type Error = InvalidHostPattern;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<HostPattern> for String {
    fn from(value: HostPattern) -> String {
        value.to_string()
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = match &self.host {
            HostMatch::Any => "*".to_owned(),
            HostMatch::Exact(h) if h.contains(':') => format!("[{h}]"),
            HostMatch::Exact(h) => h.clone(),
            HostMatch::Subdomains(s) => format!("*{s}"),
        };
        match self.port {
            Some(p) => write!(f, "{host}:{p}"),
            None => f.write_str(&host),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(s: &str) -> HostPattern {
        s.parse().unwrap()
    }

    #[test]
    fn exact_hosts_match_any_port_unless_one_is_given() {
        assert!(pattern("hooks.slack.com").matches("hooks.slack.com", 443));
        assert!(pattern("hooks.slack.com").matches("hooks.slack.com", 8080));
        assert!(!pattern("hooks.slack.com").matches("evil.com", 443));
        assert!(pattern("api.example.com:8443").matches("api.example.com", 8443));
        assert!(!pattern("api.example.com:8443").matches("api.example.com", 443));
    }

    #[test]
    fn wildcards_match_subdomains_but_not_the_apex_or_lookalikes() {
        let p = pattern("*.example.com");
        assert!(p.matches("a.example.com", 443));
        assert!(p.matches("a.b.example.com", 443));
        assert!(!p.matches("example.com", 443));
        assert!(!p.matches("badexample.com", 443));
    }

    #[test]
    fn a_pattern_covers_only_what_it_allows_itself() {
        assert!(pattern("*").covers(&pattern("*")));
        assert!(pattern("*").covers(&pattern("api.stripe.com:443")));
        assert!(pattern("*.stripe.com").covers(&pattern("api.stripe.com")));
        assert!(pattern("*.stripe.com").covers(&pattern("*.eu.stripe.com")));
        assert!(pattern("*.stripe.com").covers(&pattern("*.stripe.com:443")));
        assert!(!pattern("*.stripe.com").covers(&pattern("stripe.com")));
        assert!(!pattern("*.stripe.com").covers(&pattern("*")));
        assert!(!pattern("api.stripe.com").covers(&pattern("*.stripe.com")));
        assert!(!pattern("api.stripe.com:443").covers(&pattern("api.stripe.com")));
        assert!(pattern("api.stripe.com").covers(&pattern("api.stripe.com:8443")));
    }

    #[test]
    fn ip_literals_and_bracketed_ipv6_parse() {
        assert!(pattern("127.0.0.1:9000").matches("127.0.0.1", 9000));
        assert!(pattern("[::1]:9000").matches("::1", 9000));
        assert!(pattern("::1").matches("::1", 1));
        assert_eq!(pattern("[::1]:9000").to_string(), "[::1]:9000");
    }

    #[test]
    fn urls_and_junk_are_refused_as_patterns() {
        for bad in [
            "",
            "https://example.com",
            "example.com/path",
            "user@example.com",
            "*.",
            "a..b",
            "example.com:99999",
        ] {
            assert!(bad.parse::<HostPattern>().is_err(), "{bad:?}");
        }
    }
}
