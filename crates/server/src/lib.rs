//! # tessera-server
//!
//! The `tessera` binary: the HTTP API for backends in any language, the CLI, and the
//! background work (key rotation, revocation catch-up, purging), over the Tessera library and
//! the embedded SQLite store.

#![deny(missing_docs)]

pub mod api_keys;
mod background;
mod boot;
pub mod cli;
mod commands;
pub mod config;
pub mod http;
mod logging;
mod metrics;
mod pages;
mod serve;
mod state;
mod store;
mod strength;
mod tls;

pub use config::Config;
pub use serve::state as build_state;
pub use state::AppState;

use cli::{Cli, Command};
use config::RawConfig;

/// Runs a parsed command line to completion.
///
/// # Errors
/// Configuration, start-up and command errors, with a message for the user.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let flags = RawConfig {
        data_dir: cli.data_dir,
        store: cli.store,
        log_format: cli.log_format,
        log_level: cli.log_level,
        listen: match &cli.command {
            Command::Serve { listen } => listen.clone(),
            _ => None,
        },
        ..RawConfig::default()
    };
    let file = cli
        .config
        .or_else(|| std::env::var_os("TESSERA_CONFIG").map(Into::into));
    let env: Vec<(String, String)> = std::env::vars().collect();
    let config =
        Config::load(file, env, flags).map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
    logging::init(config.log_format, &config.log_level)?;
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut out = std::io::stdout().lock();
    runtime.block_on(async move {
        match cli.command {
            Command::Serve { .. } => serve::run(config).await,
            Command::Keys { action } => commands::keys(&config, action, &mut out).await,
            Command::Sessions { action } => commands::sessions(&config, action, &mut out).await,
            Command::Purge => commands::purge(&config, &mut out).await,
            Command::Migrate => commands::migrate(&config, &mut out).await,
            Command::ApiKey { action } => commands::api_key(&config, action, &mut out).await,
            Command::Users { action } => {
                commands::users(&config, action, &mut std::io::stdin().lock(), &mut out).await
            }
        }
    })
}
