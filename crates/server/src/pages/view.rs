//! The pages' templates (minijinja, HTML-escaped by default), their stylesheet and logo, and
//! the branding around them: built in, each overridable from `pages_dir`, every page rendered
//! once at start-up so a broken override stops the server with its file and line instead of
//! failing a visitor.

use std::collections::BTreeMap;
use std::path::Path;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use crate::config::Branding;

/// The templates Tessera renders, each built in and each replaceable by a file of the same
/// name in `pages_dir`.
const TEMPLATES: [(&str, &str); 6] = [
    ("base.html", include_str!("templates/base.html")),
    ("macros.html", include_str!("templates/macros.html")),
    ("sign_in.html", include_str!("templates/sign_in.html")),
    ("reset.html", include_str!("templates/reset.html")),
    ("account.html", include_str!("templates/account.html")),
    ("error.html", include_str!("templates/error.html")),
];
const STYLE: (&str, &str) = ("style.css", include_str!("style.css"));

/// Largest stylesheet or template read from `pages_dir`, and largest logo.
const MAX_FILE: u64 = 256 * 1024;

/// What people are told about a new password, under every field that sets one.
pub const PASSWORD_HINT: &str = "At least 8 characters. A few unrelated words make a strong one; \
                                 common and leaked passwords are refused.";

/// A message for a person: a stable `code` (a translated template can switch on it) and the
/// English `text`.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub code: &'static str,
    pub text: String,
}

impl Message {
    pub fn new(code: &'static str, text: impl Into<String>) -> Self {
        Self {
            code,
            text: text.into(),
        }
    }
}

/// A form's errors by field name.
pub type FieldErrors = BTreeMap<&'static str, Message>;

/// The rendered pages and their assets.
pub struct Views {
    env: Environment<'static>,
    style: String,
    logo: Option<(Vec<u8>, &'static str)>,
}

impl Views {
    /// The templates, with `branding`'s overrides, each page rendered once as a check.
    ///
    /// # Errors
    /// An unreadable or unknown file in `pages_dir`, a template that does not render (with its
    /// file and line), an unreadable logo.
    pub fn load(branding: &Branding) -> Result<Self, String> {
        let mut env = Environment::new();
        // A misspelt variable in an override fails the start-up check below, not a visitor.
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        let mut style = STYLE.1.to_owned();
        for (name, source) in TEMPLATES {
            add(&mut env, name, source.to_owned())?;
        }
        if let Some(dir) = &branding.pages_dir {
            for (name, text) in overrides(dir)? {
                if name == STYLE.0 {
                    style = text;
                } else {
                    add(&mut env, &name, text)?;
                }
            }
        }
        if let Some(accent) = &branding.accent {
            style.push_str(&accent.css());
        }
        let logo = branding.logo.as_deref().map(read_logo).transpose()?;
        env.add_global("product", branding.product_name.clone());
        env.add_global("logo", logo.is_some());
        let views = Self { env, style, logo };
        for (name, sample) in samples() {
            views
                .render(name, &sample)
                .map_err(|e| format!("the page {name} does not render: {e:#}"))?;
        }
        Ok(views)
    }

    fn render(&self, name: &str, context: &impl Serialize) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(context)
    }

    /// The page `name` with `context`, as `status`. A template that fails here (it rendered at
    /// start-up, so only on data it never saw) is logged and answered 500.
    pub fn page(&self, status: StatusCode, name: &str, context: &impl Serialize) -> Response {
        match self.render(name, context) {
            Ok(html) => (status, Html(html)).into_response(),
            Err(e) => {
                tracing::error!(page = name, error = %format!("{e:#}"), "a page did not render");
                crate::http::ApiError::Internal.into_response()
            }
        }
    }

    /// `GET /auth/style.css`.
    pub fn style(&self) -> Response {
        asset(self.style.clone().into_bytes(), "text/css; charset=utf-8")
    }

    /// `GET /auth/logo`: 404 without one.
    pub fn logo(&self) -> Response {
        match &self.logo {
            Some((bytes, kind)) => asset(bytes.clone(), kind),
            None => crate::http::ApiError::NotFound.into_response(),
        }
    }
}

/// `GET /auth/pages.js`.
pub fn script() -> Response {
    asset(
        include_bytes!("pages.js").to_vec(),
        "text/javascript; charset=utf-8",
    )
}

fn asset(bytes: Vec<u8>, kind: &'static str) -> Response {
    let mut response = bytes.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

fn add(env: &mut Environment<'static>, name: &str, source: String) -> Result<(), String> {
    env.add_template_owned(name.to_owned(), source)
        .map_err(|e| format!("the template {name} does not parse: {e:#}"))
}

/// The `.html` and `.css` files of `dir`, each of which must replace a built-in one.
fn overrides(dir: &Path) -> Result<Vec<(String, String)>, String> {
    let read = |e: std::io::Error| format!("pages_dir {}: {e}", dir.display());
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read)? {
        let path = entry.map_err(read)?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !(name.ends_with(".html") || name.ends_with(".css")) {
            continue;
        }
        let known = TEMPLATES.iter().map(|(n, _)| *n).chain([STYLE.0]);
        if !known.clone().any(|n| n == name) {
            let names: Vec<&str> = known.collect();
            return Err(format!(
                "pages_dir: {} replaces no page; the files it may hold are {}",
                path.display(),
                names.join(", ")
            ));
        }
        found.push((name.to_owned(), read_text(&path)?));
    }
    Ok(found)
}

fn read_text(path: &Path) -> Result<String, String> {
    let bytes = read_small(path)?;
    String::from_utf8(bytes).map_err(|_| format!("{} is not UTF-8 text", path.display()))
}

fn read_small(path: &Path) -> Result<Vec<u8>, String> {
    let len = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    if len > MAX_FILE {
        return Err(format!(
            "{} is {len} bytes; the most is {MAX_FILE}",
            path.display()
        ));
    }
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The logo's bytes and media type, by extension.
fn read_logo(path: &Path) -> Result<(Vec<u8>, &'static str), String> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let kind = match ext.as_deref() {
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("webp") => "image/webp",
        Some("jpg" | "jpeg") => "image/jpeg",
        _ => {
            return Err(format!(
                "logo {}: use an .svg, .png, .webp or .jpg file",
                path.display()
            ));
        }
    };
    Ok((read_small(path)?, kind))
}

/// One context per page with every optional part present, for the start-up check.
fn samples() -> Vec<(&'static str, minijinja::Value)> {
    use super::account::{AccountPage, DeviceView, EventView};
    use super::credentials::{SignInPage, Values};
    use super::errors::ErrorPage;
    use super::reset::ResetPage;
    let time = When::at(tessera::Timestamp::from_secs(1_800_000_000));
    let errors = |fields: &[&'static str]| -> FieldErrors {
        fields
            .iter()
            .map(|f| (*f, Message::new("sample", "A sample error.")))
            .collect()
    };
    let alert = Some(Message::new("sample", "A sample alert."));
    let sign_in = |mode| SignInPage {
        mode,
        signed_in_as: Some("alice".into()),
        alert: alert.clone(),
        login_token: "token".into(),
        session_csrf: Some("csrf".into()),
        return_to: Some("/next".into()),
        values: Values {
            user: "alice".into(),
            remember: true,
        },
        errors: errors(&["user", "password", "confirm"]),
        password_hint: PASSWORD_HINT,
        signup_open: true,
    };
    let device = |current| DeviceView {
        sid: "sid".into(),
        summary: "Chrome 131 on Linux".into(),
        user_agent: "Mozilla/5.0".into(),
        ip: "192.0.2.1".into(),
        created: time.clone(),
        last_seen: time.clone(),
        current,
    };
    fn v(context: impl Serialize) -> minijinja::Value {
        minijinja::Value::from_serialize(context)
    }
    vec![
        ("sign_in.html", v(sign_in("login"))),
        ("sign_in.html", v(sign_in("signup"))),
        (
            "reset.html",
            v(ResetPage {
                login: "alice".into(),
                token: "token".into(),
                login_token: "token".into(),
                errors: errors(&["password", "confirm"]),
                password_hint: PASSWORD_HINT,
            }),
        ),
        (
            "account.html",
            v(AccountPage {
                login: "alice".into(),
                csrf: "csrf".into(),
                devices: vec![device(true), device(false)],
                others: 1,
                events: vec![EventView {
                    label: "Signed in".into(),
                    at: time.clone(),
                }],
                alert,
                success: Some("Done.".into()),
                errors: errors(&["current", "new"]),
                password_hint: PASSWORD_HINT,
            }),
        ),
        (
            "error.html",
            v(ErrorPage {
                status: 429,
                title: "Too many attempts".into(),
                detail: Some("Wait.".into()),
                retry_after: Some("1 minute".into()),
                next_href: "/auth/login",
                next_label: "Sign in",
            }),
        ),
    ]
}

/// A time for a page: ISO 8601 for `<time datetime>` and the script, UTC text without it.
#[derive(Debug, Clone, Serialize)]
pub struct When {
    pub iso: String,
    pub text: String,
}

impl When {
    pub fn at(t: tessera::Timestamp) -> Self {
        let date = crate::commands::date(t);
        Self {
            iso: format!("{}Z", date.replace(' ', "T")),
            text: format!("{} UTC", &date[..date.len().saturating_sub(3)]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn branding() -> Branding {
        Branding {
            pages_dir: None,
            product_name: "Acme <Login>".into(),
            logo: None,
            accent: None,
        }
    }

    #[test]
    fn built_in_pages_render_escaped() {
        let views = Views::load(&branding()).unwrap();
        let (_, sample) = &samples()[0];
        let html = views.render("sign_in.html", sample).unwrap();
        assert!(
            html.contains("<title>Sign in · Acme &lt;Login&gt;</title>"),
            "{html}"
        );
        assert!(html.contains("aria-invalid=\"true\""));
        assert!(html.contains("aria-describedby=\"user-error\""));
        assert!(!html.contains("style=\""), "the CSP forbids inline style");
    }

    #[test]
    fn overrides_replace_built_ins_and_are_checked_at_start() {
        let dir = std::env::temp_dir().join(format!("tessera-pages-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let with = |name: &str, text: &str| {
            for e in std::fs::read_dir(&dir).unwrap() {
                std::fs::remove_file(e.unwrap().path()).unwrap();
            }
            std::fs::write(dir.join(name), text).unwrap();
            Views::load(&Branding {
                pages_dir: Some(dir.clone()),
                ..branding()
            })
        };
        let ok = with("error.html", "<p>{{ title }} ({{ status }})</p>").unwrap();
        let (_, sample) = samples().pop().unwrap();
        assert_eq!(
            ok.render("error.html", &sample).unwrap(),
            "<p>Too many attempts (429)</p>"
        );
        let css = with("style.css", "body { color: red }").unwrap();
        assert_eq!(css.style, "body { color: red }");
        let typo = with("error.html", "{{ titel.upper() }}").err().unwrap();
        assert!(typo.contains("error.html"), "{typo}");
        let broken = with("account.html", "{% if %}").err().unwrap();
        assert!(broken.contains("account.html does not parse"), "{broken}");
        let unknown = with("login.html", "x").err().unwrap();
        assert!(unknown.contains("replaces no page"), "{unknown}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn times_name_their_zone() {
        let t = When::at(tessera::Timestamp::from_secs(0));
        assert_eq!(t.iso, "1970-01-01T00:00:00Z");
        assert_eq!(t.text, "1970-01-01 00:00 UTC");
    }
}
