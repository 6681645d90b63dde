//! API-key authentication for backend routes: `Authorization: Bearer tsk_…`, or HTTP Basic
//! with the key's name as user and the key as password (RFC 6749 §2.3.1 client
//! authentication, which RFC 7009 and RFC 7662 clients send). Each route needs a scope.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tessera::{ApiKey, ApiScope};
use tessera_axum::bearer_token;

use super::error::{ApiError, OAuthError};
use crate::api_keys::{Caller, Stale};
use crate::state::AppState;

/// The key (and, with Basic, the client id it claims) from the one `Authorization` header.
fn credentials(headers: &HeaderMap) -> Option<(ApiKey, Option<String>)> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return None; // none, or ambiguous duplicates
    };
    let value = value.to_str().ok()?;
    if let Some(token) = bearer_token(value) {
        return Some((ApiKey::parse(token).ok()?, None));
    }
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (client_id, secret) = decoded.split_once(':')?;
    Some((ApiKey::parse(secret).ok()?, Some(client_id.to_owned())))
}

/// The caller, if it presents a key live on every node's feed (of whatever scope).
async fn caller(state: &AppState, headers: &HeaderMap) -> Result<Option<Caller>, Stale> {
    let Some((key, client_id)) = credentials(headers) else {
        return Ok(None);
    };
    state
        .api_keys
        .authenticate(&state.manager, &key, client_id.as_deref())
        .await
}

/// A missing or wrong key is 401; a valid key of too narrow a scope is 403 naming the scope
/// needed (RFC 6750 §3.1), so its holder knows the key is fine and the scope is not.
async fn api(state: AppState, req: Request, next: Next, needed: ApiScope) -> Response {
    match caller(&state, req.headers()).await {
        Ok(Some(c)) if c.scope.allows(needed) => next.run(req).await,
        Err(Stale) => ApiError::Unavailable.into_response(),
        Ok(Some(c)) => {
            let (key, scope) = (c.name.as_str(), c.scope.as_str());
            tracing::info!(
                key,
                scope,
                needed = needed.as_str(),
                "API key of too narrow a scope"
            );
            ApiError::InsufficientScope(needed).into_response()
        }
        Ok(None) => {
            tracing::info!(scope = needed.as_str(), "API key missing or wrong");
            ApiError::Unauthorized.into_response()
        }
    }
}

/// RFC 6749 clients: every failure is `invalid_client`.
async fn oauth(state: AppState, req: Request, next: Next, needed: ApiScope) -> Response {
    let caller = caller(&state, req.headers()).await;
    match caller.map(|c| c.filter(|c| c.scope.allows(needed))) {
        Ok(Some(_)) => next.run(req).await,
        Err(Stale) => OAuthError::Unavailable.into_response(),
        Ok(None) => {
            tracing::info!(
                scope = needed.as_str(),
                "OAuth client authentication failed"
            );
            OAuthError::InvalidClient.into_response()
        }
    }
}

/// Backend routes that mint, change or read sessions: a `sessions` key (or `admin`).
pub async fn require_sessions(State(state): State<AppState>, req: Request, next: Next) -> Response {
    api(state, req, next, ApiScope::Sessions).await
}

/// Managing API keys: an `admin` key.
pub async fn require_admin(State(state): State<AppState>, req: Request, next: Next) -> Response {
    api(state, req, next, ApiScope::Admin).await
}

/// Checking tokens and following logouts: a `verify` key (or `sessions`, or `admin`).
pub async fn require_verify(State(state): State<AppState>, req: Request, next: Next) -> Response {
    api(state, req, next, ApiScope::Verify).await
}

/// `/metrics`: a `metrics` key (or `admin`).
pub async fn require_metrics(State(state): State<AppState>, req: Request, next: Next) -> Response {
    api(state, req, next, ApiScope::Metrics).await
}

/// RFC 7662 introspection: a `verify` key; an RFC 6749 `invalid_client` body on failure.
pub async fn require_introspect_client(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    oauth(state, req, next, ApiScope::Verify).await
}

/// RFC 7009 revocation: a `sessions` key (or `admin`); an RFC 6749 `invalid_client` body on
/// failure.
pub async fn require_revoke_client(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    oauth(state, req, next, ApiScope::Sessions).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn bearer_and_basic_credentials_parse_and_nothing_else_does() {
        let key = ApiKey::generate().unwrap();
        let text = key.expose();
        let (got, id) = credentials(&headers(&[&format!("Bearer {text}")])).unwrap();
        assert!(got.hash().ct_eq(&key.hash()) && id.is_none());
        let basic = STANDARD.encode(format!("orders:{text}"));
        let (got, id) = credentials(&headers(&[&format!("Basic {basic}")])).unwrap();
        assert!(got.hash().ct_eq(&key.hash()));
        assert_eq!(id.as_deref(), Some("orders"));
        for bad in [
            String::new(),
            format!("Token {text}"),
            format!("Basic {}", STANDARD.encode(text.as_bytes())),
            format!("Basic {}", STANDARD.encode(format!("orders:{text}x"))),
            "Basic !!!".to_owned(),
            format!("Bearer {}", &text[..text.len() - 1]),
        ] {
            assert!(credentials(&headers(&[&bad])).is_none(), "{bad}");
        }
        let bearer = format!("Bearer {text}");
        assert!(
            credentials(&headers(&[&bearer, &bearer])).is_none(),
            "duplicates"
        );
    }
}
