//! What goes into a new session and what comes out of creation and refresh, with the bounds
//! on caller-supplied values.

use serde_json::{Map, Value};

use crate::{Device, Error, RefreshToken, Session, Timestamp};

/// Longest accepted user id, in bytes.
const MAX_USER_ID: usize = 256;
/// Largest accepted application claims, serialised (they ride in every access token).
const MAX_CLAIMS_BYTES: usize = 2048;
/// Largest accepted application data, serialised.
const MAX_DATA_BYTES: usize = 64 * 1024;

/// What a new session starts with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewSession {
    /// The authenticated user.
    pub user_id: String,
    /// Application claims copied into every access token (e.g. `role`).
    pub claims: Map<String, Value>,
    /// Application data kept server-side.
    pub data: Value,
    /// Device metadata.
    pub device: Device,
}

impl NewSession {
    /// A session for `user_id` with no claims, data or device details.
    pub fn for_user(user_id: impl Into<String>) -> Self {
        Self {
            user_id: user_id.into(),
            ..Self::default()
        }
    }
}

/// A signed access token. `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub(super) token: String,
    /// When it expires.
    pub expires_at: Timestamp,
    /// Its unique id.
    pub jti: String,
}

impl AccessToken {
    /// The compact JWS to hand to the client. Never log it.
    pub fn expose(&self) -> &str {
        &self.token
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("jti", &self.jti)
            .finish_non_exhaustive()
    }
}

/// Tokens issued at session creation or refresh.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The session as it stands after the operation.
    pub session: Session,
    /// A fresh access token.
    pub access_token: AccessToken,
    /// The refresh token to use next.
    pub refresh_token: RefreshToken,
}

pub(super) fn validate_new(new: &NewSession) -> Result<(), Error> {
    validate_user_id(&new.user_id)?;
    validate_claims(&new.claims)?;
    validate_data(&new.data)
}

pub(super) fn validate_user_id(user_id: &str) -> Result<(), Error> {
    if user_id.is_empty() || user_id.len() > MAX_USER_ID || user_id.chars().any(char::is_control) {
        return Err(Error::InvalidInput(
            "user_id must be 1 to 256 bytes without control characters",
        ));
    }
    Ok(())
}

pub(super) fn validate_claims(claims: &Map<String, Value>) -> Result<(), Error> {
    if claims
        .keys()
        .any(|k| crate::jwt::REGISTERED_CLAIMS.contains(&k.as_str()))
    {
        return Err(Error::InvalidInput(
            "claims may not use registered claim names",
        ));
    }
    if serde_json::to_vec(claims).map_or(usize::MAX, |v| v.len()) > MAX_CLAIMS_BYTES {
        return Err(Error::InvalidInput("claims exceed 2 KiB"));
    }
    Ok(())
}

pub(super) fn validate_data(data: &Value) -> Result<(), Error> {
    if serde_json::to_vec(data).map_or(usize::MAX, |v| v.len()) > MAX_DATA_BYTES {
        return Err(Error::InvalidInput("data exceeds 64 KiB"));
    }
    Ok(())
}
