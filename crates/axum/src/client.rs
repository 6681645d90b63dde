//! Who is calling: the client IP and scheme, taken from `Forwarded` (RFC 7239) or, only when
//! no `Forwarded` is present, `X-Forwarded-For` / `X-Forwarded-Proto`, and only when the peer is
//! a configured trusted proxy. From anyone else those headers are ignored, so a client cannot
//! spoof its address past a per-IP rate limit. A proxy that writes `Forwarded` never has its
//! word replaced by an `X-Forwarded-For` the client wrote itself, not even when an element is
//! `unknown`, obfuscated (`_hidden`) or malformed: such a hop names no address, and when it
//! is the client's, the proxy's own address stands for the client.

use std::net::IpAddr;

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

/// Resolves the client of a request that arrived from `peer` (over TLS when `tls`).
pub fn resolve_client(peer: IpAddr, tls: bool, headers: &HeaderMap, trusted: &[Cidr]) -> Client {
    let direct = Client {
        ip: peer,
        https: tls,
        proxied: false,
    };
    if !trusted.iter().any(|c| c.contains(peer)) {
        return direct;
    }
    let (hops, proto) = match forwarded(headers) {
        Some(parsed) => parsed,
        None => (
            x_forwarded_for(headers).into_iter().map(Some).collect(),
            x_forwarded_proto(headers),
        ),
    };
    let https = proto.map_or(tls, |p| p.eq_ignore_ascii_case("https"));
    // The right-most hop that is not one of our proxies is the client; anything to its left
    // was written by the client itself and proves nothing.
    let client = hops
        .iter()
        .rev()
        .find(|hop| !hop.is_some_and(|ip| trusted.iter().any(|c| c.contains(ip))));
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

/// RFC 7239 `Forwarded`, when present: each element's `for=` in order (`None` for one that
/// names no address), and the last `proto=`.
fn forwarded(headers: &HeaderMap) -> Option<(Vec<Option<IpAddr>>, Option<String>)> {
    let mut values = headers.get_all("forwarded").iter().peekable();
    values.peek()?;
    let mut hops = Vec::new();
    let mut proto = None;
    for value in values {
        let Ok(value) = value.to_str() else {
            hops.push(None); // not even text: a hop we cannot read
            continue;
        };
        for element in value.split(',') {
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
    }
    Some((hops, proto))
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

fn x_forwarded_for(headers: &HeaderMap) -> Vec<IpAddr> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| node_ip(hop.trim()))
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

    fn proxies() -> Vec<Cidr> {
        vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()]
    }

    #[test]
    fn spoofed_headers_from_untrusted_peers_are_ignored() {
        let h = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("forwarded", "for=5.6.7.8;proto=https"),
        ]);
        let c = resolve_client(ip("203.0.113.9"), false, &h, &proxies());
        assert_eq!(
            c,
            Client {
                ip: ip("203.0.113.9"),
                https: false,
                proxied: false
            }
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_client_right_to_left() {
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.1.1.1"),
            ("x-forwarded-proto", "https"),
        ]);
        let c = resolve_client(ip("10.0.0.2"), false, &h, &proxies());
        assert_eq!(
            c,
            Client {
                ip: ip("198.51.100.7"),
                https: true,
                proxied: true
            }
        );
    }

    #[test]
    fn forwarded_wins_and_handles_ipv6_and_ports() {
        let h = headers(&[
            (
                "forwarded",
                r#"for="[2001:db8::7]:4711";proto=https, for=10.0.0.5"#,
            ),
            ("x-forwarded-for", "9.9.9.9"),
        ]);
        let c = resolve_client(ip("::1"), false, &h, &proxies());
        assert_eq!(
            c,
            Client {
                ip: ip("2001:db8::7"),
                https: true,
                proxied: true
            }
        );
        let h = headers(&[("forwarded", "for=192.0.2.60:8080;proto=http")]);
        assert_eq!(
            resolve_client(ip("10.0.0.1"), true, &h, &proxies()).ip,
            ip("192.0.2.60")
        );
    }

    #[test]
    fn a_present_forwarded_is_never_replaced_by_x_forwarded_for() {
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
            let c = resolve_client(ip("10.0.0.2"), false, &h, &proxies());
            assert_ne!(
                c.ip,
                ip("6.6.6.6"),
                "{forwarded}: spoofed through X-Forwarded-For"
            );
        }
        // An obfuscated client stands behind its proxy's address; proto still counts.
        let h = headers(&[("forwarded", "for=_hidden;proto=https")]);
        let c = resolve_client(ip("10.0.0.2"), false, &h, &proxies());
        assert_eq!((c.ip, c.https), (ip("10.0.0.2"), true));
        // One obfuscated hop to the left of the client's does not hide the client.
        let h = headers(&[("forwarded", "for=_gateway, for=198.51.100.4, for=10.0.0.7")]);
        assert_eq!(
            resolve_client(ip("10.0.0.2"), false, &h, &proxies()).ip,
            ip("198.51.100.4")
        );
        // A client-written element to the left of an unknown one proves nothing either.
        let h = headers(&[("forwarded", "for=6.6.6.6, for=unknown")]);
        assert_eq!(
            resolve_client(ip("10.0.0.2"), false, &h, &proxies()).ip,
            ip("10.0.0.2")
        );
    }

    #[test]
    fn garbage_or_only_proxies_fall_back_to_the_peer() {
        for bad in [
            vec![("forwarded", "for")],
            vec![("x-forwarded-for", "not-an-ip")],
            vec![("x-forwarded-for", "10.0.0.9")],
            vec![],
        ] {
            let c = resolve_client(ip("10.0.0.2"), false, &headers(&bad), &proxies());
            assert_eq!(c.ip, ip("10.0.0.2"), "{bad:?}");
            assert!(!c.proxied);
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
