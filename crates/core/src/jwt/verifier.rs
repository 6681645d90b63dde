//! Access-token verification: every check explicit, in a fixed order, each with its own
//! [`TokenRejection`].

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Map, Value};

use super::jws::Compact;
use super::{AccessClaims, VerifiedClaims, VerifyingKey};
use crate::{Error, Timestamp, TokenRejection};

/// Header members a token may carry. Anything else (`jku`, `x5u`, `jwk`, `x5c`, `crit`, …)
/// is rejected: we issue only these three, and each extra one is a known attack surface.
const ALLOWED_HEADER: [&str; 3] = ["alg", "typ", "kid"];
/// Longest leeway accepted: clock skew beyond this is a misconfiguration, not skew.
const MAX_LEEWAY: Duration = Duration::from_secs(300);

/// What a verifier requires of a token. Issuer and audience are mandatory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validation {
    issuer: String,
    audience: String,
    leeway: Duration,
    max_token_len: usize,
}

impl Validation {
    /// Requires `iss == issuer` and `audience ∈ aud`, with a 30 s leeway on `exp`, `nbf` and
    /// `iat`, and an 8 KiB cap on the raw token.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            leeway: Duration::from_secs(30),
            max_token_len: 8 * 1024,
        }
    }

    /// Sets the clock-skew leeway.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] above five minutes.
    pub fn with_leeway(mut self, leeway: Duration) -> Result<Self, Error> {
        if leeway > MAX_LEEWAY {
            return Err(Error::InvalidConfig("leeway above 5 minutes".into()));
        }
        self.leeway = leeway;
        Ok(self)
    }

    /// The same checks for another issuer (nodes of one deployment agreeing on theirs).
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = issuer.into();
        self
    }

    /// Sets the size cap on raw tokens, in bytes.
    pub fn with_max_token_len(mut self, max: usize) -> Self {
        self.max_token_len = max;
        self
    }

    /// The expected issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The expected audience.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The leeway.
    pub fn leeway(&self) -> Duration {
        self.leeway
    }
}

/// Verifies access tokens against a fixed set of keys.
#[derive(Debug, Clone)]
pub struct Verifier {
    keys: HashMap<String, VerifyingKey>,
    validation: Validation,
}

impl Verifier {
    /// A verifier accepting tokens signed by `keys`, each with its own algorithm only.
    pub fn new<'a>(
        validation: Validation,
        keys: impl IntoIterator<Item = &'a VerifyingKey>,
    ) -> Self {
        let keys = keys
            .into_iter()
            .map(|k| (k.kid().to_owned(), k.clone()))
            .collect();
        Self { keys, validation }
    }

    /// The validation rules.
    pub fn validation(&self) -> &Validation {
        &self.validation
    }

    /// Verifies `token` at `now`: size, structure, header, signature, then claims.
    /// Revocation is not checked here (see `SessionManager::verify`).
    ///
    /// # Errors
    /// [`Error::InvalidToken`] naming the first check that failed.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<AccessClaims, Error> {
        self.verify_keeping_payload(token, now)
            .map(VerifiedClaims::into_claims)
    }

    /// [`Verifier::verify`], keeping the payload JSON beside the claims.
    ///
    /// # Errors
    /// [`Error::InvalidToken`] naming the first check that failed.
    pub(crate) fn verify_keeping_payload(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<VerifiedClaims, Error> {
        self.check(token, now).map_err(Error::InvalidToken)
    }

    fn check(&self, token: &str, now: Timestamp) -> Result<VerifiedClaims, TokenRejection> {
        if token.len() > self.validation.max_token_len {
            return Err(TokenRejection::TooLarge);
        }
        let jws = Compact::split(token)?;
        let key = self.key_for(&jws.header()?)?;
        if !key.is_accepted_at(now) {
            return Err(TokenRejection::UnknownKey);
        }
        if !key.verify(jws.signing_input.as_bytes(), &jws.signature()?) {
            return Err(TokenRejection::BadSignature);
        }
        let (payload, json) = jws.payload()?;
        let claims = AccessClaims::from_payload(payload)?;
        self.check_claims(&claims, now)?;
        Ok(VerifiedClaims::new(claims, json).by_key_until(key.not_after()))
    }

    fn key_for(&self, header: &Map<String, Value>) -> Result<&VerifyingKey, TokenRejection> {
        let alg = header
            .get("alg")
            .and_then(Value::as_str)
            .ok_or(TokenRejection::Malformed)?;
        if alg.eq_ignore_ascii_case("none") {
            return Err(TokenRejection::AlgNone);
        }
        if header.keys().any(|k| !ALLOWED_HEADER.contains(&k.as_str())) {
            return Err(TokenRejection::ForbiddenHeader);
        }
        let typ = header
            .get("typ")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !(typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt")) {
            return Err(TokenRejection::WrongType);
        }
        let kid = header.get("kid").and_then(Value::as_str);
        let key = kid
            .and_then(|k| self.keys.get(k))
            .ok_or(TokenRejection::UnknownKey)?;
        if key.algorithm().as_str() != alg {
            return Err(TokenRejection::AlgMismatch);
        }
        Ok(key)
    }

    fn check_claims(&self, c: &AccessClaims, now: Timestamp) -> Result<(), TokenRejection> {
        let v = &self.validation;
        let leeway = i64::try_from(v.leeway.as_secs()).unwrap_or(0);
        let now = now.as_secs();
        if c.iss != v.issuer {
            return Err(TokenRejection::WrongIssuer);
        }
        if !c.aud.contains(&v.audience) {
            return Err(TokenRejection::WrongAudience);
        }
        if now >= c.exp.saturating_add(leeway) {
            return Err(TokenRejection::Expired);
        }
        if c.nbf.is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
            return Err(TokenRejection::NotYetValid);
        }
        if c.iat > now.saturating_add(leeway) {
            return Err(TokenRejection::IssuedInFuture);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
