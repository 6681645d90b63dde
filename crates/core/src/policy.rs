//! Session lifetimes and limits, validated once.

use std::time::Duration;

use crate::Error;

/// What to do when a user already has the maximum number of live sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnLimit {
    /// Refuse the new session.
    Deny,
    /// Revoke the user's oldest live session to make room.
    EvictOldest,
}

/// A cap on live sessions per user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimit {
    /// Most live sessions a user may hold.
    pub max: usize,
    /// What happens at the cap.
    pub on_limit: OnLimit,
}

/// Lifetimes and limits of sessions and their tokens. Build with [`SessionPolicy::default`] and
/// adjust fields, then [`SessionPolicy::validate`] (the manager does so at construction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Access-token lifetime before jitter (default 10 minutes).
    pub access_ttl: Duration,
    /// Up to this much is randomly taken off each access token's lifetime, so a fleet's
    /// refreshes do not align (default 1 minute).
    pub access_ttl_jitter: Duration,
    /// A session unused this long expires (default 7 days); slides on use.
    pub idle_timeout: Duration,
    /// A session ends this long after creation whatever happens (default 30 days).
    pub absolute_timeout: Duration,
    /// A superseded refresh token is still honoured this long after rotation, returning the same
    /// successor: covers two tabs or a lost response (default 10 s).
    pub refresh_grace: Duration,
    /// At most one activity write per session per this interval (default 1 minute).
    pub touch_interval: Duration,
    /// How many generations back an old token can be proven genuine (default 1000).
    pub max_chain_walk: u64,
    /// Optional cap on live sessions per user.
    pub limit: Option<SessionLimit>,
    /// Optional rate limit on refreshes per session. Counted only for genuine tokens, so knowing
    /// a session id (public) does not let anyone use up its quota.
    pub refresh_rate: Option<crate::Quota>,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            access_ttl: Duration::from_secs(600),
            access_ttl_jitter: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(7 * 24 * 3600),
            absolute_timeout: Duration::from_secs(30 * 24 * 3600),
            refresh_grace: Duration::from_secs(10),
            touch_interval: Duration::from_secs(60),
            max_chain_walk: 1000,
            limit: None,
            refresh_rate: None,
        }
    }
}

impl SessionPolicy {
    /// Checks that the values make sense together.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the first offending setting.
    pub fn validate(&self) -> Result<(), Error> {
        let fail = |m: &str| Err(Error::InvalidConfig(m.into()));
        if self.access_ttl < Duration::from_secs(10)
            || self.access_ttl > Duration::from_secs(24 * 3600)
        {
            return fail("access_ttl must be between 10 seconds and 24 hours");
        }
        if self.access_ttl_jitter * 2 > self.access_ttl {
            return fail("access_ttl_jitter must be at most half of access_ttl");
        }
        if self.idle_timeout < self.access_ttl {
            return fail("idle_timeout must be at least access_ttl");
        }
        if self.absolute_timeout < self.idle_timeout {
            return fail("absolute_timeout must be at least idle_timeout");
        }
        if self.refresh_grace > Duration::from_secs(120) {
            return fail("refresh_grace must be at most 2 minutes");
        }
        if self.touch_interval >= self.idle_timeout {
            return fail("touch_interval must be shorter than idle_timeout");
        }
        if self.max_chain_walk == 0 || self.max_chain_walk > 100_000 {
            return fail("max_chain_walk must be between 1 and 100000");
        }
        if self.limit.is_some_and(|l| l.max == 0) {
            return fail("a session limit must allow at least one session");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_each_rule_bites() {
        let ok = SessionPolicy::default();
        ok.validate().unwrap();
        let s = Duration::from_secs;
        let bad = [
            SessionPolicy {
                access_ttl: s(5),
                ..ok.clone()
            },
            SessionPolicy {
                access_ttl: s(25 * 3600),
                ..ok.clone()
            },
            SessionPolicy {
                access_ttl_jitter: s(301),
                ..ok.clone()
            },
            SessionPolicy {
                idle_timeout: s(60),
                ..ok.clone()
            },
            SessionPolicy {
                absolute_timeout: s(3600),
                ..ok.clone()
            },
            SessionPolicy {
                refresh_grace: s(121),
                ..ok.clone()
            },
            SessionPolicy {
                touch_interval: s(8 * 24 * 3600),
                ..ok.clone()
            },
            SessionPolicy {
                max_chain_walk: 0,
                ..ok.clone()
            },
            SessionPolicy {
                limit: Some(SessionLimit {
                    max: 0,
                    on_limit: OnLimit::Deny,
                }),
                ..ok.clone()
            },
        ];
        for p in bad {
            assert!(
                matches!(p.validate(), Err(Error::InvalidConfig(_))),
                "{p:?}"
            );
        }
    }
}
