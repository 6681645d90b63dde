//! Errors as a person sees them: a problem document (RFC 9457) that reaches a browser page
//! load or form post is answered as an HTML page in the pages' style instead, with the same
//! status and headers (`Retry-After`, `Set-Cookie`, …) and a way on. Programs (`fetch`, API
//! clients) ask for JSON or anything, and keep getting the problem document.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;
use serde_json::Value;

use crate::state::AppState;

/// The error page's context.
#[derive(Debug, Serialize)]
pub struct ErrorPage {
    pub status: u16,
    pub title: String,
    pub detail: Option<String>,
    /// "3 minutes", from `Retry-After`.
    pub retry_after: Option<String>,
    pub next_href: &'static str,
    pub next_label: &'static str,
}

/// Largest problem document read back to be shown as a page.
const MAX_PROBLEM: usize = 16 * 1024;

/// Middleware of the pages' router: a problem document for a browser becomes [`ErrorPage`].
/// (The API's routes never pass through it, so verification pays nothing for it.)
pub async fn html_errors(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let for_person = wants_html(request.headers());
    let response = next.run(request).await;
    if !for_person {
        return response;
    }
    as_page(&state, response).await
}

/// What the app-wide fallbacks (an unknown address, a wrong method) answer: `problem`, or
/// on the pages' addresses (`/`, `/auth/…`) to a browser, the same as an [`ErrorPage`].
pub async fn unrouted(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
    problem: Response,
) -> Response {
    let path = uri.path();
    if (path == "/" || path.starts_with("/auth/")) && wants_html(headers) {
        return as_page(state, problem).await;
    }
    problem
}

/// A problem document as an [`ErrorPage`] with the same status and headers; anything else
/// as it is.
async fn as_page(state: &AppState, response: Response) -> Response {
    if !is_problem(response.headers()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let problem: Value = match axum::body::to_bytes(body, MAX_PROBLEM).await {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
        Err(_) => Value::Null,
    };
    let page = page_for(parts.status, &problem, &parts.headers);
    let html = state.views.page(parts.status, "error.html", &page);
    let (html_parts, html_body) = html.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in &html_parts.headers {
        parts.headers.insert(name, value.clone());
    }
    parts.status = html_parts.status;
    super::security_headers(Response::from_parts(parts, Body::new(html_body))).await
}

/// A page load or form post: the browser lists `text/html` among what it accepts.
pub(super) fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

fn is_problem(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"))
}

/// What to say about a problem, by its type: its own words where they are for people, plainer
/// ones where they are for programs.
fn page_for(status: StatusCode, problem: &Value, headers: &HeaderMap) -> ErrorPage {
    let slug = problem["type"]
        .as_str()
        .and_then(|t| t.rsplit(':').next())
        .unwrap_or("");
    let detail = problem["detail"].as_str().map(str::to_owned);
    let title = problem["title"].as_str().unwrap_or("Something went wrong");
    let account = ("/auth/account", "Back to your account");
    let (title, detail, (next_href, next_label)) = match slug {
        "unauthenticated" => (
            "You are signed out",
            Some("Your session ended, or this browser was signed out. Sign in to go on.".into()),
            ("/auth/login", "Sign in"),
        ),
        "forbidden" if detail.as_deref().is_some_and(|d| d.contains("origin")) => (
            "Refused: sent from another site",
            Some("This form was sent from a page that is not ours, so nothing was done.".into()),
            account,
        ),
        "forbidden" => (
            "This page was out of date",
            Some(
                "It was opened before this browser signed in or out, so nothing was done. \
                 Open the page again and retry."
                    .into(),
            ),
            account,
        ),
        "not-found" => (
            "Not found",
            Some(
                "There is nothing at this address: the link is wrong, or what it named is gone \
                 (a device signed out already, say)."
                    .into(),
            ),
            account,
        ),
        "unavailable" => (
            "Busy for a moment",
            Some("Nothing was changed. Try again in a few seconds.".into()),
            account,
        ),
        "rate-limited" => ("Too many attempts", detail, account),
        _ => (title, detail, account),
    };
    let retry_after = headers
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|_| status == StatusCode::TOO_MANY_REQUESTS)
        .map(wait);
    ErrorPage {
        status: status.as_u16(),
        title: title.to_owned(),
        detail,
        retry_after,
        next_href,
        next_label,
    }
}

/// "45 seconds", "3 minutes", "2 hours".
pub fn wait(secs: u64) -> String {
    let (n, unit) = match secs {
        0..=89 => (secs.max(1), "second"),
        90..=5399 => (secs.div_ceil(60), "minute"),
        _ => (secs.div_ceil(3600), "hour"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_read_naturally() {
        assert_eq!(wait(0), "1 second");
        assert_eq!(wait(45), "45 seconds");
        assert_eq!(wait(180), "3 minutes");
        assert_eq!(wait(7200), "2 hours");
    }
}
