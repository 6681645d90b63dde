//! Settings of the built-in sign-in: whether strangers may sign up, the guessing budgets, and
//! the password-hashing queue.
//!
//! ```toml
//! signup = "closed"                  # or "open": anyone may create an account
//! signup_client_limit = "20/h:5"     # sign-ups per client IP
//! signin_account_limit = "20/h:5"    # guesses per account from browsers it never signed in from
//! signin_device_limit = "20/h:10"    # guesses per known device (its own budget)
//! signin_client_limit = "100/h:30"   # guesses per client IP
//! password_hash_queue = 8            # Argon2id jobs running or waiting, at most
//! password_hash_wait = "2s"          # longest a request waits for a slot before 503
//! ```

use std::time::Duration;

use tessera::Quota;

use super::limits::parse_quota;
use super::raw::RawConfig;

/// The validated sign-in settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    /// Whether `/auth/signup` exists (`signup = "open"`).
    pub signup_open: bool,
    /// Sign-ups per client IP.
    pub signup_per_client: Option<Quota>,
    /// Password guesses per account, shared by every device it has not signed in from.
    pub per_account: Option<Quota>,
    /// Password guesses per known device (a browser the account signed in from before).
    pub per_device: Option<Quota>,
    /// Password guesses per client IP.
    pub per_client: Option<Quota>,
    /// Hashing jobs running or waiting, at most.
    pub hash_queue: usize,
    /// Longest a request waits for a hashing slot.
    pub hash_wait: Duration,
}

impl SignIn {
    pub(super) fn from_raw(raw: &RawConfig) -> Result<Self, String> {
        let signup_open = match raw.signup.as_deref().unwrap_or("closed") {
            "closed" => false,
            "open" => true,
            other => return Err(format!("signup = {other:?}; use \"closed\" or \"open\"")),
        };
        let quota = |value: &Option<String>, name: &str, default: &str| {
            let text = value.as_deref().unwrap_or(default);
            parse_quota(text).map_err(|e| format!("{name} = {text:?}: {e}"))
        };
        let hash_queue = raw.password_hash_queue.unwrap_or(8);
        if !(1..=1024).contains(&hash_queue) {
            return Err(format!(
                "password_hash_queue = {hash_queue}; use 1 to 1024 (each job holds 19 MiB)"
            ));
        }
        let hash_wait = super::duration(&raw.password_hash_wait, "password_hash_wait", 2)?;
        if hash_wait.is_zero() || hash_wait > Duration::from_secs(60) {
            return Err("password_hash_wait must be between 1s and 60s".into());
        }
        Ok(Self {
            signup_open,
            signup_per_client: quota(&raw.signup_client_limit, "signup_client_limit", "20/h:5")?,
            per_account: quota(&raw.signin_account_limit, "signin_account_limit", "20/h:5")?,
            per_device: quota(&raw.signin_device_limit, "signin_device_limit", "20/h:10")?,
            per_client: quota(&raw.signin_client_limit, "signin_client_limit", "100/h:30")?,
            hash_queue,
            hash_wait,
        })
    }
}
