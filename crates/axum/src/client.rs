//! Who is calling: the client IP and scheme, taken from the one header the trusted proxies
//! write (RFC 7239 `Forwarded`, or `X-Forwarded-For` / `X-Forwarded-Proto`), and only when the
//! peer is one of them. From anyone else those headers are ignored, so a client cannot spoof
//! its address past a per-IP rate limit. The other header is never read: a proxy passes on
//! the headers it does not write just as the client sent them, so believing both would let
//! any client behind an `X-Forwarded-For` proxy name its own address in `Forwarded` (and the
//! other way round). A `Forwarded` element that is `unknown`, obfuscated (`_hidden`) or
//! malformed names no address: when it is the client's, the proxy's own address stands for
//! the client.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;
use std::sync::Arc;

use axum::http::HeaderMap;

use crate::Cidr;

/// The resolved client of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The client's address.
    pub ip: IpAddr,
    /// Whether the client reached us (or our proxy) over HTTPS.
    pub https: bool,
    /// Whether the address came through a trusted proxy.
    pub proxied: bool,
}

impl Client {
    /// The client as per-client rate limits count it: its IPv4 address (one mapped into IPv6,
    /// or reaching an IPv6-only server through a translator's well-known prefix
    /// `64:ff9b::/96`, included), or the /64 network of its IPv6 address. One host is
    /// commonly given a whole /64, and would otherwise get a fresh budget from each of its
    /// addresses.
    pub fn rate_key(&self) -> String {
        const NAT64: u128 = 0x0064_ff9b_u128 << 96;
        match self.ip {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => {
                let bits = u128::from(v6);
                if let Some(v4) = v6.to_ipv4_mapped() {
                    v4.to_string()
                } else if bits >> 32 == NAT64 >> 32 {
                    // The low 32 bits are the IPv4 client's address.
                    std::net::Ipv4Addr::from(bits as u32).to_string()
                } else {
                    let network = bits & !(u128::MAX >> 64);
                    format!("{}/64", Ipv6Addr::from(network))
                }
            }
        }
    }
}

/// The header a trusted proxy writes the client's address in: the only one believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// RFC 7239 `Forwarded` (its `for=` and `proto=`).
    Forwarded,
    /// `X-Forwarded-For` and `X-Forwarded-Proto`: what nginx, HAProxy, Envoy and most load
    /// balancers write.
    XForwardedFor,
}

impl FromStr for ForwardedHeader {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "forwarded" => Ok(Self::Forwarded),
            "x-forwarded-for" => Ok(Self::XForwardedFor),
            _ => Err(format!(
                "{s:?}: use \"x-forwarded-for\" or \"forwarded\", the header your proxy writes"
            )),
        }
    }
}

impl fmt::Display for ForwardedHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Forwarded => "forwarded",
            Self::XForwardedFor => "x-forwarded-for",
        })
    }
}

/// The proxies whose word about the client is believed, and the header they write it in.
/// None by default: every request's client is its connection's peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedProxies {
    ranges: Arc<[Cidr]>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    /// The proxies in `ranges`, which write the client's address in `header` (and pass the
    /// other header on as the client sent it, so it is never read).
    pub fn new(ranges: impl Into<Arc<[Cidr]>>, header: ForwardedHeader) -> Self {
        Self {
            ranges: ranges.into(),
            header,
        }
    }

    /// Whether `peer` is one of the proxies.
    pub fn trusts(&self, peer: IpAddr) -> bool {
        self.ranges.iter().any(|c| c.contains(peer))
    }

    /// Whether any proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The ranges trusted.
    pub fn ranges(&self) -> &[Cidr] {
        &self.ranges
    }

    /// The header believed from them.
    pub fn header(&self) -> ForwardedHeader {
        self.header
    }
}

impl Default for TrustedProxies {
    fn default() -> Self {
        Self::new(Vec::new(), ForwardedHeader::Forwarded)
    }
}

/// Resolves the client of a request that arrived from `peer` (over TLS when `tls`).
pub fn resolve_client(
    peer: IpAddr,
    tls: bool,
    headers: &HeaderMap,
    proxies: &TrustedProxies,
) -> Client {
    let direct = Client {
        ip: peer,
        https: tls,
        proxied: false,
    };
    if !proxies.trusts(peer) {
        return direct;
    }
    let (hops, proto) = match proxies.header {
        ForwardedHeader::Forwarded => forwarded(headers),
        ForwardedHeader::XForwardedFor => (x_forwarded_for(headers), x_forwarded_proto(headers)),
    };
    let https = proto.map_or(tls, |p| p.eq_ignore_ascii_case("https"));
    // The right-most hop that is not one of our proxies is the client; anything to its left
    // was written by the client itself and proves nothing.
    let client = hops
        .iter()
        .rev()
        .find(|hop| !hop.is_some_and(|ip| proxies.trusts(ip)));
    match client {
        Some(Some(ip)) => Client {
            ip: *ip,
            https,
            proxied: true,
        },
        // The client's hop names no address (`unknown`, obfuscated, malformed).
        Some(None) => Client { https, ..direct },
        None => direct,
    }
}

/// The comma-separated elements of every line of header `name`, in order; `None` for one
/// that is not text. Each is read on its own: a proxy may append its own element to the
/// client's on one line, and bytes the client wrote must not make the proxy's unreadable.
fn elements<'h>(headers: &'h HeaderMap, name: &str) -> impl Iterator<Item = Option<&'h str>> {
    headers
        .get_all(name)
        .into_iter()
        .flat_map(|line| line.as_bytes().split(|b| *b == b','))
        .map(|element| std::str::from_utf8(element).ok())
}

/// RFC 7239 `Forwarded`: each element's `for=` in order (`None` for one that names no
/// address), and the last `proto=`.
fn forwarded(headers: &HeaderMap) -> (Vec<Option<IpAddr>>, Option<String>) {
    let mut hops = Vec::new();
    let mut proto = None;
    for element in elements(headers, "forwarded") {
        let Some(element) = element else {
            hops.push(None); // not even text: a hop we cannot read
            continue;
        };
        let mut hop = None;
        let mut named = false;
        for pair in element.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((name, value)) = pair.split_once('=') else {
                named = true; // malformed: counts as a hop that names no address
                continue;
            };
            let value = value.trim().trim_matches('"');
            match name.trim().to_ascii_lowercase().as_str() {
                "for" => {
                    named = true;
                    hop = node_ip(value);
                }
                "proto" => proto = Some(value.to_owned()),
                _ => {}
            }
        }
        if named {
            hops.push(hop);
        }
    }
    (hops, proto)
}

/// An RFC 7239 node: `192.0.2.1`, `192.0.2.1:80`, `[2001:db8::1]` or `[2001:db8::1]:80`.
fn node_ip(node: &str) -> Option<IpAddr> {
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    node.split(':')
        .next()?
        .parse()
        .ok()
        .or_else(|| node.parse().ok())
}

/// `X-Forwarded-For`'s hops in order (`None` for one that names no address).
fn x_forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    elements(headers, "x-forwarded-for")
        .map(|hop| hop.and_then(|hop| node_ip(hop.trim())))
        .collect()
}

fn x_forwarded_proto(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-forwarded-proto")?
        .to_str()
        .ok()
        .map(|s| s.trim().to_owned())
}

/// Whether `host` (a name, an IPv4 address, or an IPv6 address with or without brackets)
/// names this machine: `localhost`, `127.0.0.0/8` or `::1`. A name that merely starts with
/// `127.` (`127.attacker.example`) is not one.
pub fn is_loopback_host(host: &str) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies(header: ForwardedHeader) -> TrustedProxies {
        let ranges = vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
        TrustedProxies::new(ranges, header)
    }

    const BOTH: [ForwardedHeader; 2] = [ForwardedHeader::Forwarded, ForwardedHeader::XForwardedFor];

    #[test]
    fn spoofed_headers_from_untrusted_peers_are_ignored() {
        let h = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("forwarded", "for=5.6.7.8;proto=https"),
        ]);
        for header in BOTH {
            let c = resolve_client(ip("203.0.113.9"), false, &h, &proxies(header));
            let direct = Client {
                ip: ip("203.0.113.9"),
                https: false,
                proxied: false,
            };
            assert_eq!(c, direct, "{header}");
        }
        let none = resolve_client(ip("10.0.0.2"), false, &h, &TrustedProxies::default());
        assert_eq!(none.ip, ip("10.0.0.2"));
    }

    #[test]
    fn a_trusted_proxy_names_the_client_right_to_left() {
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.1.1.1"),
            ("x-forwarded-proto", "https"),
        ]);
        let c = resolve_client(
            ip("10.0.0.2"),
            false,
            &h,
            &proxies(ForwardedHeader::XForwardedFor),
        );
        assert_eq!(
            c,
            Client {
                ip: ip("198.51.100.7"),
                https: true,
                proxied: true
            }
        );
        // A proxy that adds a header line of its own, after the client's.
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "198.51.100.8"),
        ]);
        let c = resolve_client(
            ip("10.0.0.2"),
            false,
            &h,
            &proxies(ForwardedHeader::XForwardedFor),
        );
        assert_eq!(c.ip, ip("198.51.100.8"));
    }

    #[test]
    fn forwarded_names_the_client_with_ipv6_and_ports() {
        let h = headers(&[(
            "forwarded",
            r#"for="[2001:db8::7]:4711";proto=https, for=10.0.0.5"#,
        )]);
        let c = resolve_client(ip("::1"), false, &h, &proxies(ForwardedHeader::Forwarded));
        assert_eq!(
            c,
            Client {
                ip: ip("2001:db8::7"),
                https: true,
                proxied: true
            }
        );
        let h = headers(&[("forwarded", "for=192.0.2.60:8080;proto=http")]);
        let c = resolve_client(
            ip("10.0.0.1"),
            true,
            &h,
            &proxies(ForwardedHeader::Forwarded),
        );
        assert_eq!((c.ip, c.https), (ip("192.0.2.60"), false));
    }

    /// A proxy passes on the header it does not write as the client sent it: only the one it
    /// writes is read, whichever it is.
    #[test]
    fn only_the_header_the_proxies_write_is_believed() {
        // nginx, HAProxy, a load balancer: they append to X-Forwarded-For and pass on the
        // client's own `Forwarded`.
        let h = headers(&[
            ("forwarded", "for=6.6.6.6;proto=https"),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        let c = resolve_client(
            ip("10.0.0.2"),
            false,
            &h,
            &proxies(ForwardedHeader::XForwardedFor),
        );
        assert_eq!((c.ip, c.https), (ip("198.51.100.7"), false));
        // Without the header they write, the client is the proxy, whatever the other says.
        let h = headers(&[("forwarded", "for=6.6.6.6")]);
        let c = resolve_client(
            ip("10.0.0.2"),
            false,
            &h,
            &proxies(ForwardedHeader::XForwardedFor),
        );
        assert_eq!(c.ip, ip("10.0.0.2"));
        // A proxy that writes `Forwarded`, and a client that adds X-Forwarded-For.
        let h = headers(&[
            ("forwarded", "for=198.51.100.7"),
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-proto", "https"),
        ]);
        let c = resolve_client(
            ip("10.0.0.2"),
            false,
            &h,
            &proxies(ForwardedHeader::Forwarded),
        );
        assert_eq!((c.ip, c.https), (ip("198.51.100.7"), false));
        let h = headers(&[("x-forwarded-for", "6.6.6.6")]);
        let c = resolve_client(
            ip("10.0.0.2"),
            false,
            &h,
            &proxies(ForwardedHeader::Forwarded),
        );
        assert_eq!(c.ip, ip("10.0.0.2"));
    }

    #[test]
    fn a_hop_that_names_no_address_is_never_skipped_for_one_to_its_left() {
        // The proxy writes only `Forwarded`; the client adds its own X-Forwarded-For.
        for forwarded in [
            "for=unknown",
            "for=_hidden",
            r#"for="_SEVKISEK""#,
            "for",
            "for=192.0.2.60;garbage",
            "garbage",
        ] {
            let h = headers(&[("forwarded", forwarded), ("x-forwarded-for", "6.6.6.6")]);
            let c = resolve_client(
                ip("10.0.0.2"),
                false,
                &h,
                &proxies(ForwardedHeader::Forwarded),
            );
            assert_ne!(
                c.ip,
                ip("6.6.6.6"),
                "{forwarded}: spoofed through X-Forwarded-For"
            );
        }
        // An obfuscated client stands behind its proxy's address; proto still counts.
        let h = headers(&[("forwarded", "for=_hidden;proto=https")]);
        let c = resolve_client(
            ip("10.0.0.2"),
            false,
            &h,
            &proxies(ForwardedHeader::Forwarded),
        );
        assert_eq!((c.ip, c.https), (ip("10.0.0.2"), true));
        // One obfuscated hop to the left of the client's does not hide the client.
        let h = headers(&[("forwarded", "for=_gateway, for=198.51.100.4, for=10.0.0.7")]);
        let c = resolve_client(
            ip("10.0.0.2"),
            false,
            &h,
            &proxies(ForwardedHeader::Forwarded),
        );
        assert_eq!(c.ip, ip("198.51.100.4"));
        // A client-written element to the left of an unknown one proves nothing either, in
        // either header.
        for (name, value) in [
            ("forwarded", "for=6.6.6.6, for=unknown"),
            ("x-forwarded-for", "6.6.6.6, unknown"),
        ] {
            let header = name.parse().unwrap();
            let c = resolve_client(
                ip("10.0.0.2"),
                false,
                &headers(&[(name, value)]),
                &proxies(header),
            );
            assert_eq!(c.ip, ip("10.0.0.2"), "{name}: {value}");
        }
    }

    #[test]
    fn garbage_or_only_proxies_fall_back_to_the_peer() {
        for bad in [
            vec![("forwarded", "for"), ("x-forwarded-for", "not-an-ip")],
            vec![
                ("forwarded", "for=10.0.0.9"),
                ("x-forwarded-for", "10.0.0.9"),
            ],
            vec![],
        ] {
            for header in BOTH {
                let c = resolve_client(ip("10.0.0.2"), false, &headers(&bad), &proxies(header));
                assert_eq!(c.ip, ip("10.0.0.2"), "{header}: {bad:?}");
                assert!(!c.proxied);
            }
        }
    }

    #[test]
    fn the_header_is_named_in_the_configuration() {
        assert_eq!(
            "X-Forwarded-For".parse(),
            Ok(ForwardedHeader::XForwardedFor)
        );
        assert_eq!(" forwarded ".parse(), Ok(ForwardedHeader::Forwarded));
        for bad in ["x-real-ip", "", "both"] {
            let err = bad.parse::<ForwardedHeader>().unwrap_err();
            assert!(err.contains("x-forwarded-for"), "{err}");
        }
    }

    /// An IPv6 client is counted by its /64, which one host commonly holds whole.
    #[test]
    fn rate_limits_count_ipv6_clients_by_their_64() {
        let key = |s: &str| {
            Client {
                ip: ip(s),
                https: false,
                proxied: false,
            }
            .rate_key()
        };
        assert_eq!(key("203.0.113.9"), "203.0.113.9");
        assert_eq!(key("::ffff:203.0.113.9"), "203.0.113.9");
        assert_eq!(key("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
        assert_eq!(
            key("2001:db8:1:2::1"),
            key("2001:db8:1:2:ffff:ffff:ffff:ffff")
        );
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::1"), "::/64");
        // IPv4 clients of an IPv6-only server behind a translator count by their own address.
        assert_eq!(key("64:ff9b::203.0.113.9"), "203.0.113.9");
        assert_ne!(key("64:ff9b::203.0.113.9"), key("64:ff9b::203.0.113.10"));
    }

    /// A proxy that appends its hop to the client's line (nginx's
    /// `$proxy_add_x_forwarded_for`) passes on whatever bytes the client wrote there: they
    /// must not make the proxy's own hop unreadable.
    #[test]
    fn bytes_the_client_wrote_do_not_hide_the_proxys_hop() {
        for (name, line) in [
            ("x-forwarded-for", &b"\xff, 198.51.100.7"[..]),
            ("forwarded", &b"for=\xff\xfe, for=198.51.100.7"[..]),
        ] {
            let mut h = HeaderMap::new();
            h.append(name, axum::http::HeaderValue::from_bytes(line).unwrap());
            let header = name.parse().unwrap();
            let c = resolve_client(ip("10.0.0.2"), false, &h, &proxies(header));
            assert_eq!(c.ip, ip("198.51.100.7"), "{name}");
        }
    }

    #[test]
    fn loopback_hosts_are_addresses_not_prefixes() {
        for yes in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.9.8.7",
            "::1",
            "[::1]",
        ] {
            assert!(super::is_loopback_host(yes), "{yes}");
        }
        for no in [
            "127.attacker.example",
            "127.0.0.1.nip.io",
            "10.0.0.1",
            "[::2]",
            "localhost.example",
            "",
        ] {
            assert!(!super::is_loopback_host(no), "{no}");
        }
    }
}
