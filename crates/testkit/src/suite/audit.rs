//! The audit trail: what is recorded, per user, newest first, and purged by age.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test suite"
)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tessera::{AuditHook, AuditKind, AuditOrigin, RevokeReason, Store};

use crate::Fixture;

fn kinds<S: Store>(events: &[tessera::StoredEvent]) -> Vec<String> {
    let _ = std::marker::PhantomData::<S>;
    events
        .iter()
        .map(|e| {
            serde_json::to_value(&e.event).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// Sign-in, theft and revocations are recorded for the user, newest first, with the session id
/// and the reason, and handed to the hook. A routine refresh is handed to the hook but recorded
/// on the session (count, time, client), not in the trail, which would otherwise grow with
/// traffic.
pub async fn security_events_are_recorded_per_user<S: Store + Clone + 'static>(store: S) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let hook = AuditHook::new(move |e| sink.lock().unwrap().push(e.kind.clone()));
    let f = Fixture::with(store, |s| {
        s.audit_hook = Some(hook);
        s.audit_origin = Some(AuditOrigin::new(|| Some("203.0.113.7".into())));
    })
    .await;
    let first = f.login("alice").await;
    f.advance(1);
    let refreshed = f.refresh(&first).await;
    assert_eq!(refreshed.session.refreshes, 1);
    assert_eq!(
        refreshed.session.refreshed_from.as_deref(),
        Some("203.0.113.7")
    );
    let stored = f.manager.get(&first.session.sid).await.unwrap().unwrap();
    assert_eq!(
        (stored.refreshes, stored.refreshed_from.as_deref()),
        (1, Some("203.0.113.7")),
        "the refresh is recorded on the session"
    );
    assert_eq!(stored.refresh.rotated_at, f.clock_now());
    f.advance(60);
    assert!(
        f.manager
            .refresh(&first.refresh_token.expose())
            .await
            .is_err()
    ); // theft
    let other = f.login("alice").await;
    f.manager
        .revoke_user("alice", None, RevokeReason::PasswordChanged)
        .await
        .unwrap();
    f.login("bob").await;

    let events = f.manager.events("alice", None, 100).await.unwrap();
    assert_eq!(
        kinds::<S>(&events),
        [
            "session_revoked",
            "session_created",
            "session_revoked",
            "refresh_reuse_detected",
            "session_created"
        ]
    );
    assert!(events.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    assert_eq!(events[0].event.sid, Some(other.session.sid));
    assert_eq!(
        events[0].event.kind,
        AuditKind::SessionRevoked {
            reason: RevokeReason::PasswordChanged
        }
    );
    assert_eq!(
        events[2].event.kind,
        AuditKind::SessionRevoked {
            reason: RevokeReason::RefreshReuse
        }
    );
    assert_eq!(
        events[3].event.kind,
        AuditKind::RefreshReuseDetected {
            class: "previous".into()
        }
    );
    assert!(
        events
            .iter()
            .all(|e| e.event.user_id.as_deref() == Some("alice"))
    );
    let json: Value = serde_json::to_value(&events[4].event).unwrap();
    assert!(
        !json
            .to_string()
            .contains(&first.refresh_token.expose()[4..30]),
        "no secret in events"
    );

    let page = f
        .manager
        .events("alice", Some(events[1].id), 2)
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|e| e.id).collect::<Vec<_>>(),
        [events[2].id, events[3].id]
    );
    assert_eq!(
        kinds::<S>(&f.manager.events("bob", None, 100).await.unwrap()),
        ["session_created"]
    );
    assert!(
        f.manager
            .events("carol", None, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .any(|k| matches!(k, AuditKind::KeyRotated { .. })),
        "first keys"
    );
    assert_eq!(
        seen.lock().unwrap().len(),
        8,
        "every event reached the hook: five stored and the refresh for alice, one for bob, the first key"
    );
}

/// Retention: events older than the cutoff go, in bounded batches; newer ones stay.
pub async fn audit_retention_purges_in_batches<S: Store + Clone + 'static>(store: S) {
    let f = Fixture::new(store).await;
    for i in 0..25 {
        f.login(&format!("user-{}", i % 2)).await;
    }
    f.advance(3600);
    let recent = f.login("user-0").await;
    let retention = Duration::from_secs(1800);
    let mut batches = Vec::new();
    loop {
        let n = f.manager.purge_audit(retention, 10).await.unwrap();
        batches.push(n);
        if n < 10 {
            break;
        }
    }
    // 25 sign-ins plus the first key's rotation event.
    assert_eq!(batches, [10, 10, 6]);
    let left = f.manager.events("user-0", None, 100).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].event.sid, Some(recent.session.sid));
}

/// Security state never depends on an audit write made after the fact: with every audit write
/// failing, a refresh still hands out its new tokens (so the client's next refresh is not taken
/// for theft), and a replayed token still ends the session. The failures are counted.
pub async fn audit_failures_never_change_security_outcomes<S: Store + Clone + 'static>(store: S) {
    let store = crate::CountingStore::new(store);
    let f = Fixture::new(store.clone()).await;
    let issued = f.login("alice").await;
    store.fail_audit_writes(true);
    let next = f
        .manager
        .refresh(&issued.refresh_token.expose())
        .await
        .expect("a refresh writes no audit event: the client gets its tokens");
    assert_eq!(f.manager.audit_failures(), 0);
    f.advance(60); // past the grace window: the old token is now a stolen one
    let replay = f.manager.refresh(&issued.refresh_token.expose()).await;
    assert!(
        matches!(
            replay,
            Err(tessera::Error::InvalidRefresh(
                tessera::RefreshRejection::Reused
            ))
        ),
        "{replay:?}"
    );
    assert!(
        f.manager.verify(next.access_token.expose()).is_err(),
        "the stolen session is revoked although its audit record could not be written"
    );
    assert_eq!(
        f.manager.audit_failures(),
        2,
        "the theft and the revocation, counted"
    );
    assert!(
        f.manager
            .refresh(&next.refresh_token.expose())
            .await
            .is_err()
    );
    store.fail_audit_writes(false);
    let other = f.login("bob").await;
    assert!(
        f.manager.verify(other.access_token.expose()).is_ok(),
        "back to normal"
    );
}
