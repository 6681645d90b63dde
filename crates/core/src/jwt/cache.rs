//! A bounded cache of access tokens that already passed every signature and claim check, so a
//! client's repeated requests skip the signature (~50 µs for Ed25519). Keyed by the SHA-256 of
//! the whole token (computed once per request by the caller), so no bearer token is kept;
//! entries stop counting at `exp`, or at the end of the verifying key's acceptance (a key
//! trusted for a time) if that comes first. Revocation is not cached: the caller checks it on
//! every request. Failures are never cached.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use super::VerifiedClaims;
use crate::{Timestamp, TokenHash};

/// Tokens remembered at most (about 300 bytes each).
const CAPACITY: usize = 16 * 1024;

/// Verified tokens by hash.
#[derive(Debug, Default)]
pub(crate) struct VerifiedCache {
    entries: RwLock<HashMap<TokenHash, Arc<VerifiedClaims>>>,
}

impl VerifiedCache {
    /// The claims of the token hashing to `key` if it verified before, has not expired at
    /// `now` (with `leeway`), and its key is still accepted.
    pub(crate) fn get(
        &self,
        key: &TokenHash,
        now: Timestamp,
        leeway: Duration,
    ) -> Option<Arc<VerifiedClaims>> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let claims = entries.get(key)?;
        let leeway = i64::try_from(leeway.as_secs()).unwrap_or(0);
        (now.as_secs() < claims.exp.saturating_add(leeway) && claims.key_accepted_at(now))
            .then(|| Arc::clone(claims))
    }

    /// Remembers the token hashing to `key`, which has just passed verification at `now`.
    pub(crate) fn insert(&self, key: TokenHash, claims: Arc<VerifiedClaims>, now: Timestamp) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= CAPACITY {
            entries.retain(|_, c| c.exp > now.as_secs());
            if entries.len() >= CAPACITY {
                entries.clear(); // all live: start over rather than grow
            }
        }
        entries.insert(key, claims);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Map;

    use super::*;
    use crate::SessionId;
    use crate::jwt::AccessClaims;

    fn claims(exp: i64) -> Arc<VerifiedClaims> {
        let claims = AccessClaims {
            iss: "i".into(),
            aud: vec!["a".into()],
            sub: "u".into(),
            sid: SessionId::generate().unwrap(),
            jti: "j".into(),
            iat: 0,
            exp,
            nbf: None,
            extra: Map::new(),
        };
        Arc::new(VerifiedClaims::new(claims, "{}".into()))
    }

    fn key(token: &str) -> TokenHash {
        TokenHash::of(token.as_bytes())
    }

    #[test]
    fn hits_until_expiry_and_only_for_the_same_token() {
        let cache = VerifiedCache::default();
        let leeway = Duration::from_secs(30);
        cache.insert(key("token-a"), claims(100), Timestamp::from_secs(0));
        assert!(
            cache
                .get(&key("token-a"), Timestamp::from_secs(50), leeway)
                .is_some()
        );
        assert!(
            cache
                .get(&key("token-b"), Timestamp::from_secs(50), leeway)
                .is_none()
        );
        assert!(
            cache
                .get(&key("token-a"), Timestamp::from_secs(129), leeway)
                .is_some()
        );
        assert!(
            cache
                .get(&key("token-a"), Timestamp::from_secs(130), leeway)
                .is_none(),
            "expired"
        );
    }

    /// A token verified with a key trusted for a time stops counting at the key's end, though
    /// the token itself has not expired: the upkeep that would drop the key may come later.
    #[test]
    fn a_trusted_keys_tokens_stop_at_its_end() {
        let cache = VerifiedCache::default();
        let leeway = Duration::from_secs(30);
        let until = Timestamp::from_secs(60);
        let by_trusted = Arc::new((*claims(1_000)).clone().by_key_until(Some(until)));
        cache.insert(key("old-system"), by_trusted, Timestamp::from_secs(0));
        let at = |secs| cache.get(&key("old-system"), Timestamp::from_secs(secs), leeway);
        assert!(at(59).is_some());
        assert!(at(60).is_none(), "the key's end");
        assert!(at(500).is_none());
    }

    #[test]
    fn stays_bounded() {
        let cache = VerifiedCache::default();
        for i in 0..CAPACITY + 10 {
            cache.insert(
                key(&format!("t{i}")),
                claims(1_000),
                Timestamp::from_secs(0),
            );
            assert!(cache.len() <= CAPACITY);
        }
        // Expired entries go first when full.
        let cache = VerifiedCache::default();
        for i in 0..CAPACITY {
            cache.insert(key(&format!("old{i}")), claims(10), Timestamp::from_secs(0));
        }
        cache.insert(key("new"), claims(1_000), Timestamp::from_secs(20));
        assert_eq!(cache.len(), 1);
    }
}
