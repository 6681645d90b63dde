//! What the durability tests of every store write and check: numbered sessions and their
//! first refresh, each acknowledged write to be found again after a crash.

#![allow(clippy::unwrap_used, reason = "test support")]

use serde_json::json;
use tessera::store::Rotation;
use tessera::{RefreshState, Session, SessionId, Timestamp, TokenHash};

/// Session number `i`, with `i` in its data.
pub fn session(i: usize) -> Session {
    let now = Timestamp::from_secs(1_700_000_000);
    let far = Timestamp::from_secs(1_900_000_000);
    let user = format!("user-{}", i % 7);
    Session {
        data: json!({ "i": i }),
        ..Session::started(
            SessionId::for_user(&user).unwrap(),
            user,
            now,
            far,
            far,
            TokenHash::of(&[1]),
        )
    }
}

/// A refresh of `s` (still at its first generation) to the second.
pub fn rotation(s: &Session) -> Rotation {
    Rotation {
        expected_generation: 1,
        presented: s.refresh.current,
        next: RefreshState {
            generation: 2,
            current: TokenHash::of(&[2]),
            previous: Some(s.refresh.current),
            rotated_at: s.created_at,
        },
        at: s.created_at,
        idle_expires_at: s.idle_expires_at,
        rate: None,
        client: None,
    }
}
