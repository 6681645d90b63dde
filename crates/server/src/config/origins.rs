//! `cors_origins`: the single-page apps on other origins that may call the `/auth` routes with
//! the session cookie.
//!
//! ```toml
//! cors_origins = ["https://app.example.com", "http://localhost:5173"]
//! ```
//!
//! Each is an exact origin (`scheme://host[:port]`, no path, no wildcard): granting
//! credentialed CORS to an origin trusts it with the session of whoever uses it, so the list
//! names origins one by one. Plain `http` only for loopback hosts (a local dev server).

use super::Config;
use super::raw::StringList;

/// Longest `return_to` followed.
const MAX_RETURN_TO: usize = 2048;

impl Config {
    /// `target` if sign-in may send the browser there: a path on this server (`/orders?id=7`),
    /// or a URL on `public_origin` or one of `cors_origins`. Anything else (another host, a
    /// scheme-relative `//host`, a backslash or control character a browser would rewrite into
    /// one, `javascript:`) is `None`, so a link cannot make the sign-in page an open redirect.
    pub fn return_target<'a>(&self, target: &'a str) -> Option<&'a str> {
        let plain = target.len() <= MAX_RETURN_TO
            && !target
                .bytes()
                .any(|b| b.is_ascii_control() || b == b' ' || b == b'\\');
        if !plain {
            return None;
        }
        if target.starts_with('/') {
            return (!target.starts_with("//")).then_some(target);
        }
        let (scheme, rest) = target.split_once("://")?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        let canonical = origin(&format!("{scheme}://{authority}"))?;
        let trusted = std::iter::once(&self.public_origin).chain(&self.cors_origins);
        let known = trusted
            .into_iter()
            .any(|t| t.eq_ignore_ascii_case(&canonical));
        (known && (path.is_empty() || path.starts_with('/'))).then_some(target)
    }
}

/// The validated list, each origin in its canonical lowercase form.
///
/// # Errors
/// A message naming the entry that is not an origin.
pub fn cors_origins(list: Option<&StringList>) -> Result<Vec<String>, String> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    list.items()
        .iter()
        .map(|text| {
            origin(text).ok_or_else(|| {
                format!(
                    "cors_origins: {text:?} is not an origin; write each one as \
                     https://host or https://host:port (http only for localhost), no path, \
                     no wildcard"
                )
            })
        })
        .collect()
}

/// `text` as a canonical origin, if it is one.
fn origin(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let (scheme, authority) = lower.split_once("://")?;
    let (host, port) = split_port(authority)?;
    let host_ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        v6.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        is_hostname(host)
    };
    let loopback = tessera_axum::is_loopback_host(host);
    let scheme_ok = scheme == "https" || (scheme == "http" && loopback);
    (host_ok && scheme_ok).then(|| match port {
        Some(p) => format!("{scheme}://{host}:{p}"),
        None => format!("{scheme}://{host}"),
    })
}

/// `host[:port]`, the port a number from 1 to 65535 without leading zeros.
fn split_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let bracket_end = authority.rfind(']').unwrap_or(0);
    match authority.rfind(':').filter(|&i| i > bracket_end) {
        None => Some((authority, None)),
        Some(i) => {
            let digits = &authority[i + 1..];
            let port: u16 = digits.parse().ok().filter(|&p| p > 0)?;
            (port.to_string() == digits).then_some((&authority[..i], Some(port)))
        }
    }
}

/// Dot-separated labels of letters, digits and inner hyphens (a DNS name or IPv4 address).
fn is_hostname(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_exact_and_canonical() {
        for (text, canonical) in [
            ("https://app.example.com", "https://app.example.com"),
            (
                "HTTPS://App.Example.COM:8443",
                "https://app.example.com:8443",
            ),
            ("http://localhost:5173", "http://localhost:5173"),
            ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
            ("http://[::1]:3000", "http://[::1]:3000"),
            ("https://[2001:db8::1]", "https://[2001:db8::1]"),
        ] {
            assert_eq!(origin(text).as_deref(), Some(canonical), "{text}");
        }
    }

    #[test]
    fn anything_but_an_origin_is_refused() {
        for text in [
            "*",
            "null",
            "app.example.com",
            "https://",
            "https://*.example.com",
            "https://app.example.com/",
            "https://app.example.com/path",
            "https://app.example.com?x",
            "https://user@app.example.com",
            "https://app.example.com:0",
            "https://app.example.com:65536",
            "https://app.example.com:080",
            "https://app.example.com:",
            "http://app.example.com",
            "ftp://app.example.com",
            "https://-bad.example",
            "https://a..b",
            "https://[not-v6]",
            "javascript://x",
            "http://127.attacker.example",
            "http://127.0.0.1.nip.io:8000",
        ] {
            assert_eq!(origin(text), None, "{text}");
        }
        let list = StringList::Text("https://ok.example, *".into());
        let err = cors_origins(Some(&list)).unwrap_err();
        assert!(err.contains("\"*\""), "{err}");
    }

    #[test]
    fn sign_in_returns_only_to_this_server_and_granted_origins() {
        let config = Config::from_toml(
            "public_origin = \"https://auth.example\"\ncors_origins = [\"https://app.example\"]",
        )
        .unwrap();
        for ok in [
            "/",
            "/orders?id=7#top",
            "/auth/account",
            "https://auth.example/settings",
            "https://app.example",
            "https://APP.example/cart?x=1",
        ] {
            assert_eq!(config.return_target(ok), Some(ok), "{ok}");
        }
        for bad in [
            "",
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "https://evil.example/",
            "https://app.example.evil.example/",
            "https://app.example@evil.example/",
            "https://app.example:444/",
            "http://app.example/",
            "javascript:alert(1)",
            "data:text/html,hi",
            "orders",
            "https://app.example\\@evil.example",
            "/a b",
        ] {
            assert_eq!(config.return_target(bad), None, "{bad:?}");
        }
        assert_eq!(
            config.return_target(&format!("/{}", "a".repeat(2048))),
            None
        );
    }
}
