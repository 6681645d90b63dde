//! Browser sessions and accounts: cookies, their rotation, CSRF binding, users.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test suite"
)]

use tessera::{
    AccountId, CookieToken, Error, LoginName, NewSession, PasswordHash, RevokeReason, SessionId,
    Store,
};

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

/// Accounts are listed a page at a time in login-name order; deleting one ends its sessions
/// and frees its name.
pub async fn accounts_are_listed_in_pages_and_deleted<S: Store + Clone + 'static>(store: S) {
    let f = Fixture::new(store).await;
    let hash = PasswordHash::new("a password for all").unwrap();
    let mut made = Vec::new();
    for name in ["mallory", "alice", "carol", "bob", "zoë", "dave"] {
        let login = LoginName::parse(name).unwrap();
        made.push(
            f.manager
                .create_user(&login, hash.clone())
                .await
                .unwrap()
                .unwrap(),
        );
    }
    let mut listed = Vec::new();
    let mut after: Option<LoginName> = None;
    loop {
        let page = f.manager.users(after.as_ref(), 4).await.unwrap();
        assert!(page.len() <= 4);
        let Some(last) = page.last() else { break };
        after = Some(last.login.clone());
        listed.extend(page);
    }
    let names: Vec<&str> = listed.iter().map(|u| u.login.as_str()).collect();
    assert_eq!(names, ["alice", "bob", "carol", "dave", "mallory", "zoë"]);
    let alice = made.iter().find(|u| u.login.as_str() == "alice").unwrap();
    assert_eq!(listed[0], *alice, "whole accounts, ids and hashes included");

    let bob = made.iter().find(|u| u.login.as_str() == "bob").unwrap();
    let new = NewSession {
        user_id: bob.id.to_string(),
        ..NewSession::default()
    };
    let session = f.manager.create(new).await.unwrap().session;
    let ended = f.manager.delete_user(&bob.id).await.unwrap();
    assert_eq!(ended, vec![session.sid]);
    assert!(f.manager.user(&bob.id).await.unwrap().is_none());
    assert!(f.manager.find_user(&bob.login).await.unwrap().is_none());
    let got = f.manager.get(&session.sid).await.unwrap();
    assert!(
        got.is_none_or(|s| s.revoked_at.is_some()),
        "its session ended"
    );
    let names: Vec<String> = f
        .manager
        .users(None, 100)
        .await
        .unwrap()
        .iter()
        .map(|u| u.login.to_string())
        .collect();
    assert_eq!(names, ["alice", "carol", "dave", "mallory", "zoë"]);
    assert!(matches!(
        f.manager.delete_user(&bob.id).await,
        Err(Error::AccountNotFound)
    ));
    let again = f
        .manager
        .create_user(&bob.login, hash)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(
        again.id, bob.id,
        "the name is free; the old id is not reused"
    );
    let after_zoe = LoginName::parse("zoë").unwrap();
    assert!(
        f.manager
            .users(Some(&after_zoe), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Accounts get a fresh server-chosen id; login names are unique; passwords can be replaced.
pub async fn accounts_are_created_once<S: Store + Clone + 'static>(store: S) {
    let f = Fixture::new(store).await;
    let alice = LoginName::parse("alice@example.com").unwrap();
    let first = PasswordHash::new("first password").unwrap();
    let created = f
        .manager
        .create_user(&alice, first.clone())
        .await
        .unwrap()
        .unwrap();
    assert!(AccountId::is_reserved(created.id.as_str()));
    assert_eq!(created.login, alice);
    let second = PasswordHash::new("second password").unwrap();
    let taken = LoginName::parse("ALICE@example.com").unwrap();
    assert!(
        f.manager
            .create_user(&taken, second.clone())
            .await
            .unwrap()
            .is_none(),
        "the same name in another case is taken"
    );
    let bob = LoginName::parse("bob@example.com").unwrap();
    let other = f
        .manager
        .create_user(&bob, first.clone())
        .await
        .unwrap()
        .unwrap();
    assert_ne!(
        other.id, created.id,
        "ids are never reused or derived from names"
    );
    let user = f.manager.find_user(&alice).await.unwrap().unwrap();
    assert_eq!(
        (user.id.clone(), user.password.clone()),
        (created.id.clone(), first)
    );
    assert_eq!(f.manager.user(&created.id).await.unwrap().unwrap(), user);
    f.manager.set_password(&created.id, &second).await.unwrap();
    let user = f.manager.user(&created.id).await.unwrap().unwrap();
    assert!(user.password.verify("second password") && !user.password.verify("first password"));
    let nobody = AccountId::generate().unwrap();
    assert!(f.manager.user(&nobody).await.unwrap().is_none());
    let carol = LoginName::parse("carol").unwrap();
    assert!(f.manager.find_user(&carol).await.unwrap().is_none());
    assert!(matches!(
        f.manager.set_password(&nobody, &second).await,
        Err(Error::AccountNotFound)
    ));
}

/// A backend cannot mint a session for an account id (`usr_…`) that no account has, so its
/// user ids and the built-in accounts never collide; an existing account's id is fine.
pub async fn account_ids_are_reserved<S: Store + Clone + 'static>(store: S) {
    let f = Fixture::new(store).await;
    let forged = AccountId::generate().unwrap();
    for user in [forged.as_str(), "usr_", "usr_alice"] {
        let err = f
            .manager
            .create(NewSession::for_user(user))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{user}: {err}");
    }
    let login = LoginName::parse("dave").unwrap();
    let hash = PasswordHash::new("dave's password").unwrap();
    let account = f.manager.create_user(&login, hash).await.unwrap().unwrap();
    let issued = f
        .manager
        .create(NewSession::for_user(account.id.as_str()))
        .await
        .unwrap();
    assert_eq!(issued.session.user_id, account.id.as_str());
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
