//! Routes only a signed-in browser may reach: a person is sent to sign in (and back
//! afterwards), a program gets 401.
//!
//! Put [`RequireSignIn`] inside the session layer ([`crate::Tessera::layer`]), around the
//! routes it guards:
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use tessera_axum::{RequireSignIn, Tessera};
//! # fn demo(tessera: Tessera<tessera::MemoryStore, tessera::ManualClock>) {
//! let app: Router = Router::new()
//!     .route("/account", get(|| async { "only when signed in" }))
//!     .layer(RequireSignIn::redirecting_to("/login"))
//!     .layer(tessera.layer());
//! # }
//! ```

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, header};
use axum::response::{IntoResponse, Redirect, Response};
use tower::Layer;

use crate::extract::BrowserSession;
use crate::guard::{Admit, Guarded};
use crate::problem::Rejection;

/// Lets through requests of a signed-in browser only.
#[derive(Debug, Clone)]
pub struct RequireSignIn {
    sign_in: Arc<str>,
}

impl RequireSignIn {
    /// Sends a person who is not signed in to `sign_in` (a path on this site), with the page
    /// they asked for as `return_to`. Requests that are not page loads (not `GET`, or not
    /// asking for HTML) get a 401 problem document instead.
    pub fn redirecting_to(sign_in: &str) -> Self {
        Self {
            sign_in: Arc::from(sign_in),
        }
    }

    fn redirect(&self, req: &Request<Body>) -> Response {
        let wants_page = req.method() == Method::GET
            && req
                .headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("text/html"));
        if !wants_page {
            return Rejection::Unauthenticated.into_response();
        }
        let here = req
            .uri()
            .path_and_query()
            .map_or("/", axum::http::uri::PathAndQuery::as_str);
        // Only a plain path of this site: `//host` or a backslash would send the person away.
        let here = if here.starts_with("//") || here.contains('\\') {
            "/"
        } else {
            here
        };
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("return_to", here)
            .finish();
        let glue = if self.sign_in.contains('?') { '&' } else { '?' };
        Redirect::to(&format!("{}{glue}{query}", self.sign_in)).into_response()
    }
}

impl Admit for RequireSignIn {
    type Refusal = Response;

    async fn admit(&self, req: Request<Body>) -> Result<Request<Body>, Response> {
        if req.extensions().get::<BrowserSession>().is_some() {
            Ok(req)
        } else {
            Err(self.redirect(&req))
        }
    }
}

impl<Svc> Layer<Svc> for RequireSignIn {
    type Service = Guarded<Svc, RequireSignIn>;

    fn layer(&self, inner: Svc) -> Self::Service {
        Guarded {
            inner,
            guard: self.clone(),
        }
    }
}
