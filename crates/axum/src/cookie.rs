//! The session cookie's profile: `__Host-` prefix, `HttpOnly`, `Secure`, `SameSite`, `Path=/`,
//! no `Domain`.

use axum::http::{HeaderMap, HeaderValue, header};
use tessera::CookieToken;

/// `SameSite` of the session cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SameSite {
    /// Sent on top-level cross-site navigations (links), not on cross-site subrequests.
    #[default]
    Lax,
    /// Never sent cross-site.
    Strict,
}

/// How the session cookie is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieSettings {
    /// `Secure` and the `__Host-` prefix. Only turn off for plain-HTTP development on loopback.
    pub secure: bool,
    /// `SameSite`.
    pub same_site: SameSite,
}

impl Default for CookieSettings {
    fn default() -> Self {
        Self {
            secure: true,
            same_site: SameSite::Lax,
        }
    }
}

impl CookieSettings {
    /// The cookie name: `__Host-tessera` when secure (the prefix makes browsers refuse it
    /// unless Secure, host-only and `Path=/`), `tessera` otherwise.
    pub fn name(&self) -> &'static str {
        if self.secure {
            "__Host-tessera"
        } else {
            "tessera"
        }
    }

    fn attributes(&self) -> String {
        let same_site = match self.same_site {
            SameSite::Lax => "Lax",
            SameSite::Strict => "Strict",
        };
        let secure = if self.secure { "; Secure" } else { "" };
        format!("Path=/; HttpOnly{secure}; SameSite={same_site}")
    }

    /// `Set-Cookie` for a session cookie (a session cookie in the browser sense: no `Max-Age`,
    /// the server-side session decides how long it lives).
    pub fn set(&self, cookie: &CookieToken) -> HeaderValue {
        let value = format!("{}={}; {}", self.name(), cookie.expose(), self.attributes());
        HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static(""))
    }

    /// `Set-Cookie` that deletes the session cookie.
    pub fn clear(&self) -> HeaderValue {
        let value = format!("{}=; Max-Age=0; {}", self.name(), self.attributes());
        HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static(""))
    }
}

/// Every value of cookie `name` across all `Cookie` headers. More than one means someone is
/// tossing cookies at us (a sibling subdomain can set a same-named cookie): callers refuse.
pub fn cookie_values<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_and_names() {
        let sid = tessera::SessionId::generate().unwrap();
        let token = CookieToken::generate(sid).unwrap();
        let set = CookieSettings::default().set(&token);
        let set = set.to_str().unwrap();
        assert!(set.starts_with("__Host-tessera=tss_"));
        assert!(set.ends_with("; Path=/; HttpOnly; Secure; SameSite=Lax"));
        assert!(!set.contains("Domain"));
        let strict = CookieSettings {
            same_site: SameSite::Strict,
            ..CookieSettings::default()
        };
        assert!(
            strict.clear().to_str().unwrap().contains("Max-Age=0")
                && strict.clear().to_str().unwrap().contains("Strict")
        );
        let dev = CookieSettings {
            secure: false,
            ..CookieSettings::default()
        };
        assert_eq!(dev.name(), "tessera");
        assert!(!dev.set(&token).to_str().unwrap().contains("Secure"));
    }

    #[test]
    fn finds_every_value_of_a_name() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            "a=1; __Host-tessera=x; b=2".parse().unwrap(),
        );
        h.append(header::COOKIE, "__Host-tessera=y".parse().unwrap());
        assert_eq!(cookie_values(&h, "__Host-tessera"), ["x", "y"]);
        assert_eq!(cookie_values(&h, "b"), ["2"]);
        assert!(cookie_values(&h, "tessera").is_empty());
    }
}
