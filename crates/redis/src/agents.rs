//! The user agents that session records name by digest, kept once read.
//!
//! A record keeps only the 8-byte digest under which the session's shard remembers its user
//! agent's text (`remember_agent` in the prelude). A shard never gives a digest another text
//! while a session names it, so a node reads a digest's text once, keeps it, and refreshing,
//! reading or listing sessions costs Redis no lookup of it.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// How many digests a node keeps at most; all are forgotten when that many are kept (the next
/// reads learn them again). A few thousand browsers' agents, about a megabyte.
const KEPT: usize = 4096;

/// A digest as kept here: its shard's number, then its bytes (a digest names a text in its
/// shard only).
fn key(shard: u8, digest: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + digest.len());
    key.push(shard);
    key.extend_from_slice(digest);
    key
}

/// The texts of the digests read so far.
#[derive(Default)]
pub(crate) struct Agents(Mutex<HashMap<Vec<u8>, String>>);

impl Agents {
    /// The text `shard` remembers under `digest`, if read before.
    pub(crate) fn get(&self, shard: u8, digest: &[u8]) -> Option<String> {
        let kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        kept.get(&key(shard, digest)).cloned()
    }

    /// Keeps the text `shard` remembers under `digest`.
    pub(crate) fn keep(&self, shard: u8, digest: &[u8], text: &str) {
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() >= KEPT {
            kept.clear();
        }
        kept.insert(key(shard, digest), text.to_owned());
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
    fn digests_are_kept_per_shard_and_forgotten_when_too_many() {
        let agents = Agents::default();
        agents.keep(3, &[0xab, 1], "Firefox");
        assert_eq!(agents.get(3, &[0xab, 1]).as_deref(), Some("Firefox"));
        assert_eq!(agents.get(4, &[0xab, 1]), None, "another shard's digest");
        assert_eq!(hex(&[0xab, 1, 0x10]), "ab0110");
        for n in 0..KEPT {
            agents.keep(0, &n.to_be_bytes(), "x");
        }
        assert_eq!(agents.get(3, &[0xab, 1]), None, "forgotten when full");
        assert!(agents.get(0, &(KEPT - 1).to_be_bytes()).is_some());
    }
}
