//! `tessera serve`: bind, run the API and the background work, stop gracefully on SIGTERM or
//! Ctrl-C (in-flight requests finish; background tasks stop).

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::state::AppState;
use std::net::SocketAddr;
use std::sync::RwLock;

use axum::serve::ListenerExt;

use tessera_axum::{CookieSettings, Tessera};

use crate::metrics::Metrics;
use crate::pages::PasswordQueue;
use crate::tls::{self, TlsListener};
use crate::{background, boot, http};

/// Builds the state a server runs with.
///
/// # Errors
/// Store, key or configuration errors.
pub async fn state(config: Config) -> anyhow::Result<AppState> {
    let store = boot::open_store(&config).await?;
    let admin_key = boot::admin_key(&config, &store).await?;
    let metrics: Arc<Metrics> = Arc::default();
    let manager = boot::manager(&config, store, Arc::clone(&metrics)).await?;
    let manager = Arc::new(manager);
    let cookies = CookieSettings {
        secure: config.cookie_secure,
        same_site: config.cookie_same_site,
    };
    let tessera = Tessera::new(
        Arc::clone(&manager),
        cookies,
        vec![config.public_origin.clone()],
    );
    Ok(AppState {
        manager,
        admin_key,
        metrics,
        config: Arc::new(config),
        warned_plain_http: Arc::default(),
        tessera,
        passwords: PasswordQueue::default(),
        local_limits: Arc::default(),
    })
}

/// Runs the server until a shutdown signal.
///
/// # Errors
/// When start-up fails (bad store, address in use, …).
pub async fn run(config: Config) -> anyhow::Result<()> {
    let listen = config.listen;
    let state = state(config).await?;
    let tls = match &state.config.tls {
        Some(files) => Some((files.clone(), Arc::new(RwLock::new(files.load()?)))),
        None => None,
    };
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = watch::channel(false);
    let tasks = background::spawn(&state, &stopped);
    let app = http::app(state).into_make_service_with_connect_info::<SocketAddr>();
    let shutdown = async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
        let _ = stop.send(true);
    };
    tracing::info!(%addr, tls = tls.is_some(), "listening");
    match tls {
        Some((files, config)) => {
            tls::reload_on_sighup(files, Arc::clone(&config))?;
            let listener = TlsListener::new(listener, config)?.tap_io(|_| ());
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await?;
        }
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await?
        }
    }
    for task in tasks {
        let _ = task.await;
    }
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        ) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
