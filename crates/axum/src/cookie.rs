//! The session cookie's profile: `__Host-` prefix, `HttpOnly`, `Secure`, `SameSite`, `Path=/`,
//! no `Domain` (unless an application shares it with its subdomains, which costs the prefix).

use std::time::Duration;

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
    /// The name before its prefix (default `tessera`): letters, digits, `-` and `_`.
    pub name: String,
    /// `Domain`, to share the session with subdomains (`example.com` for
    /// `app.example.com` and `shop.example.com`). Leave it unset unless you need that: a
    /// cookie with a domain can be set by every subdomain, so it takes the weaker `__Secure-`
    /// prefix instead of `__Host-`.
    pub domain: Option<String>,
    /// The longest a "remember me" cookie lives (never past the session's absolute end).
    pub remember_for: Duration,
}

impl Default for CookieSettings {
    fn default() -> Self {
        Self {
            secure: true,
            same_site: SameSite::Lax,
            name: "tessera".into(),
            domain: None,
            remember_for: Duration::from_secs(30 * 86_400),
        }
    }
}

impl CookieSettings {
    /// The cookie name: `__Host-<name>` when secure and host-only (the prefix makes browsers
    /// refuse it unless Secure, host-only and `Path=/`), `__Secure-<name>` when secure with a
    /// `domain`, `<name>` otherwise.
    pub fn name(&self) -> String {
        match (self.secure, &self.domain) {
            (true, None) => format!("__Host-{}", self.name),
            (true, Some(_)) => format!("__Secure-{}", self.name),
            (false, _) => self.name.clone(),
        }
    }

    /// Whether the name and domain can be written into a `Set-Cookie` as they are.
    ///
    /// # Errors
    /// [`tessera::Error::InvalidConfig`] naming the field.
    pub fn check(&self) -> Result<(), tessera::Error> {
        let token = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
        };
        if !token(&self.name) {
            return Err(tessera::Error::InvalidConfig(format!(
                "cookie name {:?}: use letters, digits, '-' and '_'",
                self.name
            )));
        }
        if let Some(domain) = &self.domain {
            let host = |s: &str| s.split('.').all(|l| token(l) && !l.contains('_'));
            if !host(domain) {
                return Err(tessera::Error::InvalidConfig(format!(
                    "cookie domain {domain:?}: a host name like example.com"
                )));
            }
        }
        Ok(())
    }

    fn attributes(&self) -> String {
        let same_site = match self.same_site {
            SameSite::Lax => "Lax",
            SameSite::Strict => "Strict",
        };
        let secure = if self.secure { "; Secure" } else { "" };
        let domain = self
            .domain
            .as_ref()
            .map_or_else(String::new, |d| format!("; Domain={d}"));
        format!("Path=/{domain}; HttpOnly{secure}; SameSite={same_site}")
    }

    /// `Set-Cookie` for a session cookie (a session cookie in the browser sense: no `Max-Age`,
    /// it ends when the browser closes; the server-side session decides how long it lives).
    pub fn set(&self, cookie: &CookieToken) -> HeaderValue {
        let value = format!("{}={}; {}", self.name(), cookie.expose(), self.attributes());
        HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static(""))
    }

    /// `Set-Cookie` for a "remember me" cookie: it outlives the browser, for `max_age` but
    /// at most [`CookieSettings::remember_for`].
    pub fn set_persistent(&self, cookie: &CookieToken, max_age: Duration) -> HeaderValue {
        let secs = max_age.min(self.remember_for).as_secs();
        let value = format!(
            "{}={}; Max-Age={secs}; {}",
            self.name(),
            cookie.expose(),
            self.attributes()
        );
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
    fn names_domains_and_remembered_cookies() {
        let sid = tessera::SessionId::generate().unwrap();
        let token = CookieToken::generate(sid).unwrap();
        let shop = CookieSettings {
            name: "shop_sid".into(),
            ..CookieSettings::default()
        };
        assert_eq!(shop.name(), "__Host-shop_sid");
        let shared = CookieSettings {
            domain: Some("example.com".into()),
            ..shop.clone()
        };
        assert_eq!(shared.name(), "__Secure-shop_sid", "__Host- forbids Domain");
        let set = shared.set(&token);
        assert!(set.to_str().unwrap().contains("; Domain=example.com;"));
        let remembered = shop.set_persistent(&token, Duration::from_secs(3600));
        assert!(remembered.to_str().unwrap().contains("; Max-Age=3600; "));
        let capped = shop.set_persistent(&token, Duration::from_secs(400 * 86_400));
        assert!(
            capped
                .to_str()
                .unwrap()
                .contains(&format!("Max-Age={};", 30 * 86_400))
        );
        assert!(shop.check().is_ok() && shared.check().is_ok());
        for bad in ["", "a b", "a;b", "a=b", "ä"] {
            let c = CookieSettings {
                name: bad.into(),
                ..CookieSettings::default()
            };
            assert!(c.check().is_err(), "{bad:?}");
        }
        for bad in ["", ".example.com", "exa mple.com", "a;b", "a_b.com"] {
            let c = CookieSettings {
                domain: Some(bad.into()),
                ..CookieSettings::default()
            };
            assert!(c.check().is_err(), "{bad:?}");
        }
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
