//! The pages as a person meets them: forms that keep what was typed and tie each error to its
//! field, errors as pages instead of JSON, confirmations and success messages, password rules,
//! and an operator's branding and templates.

use axum::http::{Method, StatusCode};

use super::pages::{Jar, OPEN, between, csrf_of, get, post_form, sign_in, sign_up, unescape};
use super::support::{App, Reply, temp_dir};

const PASSWORD: &str = "correct+horse+battery";

/// A browser's page load or form post: it accepts HTML.
const BROWSER: (&str, &str) = ("accept", "text/html,application/xhtml+xml,*/*;q=0.8");

async fn post_page(app: &App, jar: &mut Jar, path: &str, body: &str) -> Reply {
    let cookie = jar.header();
    let h = [
        ("cookie", cookie.as_str()),
        ("content-type", "application/x-www-form-urlencoded"),
        ("sec-fetch-site", "same-origin"),
        BROWSER,
    ];
    let r = app.send(Method::POST, path, &h, body).await;
    jar.absorb(&r);
    r
}

/// The attributes of the `<input>` named `name`.
fn input<'a>(page: &'a str, name: &str) -> &'a str {
    between(page, &format!("<input id=\"{name}\" name=\"{name}\""), ">")
}

#[tokio::test]
async fn a_refused_sign_up_keeps_the_name_and_ties_the_error_to_its_field() {
    let app = App::with(OPEN).await;
    let mut jar = Jar::default();
    let form = get(&app, &mut jar, "/auth/signup").await;
    let token = between(&form.text, "name=\"_login\" value=\"", "\"").to_owned();
    let body = format!("user=alice&password=iloveyou1&confirm=iloveyou1&remember=1&_login={token}");
    let r = post_page(&app, &mut jar, "/auth/signup", &body).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        input(&r.text, "user").contains("value=\"alice\""),
        "{}",
        r.text
    );
    let password = input(&r.text, "password");
    assert!(password.contains("aria-invalid=\"true\""), "{password}");
    assert!(password.contains("aria-describedby=\"password-error password-hint\""));
    assert!(
        !password.contains("value="),
        "a password is never sent back"
    );
    let error = between(&r.text, "id=\"password-error\">", "<");
    assert!(error.contains("most common"), "{error}");
    assert!(r.text.contains("name=\"remember\" value=\"1\" checked"));
    assert!(!input(&r.text, "user").contains("aria-invalid"));

    let token = between(&r.text, "name=\"_login\" value=\"", "\"").to_owned();
    let body = format!(
        "user=alice&password=violet+kettle+harbour&confirm=violet+kettle+harbor&_login={token}"
    );
    let r = post_page(&app, &mut jar, "/auth/signup", &body).await;
    assert!(input(&r.text, "confirm").contains("aria-invalid=\"true\""));
    assert_eq!(
        between(&r.text, "id=\"confirm-error\">", "<"),
        "The two passwords differ."
    );
    sign_up(&app, &mut Jar::default(), "bob", PASSWORD).await;
    let token = between(&r.text, "name=\"_login\" value=\"", "\"").to_owned();
    let body = format!("user=BOB&password={PASSWORD}&confirm={PASSWORD}&_login={token}");
    let taken = post_page(&app, &mut jar, "/auth/signup", &body).await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert!(input(&taken.text, "user").contains("aria-invalid=\"true\""));
    assert!(input(&taken.text, "user").contains("value=\"BOB\""));
}

#[tokio::test]
async fn a_wrong_password_keeps_the_name_and_return_to() {
    let app = App::with(OPEN).await;
    sign_up(&app, &mut Jar::default(), "alice", PASSWORD).await;
    let mut jar = Jar::default();
    let form = get(&app, &mut jar, "/auth/login?return_to=%2Forders").await;
    let token = between(&form.text, "name=\"_login\" value=\"", "\"").to_owned();
    let body = format!("user=Alice&password=not+it+at+all&return_to=%2Forders&_login={token}");
    let r = post_page(&app, &mut jar, "/auth/login", &body).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(input(&r.text, "user").contains("value=\"Alice\""));
    assert_eq!(
        unescape(between(&r.text, "name=\"return_to\" value=\"", "\"")),
        "/orders"
    );
    assert!(
        r.text
            .contains("role=\"alert\">Wrong user name or password.<")
    );
}

#[tokio::test]
async fn an_expired_sign_in_form_is_shown_again_not_an_empty_403() {
    let app = App::with(OPEN).await;
    let mut jar = Jar::default();
    // No form cookie: it was lost, or is over an hour old.
    let body = "user=alice&password=correct+horse+battery&_login=stale&return_to=%2Forders";
    let r = post_page(&app, &mut jar, "/auth/login", body).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.text.contains("This form had expired"), "{}", r.text);
    assert!(
        !input(&r.text, "user").contains("value="),
        "a forged post is not echoed"
    );
    assert_eq!(
        unescape(between(&r.text, "name=\"return_to\" value=\"", "\"")),
        "/orders",
        "where it was going, once checked, is kept"
    );
    let token = between(&r.text, "name=\"_login\" value=\"", "\"");
    assert!(
        !token.is_empty() && jar.get("__Host-tessera-login").is_some(),
        "a fresh form"
    );
}

#[tokio::test]
async fn a_stale_tab_gets_a_page_not_json() {
    let app = App::with(OPEN).await;
    let mut jar = Jar::default();
    sign_up(&app, &mut jar, "alice", PASSWORD).await;
    let page = get(&app, &mut jar, "/auth/account").await;
    let csrf = csrf_of(&page.text);
    let mut stale = jar.clone();
    let out = post_form(&app, &mut jar, "/auth/logout", &format!("_csrf={csrf}")).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    // The other tab still shows the account page and its forms.
    let r = post_page(
        &app,
        &mut stale,
        "/auth/sessions/others/revoke",
        &format!("_csrf={csrf}"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.header("content-type").starts_with("text/html"),
        "{}",
        r.text
    );
    assert!(r.text.contains("<h1>You are signed out</h1>"), "{}", r.text);
    assert!(unescape(&r.text).contains("href=\"/auth/login\""));
    assert!(
        r.header("content-security-policy")
            .contains("default-src 'none'")
    );
    // A program asking for JSON still gets the problem document.
    let cookie = stale.header();
    let json = app
        .send(
            Method::POST,
            "/auth/sessions/others/revoke",
            &[
                ("cookie", &cookie),
                ("content-type", "application/x-www-form-urlencoded"),
                ("accept", "application/json"),
            ],
            &format!("_csrf={csrf}"),
        )
        .await;
    json.assert_problem(401, "unauthenticated");

    // An unknown device and a missing field are pages too.
    let mut jar = Jar::default();
    sign_in(&app, &mut jar, "alice", PASSWORD).await;
    let csrf = csrf_of(&get(&app, &mut jar, "/auth/account").await.text);
    let gone = post_page(
        &app,
        &mut jar,
        "/auth/sessions/ses_nothing/revoke",
        &format!("_csrf={csrf}"),
    )
    .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert!(gone.text.contains("<h1>Not found</h1>"), "{}", gone.text);
    let missing = post_page(
        &app,
        &mut jar,
        "/auth/account",
        &format!("_csrf={csrf}&new=x"),
    )
    .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert!(
        missing
            .text
            .contains("the form needs the fields current and new"),
        "{}",
        missing.text
    );
}

#[tokio::test]
async fn the_account_page_confirms_and_reports_what_was_done() {
    let app = App::with(OPEN).await;
    let mut laptop = Jar::default();
    sign_up(&app, &mut laptop, "alice", PASSWORD).await;
    let mut phone = Jar::default();
    sign_in(&app, &mut phone, "alice", PASSWORD).await;
    let page = get(&app, &mut laptop, "/auth/account").await;
    assert!(
        page.text
            .contains("<details class=\"confirm\"><summary>Sign out everywhere else</summary>")
    );
    assert!(
        page.text.contains("This signs out 1 other device."),
        "{}",
        page.text
    );
    assert!(page.text.contains("Yes, sign out 1 device<"));
    // Times: ISO in datetime for the script, UTC named in the text.
    let iso = between(&page.text, "<time datetime=\"", "\"");
    assert!(iso.ends_with('Z') && iso.contains('T'), "{iso}");
    assert!(between(&page.text, &format!("{iso}\">"), "<").ends_with(" UTC"));

    let activity = between(&page.text, "<ul class=\"events\">", "</ul>");
    assert_eq!(activity.matches("Signed in").count(), 2, "{activity}");
    assert!(
        !activity.contains("New session"),
        "a sign-in is one line: {activity}"
    );

    let csrf = csrf_of(&page.text);
    let r = post_form(
        &app,
        &mut laptop,
        "/auth/sessions/others/revoke",
        &format!("_csrf={csrf}"),
    )
    .await;
    assert_eq!(r.header("location"), "/auth/account?done=others");
    let page = get(&app, &mut laptop, "/auth/account?done=others").await;
    assert!(
        page.text
            .contains("role=\"status\">Every other device was signed out.<")
    );
    assert!(page.text.contains("No other device is signed in."));
    // Only fixed words: the query never puts text on the page.
    let odd = get(&app, &mut laptop, "/auth/account?done=%3Cb%3Ehi").await;
    assert!(!odd.text.contains("role=\"status\"") && !odd.text.contains("<b>hi"));

    // The password form posts to the page's own address, so its errors show there.
    assert!(
        page.text
            .contains("<form method=\"post\" action=\"/auth/account\">")
    );
    let weak = format!("_csrf={csrf}&current={PASSWORD}&new=password123");
    let r = post_page(&app, &mut laptop, "/auth/account", &weak).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(input(&r.text, "new").contains("aria-invalid=\"true\""));
    let wrong = format!("_csrf={csrf}&current=not+the+one&new=violet+kettle+harbour");
    let r = post_page(&app, &mut laptop, "/auth/account", &wrong).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        between(&r.text, "id=\"current-error\">", "<"),
        "The current password is wrong."
    );
    let right = format!("_csrf={csrf}&current={PASSWORD}&new=violet+kettle+harbour");
    let r = post_page(&app, &mut laptop, "/auth/account", &right).await;
    assert_eq!(r.header("location"), "/auth/account?done=password");
}

#[tokio::test]
async fn an_operator_brands_the_pages_and_replaces_templates() {
    let dir = temp_dir();
    let logo = dir.join("logo.svg");
    std::fs::write(&logo, "<svg xmlns=\"http://www.w3.org/2000/svg\"/>").unwrap();
    let pages = dir.join("pages");
    std::fs::create_dir_all(&pages).unwrap();
    std::fs::write(
        pages.join("error.html"),
        "{% extends \"base.html\" %}{% block title %}Fehler{% endblock %}\
         {% block main %}<h1>Fehler {{ status }}</h1>{% endblock %}",
    )
    .unwrap();
    let config = format!(
        "product_name = \"Acme <Sign-in>\"\naccent_color = \"#0f766e\"\nlogo = {:?}\npages_dir = {:?}\n{OPEN}",
        logo.display().to_string(),
        pages.display().to_string()
    );
    let app = App::with(&config).await;
    let page = get(&app, &mut Jar::default(), "/auth/login").await;
    assert!(
        page.text
            .contains("<title>Sign in · Acme &lt;Sign-in&gt;</title>"),
        "{}",
        page.text
    );
    assert!(
        page.text.contains("<img src=\"/auth/logo\" alt=\"\">"),
        "{}",
        page.text
    );
    let css = get(&app, &mut Jar::default(), "/auth/style.css").await;
    assert!(css.text.contains("--accent: #0f766e"), "{}", css.text);
    let logo = get(&app, &mut Jar::default(), "/auth/logo").await;
    assert_eq!(logo.header("content-type"), "image/svg+xml");
    let r = app
        .send(Method::GET, "/auth/sessions", &[BROWSER], "")
        .await;
    assert!(r.text.contains("<h1>Fehler 401</h1>"), "{}", r.text);

    let unknown = app.send(Method::GET, "/auth/nothing", &[BROWSER], "").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(
        unknown.text.contains("<h1>Fehler 404</h1>"),
        "{}",
        unknown.text
    );
    assert!(
        unknown
            .header("content-security-policy")
            .contains("script-src 'self'")
    );
    let api = app.send(Method::GET, "/v1/nothing", &[BROWSER], "").await;
    api.assert_problem(404, "not-found");

    let plain = App::with(OPEN).await;
    let none = get(&plain, &mut Jar::default(), "/auth/logo").await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
}

/// Why the server would not start with `toml`.
async fn refused(toml: &str) -> String {
    let data = temp_dir().join("data");
    let toml = format!("data_dir = {:?}\n{toml}", data.display().to_string());
    match tessera_server::Config::from_toml(&toml) {
        Err(e) => e,
        Ok(config) => match tessera_server::build_state(config).await {
            Ok(_) => panic!("started with {toml}"),
            Err(e) => format!("{e:#}"),
        },
    }
}

#[tokio::test]
async fn branding_mistakes_stop_the_server_with_the_reason() {
    let pale = refused("accent_color = \"#fde68a\"").await;
    assert!(pale.contains("4.5:1"), "{pale}");
    let strength = refused("password_min_strength = 5").await;
    assert!(strength.contains("0 (length only) to 4"), "{strength}");
    let pages = temp_dir().join("pages");
    std::fs::create_dir_all(&pages).unwrap();
    std::fs::write(pages.join("account.html"), "{% for %}").unwrap();
    let broken = refused(&format!("pages_dir = {:?}", pages.display().to_string())).await;
    assert!(broken.contains("account.html"), "{broken}");
    let missing = refused("logo = \"/nonexistent/logo.png\"").await;
    assert!(missing.contains("/nonexistent/logo.png"), "{missing}");
}
