//! Where outbound HTTP may go: the endpoint's host allow-list, then the address policy.
//!
//! A name on the allow-list is not enough: `internal.example.com` can resolve
//! to 10.0.0.5, and a DNS answer can change between check and connect. So the
//! host is checked by name first, then every address it resolves to is checked
//! against the policy below, and the client connects only to those addresses
//! (see `http_out::PolicyResolver`). The refused ranges are the union of
//! Svix's `is_allowed` and smokescreen's `classifyAddr`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
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
}

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

/// Whether `ip` is a public unicast address a webhook handler may reach
/// without `allow_private_network`.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let refused = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments 192.0.0/24
        || (a == 198 && (b == 18 || b == 19)) // benchmarking 198.18/15
        || a >= 240; // reserved 240/4
    !refused
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let refused = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local fec0::/10
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation 2001:db8::/32
        || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64 64:ff9b::/96 and 64:ff9b:1::/48
        || s[0] == 0x2002 // 6to4 2002::/16
        || (s[0] == 0x2001 && s[1] == 0) // Teredo 2001::/32
        || s[..6].iter().all(|&x| x == 0); // IPv4-compatible ::/96
    !refused
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

    #[test]
    fn private_loopback_link_local_and_embedded_forms_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "240.0.0.1",
            "198.18.0.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
            "2001::1",
            "::127.0.0.1",
            "2001:db8::1",
            "ff02::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip} should be refused");
        }
    }

    #[test]
    fn ordinary_public_addresses_are_public() {
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip} should be allowed");
        }
    }
}
