//! Browser sessions and accounts: cookies, their rotation, CSRF binding, users.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test suite"
)]

use tessera::{CookieToken, Error, NewSession, PasswordHash, RevokeReason, SessionId, Store};

use crate::Fixture;

fn invalid(r: Result<tessera::Session, Error>) -> bool {
    matches!(r, Err(Error::InvalidCookie))
}

/// A cookie authenticates its live session; a forged, replaced, revoked or unknown one never.
pub async fn browser_cookies_authenticate_and_rotate<S: Store + Clone + 'static>(store: S) {
    let f = Fixture::new(store).await;
    let (issued, cookie) = f
        .manager
        .create_browser(NewSession::for_user("alice"))
        .await
        .unwrap();
    let session = f
        .manager
        .authenticate_cookie(&cookie.expose())
        .await
        .unwrap();
    assert_eq!(session.sid, issued.session.sid);
    let forged = CookieToken::generate(issued.session.sid).unwrap();
    assert!(
        invalid(f.manager.authenticate_cookie(&forged.expose()).await),
        "same sid, other secret"
    );
    let never = CookieToken::generate(SessionId::generate().unwrap()).unwrap();
    assert!(
        invalid(f.manager.authenticate_cookie(&never.expose()).await),
        "never issued"
    );
    assert!(invalid(f.manager.authenticate_cookie("tss_garbage").await));
    let api_only = f.login("alice").await;
    let no_cookie = CookieToken::generate(api_only.session.sid).unwrap();
    assert!(
        invalid(f.manager.authenticate_cookie(&no_cookie.expose()).await),
        "API sessions have no cookie"
    );

    let fresh = f.manager.rotate_cookie(&session).await.unwrap();
    assert!(
        invalid(f.manager.authenticate_cookie(&cookie.expose()).await),
        "the old cookie is dead"
    );
    let again = f
        .manager
        .authenticate_cookie(&fresh.expose())
        .await
        .unwrap();
    assert_eq!(again.sid, session.sid);

    f.manager
        .revoke(&session.sid, RevokeReason::Logout)
        .await
        .unwrap();
    assert!(
        invalid(f.manager.authenticate_cookie(&fresh.expose()).await),
        "revoked"
    );
}

/// CSRF tokens are bound to the session's current cookie.
pub async fn csrf_tokens_bind_to_the_cookie<S: Store + Clone + 'static>(store: S) {
    let f = Fixture::new(store).await;
    let (_, cookie) = f
        .manager
        .create_browser(NewSession::for_user("alice"))
        .await
        .unwrap();
    let (_, other_cookie) = f
        .manager
        .create_browser(NewSession::for_user("alice"))
        .await
        .unwrap();
    let session = f
        .manager
        .authenticate_cookie(&cookie.expose())
        .await
        .unwrap();
    let other = f
        .manager
        .authenticate_cookie(&other_cookie.expose())
        .await
        .unwrap();
    let token = f.manager.csrf_token(&session).unwrap();
    assert!(f.manager.verify_csrf(&session, &token));
    assert!(
        !f.manager.verify_csrf(&other, &token),
        "another session's token"
    );
    let fresh = f.manager.rotate_cookie(&session).await.unwrap();
    let rotated = f
        .manager
        .authenticate_cookie(&fresh.expose())
        .await
        .unwrap();
    assert!(
        !f.manager.verify_csrf(&rotated, &token),
        "rotation retires CSRF tokens too"
    );
    let api_only = f.login("bob").await.session;
    assert!(f.manager.csrf_token(&api_only).is_err());
}

/// Accounts are created once; passwords can be replaced.
pub async fn accounts_are_created_once<S: Store + Clone + 'static>(store: S) {
    let f = Fixture::new(store).await;
    let first = PasswordHash::new("first password").unwrap();
    assert!(
        f.manager
            .create_user("alice@example.com", first.clone())
            .await
            .unwrap()
    );
    let second = PasswordHash::new("second password").unwrap();
    assert!(
        !f.manager
            .create_user("alice@example.com", second.clone())
            .await
            .unwrap(),
        "taken"
    );
    let user = f.manager.user("alice@example.com").await.unwrap().unwrap();
    assert_eq!(user.password, first);
    assert!(user.password.verify("first password"));
    f.manager
        .set_password("alice@example.com", &second)
        .await
        .unwrap();
    let user = f.manager.user("alice@example.com").await.unwrap().unwrap();
    assert!(user.password.verify("second password") && !user.password.verify("first password"));
    assert!(f.manager.user("bob@example.com").await.unwrap().is_none());
    assert!(matches!(
        f.manager.set_password("bob@example.com", &second).await,
        Err(Error::SessionNotFound)
    ));
    assert!(f.manager.create_user("", second).await.is_err());
}

/// A cookie stops working when its session idles out or reaches its absolute end.
pub async fn expired_cookies_are_refused<S: Store + Clone + 'static>(store: S) {
    let f = Fixture::with(store, |s| {
        s.policy.idle_timeout = std::time::Duration::from_secs(3600)
    })
    .await;
    let (_, cookie) = f
        .manager
        .create_browser(NewSession::for_user("alice"))
        .await
        .unwrap();
    f.advance(3599);
    assert!(
        f.manager
            .authenticate_cookie(&cookie.expose())
            .await
            .is_ok(),
        "still live; this use slides it"
    );
    f.advance(3599);
    assert!(
        f.manager
            .authenticate_cookie(&cookie.expose())
            .await
            .is_ok(),
        "slid by the last use"
    );
    f.advance(3601);
    assert!(
        invalid(f.manager.authenticate_cookie(&cookie.expose()).await),
        "idle too long"
    );
}
