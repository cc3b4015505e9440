//! The client's address behind proxies: believed from the one header the
//! operator's `trusted_proxies` write (`client_ip_header`), and only as far
//! as the hops that added it are trusted proxies.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

use crate::config::ClientIpHeader;

/// The address a request came from: the connection's `peer`, unless the
/// peer is a trusted proxy. Then `header` is read from the right, each hop
/// added by the proxy before it, past every trusted proxy; the first
/// address that is not one is the client. `None` when a hop cannot be read:
/// a client may write what it likes to the left of what the proxies added,
/// and a proxy that did not add a readable hop cannot say who its client
/// was, so no address can be believed (and an endpoint with `allowed_ips`
/// refuses). Only the configured header is read: proxies pass other
/// forwarding headers on from the client untouched.
pub(super) fn client_addr(
    peer: IpAddr,
    headers: &HeaderMap,
    trusted: &[IpNet],
    header: ClientIpHeader,
) -> Option<IpAddr> {
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let hops = match header {
        ClientIpHeader::XForwardedFor => x_forwarded_for(headers),
        ClientIpHeader::Forwarded => forwarded_for(headers),
    };
    if hops.is_empty() {
        // The proxy forwarded nothing: the request is the proxy's own.
        return Some(peer);
    }
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        client = hop?;
        if !is_trusted(&client) {
            return Some(client);
        }
    }
    Some(client)
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

    fn trusted() -> Vec<IpNet> {
        vec!["10.0.0.0/8".parse().unwrap()]
    }

    fn xff(peer: &str, h: &HeaderMap) -> Option<IpAddr> {
        client_addr(ip(peer), h, &trusted(), ClientIpHeader::XForwardedFor)
    }

    fn fwd(peer: &str, h: &HeaderMap) -> Option<IpAddr> {
        client_addr(ip(peer), h, &trusted(), ClientIpHeader::Forwarded)
    }

    #[test]
    fn a_peer_that_is_no_trusted_proxy_is_the_client_whatever_it_claims() {
        let h = headers(&[("x-forwarded-for", "3.18.12.63")]);
        assert_eq!(xff("198.51.100.9", &h), Some(ip("198.51.100.9")));
        let untrusted = client_addr(ip("10.0.0.1"), &h, &[], ClientIpHeader::XForwardedFor);
        assert_eq!(untrusted, Some(ip("10.0.0.1")));
    }

    #[test]
    fn behind_trusted_proxies_the_client_is_the_first_untrusted_hop_from_the_right() {
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 3.18.12.63, 10.1.1.1")]);
        assert_eq!(
            xff("10.0.0.1", &h),
            Some(ip("3.18.12.63")),
            "the left-most hop is the client's own claim and is not believed"
        );
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "3.18.12.63"),
        ]);
        assert_eq!(xff("10.0.0.1", &h), Some(ip("3.18.12.63")));
        let h = headers(&[("x-forwarded-for", "10.2.2.2")]);
        assert_eq!(
            xff("10.0.0.1", &h),
            Some(ip("10.2.2.2")),
            "an internal sender"
        );
    }

    #[test]
    fn only_the_configured_header_is_read() {
        let h = headers(&[
            ("forwarded", "for=3.18.12.63"),
            ("x-forwarded-for", "198.51.100.9"),
        ]);
        assert_eq!(
            xff("10.0.0.1", &h),
            Some(ip("198.51.100.9")),
            "a Forwarded header the client wrote and the proxy passed on is ignored"
        );
        assert_eq!(fwd("10.0.0.1", &h), Some(ip("3.18.12.63")));
    }

    #[test]
    fn forwarded_is_read_with_ports_quotes_brackets_and_any_case() {
        let h = headers(&[(
            "forwarded",
            r#"for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https, For=10.2.2.2"#,
        )]);
        assert_eq!(fwd("10.0.0.1", &h), Some(ip("2001:db8:cafe::17")));
        let h = headers(&[("forwarded", "for=\"3.18.12.63:443\"")]);
        assert_eq!(fwd("10.0.0.1", &h), Some(ip("3.18.12.63")));
    }

    #[test]
    fn an_unreadable_hop_means_no_address_can_be_believed() {
        let h = headers(&[("x-forwarded-for", "3.18.12.63, garbage, 10.1.1.1")]);
        assert_eq!(xff("10.0.0.1", &h), None);
        let h = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(fwd("10.0.0.1", &h), None);
        let h = headers(&[("forwarded", "proto=https")]);
        assert_eq!(fwd("10.0.0.1", &h), None, "an element without for=");
        assert_eq!(
            xff("10.0.0.1", &HeaderMap::new()),
            Some(ip("10.0.0.1")),
            "nothing forwarded: the proxy's own request"
        );
    }

    #[test]
    fn an_ipv4_peer_mapped_into_ipv6_is_its_ipv4_address() {
        assert_eq!(
            xff("::ffff:10.0.0.1", &HeaderMap::new()),
            Some(ip("10.0.0.1"))
        );
    }
}
