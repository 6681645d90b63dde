//! The CLI commands other than `serve`. Each opens the same data directory as the server, so
//! changes made here reach a running server (revocations within a second, keys within 30 s).

use std::io::Write;

use anyhow::Context;
use tessera::jwt::KeyState;
use tessera::{
    ApiKey, ApiScope, BOOTSTRAP_KEY_NAME, KeyEncryptionKey, RevokeReason, SessionId, Timestamp,
};

use crate::boot;
use crate::cli::{ApiKeyAction, KeysAction, SessionsAction};
use crate::config::{Config, StoreUrl};

mod users;

pub use users::users;

async fn manager(config: &Config) -> anyhow::Result<boot::Manager> {
    boot::manager(
        config,
        boot::open_store(config).await?,
        std::sync::Arc::default(),
    )
    .await
}

/// [`manager`] over data that must exist already: a command that only reads or changes what
/// a server keeps, run in the wrong folder, says so instead of making a new, empty database
/// with fresh keys.
async fn existing(config: &Config) -> anyhow::Result<boot::Manager> {
    require_data(config)?;
    manager(config).await
}

fn require_data(config: &Config) -> anyhow::Result<()> {
    if let StoreUrl::Sqlite(path) = &config.store {
        anyhow::ensure!(
            path.exists(),
            "no database at {}: run this where `tessera serve` keeps its data, or pass \
             --data-dir (or --store)",
            path.display()
        );
    }
    Ok(())
}

/// The longest another system's public key may be trusted.
const MAX_TRUST: std::time::Duration = std::time::Duration::from_secs(30 * 86_400);

/// `tessera keys import FILE --kid KID [--trust-for DURATION]`.
async fn import(
    config: &Config,
    file: &std::path::Path,
    kid: &str,
    trust_for: Option<&str>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let pem =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let key = tessera::jwt::ImportedKey::from_pem(&pem, kid)
        .with_context(|| format!("{} holds no key Tessera can use", file.display()))?;
    let trust_for = match (&key, trust_for) {
        (tessera::jwt::ImportedKey::Verifying(_), None) => anyhow::bail!(
            "a public key is trusted for a while only: add --trust-for with the longest lifetime              of the old system's tokens (e.g. --trust-for 1h)"
        ),
        (tessera::jwt::ImportedKey::Signing(_), Some(_)) => anyhow::bail!(
            "--trust-for is for public keys; a private key signs until the next rotation"
        ),
        (_, Some(text)) => {
            let d =
                crate::config::parse_duration(text, "--trust-for").map_err(anyhow::Error::msg)?;
            anyhow::ensure!(
                d > std::time::Duration::ZERO && d <= MAX_TRUST,
                "--trust-for {text}: 1s to 30d; an old key trusted longer is a standing way in"
            );
            d
        }
        (_, None) => std::time::Duration::ZERO,
    };
    let signing = matches!(key, tessera::jwt::ImportedKey::Signing(_));
    let m = existing(config).await?;
    m.import_key(key, trust_for)
        .await
        .context("import failed")?;
    if signing {
        writeln!(
            out,
            "imported {kid}: it signs from now on (running servers switch within 30 seconds)"
        )?;
    } else {
        writeln!(
            out,
            "imported {kid}: tokens it signed verify until {}",
            date(tessera::Clock::now(m.clock()).plus(trust_for))
        )?;
    }
    Ok(())
}

/// `tessera keys list|rotate|withdraw`.
///
/// # Errors
/// Store errors.
pub async fn keys(config: &Config, action: KeysAction, out: &mut impl Write) -> anyhow::Result<()> {
    match action {
        KeysAction::NewKek => {
            writeln!(out, "{}", KeyEncryptionKey::generate()?.expose())?;
            return Ok(());
        }
        KeysAction::Rewrap => return rewrap(config, out).await,
        KeysAction::Import {
            file,
            kid,
            trust_for,
        } => return import(config, &file, &kid, trust_for.as_deref(), out).await,
        KeysAction::List | KeysAction::Rotate | KeysAction::Withdraw { .. } => {}
    }
    let m = existing(config).await?;
    match &action {
        KeysAction::Rotate => {
            m.rotate_keys_now().await.context("rotation failed")?;
            writeln!(
                out,
                "rotated; running servers pick the new key up within 30 seconds"
            )?;
        }
        KeysAction::Withdraw { kid } => {
            let found = m.withdraw_key(kid).await.context("withdrawal failed")?;
            anyhow::ensure!(
                found,
                "no key {kid:?} in the keyset (see tessera keys list)"
            );
            writeln!(
                out,
                "withdrawn; running servers and remote verifiers stop accepting its tokens \
                 within 30 seconds"
            )?;
        }
        _ => {}
    }
    writeln!(out, "{:<18} {:<7} {:<8} since", "kid", "alg", "state")?;
    for entry in m.key_entries() {
        let state = match entry.state {
            KeyState::Next => "next",
            KeyState::Active => "active",
            KeyState::Retired => "retired",
        };
        writeln!(
            out,
            "{:<18} {:<7} {:<8} {}",
            entry.kid,
            entry.algorithm,
            state,
            date(entry.since)
        )?;
    }
    for (kid, alg, until) in m.trusted_keys() {
        writeln!(
            out,
            "{kid:<18} {alg:<7} {:<8} until {}",
            "trusted",
            date(until)
        )?;
    }
    Ok(())
}

/// `tessera keys rewrap`: with `key_encryption_key` set, everything moves under it; on the
/// embedded default, under a fresh key that then replaces the key file. The new key waits in
/// `key-encryption-key.next` (which opening also accepts) until everything is sealed under it,
/// so an interrupted run loses nothing and can simply be run again.
async fn rewrap(config: &Config, out: &mut impl Write) -> anyhow::Result<()> {
    require_data(config)?;
    if config.key_encryption_key.is_some() {
        let fingerprint = boot::reseal(config).await?;
        writeln!(
            out,
            "sealed under key-encryption key {fingerprint}; remove previous_key_encryption_keys \
             from every node's configuration"
        )?;
        return Ok(());
    }
    let current_path = config.data_dir.join(crate::config::KEK_FILE);
    let old = boot::read_kek(&current_path)?
        .with_context(|| format!("no {}: nothing is sealed yet", current_path.display()))?;
    let next_path = boot::next_kek_path(config);
    let new = match boot::read_kek(&next_path)? {
        Some(kek) => kek,
        None => {
            let kek = KeyEncryptionKey::generate()?;
            boot::write_private(&next_path, &kek.expose())?;
            boot::sync_dir(&next_path)?;
            kek
        }
    };
    let mut moving = config.clone();
    moving.key_encryption_key = Some(new.clone());
    moving.previous_key_encryption_keys.push(old);
    boot::reseal(&moving).await?;
    std::fs::rename(&next_path, &current_path)
        .with_context(|| format!("cannot replace {}", current_path.display()))?;
    boot::sync_dir(&current_path)?;
    writeln!(
        out,
        "sealed under key-encryption key {} and replaced {}; restart the server",
        new.fingerprint(),
        current_path.display()
    )?;
    Ok(())
}

/// `tessera sessions list|revoke`.
///
/// # Errors
/// Store errors or a malformed session id.
pub async fn sessions(
    config: &Config,
    action: SessionsAction,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let m = existing(config).await?;
    match action {
        SessionsAction::List { user } => {
            writeln!(
                out,
                "{:<22}  {:<20}  {:<20}  device",
                "session", "created", "last seen"
            )?;
            for s in m.list(&user).await? {
                let device = s.device.label.or(s.device.user_agent).unwrap_or_default();
                writeln!(
                    out,
                    "{}  {:<20}  {:<20}  {device}",
                    s.sid,
                    date(s.created_at),
                    date(s.last_seen_at)
                )?;
            }
        }
        SessionsAction::Revoke { sid } => {
            let sid: SessionId = sid
                .parse()
                .map_err(|_| anyhow::anyhow!("{sid:?} is not a session id"))?;
            if m.revoke(&sid, RevokeReason::Admin).await? {
                writeln!(out, "revoked {sid}")?;
            } else if m.get(&sid).await?.is_some() {
                writeln!(out, "{sid} was already revoked")?;
            } else {
                anyhow::bail!("no session {sid}");
            }
        }
    }
    Ok(())
}

/// `tessera purge`.
///
/// # Errors
/// Store errors.
pub async fn purge(config: &Config, out: &mut impl Write) -> anyhow::Result<()> {
    let m = existing(config).await?;
    let mut total = 0;
    loop {
        let n = m.purge_expired(1000).await?;
        total += n;
        if n < 1000 {
            break;
        }
    }
    writeln!(out, "purged {total} expired or revoked sessions")?;
    Ok(())
}

/// `tessera migrate`: moves a Redis deployment to the sharded layout (see
/// [`tessera_redis::RedisStore::migrate`]). Other stores have nothing to move.
///
/// # Errors
/// Redis unreachable or failing midway (run it again to resume).
pub async fn migrate(config: &Config, out: &mut impl Write) -> anyhow::Result<()> {
    let tag = &config.redis_key_tag;
    let store = match &config.store {
        StoreUrl::Redis(url) => tessera_redis::RedisStore::connect_to_migrate(url, tag).await,
        StoreUrl::RedisCluster(nodes) => {
            tessera_redis::RedisStore::connect_cluster_to_migrate(nodes, tag).await
        }
        StoreUrl::Sqlite(_) | StoreUrl::Postgres(_) => {
            writeln!(
                out,
                "nothing to migrate: only a Redis store changes its layout"
            )?;
            return Ok(());
        }
    }
    .context("cannot reach Redis")?;
    let moved = store.migrate().await.context(
        "the migration stopped; once the cause below is dealt with, `tessera migrate` \
             run again resumes it",
    )?;
    writeln!(
        out,
        "moved {} sessions and {} audit events to the sharded layout; the nodes can start",
        moved.sessions, moved.audit_events
    )?;
    Ok(())
}

/// `tessera api-key create|list|revoke|new`.
///
/// # Errors
/// A bad or taken name, an unknown key, store errors, a failing CSPRNG.
pub async fn api_key(
    config: &Config,
    action: ApiKeyAction,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    match action {
        ApiKeyAction::New => writeln!(out, "{}", ApiKey::generate()?.expose())?,
        ApiKeyAction::Create { name, scope } => {
            let scope: ApiScope = scope.parse()?;
            let (key, _) = manager(config)
                .await?
                .create_api_key(&name, scope)
                .await?
                .with_context(|| format!("an API key named {name:?} exists"))?;
            writeln!(out, "{}", key.expose())?;
        }
        ApiKeyAction::List => {
            writeln!(
                out,
                "{:<24} {:<8} {:<20} last used",
                "name", "scope", "created"
            )?;
            for k in existing(config).await?.api_keys().await? {
                let used = k.last_used_at.map_or_else(|| "never".to_owned(), date);
                let (name, scope) = (k.name, k.scope.as_str());
                writeln!(
                    out,
                    "{name:<24} {scope:<8} {:<20} {used}",
                    date(k.created_at)
                )?;
            }
        }
        ApiKeyAction::Revoke { name } if name == BOOTSTRAP_KEY_NAME => {
            let m = existing(config).await?;
            anyhow::ensure!(
                crate::api_keys::revoke_bootstrap(&m).await?,
                "no bootstrap admin key in force (it was revoked already)"
            );
            writeln!(
                out,
                "revoked the bootstrap admin key; running servers refuse it within 15 seconds. \
                 Set admin_api_key to a new one (tessera api-key new) and restart, or use a \
                 named admin key"
            )?;
        }
        ApiKeyAction::Revoke { name } => {
            anyhow::ensure!(
                existing(config).await?.revoke_api_key(&name).await?,
                "no API key named {name:?}"
            );
            writeln!(out, "revoked {name}; every node refuses it from now on")?;
        }
    }
    Ok(())
}

/// `YYYY-MM-DD HH:MM:SS` in UTC.
pub(crate) fn date(t: Timestamp) -> String {
    let secs = t.as_secs();
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_calendar_dates() {
        assert_eq!(date(Timestamp::from_secs(0)), "1970-01-01 00:00:00");
        assert_eq!(
            date(Timestamp::from_secs(1_700_000_000)),
            "2023-11-14 22:13:20"
        );
        assert_eq!(
            date(Timestamp::from_secs(951_782_400)),
            "2000-02-29 00:00:00"
        );
        assert_eq!(
            date(Timestamp::from_secs(4_102_444_799)),
            "2099-12-31 23:59:59"
        );
    }
}
