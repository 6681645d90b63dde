//! The built-in sign-in and account pages (`/`, `/auth/*`) and their JSON equivalents for
//! single-page apps, all on the same mechanisms as any tessera-axum application: the
//! `__Host-` session cookie, session-bound CSRF tokens, a signed double-submit token for the
//! pre-session forms, Argon2id passwords hashed off the runtime, brute-force throttling.

mod account;
mod auth;
mod credentials;
mod devices;
mod errors;
mod password_change;
mod passwords;
mod reset;
mod spa;
mod view;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{Redirect, Response};
use axum::routing::{delete, get, post};

pub use errors::unrouted;
pub use passwords::PasswordQueue;
pub use view::Views;

use tessera::store::User;
use tessera::{AccountId, Session};

use crate::state::AppState;

/// The built-in account a browser session belongs to. `None` for a session whose user is no
/// account (one made before accounts had ids): the pages treat it as signed out.
///
/// # Errors
/// Store errors.
pub(crate) async fn account(state: &AppState, s: &Session) -> Result<Option<User>, tessera::Error> {
    let Ok(id) = s.user_id.parse::<AccountId>() else {
        return Ok(None);
    };
    state.manager.user(&id).await
}

/// [`account`], with a store failure read as "no account".
pub(crate) async fn account_of(state: &AppState, s: &Session) -> Option<User> {
    account(state, s).await.ok().flatten()
}

/// 503 with `Retry-After`, problem type `unavailable`: the store or the password queue is busy.
pub(crate) fn unavailable() -> Response {
    axum::response::IntoResponse::into_response(crate::http::ApiError::Unavailable)
}

/// 401, problem type `unauthenticated`, as the session layer answers a request without one.
pub(crate) fn unauthenticated() -> Response {
    axum::response::IntoResponse::into_response(tessera_axum::Rejection::Unauthenticated)
}

/// 403, problem type `forbidden`, as the session layer answers a cross-site request.
pub(crate) fn forbidden() -> Response {
    axum::response::IntoResponse::into_response(tessera_axum::Rejection::Forbidden)
}

/// Our own stylesheet, script and images only (no inline script or style), nothing framed,
/// forms only to ourselves.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The pages and `/auth` JSON routes, behind the session layer.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/auth/account") }))
        .route(
            "/auth/style.css",
            get(|State(s): State<AppState>| async move { s.views.style() }),
        )
        .route(
            "/auth/logo",
            get(|State(s): State<AppState>| async move { s.views.logo() }),
        )
        .route("/auth/pages.js", get(|| async { view::script() }))
        .route("/auth/login", get(auth::login_page).post(auth::login))
        .route("/auth/signup", get(auth::signup_page).post(auth::signup))
        .route("/auth/reset", get(reset::page_for).post(reset::reset))
        .route("/auth/logout", post(auth::logout))
        .route(
            "/auth/account",
            get(account::show).post(account::change_password),
        )
        .route("/auth/sessions", get(spa::sessions))
        .route("/auth/sessions/others", delete(spa::revoke_others))
        .route("/auth/sessions/{sid}", delete(spa::revoke_one))
        .route("/auth/sessions/others/revoke", post(account::revoke_others))
        .route("/auth/sessions/{sid}/revoke", post(account::revoke_one))
        .route("/auth/password", post(account::change_password))
        .route("/auth/me", get(spa::me))
        .route("/auth/csrf", get(spa::csrf))
        .route("/auth/refresh", post(spa::refresh))
        // Outermost last: a refusal reaching a person (the session layer's included) becomes a
        // page, and every answer gets the security headers. Unknown addresses under /auth are
        // the app-wide fallbacks' ([`unrouted`]).
        .layer(state.tessera.layer())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            errors::html_errors,
        ))
        .layer(axum::middleware::map_response(security_headers))
}

pub(crate) async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}
