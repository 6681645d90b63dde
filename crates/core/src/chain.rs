//! The refresh chain: each refresh secret is derived from the one before it.
//!
//! `secret[g+1] = HMAC(chain_key, sid ‖ g+1 ‖ secret[g])`. Because the successor is a function
//! of the presented secret, racing refreshes of one token all compute the *same* next token (no
//! fork), and an old secret can be proven genuine by walking it forward to the stored hash,
//! which tells theft (a genuine old token) from forgery (a made-up one for a public `sid`).

use ring::hmac;

use crate::secret::TokenHash;
use crate::{RefreshState, RefreshToken, ServerSecret, SessionId};

/// How a presented refresh token relates to a session's chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Link {
    /// The current generation's genuine secret.
    Current,
    /// The generation just before the current one, genuine.
    Previous,
    /// An older generation, proven genuine by walking the chain forward.
    Older,
    /// Not part of this chain (or too old to prove): a forgery.
    Forged,
}

/// Derives and checks refresh secrets with the server's chain key.
pub(crate) struct Chain {
    key: hmac::Key,
}

impl Chain {
    pub(crate) fn new(secret: &ServerSecret) -> Self {
        Self {
            key: secret.derive("tessera/v1/refresh-chain"),
        }
    }

    /// The secret of generation `generation + 1`, given generation `generation`'s secret.
    pub(crate) fn successor(
        &self,
        sid: &SessionId,
        generation: u64,
        secret: &[u8; 32],
    ) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(sid.as_bytes());
        ctx.update(&generation.saturating_add(1).to_be_bytes());
        ctx.update(secret);
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }

    /// Places `token` on the chain described by `state`, walking at most `max_walk` links.
    pub(crate) fn classify(
        &self,
        token: &RefreshToken,
        state: &RefreshState,
        max_walk: u64,
    ) -> Link {
        let g = token.generation();
        let presented = token.hash();
        if g == state.generation {
            return if presented.ct_eq(&state.current) {
                Link::Current
            } else {
                Link::Forged
            };
        }
        if g.checked_add(1) == Some(state.generation) {
            let genuine = state.previous.is_some_and(|p| presented.ct_eq(&p));
            return if genuine {
                Link::Previous
            } else {
                Link::Forged
            };
        }
        if g == 0 || g > state.generation || state.generation - g > max_walk {
            return Link::Forged;
        }
        let mut secret = *token.secret();
        for generation in g..state.generation {
            secret = self.successor(&token.session_id(), generation, &secret);
        }
        if TokenHash::of(&secret).ct_eq(&state.current) {
            Link::Older
        } else {
            Link::Forged
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;

    fn state_after(
        chain: &Chain,
        sid: &SessionId,
        first: [u8; 32],
        steps: u64,
    ) -> (RefreshState, Vec<[u8; 32]>) {
        let mut secrets = vec![first];
        for g in 1..=steps {
            let last = secrets[secrets.len() - 1];
            secrets.push(chain.successor(sid, g, &last));
        }
        let n = secrets.len();
        let state = RefreshState {
            generation: n as u64,
            current: TokenHash::of(&secrets[n - 1]),
            previous: (n > 1).then(|| TokenHash::of(&secrets[n - 2])),
            rotated_at: Timestamp::from_secs(0),
        };
        (state, secrets)
    }

    #[test]
    fn classifies_every_generation() {
        let chain = Chain::new(&ServerSecret::generate().unwrap());
        let sid = SessionId::generate().unwrap();
        let (state, secrets) = state_after(&chain, &sid, [1; 32], 5);
        let at = |g: usize| RefreshToken::new(sid, g as u64, secrets[g - 1]);
        assert_eq!(chain.classify(&at(6), &state, 100), Link::Current);
        assert_eq!(chain.classify(&at(5), &state, 100), Link::Previous);
        assert_eq!(chain.classify(&at(1), &state, 100), Link::Older);
        assert_eq!(
            chain.classify(&at(1), &state, 4),
            Link::Forged,
            "beyond the walk bound"
        );
        let forged = |g: u64| RefreshToken::new(sid, g, [7; 32]);
        for g in [0, 1, 3, 5, 6, 7, u64::MAX] {
            assert_eq!(
                chain.classify(&forged(g), &state, 100),
                Link::Forged,
                "generation {g}"
            );
        }
    }

    #[test]
    fn successors_depend_on_key_sid_generation_and_secret() {
        let a = Chain::new(&ServerSecret::generate().unwrap());
        let b = Chain::new(&ServerSecret::generate().unwrap());
        let sid = SessionId::generate().unwrap();
        let other = SessionId::generate().unwrap();
        let base = a.successor(&sid, 1, &[0; 32]);
        assert_eq!(base, a.successor(&sid, 1, &[0; 32]), "deterministic");
        assert_ne!(base, b.successor(&sid, 1, &[0; 32]));
        assert_ne!(base, a.successor(&other, 1, &[0; 32]));
        assert_ne!(base, a.successor(&sid, 2, &[0; 32]));
        assert_ne!(base, a.successor(&sid, 1, &[1; 32]));
    }
}
