//! The known-device cookie of the built-in sign-in (see [`tessera::KnownDevices`]): set after
//! every successful sign-in, read at the next attempt to pick the guessing budget.

use axum::http::{HeaderMap, HeaderValue};
use tessera::AccountId;
use tessera_axum::cookie_values;

use crate::state::AppState;

/// A year: a browser that signs in less often than that is a new device again.
const MAX_AGE_SECS: u64 = 365 * 86_400;

fn name(state: &AppState) -> &'static str {
    if state.config.cookie_secure {
        "__Host-tessera-device"
    } else {
        "tessera-device"
    }
}

/// The id of this browser as a known device of `account`, if it carries such a cookie.
pub fn recognise(state: &AppState, headers: &HeaderMap, account: &AccountId) -> Option<String> {
    let devices = state.manager.known_devices();
    cookie_values(headers, name(state))
        .iter()
        .find_map(|cookie| devices.recognise(cookie, account))
}

/// A `Set-Cookie` marking this browser as a known device of `account`.
pub fn remember(state: &AppState, account: &AccountId) -> Option<HeaderValue> {
    let value = state.manager.known_devices().issue(account).ok()?;
    let secure = if state.config.cookie_secure {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{}={value}; Path=/; HttpOnly{secure}; SameSite=Strict; Max-Age={MAX_AGE_SECS}",
        name(state)
    );
    HeaderValue::from_str(&cookie).ok()
}
