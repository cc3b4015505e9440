//! The entries of an endpoint's `allowed_ips`: where its webhooks may come from.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// Longest name of an operator's IP set.
const MAX_SET_NAME: usize = 64;

/// One entry of an endpoint's `allowed_ips`: an address (`203.0.113.7`), a
/// network (`203.0.113.0/24`, `2001:db8::/32`), or `@name`, a set of
/// networks the operator defines once in the config (`ip_sets`), such as a
/// provider's published ranges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum IpAllow {
    /// An address or a network.
    Net(IpNet),
    /// A set of the operator's, by name.
    Set(String),
}

/// Why an `allowed_ips` entry was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "{0:?} is not an address, a network in CIDR notation (203.0.113.0/24) or @name of an IP set"
)]
pub struct InvalidIpAllow(String);

impl FromStr for IpAllow {
    type Err = InvalidIpAllow;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidIpAllow(s.to_owned());
        if let Some(name) = s.strip_prefix('@') {
            return if is_set_name(name) {
                Ok(Self::Set(name.to_owned()))
            } else {
                Err(invalid())
            };
        }
        if let Ok(net) = s.parse::<IpNet>() {
            return Ok(Self::Net(net.trunc()));
        }
        s.parse::<IpAddr>()
            .map(|ip| Self::Net(IpNet::from(ip)))
            .map_err(|_| invalid())
    }
}

/// Whether `name` may name an IP set: 1 to 64 of `a-z`, `0-9`, `-`, `_`.
pub fn is_set_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_SET_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl IpAllow {
    /// Whether `ip` falls in this entry; a set the operator no longer
    /// defines holds no address.
    pub fn contains(&self, ip: IpAddr, sets: &BTreeMap<String, Vec<IpNet>>) -> bool {
        let ip = ip.to_canonical();
        match self {
            Self::Net(net) => net.contains(&ip),
            Self::Set(name) => sets
                .get(name)
                .is_some_and(|nets| nets.iter().any(|net| net.contains(&ip))),
        }
    }
}

/// Whether an endpoint whose `allowed_ips` are `entries` takes a webhook
/// from `ip`: any address when there are none.
pub fn admits(entries: &[IpAllow], sets: &BTreeMap<String, Vec<IpNet>>, ip: IpAddr) -> bool {
    entries.is_empty() || entries.iter().any(|e| e.contains(ip, sets))
}

impl TryFrom<String> for IpAllow {
    type Error = InvalidIpAllow;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<IpAllow> for String {
    fn from(e: IpAllow) -> Self {
        e.to_string()
    }
}

impl fmt::Display for IpAllow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Net(net) if net.prefix_len() == net.max_prefix_len() => net.addr().fmt(f),
            Self::Net(net) => net.fmt(f),
            Self::Set(name) => write!(f, "@{name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(s: &str) -> IpAllow {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn addresses_networks_and_set_names_are_entries_and_read_back_as_written() {
        for text in [
            "203.0.113.7",
            "203.0.113.0/24",
            "2001:db8::/32",
            "::1",
            "@stripe",
        ] {
            assert_eq!(e(text).to_string(), text);
        }
        assert_eq!(e("203.0.113.9/24").to_string(), "203.0.113.0/24");
        for bad in [
            "",
            "@",
            "@Stripe",
            "203.0.113.0/33",
            "example.com",
            "10.0.0.0/8 ",
            "*",
        ] {
            assert!(bad.parse::<IpAllow>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_address_is_admitted_by_a_network_or_set_holding_it_and_by_no_entries() {
        let sets = BTreeMap::from([("stripe".to_owned(), vec!["3.18.12.0/24".parse().unwrap()])]);
        assert!(admits(&[], &sets, ip("198.51.100.1")));
        let entries = [e("203.0.113.0/24"), e("@stripe")];
        assert!(admits(&entries, &sets, ip("203.0.113.200")));
        assert!(admits(&entries, &sets, ip("3.18.12.63")));
        assert!(!admits(&entries, &sets, ip("3.18.13.1")));
        assert!(
            admits(&entries, &sets, ip("::ffff:203.0.113.5")),
            "an IPv4 address mapped into IPv6 is the IPv4 address"
        );
        assert!(
            !admits(&[e("@gone")], &sets, ip("3.18.12.63")),
            "a set no longer defined holds nothing"
        );
    }
}
