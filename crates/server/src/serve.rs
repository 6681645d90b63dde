//! `tessera serve`: bind, run the API and the background work, stop gracefully on SIGTERM or
//! Ctrl-C (in-flight requests finish; background tasks stop).

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::http::RequestIds;
use crate::state::{AppState, Shared};
use std::net::SocketAddr;
use std::sync::RwLock;
use std::sync::atomic::AtomicBool;
use tessera::RateLimiter;

use axum::serve::ListenerExt;

use tessera_axum::{CookieSettings, Tessera};

use crate::api_keys::ApiKeys;
use crate::metrics::Metrics;
use crate::pages::{PasswordQueue, Views};
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
    let api_keys = Arc::new(ApiKeys::new(admin_key, manager.api_keys().await?));
    let config_hash_queue = (config.sign_in.hash_queue, config.sign_in.hash_wait);
    let cookies = CookieSettings {
        secure: config.cookie_secure,
        same_site: config.cookie_same_site,
        ..CookieSettings::default()
    };
    let trusted_origins = std::iter::once(&config.public_origin)
        .chain(&config.cors_origins)
        .cloned()
        .collect();
    let tessera = Tessera::new(Arc::clone(&manager), cookies, trusted_origins)?;
    let views = Views::load(&config.branding).map_err(anyhow::Error::msg)?;
    Ok(AppState::new(Shared {
        manager,
        api_keys,
        metrics,
        config: Arc::new(config),
        warned_plain_http: AtomicBool::default(),
        tessera,
        passwords: PasswordQueue::new(config_hash_queue.0, config_hash_queue.1),
        local_limits: RateLimiter::default(),
        request_ids: RequestIds::new()?,
        views,
    }))
}

/// Runs the server until a shutdown signal.
///
/// # Errors
/// When start-up fails (bad store, address in use, …).
pub async fn run(config: Config) -> anyhow::Result<()> {
    let listen = config.listen;
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let state = state(config.bound_to(addr)).await?;
    let tls = match &state.config.tls {
        Some(files) => Some((files.clone(), Arc::new(RwLock::new(files.load()?)))),
        None => None,
    };
    let (stop, stopped) = watch::channel(false);
    let mut tasks = background::spawn(&state, &stopped);
    if let Some(addr) = state.config.metrics_listen {
        tasks.push(serve_metrics(addr, state.clone(), stopped.clone()).await?);
    }
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

/// `/metrics` alone on its own address, until shutdown.
async fn serve_metrics(
    addr: SocketAddr,
    state: AppState,
    mut stopped: watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on metrics_listen {addr}"))?;
    tracing::info!(addr = %listener.local_addr()?, "serving /metrics");
    let app = http::metrics_only(state);
    Ok(tokio::spawn(async move {
        let stop = async move {
            let _ = stopped.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::warn!(error = %e, "metrics listener stopped");
        }
    }))
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
