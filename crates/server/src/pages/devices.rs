//! The known-device cookie of the built-in sign-in (see [`tessera::KnownDevices`]): set after
//! every successful sign-in, read at the next attempt to pick the guessing budget. One cookie
//! holds the marks of the last few accounts signed in from this browser, so signing in to a
//! second account does not make it a stranger to the first. Each mark is bound to the account's
//! password hash: a change of password ends them all.

use axum::http::{HeaderMap, HeaderValue};
use tessera::store::User;
use tessera_axum::cookie_values;

use crate::state::AppState;

/// A year: a browser that signs in less often than that is a new device again.
const MAX_AGE_SECS: u64 = 365 * 86_400;
/// Accounts remembered per browser.
const MAX_MARKS: usize = 4;
/// Marks in the cookie value are joined by a character base64url never uses.
const SEPARATOR: char = '.';

fn name(state: &AppState) -> &'static str {
    if state.config.cookie_secure {
        "__Host-tessera-device"
    } else {
        "tessera-device"
    }
}

fn marks<'a>(state: &AppState, headers: &'a HeaderMap) -> impl Iterator<Item = &'a str> {
    cookie_values(headers, name(state))
        .into_iter()
        .flat_map(|value| value.split(SEPARATOR))
        .take(2 * MAX_MARKS)
}

/// The id of this browser as a known device of `account`, if it carries such a mark.
pub fn recognise(state: &AppState, headers: &HeaderMap, account: &User) -> Option<String> {
    let devices = state.manager.known_devices();
    let binding = account.password.as_str().as_bytes();
    marks(state, headers).find_map(|mark| devices.recognise(mark, &account.id, binding))
}

/// A `Set-Cookie` marking this browser as a known device of `account`, keeping the marks of
/// other accounts it carries (the newest few).
pub fn remember(state: &AppState, headers: &HeaderMap, account: &User) -> Option<HeaderValue> {
    let devices = state.manager.known_devices();
    let binding = account.password.as_str().as_bytes();
    let fresh = devices.issue(&account.id, binding).ok()?;
    let others = marks(state, headers)
        .filter(|mark| devices.recognise(mark, &account.id, binding).is_none())
        .filter(|mark| mark.len() < 128 && mark.bytes().all(|b| b.is_ascii_graphic()));
    let value: Vec<&str> = std::iter::once(fresh.as_str())
        .chain(others)
        .take(MAX_MARKS)
        .collect();
    let secure = if state.config.cookie_secure {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{}={}; Path=/; HttpOnly{secure}; SameSite=Strict; Max-Age={MAX_AGE_SECS}",
        name(state),
        value.join(&SEPARATOR.to_string())
    );
    HeaderValue::from_str(&cookie).ok()
}
