//! CSRF defences, with no HTTP types: the server and the axum layer feed them plain values.
//!
//! Three layers: a synchronizer token bound to the session (masked with a fresh nonce each
//! time, so it leaks nothing through compression side channels); a signed double-submit token
//! for forms shown before a session exists (login), so login CSRF fails too; and a decision over
//! `Sec-Fetch-Site` / `Origin` that rejects cross-site writes outright.

use std::time::Duration;

use ring::hmac;

use crate::encoding::{b64_decode, b64_encode};
use crate::secret::TokenHash;
use crate::{Error, ServerSecret, Timestamp, random};

const NONCE_LEN: usize = 16;
const MAC_LEN: usize = 32;

/// Mints and checks CSRF tokens with a key derived from the server secret.
pub struct Csrf {
    key: hmac::Key,
    login_max_age: Duration,
}

/// The pair for a pre-session form: `cookie` goes in a cookie, `form` in a hidden field.
#[derive(Clone)]
pub struct LoginCsrf {
    /// The cookie value.
    pub cookie: String,
    /// The form-field value, bound to the cookie value.
    pub form: String,
}

impl std::fmt::Debug for LoginCsrf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginCsrf(..)")
    }
}

impl Csrf {
    /// CSRF tokens keyed from `secret`; login tokens live one hour.
    pub fn new(secret: &ServerSecret) -> Self {
        Self {
            key: secret.derive("tessera/v1/csrf"),
            login_max_age: Duration::from_secs(3600),
        }
    }

    fn mac(&self, purpose: &[u8], parts: &[&[u8]]) -> hmac::Tag {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(purpose);
        for p in parts {
            ctx.update(p);
        }
        ctx.sign()
    }

    /// A synchronizer token for the session whose cookie hashes to `binding`.
    ///
    /// # Errors
    /// [`Error::Random`] if the CSPRNG fails.
    pub fn session_token(&self, binding: &TokenHash) -> Result<String, Error> {
        let nonce: [u8; NONCE_LEN] = random::bytes()?;
        let tag = self.mac(b"sync", &[binding.as_bytes(), &nonce]);
        Ok(b64_encode(&[&nonce[..], tag.as_ref()].concat()))
    }

    /// Whether `token` was minted for the session bound to `binding` (constant-time).
    pub fn verify_session_token(&self, binding: &TokenHash, token: &str) -> bool {
        let Some(bytes) = b64_decode(token).filter(|b| b.len() == NONCE_LEN + MAC_LEN) else {
            return false;
        };
        let (nonce, tag) = bytes.split_at(NONCE_LEN);
        let msg = [&b"sync"[..], binding.as_bytes(), nonce].concat();
        hmac::verify(&self.key, &msg, tag).is_ok()
    }

    /// A fresh double-submit pair for a pre-session form, issued at `now`.
    ///
    /// # Errors
    /// [`Error::Random`] if the CSPRNG fails.
    pub fn login_pair(&self, now: Timestamp) -> Result<LoginCsrf, Error> {
        let cookie: [u8; 32] = random::bytes()?;
        let issued = now.as_secs().to_be_bytes();
        let tag = self.mac(b"login", &[&cookie, &issued]);
        Ok(LoginCsrf {
            cookie: b64_encode(&cookie),
            form: b64_encode(&[&issued[..], tag.as_ref()].concat()),
        })
    }

    /// Whether `form` matches `cookie` and is at most an hour old at `now` (constant-time).
    pub fn verify_login(&self, cookie: &str, form: &str, now: Timestamp) -> bool {
        let Some(cookie) = b64_decode(cookie).filter(|c| c.len() == 32) else {
            return false;
        };
        let Some(form) = b64_decode(form).filter(|f| f.len() == 8 + MAC_LEN) else {
            return false;
        };
        let (issued, tag) = form.split_at(8);
        let Ok(issued_bytes) = <[u8; 8]>::try_from(issued) else {
            return false;
        };
        let issued_at = Timestamp::from_secs(i64::from_be_bytes(issued_bytes));
        let fresh = issued_at <= now.plus(Duration::from_secs(60))
            && now.since(issued_at) <= self.login_max_age;
        let msg = [&b"login"[..], &cookie, issued].concat();
        hmac::verify(&self.key, &msg, tag).is_ok() && fresh
    }
}

/// The verdict on a request's origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginDecision {
    /// Proceed (still subject to the token check for unsafe methods).
    Allow,
    /// Reject: the reason is for the log.
    Reject(&'static str),
}

/// Whether `method` is safe (cannot change state), per RFC 9110. Methods are case-sensitive.
pub fn is_safe_method(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS" | "TRACE")
}

/// The second CSRF layer: reject unsafe requests from other origins, by `Sec-Fetch-Site` and
/// `Origin`. `trusted_origins` are the server's own origins and the ones it grants
/// credentialed CORS to (`cors_origins`): a request from one of those may come from another
/// origin or site, as a single-page app on `app.example` calling `auth.example` does. Browsers
/// that send no `Sec-Fetch-Site` are judged by `Origin` alone; clients that send neither are
/// not browsers, and the synchronizer token still applies to them.
pub fn check_origin(
    method: &str,
    sec_fetch_site: Option<&str>,
    origin: Option<&str>,
    trusted_origins: &[&str],
) -> OriginDecision {
    if is_safe_method(method) {
        return OriginDecision::Allow;
    }
    let trusted = |o: &str| trusted_origins.iter().any(|t| t.eq_ignore_ascii_case(o));
    match (sec_fetch_site, origin) {
        (Some("same-origin" | "none"), _) | (None, None) => OriginDecision::Allow,
        (Some("same-site" | "cross-site") | None, Some(o)) if trusted(o) => OriginDecision::Allow,
        (Some("same-site"), _) => OriginDecision::Reject("same-site, not a trusted origin"),
        (Some("cross-site"), _) => OriginDecision::Reject("cross-site request"),
        (Some(_), _) => OriginDecision::Reject("unknown Sec-Fetch-Site"),
        (None, Some(_)) => OriginDecision::Reject("foreign Origin"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn csrf() -> Csrf {
        Csrf::new(&ServerSecret::generate().unwrap())
    }

    #[test]
    fn session_tokens_bind_to_their_session_and_key() {
        let c = csrf();
        let mine = TokenHash::of(b"cookie-a");
        let theirs = TokenHash::of(b"cookie-b");
        let t1 = c.session_token(&mine).unwrap();
        let t2 = c.session_token(&mine).unwrap();
        assert_ne!(t1, t2, "masked with a fresh nonce each time");
        assert!(c.verify_session_token(&mine, &t1) && c.verify_session_token(&mine, &t2));
        assert!(!c.verify_session_token(&theirs, &t1));
        assert!(
            !csrf().verify_session_token(&mine, &t1),
            "another server key"
        );
        for bad in ["", "x", &t1[..t1.len() - 1], &format!("{t1}A")] {
            assert!(!c.verify_session_token(&mine, bad));
        }
    }

    #[test]
    fn login_pairs_bind_cookie_and_expire() {
        let c = csrf();
        let now = Timestamp::from_secs(1_000_000);
        let p = c.login_pair(now).unwrap();
        let q = c.login_pair(now).unwrap();
        assert!(c.verify_login(&p.cookie, &p.form, now));
        assert!(
            !c.verify_login(&q.cookie, &p.form, now),
            "form of another cookie"
        );
        assert!(!c.verify_login(&p.cookie, &p.form, now.plus(Duration::from_secs(3601))));
        assert!(c.verify_login(&p.cookie, &p.form, now.plus(Duration::from_secs(3600))));
        assert!(
            !c.verify_login(&p.cookie, &p.form, now.minus(Duration::from_secs(61))),
            "from the future"
        );
        assert!(!c.verify_login(&p.cookie, "", now));
        assert!(!c.verify_login("", &p.form, now));
        assert!(!format!("{p:?}").contains(&p.cookie));
    }

    #[test]
    fn origin_decisions() {
        let trusted = ["https://app.example", "https://spa.example"];
        let d = |m, s, o| check_origin(m, s, o, &trusted);
        assert_eq!(
            d("GET", Some("cross-site"), Some("https://evil.example")),
            OriginDecision::Allow
        );
        assert_eq!(d("POST", Some("same-origin"), None), OriginDecision::Allow);
        assert_eq!(d("POST", Some("none"), None), OriginDecision::Allow);
        assert!(matches!(
            d("POST", Some("cross-site"), None),
            OriginDecision::Reject(_)
        ));
        assert!(matches!(
            d("DELETE", Some("same-site"), None),
            OriginDecision::Reject(_)
        ));
        assert!(matches!(
            d("POST", Some("weird"), None),
            OriginDecision::Reject(_)
        ));
        assert_eq!(
            d("POST", None, Some("https://app.example")),
            OriginDecision::Allow
        );
        assert!(matches!(
            d("POST", None, Some("https://evil.example")),
            OriginDecision::Reject(_)
        ));
        assert!(matches!(
            d("POST", None, Some("null")),
            OriginDecision::Reject(_)
        ));
        // A trusted origin may call from another origin or site (a single-page app).
        for site in ["same-site", "cross-site"] {
            assert_eq!(
                d("POST", Some(site), Some("https://spa.example")),
                OriginDecision::Allow
            );
            assert!(matches!(
                d("POST", Some(site), Some("https://evil.example")),
                OriginDecision::Reject(_)
            ));
        }
        assert!(matches!(
            d("POST", Some("weird"), Some("https://spa.example")),
            OriginDecision::Reject(_)
        ));
        assert_eq!(d("POST", None, None), OriginDecision::Allow);
        assert!(
            matches!(
                d("get", Some("cross-site"), None),
                OriginDecision::Reject(_)
            ),
            "methods are case-sensitive"
        );
    }

    proptest! {
        #[test]
        fn verifiers_never_panic(a in any::<String>(), b in any::<String>()) {
            let c = csrf();
            let _ = c.verify_session_token(&TokenHash::of(b"x"), &a);
            let _ = c.verify_login(&a, &b, Timestamp::from_secs(0));
        }
    }
}
