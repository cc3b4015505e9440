//! The client's address behind proxies: believed from `Forwarded` or
//! `X-Forwarded-For` only as far as the hops that added them are the
//! operator's `trusted_proxies`.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The address a request came from. It is the connection's `peer`, unless
/// the peer is a trusted proxy. Then the forwarding headers are read from
/// the right, each hop added by the proxy before it, past every trusted
/// proxy: the first address that is not one is the client.
///
/// `Forwarded` is read if present, else `X-Forwarded-For`. When a hop
/// cannot be read, the last trusted proxy is the answer: a client can write
/// what it likes to the left of the hops the proxies added, so nothing to
/// the left of an unreadable hop can be believed.
pub(super) fn client_addr(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops = if headers.contains_key("forwarded") {
        forwarded_for(headers)
    } else {
        x_forwarded_for(headers)
    };
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        match hop {
            Some(ip) if is_trusted(&ip) => client = ip,
            Some(ip) => return ip,
            None => return client,
        }
    }
    client
}

/// The hops of every `X-Forwarded-For` line, left to right; `None` for a
/// hop that is not an address.
fn x_forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|line| line.to_str().unwrap_or("?").split(','))
        .map(|hop| address(hop.trim()))
        .collect()
}

/// The `for=` of each element of every `Forwarded` line (RFC 7239), left to
/// right; `None` for an element without one or with an obfuscated one.
fn forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all("forwarded")
        .iter()
        .flat_map(|line| line.to_str().unwrap_or("?").split(','))
        .map(|element| {
            element.split(';').find_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| address(value.trim().trim_matches('"')))?
            })
        })
        .collect()
}

/// An address written as `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1` or `[2001:db8::1]:80`.
fn address(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>()
        .or_else(|_| s.parse::<SocketAddr>().map(|a| a.ip()))
        .or_else(|_| s.trim_start_matches('[').trim_end_matches(']').parse())
        .ok()
        .map(|ip: IpAddr| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, value.parse().unwrap());
        }
        h
    }

    const PROXIES: &[&str] = &["10.0.0.0/8"];

    fn trusted() -> Vec<IpNet> {
        PROXIES.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn a_peer_that_is_no_trusted_proxy_is_the_client_whatever_it_claims() {
        let h = headers(&[("x-forwarded-for", "3.18.12.63")]);
        assert_eq!(
            client_addr(ip("198.51.100.9"), &h, &trusted()),
            ip("198.51.100.9")
        );
        assert_eq!(client_addr(ip("10.0.0.1"), &h, &[]), ip("10.0.0.1"));
    }

    #[test]
    fn behind_trusted_proxies_the_client_is_the_first_untrusted_hop_from_the_right() {
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 3.18.12.63, 10.1.1.1")]);
        assert_eq!(
            client_addr(ip("10.0.0.1"), &h, &trusted()),
            ip("3.18.12.63"),
            "the left-most hop is the client's own claim and is not believed"
        );
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "3.18.12.63"),
        ]);
        assert_eq!(
            client_addr(ip("10.0.0.1"), &h, &trusted()),
            ip("3.18.12.63")
        );
    }

    #[test]
    fn forwarded_is_read_before_x_forwarded_for_with_ports_quotes_and_brackets() {
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            (
                "forwarded",
                r#"for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https, For=10.2.2.2"#,
            ),
        ]);
        assert_eq!(
            client_addr(ip("10.0.0.1"), &h, &trusted()),
            ip("2001:db8:cafe::17")
        );
        let h = headers(&[("forwarded", "for=\"3.18.12.63:443\"")]);
        assert_eq!(
            client_addr(ip("10.0.0.1"), &h, &trusted()),
            ip("3.18.12.63")
        );
    }

    #[test]
    fn an_unreadable_hop_stops_the_walk_at_the_last_trusted_proxy() {
        let h = headers(&[("x-forwarded-for", "3.18.12.63, garbage, 10.1.1.1")]);
        assert_eq!(client_addr(ip("10.0.0.1"), &h, &trusted()), ip("10.1.1.1"));
        let h = headers(&[("forwarded", "for=_hidden")]);
        assert_eq!(client_addr(ip("10.0.0.1"), &h, &trusted()), ip("10.0.0.1"));
        assert_eq!(
            client_addr(ip("10.0.0.1"), &HeaderMap::new(), &trusted()),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn an_ipv4_peer_mapped_into_ipv6_is_its_ipv4_address() {
        assert_eq!(
            client_addr(ip("::ffff:10.0.0.1"), &HeaderMap::new(), &trusted()),
            ip("10.0.0.1")
        );
    }
}
