//! The audit trail: typed security events, written to the store and handed to an optional hook
//! (the server logs them on the `tessera::audit` target). Events carry the session id and the
//! user id, never a secret.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{RevokeReason, SessionId, Timestamp};

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditKind {
    /// A session was created (a sign-in).
    SessionCreated,
    /// A refresh token was rotated.
    SessionRefreshed,
    /// A superseded refresh token was replayed: the session was revoked as stolen.
    RefreshReuseDetected {
        /// `previous` (the token just before the current one, after the grace window) or
        /// `older` (proven genuine by walking the chain).
        class: String,
    },
    /// A session was revoked.
    SessionRevoked {
        /// Why.
        reason: RevokeReason,
    },
    /// The signing key changed.
    KeyRotated {
        /// The new active key.
        kid: String,
    },
    /// A key was withdrawn at once (`tessera keys withdraw`): its tokens no longer verify.
    KeyWithdrawn {
        /// Its key id.
        kid: String,
    },
    /// Another system's public key is accepted until `until` (`tessera keys import`).
    KeyTrusted {
        /// Its key id.
        kid: String,
        /// When it stops being accepted.
        until: Timestamp,
    },
    /// A password sign-in succeeded.
    LoginSucceeded,
    /// A password sign-in failed (recorded for existing accounts only).
    LoginFailed,
    /// The account's password was changed (every other session was revoked).
    PasswordChanged,
    /// A change of password was refused: the current password given was wrong.
    PasswordChangeFailed,
    /// A one-time password-reset link was made for the account (`tessera users reset-link`).
    ResetLinkIssued,
    /// An account was created (sign-up, or `tessera users create`).
    AccountCreated,
    /// An account was deleted (`tessera users delete`), its sessions ended first.
    AccountDeleted,
    /// A named API key was created.
    ApiKeyCreated {
        /// Its name.
        name: String,
        /// Its scope.
        scope: crate::ApiScope,
    },
    /// A named API key was revoked.
    ApiKeyRevoked {
        /// Its name.
        name: String,
    },
    /// A request was refused by a rate limit.
    RateLimited {
        /// The route class.
        class: String,
        /// What the limit counts by.
        by: String,
    },
}

/// One audit event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When.
    pub at: Timestamp,
    /// The user concerned, if known.
    pub user_id: Option<String>,
    /// The session concerned, if any.
    pub sid: Option<SessionId>,
    /// The client's address, as resolved through trusted proxies, when the event happened in
    /// a request (see [`AuditOrigin`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// What happened.
    #[serde(flatten)]
    pub kind: AuditKind,
}

/// A stored event with its position (ids increase with time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// The event's id in the store.
    pub id: u64,
    /// The event.
    pub event: AuditEvent,
}

/// Called with every event the manager records, after it is stored.
#[derive(Clone)]
pub struct AuditHook(Arc<dyn Fn(&AuditEvent) + Send + Sync>);

impl AuditHook {
    /// A hook calling `f`.
    pub fn new(f: impl Fn(&AuditEvent) + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    pub(crate) fn call(&self, event: &AuditEvent) {
        (self.0)(event);
    }
}

/// Tells the manager where the request it is serving comes from, so every event it records
/// carries the client's address. The core does no I/O and knows no requests: the server
/// answers from a task-local set by its request middleware.
#[derive(Clone)]
pub struct AuditOrigin(Arc<dyn Fn() -> Option<String> + Send + Sync>);

impl AuditOrigin {
    /// An origin answering with `f`.
    pub fn new(f: impl Fn() -> Option<String> + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    pub(crate) fn ip(&self) -> Option<String> {
        (self.0)()
    }
}

impl fmt::Debug for AuditOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditOrigin(..)")
    }
}

impl fmt::Debug for AuditHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditHook(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_flat_with_a_type_tag() {
        let e = AuditEvent {
            at: Timestamp::from_secs(1),
            user_id: Some("alice".into()),
            ip: None,
            sid: None,
            kind: AuditKind::SessionRevoked {
                reason: RevokeReason::Logout,
            },
        };
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["type"], "session_revoked");
        assert_eq!(json["reason"], "logout");
        assert_eq!(serde_json::from_value::<AuditEvent>(json).unwrap(), e);
    }
}
