//! The client's address, for the limits counted per address (anonymous directory reads, the
//! public self-registration).
//!
//! Behind a load balancer or reverse proxy every connection comes from the proxy: counted by
//! that address, all anonymous clients would share one allowance. The operator names the
//! proxies (`--trusted-proxies`); for a connection from one of them, the client is read from
//! `X-Forwarded-For`, right to left, skipping the addresses of trusted proxies: the first
//! address that is not one is the client. What a client writes itself in that header lies to
//! the left of what the proxies append, so it is never taken while a proxy's entry comes after
//! it. A connection from anywhere else is counted by its own address, whatever it sends.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};

/// One network of trusted proxies: an address and a prefix length (`10.0.0.0/8`,
/// `2001:db8::/32`, or a single address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyNetwork {
    address: IpAddr,
    prefix: u8,
}

impl ProxyNetwork {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.address, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`) as the IPv4 address they carry.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

impl FromStr for ProxyNetwork {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (address, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let address = canonical(
            address
                .parse::<IpAddr>()
                .map_err(|_| format!("not an IP address: {address:?}"))?,
        );
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("not a prefix length from 0 to {max}: {p:?}"))?,
        };
        Ok(ProxyNetwork { address, prefix })
    }
}

impl fmt::Display for ProxyNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

/// The proxies whose `X-Forwarded-For` is believed. Empty by default: the header is ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<ProxyNetwork>);

impl TrustedProxies {
    /// These networks.
    pub fn new(networks: Vec<ProxyNetwork>) -> Self {
        TrustedProxies(networks)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(ip))
    }

    /// The client of a connection from `peer` that carried these `X-Forwarded-For` values
    /// (in the order received).
    pub fn client<'a>(&self, peer: IpAddr, forwarded: impl Iterator<Item = &'a str>) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<&str> = forwarded.flat_map(|v| v.split(',')).collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Ok(ip) = hop.trim().parse::<IpAddr>() else {
                // Garbage (or a port, which proxies do not add to this header): the last
                // address known good stands.
                return client;
            };
            client = ip;
            if !self.trusts(ip) {
                return ip;
            }
        }
        client
    }
}

/// The client's address of a request, when the server was started with the peer's address.
pub(crate) fn client_ip(
    extensions: &Extensions,
    headers: &HeaderMap,
    proxies: &TrustedProxies,
) -> Option<IpAddr> {
    let ConnectInfo(peer) = extensions.get::<ConnectInfo<SocketAddr>>()?;
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    Some(proxies.client(peer.ip(), forwarded))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse()
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    }

    fn proxies(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(nets.iter().filter_map(|n| n.parse().ok()).collect())
    }

    #[test]
    fn networks_are_read_with_or_without_a_prefix() {
        for (text, shown) in [
            ("10.0.0.0/8", "10.0.0.0/8"),
            ("192.0.2.7", "192.0.2.7/32"),
            ("2001:db8::/32", "2001:db8::/32"),
            ("::1", "::1/128"),
            ("::ffff:192.0.2.7", "192.0.2.7/32"),
            (" 0.0.0.0/0 ", "0.0.0.0/0"),
        ] {
            assert_eq!(
                text.parse::<ProxyNetwork>().map(|n| n.to_string()),
                Ok(shown.to_owned()),
                "{text}"
            );
        }
        for bad in [
            "",
            "10.0.0.0/33",
            "2001:db8::/129",
            "proxy.example",
            "10.0.0.0/x",
        ] {
            assert!(bad.parse::<ProxyNetwork>().is_err(), "{bad}");
        }
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let p = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            p.client(ip("192.0.2.7"), ["198.51.100.1"].into_iter()),
            ip("192.0.2.7")
        );
        assert_eq!(
            TrustedProxies::default().client(ip("10.0.0.1"), ["198.51.100.1"].into_iter()),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_first_untrusted_hop_from_the_right_is_the_client() {
        let p = proxies(&["10.0.0.0/8", "2001:db8::/32"]);
        // One proxy.
        assert_eq!(
            p.client(ip("10.0.0.1"), ["198.51.100.1"].into_iter()),
            ip("198.51.100.1")
        );
        // Two proxies; what the client wrote itself, to the left, is not believed.
        assert_eq!(
            p.client(
                ip("10.0.0.1"),
                ["203.0.113.9, 198.51.100.1", "10.1.2.3"].into_iter()
            ),
            ip("198.51.100.1")
        );
        // IPv6 proxies and clients.
        assert_eq!(
            p.client(
                ip("2001:db8::1"),
                ["2001:db8:ffff::2, 2a01:e0a::5"].into_iter()
            ),
            ip("2a01:e0a::5")
        );
        // No header, or only proxies: the leftmost known address.
        assert_eq!(p.client(ip("10.0.0.1"), std::iter::empty()), ip("10.0.0.1"));
        assert_eq!(
            p.client(ip("10.0.0.1"), ["10.9.9.9, 10.1.1.1"].into_iter()),
            ip("10.9.9.9")
        );
        // Garbage stops the walk at the last good address.
        assert_eq!(
            p.client(ip("10.0.0.1"), ["198.51.100.1, unknown"].into_iter()),
            ip("10.0.0.1")
        );
        assert_eq!(
            p.client(ip("10.0.0.1"), ["unknown, 10.2.2.2"].into_iter()),
            ip("10.2.2.2")
        );
        // A peer seen as IPv4-mapped IPv6 is trusted by its IPv4 network.
        assert_eq!(
            p.client(ip("::ffff:10.0.0.1"), ["198.51.100.1"].into_iter()),
            ip("198.51.100.1")
        );
    }
}
