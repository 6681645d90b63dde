//! The user agents that session records name by digest, kept once read.
//!
//! A record keeps only the 8-byte digest under which the session's shard remembers its user
//! agent's text (`remember_agent` in the prelude). A shard never gives a digest another text
//! while a session names it, so a node reads a digest's text once, keeps it, and refreshing,
//! reading or listing sessions costs Redis no lookup of it.
//!
//! Texts are kept by digest alone, whichever shard they were read from: two texts share a
//! digest only if someone made them to (2³² tries of SHA-1), and such a pair can only mislabel
//! the sessions that carry one of them, the maker's; to make another's agent collide takes 2⁶⁴.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// How many bytes of texts a node keeps at most (a few thousand browsers' agents); past it,
/// texts already kept make room, one at a time, whichever comes first.
const KEPT_BYTES: usize = 1 << 20;

/// The longest text kept: a longer one (no browser sends such) is read each time it is needed,
/// at the cost of whoever chose it, and never pushes the others out.
const LONGEST: usize = 1024;

#[derive(Default)]
struct Kept {
    texts: HashMap<Vec<u8>, String>,
    /// The length of all texts, digests included.
    bytes: usize,
}

/// The texts of the digests read so far.
#[derive(Default)]
pub(crate) struct Agents(Mutex<Kept>);

impl Agents {
    /// The text remembered under `digest`, if read before.
    pub(crate) fn get(&self, digest: &[u8]) -> Option<String> {
        let kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        kept.texts.get(digest).cloned()
    }

    /// Keeps the text remembered under `digest`, making room if needed.
    pub(crate) fn keep(&self, digest: &[u8], text: &str) {
        let size = digest.len() + text.len();
        if text.len() > LONGEST {
            return;
        }
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        while kept.bytes + size > KEPT_BYTES {
            let Some(some) = kept.texts.keys().next().cloned() else {
                break;
            };
            if let Some(gone) = kept.texts.remove(&some) {
                kept.bytes -= some.len() + gone.len();
            }
        }
        if let Some(old) = kept.texts.insert(digest.to_vec(), text.to_owned()) {
            kept.bytes -= digest.len() + old.len();
        }
        kept.bytes += size;
    }
}

/// `digest` as the `ua` keys name it: lowercase hex (what `redis.sha1hex` gives).
pub(crate) fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_kept_within_their_budget() {
        let agents = Agents::default();
        agents.keep(&[0xab, 1], "Firefox");
        agents.keep(&[0xab, 1], "Firefox");
        assert_eq!(agents.get(&[0xab, 1]).as_deref(), Some("Firefox"));
        assert_eq!(agents.0.lock().unwrap().bytes, 9, "counted once");
        assert_eq!(hex(&[0xab, 1, 0x10]), "ab0110");

        let long = "x".repeat(LONGEST + 1);
        agents.keep(&[2], &long);
        assert_eq!(agents.get(&[2]), None, "too long to keep");

        let text = "y".repeat(LONGEST);
        let fit = KEPT_BYTES / (8 + LONGEST);
        for n in 0..fit + 10 {
            agents.keep(&n.to_be_bytes(), &text);
        }
        let kept = agents.0.lock().unwrap();
        assert!(kept.bytes <= KEPT_BYTES, "{} bytes kept", kept.bytes);
        assert!(kept.texts.len() >= fit - 1, "one at a time made room");
        let counted: usize = kept.texts.iter().map(|(d, t)| d.len() + t.len()).sum();
        assert_eq!(kept.bytes, counted);
        assert!(
            kept.texts.contains_key(&(fit + 9).to_be_bytes()[..]),
            "the last kept"
        );
    }
}
