//! Recovery without email: a one-time link sets a new password, ends every session and signs
//! the browser in; it works once, ends at its time, and refuses forgeries. The CLI makes links
//! and sets passwords.

use std::time::Duration;

use axum::http::StatusCode;
use tessera::{Clock, LoginName};

use super::pages::{Jar, OPEN, between, get, json_login, post_form, sign_in, sign_up};
use super::support::{App, cli, cli_with_input, temp_dir};

const OLD: &str = "correct+horse+battery";

async fn link(app: &App, user: &str, valid: Duration) -> String {
    let m = &app.state.manager;
    let account = m
        .find_user(&LoginName::parse(user).unwrap())
        .await
        .unwrap()
        .unwrap();
    let until = m.clock().now().plus(valid);
    m.reset_links()
        .issue(&account.id, account.password.as_str().as_bytes(), until)
}

/// Opens the link in `jar` and submits the form with `password` and `confirm`.
async fn use_link(
    app: &App,
    jar: &mut Jar,
    token: &str,
    password: &str,
    confirm: &str,
) -> super::support::Reply {
    let page = get(app, jar, &format!("/auth/reset?token={token}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let login = between(&page.text, "name=\"_login\" value=\"", "\"").to_owned();
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("token", token)
        .append_pair("password", password)
        .append_pair("confirm", confirm)
        .append_pair("_login", &login)
        .finish();
    post_form(app, jar, "/auth/reset", &body).await
}

#[tokio::test]
async fn a_reset_link_sets_the_password_once_and_ends_every_session() {
    let app = App::with(OPEN).await;
    sign_up(&app, &mut Jar::default(), "alice", OLD).await;
    let mut phone = Jar::default();
    sign_in(&app, &mut phone, "alice", OLD).await;
    assert_eq!(
        get(&app, &mut phone, "/auth/me").await.status,
        StatusCode::OK
    );
    let token = link(&app, "alice", Duration::from_secs(600)).await;

    let mut laptop = Jar::default();
    let differ = use_link(
        &app,
        &mut laptop,
        &token,
        "a new passphrase!",
        "another one!!",
    )
    .await;
    assert_eq!(differ.status, StatusCode::BAD_REQUEST);
    assert!(differ.text.contains("differ"), "{}", differ.text);
    let short = use_link(&app, &mut laptop, &token, "short", "short").await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);

    let done = use_link(
        &app,
        &mut laptop,
        &token,
        "a new passphrase!",
        "a new passphrase!",
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    assert_eq!(done.header("location"), "/auth/account");
    assert_eq!(
        get(&app, &mut laptop, "/auth/me").await.status,
        StatusCode::OK,
        "signed in"
    );
    assert_eq!(
        get(&app, &mut phone, "/auth/me").await.status,
        StatusCode::UNAUTHORIZED,
        "every other session ended"
    );
    assert_eq!(
        json_login(&app, "alice", "correct horse battery").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        json_login(&app, "alice", "a new passphrase!").await,
        StatusCode::OK
    );

    let again = get(
        &app,
        &mut Jar::default(),
        &format!("/auth/reset?token={token}"),
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "used once");
    assert!(again.text.contains("does not work"));
}

#[tokio::test]
async fn forged_expired_and_cross_site_resets_are_refused() {
    let app = App::with(OPEN).await;
    sign_up(&app, &mut Jar::default(), "alice", OLD).await;
    let over = link(&app, "alice", Duration::ZERO).await;
    let live = link(&app, "alice", Duration::from_secs(600)).await;
    let mut forged = live.clone();
    forged.pop();
    forged.push(if live.ends_with('A') { 'B' } else { 'A' });
    for token in [over.as_str(), forged.as_str(), "", "tsr1_nothing"] {
        let r = get(
            &app,
            &mut Jar::default(),
            &format!("/auth/reset?token={token}"),
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{token}");
    }
    // Without the form's double-submit token another site could sign a visitor in.
    let body = format!("token={live}&password=a+new+passphrase!&confirm=a+new+passphrase!");
    let r = post_form(&app, &mut Jar::default(), "/auth/reset", &body).await;
    r.assert_problem(403, "forbidden");
    assert_eq!(
        json_login(&app, "alice", "correct horse battery").await,
        StatusCode::OK,
        "unchanged"
    );
}

#[test]
fn the_cli_makes_links_and_sets_passwords() {
    let dir = temp_dir();
    let (ok, out, err) = cli_with_input(
        &dir,
        &[],
        &["users", "create", "alice"],
        "correct horse battery\n",
    );
    assert!(ok, "{out}{err}");
    let env = [("TESSERA_PUBLIC_ORIGIN", "https://auth.example")];
    let (ok, out, err) = cli(
        &dir,
        &env,
        &["users", "reset-link", "alice", "--valid", "15m"],
    );
    assert!(ok, "{out}{err}");
    assert!(
        out.starts_with("https://auth.example/auth/reset?token=tsr1_"),
        "{out}"
    );
    let (ok, _, err) = cli(&dir, &env, &["users", "reset-link", "nobody"]);
    assert!(!ok && err.contains("no account"), "{err}");
    let (ok, _, err) = cli(
        &dir,
        &env,
        &["users", "reset-link", "alice", "--valid", "2d"],
    );
    assert!(!ok && err.contains("1d"), "{err}");
    let passwd = ["users", "passwd", "alice"];
    let (ok, _, err) = cli_with_input(&dir, &[], &passwd, "iloveyou1\n");
    assert!(
        !ok && err.contains("most common"),
        "the pages' rules: {err}"
    );
    let (ok, out, err) = cli_with_input(&dir, &[], &passwd, "a different passphrase\n");
    assert!(ok && out.contains("session(s) ended"), "{out}{err}");
}

#[test]
fn the_cli_lists_and_deletes_accounts() {
    let dir = temp_dir();
    for name in ["carol", "alice", "bob"] {
        let create = ["users", "create", name];
        let (ok, out, err) = cli_with_input(&dir, &[], &create, "correct horse battery\n");
        assert!(ok, "{out}{err}");
    }
    let (ok, out, err) = cli(&dir, &[], &["users", "list", "--limit", "2"]);
    assert!(ok, "{err}");
    let names: Vec<&str> = out
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names, ["alice", "bob", "(more:"], "{out}");
    assert!(out.contains("--after bob"), "{out}");
    let (_, out, _) = cli(&dir, &[], &["users", "list", "--after", "bob"]);
    assert!(out.contains("carol") && !out.contains("alice"), "{out}");

    let (ok, _, err) = cli(&dir, &[], &["users", "delete", "bob"]);
    assert!(!ok && err.contains("--yes"), "no terminal, no --yes: {err}");
    let (ok, out, err) = cli(&dir, &[], &["users", "delete", "bob", "--yes"]);
    assert!(ok && out.contains("deleted bob"), "{out}{err}");
    let (ok, _, err) = cli(&dir, &[], &["users", "delete", "bob", "--yes"]);
    assert!(!ok && err.contains("no account"), "{err}");
    let (_, out, _) = cli(&dir, &[], &["users", "list"]);
    let names: Vec<&str> = out
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names, ["alice", "carol"], "{out}");
}
