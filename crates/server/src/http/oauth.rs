//! RFC 7009 token revocation and RFC 7662 token introspection, for refresh tokens (`tsr_…`)
//! and access tokens (JWTs). Form-encoded, authenticated with the API key as the client.

use axum::extract::{Form, State};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tessera::{Error, StoreErrorKind};

use super::auth::{require_introspect_client, require_revoke_client};
use super::error::OAuthError;
use super::views::no_store;
use crate::state::AppState;

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/oauth2/revoke", post(revoke))
        .route_layer(from_fn_with_state(state.clone(), require_revoke_client))
        .merge(
            Router::new()
                .route("/oauth2/introspect", post(introspect))
                .route_layer(from_fn_with_state(state.clone(), require_introspect_client)),
        )
}

/// Both endpoints' parameters. Unknown parameters are ignored, as RFC 6749 §3.1 requires.
#[derive(Debug, Deserialize)]
struct TokenForm {
    token: Option<String>,
    #[allow(
        dead_code,
        reason = "accepted per RFC 7009; the token's own prefix decides"
    )]
    token_type_hint: Option<String>,
}

fn token(
    form: Result<Form<TokenForm>, axum::extract::rejection::FormRejection>,
) -> Result<String, OAuthError> {
    let Form(form) = form.map_err(|_| OAuthError::InvalidRequest)?;
    form.token
        .filter(|t| !t.is_empty())
        .ok_or(OAuthError::InvalidRequest)
}

/// Whether a failure is a store outage (the client should retry) rather than a bad token.
fn is_outage(e: &Error) -> bool {
    matches!(e, Error::Store(s) if s.kind() == StoreErrorKind::Unavailable)
}

/// A failure while acting on a genuine token.
fn failed(e: &Error) -> OAuthError {
    if is_outage(e) {
        return OAuthError::Unavailable;
    }
    tracing::error!(error = %e, "OAuth endpoint failed");
    OAuthError::ServerError
}

fn is_refresh_token(token: &str) -> bool {
    token.starts_with("tsr_")
}

async fn revoke(
    State(state): State<AppState>,
    form: Result<Form<TokenForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, OAuthError> {
    let token = token(form)?;
    let m = &state.manager;
    if is_refresh_token(&token) {
        // The current token, or a superseded one (a replay after the grace window is taken
        // as theft, as a refresh with it would be): either ends the session.
        match m.revoke_refresh(&token).await {
            Ok(_) => {}
            Err(e) if is_outage(&e) => return Err(OAuthError::Unavailable),
            Err(e) => return Err(failed(&e)),
        }
    } else {
        match m.verify(&token) {
            Ok(claims) => {
                m.revoke_access_token(&claims)
                    .await
                    .map_err(|e| failed(&e))?;
                tracing::info!(target: "tessera::audit", sid = %claims.sid, "access token revoked by RFC 7009");
            }
            Err(Error::InvalidToken(tessera::TokenRejection::RevocationStale)) => {
                return Err(OAuthError::Unavailable);
            }
            Err(_) => {}
        }
    }
    // RFC 7009 §2.2: an invalid or unknown token is not an error.
    Ok(ok())
}

fn ok() -> Response {
    let mut response = ().into_response();
    no_store(&mut response);
    response
}

async fn introspect(
    State(state): State<AppState>,
    form: Result<Form<TokenForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, OAuthError> {
    let token = token(form)?;
    let m = &state.manager;
    let body = if is_refresh_token(&token) {
        match m.inspect_refresh(&token).await {
            Ok(s) => json!({
                "active": true,
                "sub": s.user_id,
                "sid": s.sid.to_string(),
                "exp": s.expires_at().as_secs(),
                "iat": s.refresh.rotated_at.as_secs(),
            }),
            Err(e) if is_outage(&e) => return Err(OAuthError::Unavailable),
            Err(_) => inactive(),
        }
    } else {
        match m.verify(&token) {
            // RFC 7662 has no "unknown": answer 503 rather than an `active: false` that would
            // end a session the outage may not have touched.
            Err(Error::InvalidToken(tessera::TokenRejection::RevocationStale)) => {
                return Err(OAuthError::Unavailable);
            }
            Ok(claims) => {
                let mut v = claims.to_json();
                v["active"] = true.into();
                // RFC 7662 §2.2: the OAuth 2.0 token type (RFC 6749 §7.1) of an access token.
                v["token_type"] = "Bearer".into();
                v
            }
            Err(_) => inactive(),
        }
    };
    let mut response = Json(body).into_response();
    no_store(&mut response);
    Ok(response)
}

fn inactive() -> Value {
    json!({ "active": false })
}
