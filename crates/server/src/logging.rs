//! Logs: human-readable lines by default, JSON with `--log-format json`, to stderr. Secrets
//! never reach a log: secret types print `(..)` and no handler logs a body or a header value.

use std::io::IsTerminal;
use std::str::FromStr;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;

/// Installs the global subscriber.
///
/// # Errors
/// When `level` is not a valid filter (`info`, `debug,tessera=trace`, …).
pub fn init(format: LogFormat, level: &str) -> anyhow::Result<()> {
    let filter = Targets::from_str(level).map_err(|e| {
        anyhow::anyhow!(
            "log_level = {level:?} is not a filter like \"info\" or \"info,tessera=debug\": {e}"
        )
    })?;
    let registry = tracing_subscriber::registry().with(filter);
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Human => registry
            .with(fmt.with_ansi(std::io::stderr().is_terminal()))
            .try_init(),
        LogFormat::Json => registry
            .with(fmt.json().flatten_event(true).with_current_span(true))
            .try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))
}
