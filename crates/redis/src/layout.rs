//! Where each key lives: the deployment's hash tag names one small global slot (keyset,
//! settings, accounts, API keys) and 64 shard tags, one per [`SessionId::SHARDS`] shard, whose
//! slots are spread evenly over the 16384 Cluster slots. A user's sessions, their index, their
//! feed entries and audit events live in the user's shard, so every step stays one script in
//! one slot while a Cluster spreads the users over all its masters.

use tessera::SessionId;

/// The number of Cluster slots.
const SLOTS: u16 = 16384;

/// Feed `GLOBAL_FEED` is the global slot's (API-key revocations); feeds below it are the shards'.
pub(crate) const GLOBAL_FEED: usize = SessionId::SHARDS as usize;

/// How this version lays a deployment out, as its mark (`set:layout`) says: sessions as
/// records, and each user's sessions and audit events in one field. The scripts read the
/// layouts marked `sharded` and `records` before it, and take them over (see `misc.lua`).
pub(crate) const MARK: &str = "user-fields";

/// The name inside a deployment's tag: `tessera` for `{tessera}`.
pub(crate) fn name(global: &str) -> &str {
    global
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .unwrap_or(global)
}

/// The tags of one deployment.
#[derive(Debug)]
pub(crate) struct Layout {
    /// `{tessera}`: the global slot.
    pub(crate) global: String,
    /// `{tessera:7:123}`: shard 7's tag, whose slot is the centre of the shard's 1/64 of the slots.
    shards: Vec<String>,
}

impl Layout {
    /// The tags under `global` (`{name}`). Each shard's tag is the first `{name:shard:n}` whose
    /// slot is within 16 of the centre of the shard's range, so that a Cluster whose masters
    /// hold equal slot ranges (what `redis-cli --cluster create` makes, for any number of
    /// masters up to 64) holds equal numbers of shards, give or take one.
    pub(crate) fn new(global: &str) -> Self {
        let name = name(global);
        let width = SLOTS / u16::from(SessionId::SHARDS);
        let shards = (0..u16::from(SessionId::SHARDS))
            .map(|shard| {
                let centre = shard * width + width / 2;
                (0u32..)
                    .map(|n| format!("{name}:{shard}:{n}"))
                    .find(|inner| slot(inner.as_bytes()).abs_diff(centre) <= 16)
                    .map(|inner| format!("{{{inner}}}"))
                    .unwrap_or_default()
            })
            .collect();
        Self {
            global: global.to_owned(),
            shards,
        }
    }

    /// The tag of `shard` (below [`SessionId::SHARDS`]).
    pub(crate) fn shard(&self, shard: u8) -> &str {
        &self.shards[usize::from(shard) % self.shards.len()]
    }

    /// The tag holding feed `feed`: a shard's, or the global one for [`GLOBAL_FEED`].
    pub(crate) fn feed(&self, feed: usize) -> &str {
        self.shards.get(feed).unwrap_or(&self.global)
    }

    /// Every tag with a feed, by feed number.
    pub(crate) fn feeds(&self) -> impl Iterator<Item = &str> {
        self.shards
            .iter()
            .map(String::as_str)
            .chain([self.global.as_str()])
    }

    /// Every shard's tag.
    pub(crate) fn shards(&self) -> impl Iterator<Item = &str> {
        self.shards.iter().map(String::as_str)
    }
}

/// The Cluster slot of a key (CRC16-XMODEM of its hash tag, or of the whole key without one).
pub(crate) fn slot(key: &[u8]) -> u16 {
    let tagged = key.iter().position(|&b| b == b'{').and_then(|open| {
        let rest = &key[open + 1..];
        rest.iter()
            .position(|&b| b == b'}')
            .filter(|&close| close > 0)
            .map(|close| &rest[..close])
    });
    crc16(tagged.unwrap_or(key)) % SLOTS
}

fn crc16(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0u16, |crc, &b| {
        (0..8).fold(crc ^ (u16::from(b) << 8), |c, _| {
            if c & 0x8000 == 0 {
                c << 1
            } else {
                (c << 1) ^ 0x1021
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_redis_cluster_slots() {
        // Values from the Redis Cluster specification and `CLUSTER KEYSLOT`.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(slot(b"foo"), 12182);
        assert_eq!(slot(b"{user1000}.following"), slot(b"{user1000}.followers"));
        assert_ne!(
            slot(b"foo{}{bar}"),
            slot(b"bar"),
            "an empty tag hashes the whole key"
        );
        assert_eq!(slot(b"foo{bar}{zap}"), slot(b"bar"));
    }

    #[test]
    fn shards_spread_evenly_over_equal_masters() {
        let layout = Layout::new("{tessera}");
        let slots: Vec<u16> = layout.shards().map(|t| slot(t.as_bytes())).collect();
        assert_eq!(slots.len(), 64);
        for masters in [3u32, 6] {
            let mut held = vec![0u32; masters as usize];
            for s in &slots {
                // redis-cli gives master i the slots from i * 16384 / masters.
                let owner = (0..masters)
                    .rev()
                    .find(|i| u32::from(*s) >= i * 16384 / masters)
                    .unwrap_or(0);
                held[owner as usize] += 1;
            }
            let (min, max) = (held.iter().min().unwrap(), held.iter().max().unwrap());
            assert!(max - min <= 1, "{masters} masters hold {held:?} shards");
        }
        assert_eq!(layout.feed(GLOBAL_FEED), "{tessera}");
        assert_eq!(layout.feeds().count(), GLOBAL_FEED + 1);
    }
}
