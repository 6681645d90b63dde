//! Rate-limit settings: which route class is limited by what, and how much.
//!
//! ```toml
//! [rate_limits]
//! verify = { session = "1200/m:200" }          # per session; "N/unit" or "N/unit:burst"
//! refresh = { session = "20/m:10", client = "off" }
//! login = { user = "30/m:10" }                 # session creation (and the sign-in page)
//! admin = { client = "600/m" }                 # every other backend call, per client IP
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use tessera::Quota;

/// A group of routes limited alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LimitClass {
    /// `POST /v1/sessions/verify`.
    Verify,
    /// `POST /v1/sessions/refresh`.
    Refresh,
    /// `POST /v1/sessions`: signing in.
    Login,
    /// Every other backend and OAuth route.
    Admin,
}

/// What a limit counts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LimitBy {
    /// The session a request is about.
    Session,
    /// The user a request is about.
    User,
    /// The client's IP address.
    Client,
}

impl LimitClass {
    /// The name used in configuration and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Self::Verify => "verify",
            Self::Refresh => "refresh",
            Self::Login => "login",
            Self::Admin => "admin",
        }
    }

    /// What this class can be limited by.
    fn dimensions(self) -> &'static [LimitBy] {
        match self {
            Self::Verify | Self::Refresh => &[LimitBy::Session, LimitBy::Client],
            Self::Login => &[LimitBy::User, LimitBy::Client],
            Self::Admin => &[LimitBy::Client],
        }
    }

    const ALL: [LimitClass; 4] = [Self::Verify, Self::Refresh, Self::Login, Self::Admin];
}

impl LimitBy {
    /// The name used in configuration and store keys.
    pub fn name(self) -> &'static str {
        match self {
            Self::Session => "session",
            Self::User => "user",
            Self::Client => "client",
        }
    }
}

/// One class's limits as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClassLimits {
    pub session: Option<String>,
    pub user: Option<String>,
    pub client: Option<String>,
}

/// The `[rate_limits]` table as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimits {
    pub verify: Option<RawClassLimits>,
    pub refresh: Option<RawClassLimits>,
    pub login: Option<RawClassLimits>,
    pub admin: Option<RawClassLimits>,
}

impl RawRateLimits {
    fn class(&self, class: LimitClass) -> Option<&RawClassLimits> {
        match class {
            LimitClass::Verify => self.verify.as_ref(),
            LimitClass::Refresh => self.refresh.as_ref(),
            LimitClass::Login => self.login.as_ref(),
            LimitClass::Admin => self.admin.as_ref(),
        }
    }

    /// `self` with every value set in `over` replaced by it.
    pub fn overridden_by(self, over: Self) -> Self {
        let merge = |a: Option<RawClassLimits>, b: Option<RawClassLimits>| match (a, b) {
            (Some(a), Some(b)) => Some(RawClassLimits {
                session: b.session.or(a.session),
                user: b.user.or(a.user),
                client: b.client.or(a.client),
            }),
            (a, b) => b.or(a),
        };
        Self {
            verify: merge(self.verify, over.verify),
            refresh: merge(self.refresh, over.refresh),
            login: merge(self.login, over.login),
            admin: merge(self.admin, over.admin),
        }
    }
}

impl RawClassLimits {
    fn get(&self, by: LimitBy) -> Option<&String> {
        match by {
            LimitBy::Session => self.session.as_ref(),
            LimitBy::User => self.user.as_ref(),
            LimitBy::Client => self.client.as_ref(),
        }
    }
}

/// The limits in force.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimits(BTreeMap<(LimitClass, LimitBy), Quota>);

impl RateLimits {
    /// The quota for `class` by `by`, if limited.
    pub fn get(&self, class: LimitClass, by: LimitBy) -> Option<&Quota> {
        self.0.get(&(class, by))
    }

    /// Validates the written limits over the defaults.
    pub fn from_raw(raw: Option<&RawRateLimits>) -> Result<Self, String> {
        let defaults = [
            (LimitClass::Verify, LimitBy::Session, "1200/m:200"),
            (LimitClass::Refresh, LimitBy::Session, "20/m:10"),
            (LimitClass::Login, LimitBy::User, "30/m:10"),
        ];
        let mut out = BTreeMap::new();
        for class in LimitClass::ALL {
            let written = raw.and_then(|r| r.class(class));
            for by in [LimitBy::Session, LimitBy::User, LimitBy::Client] {
                let name = format!("rate_limits.{}.{}", class.name(), by.name());
                let value = written.and_then(|w| w.get(by));
                if value.is_some() && !class.dimensions().contains(&by) {
                    let allowed: Vec<&str> = class.dimensions().iter().map(|d| d.name()).collect();
                    return Err(format!(
                        "{name} is not a limit; {} is limited by {}",
                        class.name(),
                        allowed.join(" or ")
                    ));
                }
                let default = defaults
                    .iter()
                    .find(|(c, b, _)| *c == class && *b == by)
                    .map(|(_, _, d)| *d);
                let Some(text) = value.map(String::as_str).or(default) else {
                    continue;
                };
                if let Some(quota) =
                    parse_quota(text).map_err(|e| format!("{name} = {text:?}: {e}"))?
                {
                    out.insert((class, by), quota);
                }
            }
        }
        Ok(Self(out))
    }
}

/// `off`, or `N/unit` with an optional `:burst` (unit `s`, `m` or `h`; burst defaults to N).
pub(super) fn parse_quota(text: &str) -> Result<Option<Quota>, String> {
    if text.trim() == "off" {
        return Ok(None);
    }
    let usage = "write \"N/s\", \"N/m\" or \"N/h\", optionally \":BURST\", or \"off\"";
    let (rate, rest) = text.trim().split_once('/').ok_or(usage)?;
    let (unit, burst) = rest
        .split_once(':')
        .map_or((rest, None), |(u, b)| (u, Some(b)));
    let rate: u32 = rate.trim().parse().map_err(|_| usage)?;
    let period = match unit.trim() {
        "s" => Duration::from_secs(1),
        "m" => Duration::from_secs(60),
        "h" => Duration::from_secs(3600),
        _ => return Err(usage.into()),
    };
    let burst: u32 = burst.map_or(Ok(rate), |b| b.trim().parse().map_err(|_| usage))?;
    Quota::new(rate, period, burst)
        .map(Some)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quotas() {
        let q = parse_quota("60/m:10").unwrap().unwrap();
        assert_eq!(
            (q.rate(), q.period(), q.burst()),
            (60, Duration::from_secs(60), 10)
        );
        assert_eq!(parse_quota("5/s").unwrap().unwrap().burst(), 5);
        assert_eq!(parse_quota("off").unwrap(), None);
        for bad in ["", "60", "60/d", "x/m", "60/m:", "0/m", "60/m:0", "-1/s"] {
            assert!(parse_quota(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults_apply_and_can_be_overridden_or_turned_off() {
        let limits = RateLimits::from_raw(None).unwrap();
        assert_eq!(
            limits
                .get(LimitClass::Refresh, LimitBy::Session)
                .unwrap()
                .rate(),
            20
        );
        assert!(limits.get(LimitClass::Admin, LimitBy::Client).is_none());
        let raw = RawRateLimits {
            refresh: Some(RawClassLimits {
                session: Some("off".into()),
                client: Some("100/s".into()),
                user: None,
            }),
            ..RawRateLimits::default()
        };
        let limits = RateLimits::from_raw(Some(&raw)).unwrap();
        assert!(limits.get(LimitClass::Refresh, LimitBy::Session).is_none());
        assert_eq!(
            limits
                .get(LimitClass::Refresh, LimitBy::Client)
                .unwrap()
                .rate(),
            100
        );
        assert!(
            limits.get(LimitClass::Verify, LimitBy::Session).is_some(),
            "other defaults stay"
        );
    }

    #[test]
    fn limits_a_class_cannot_have_are_refused() {
        let raw = RawRateLimits {
            admin: Some(RawClassLimits {
                session: Some("1/s".into()),
                ..RawClassLimits::default()
            }),
            ..RawRateLimits::default()
        };
        let err = RateLimits::from_raw(Some(&raw)).unwrap_err();
        assert!(
            err.contains("rate_limits.admin.session") && err.contains("client"),
            "{err}"
        );
    }
}
