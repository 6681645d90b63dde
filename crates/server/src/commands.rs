//! The CLI commands other than `serve`. Each opens the same data directory as the server, so
//! changes made here reach a running server (revocations within a second, keys within 30 s).

use std::io::Write;

use anyhow::Context;
use tessera::jwt::KeyState;
use tessera::{ApiKey, RevokeReason, SessionId, Timestamp};

use crate::boot;
use crate::cli::{ApiKeyAction, KeysAction, SessionsAction, UsersAction};
use crate::config::Config;

async fn manager(config: &Config) -> anyhow::Result<boot::Manager> {
    boot::manager(
        config,
        boot::open_store(config).await?,
        std::sync::Arc::default(),
    )
    .await
}

/// `tessera keys list|rotate`.
///
/// # Errors
/// Store errors.
pub async fn keys(config: &Config, action: KeysAction, out: &mut impl Write) -> anyhow::Result<()> {
    let m = manager(config).await?;
    if matches!(action, KeysAction::Rotate) {
        m.rotate_keys_now().await.context("rotation failed")?;
        writeln!(
            out,
            "rotated; running servers pick the new key up within 30 seconds"
        )?;
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
    let m = manager(config).await?;
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
    let m = manager(config).await?;
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

/// `tessera users create USER`, password on standard input.
///
/// # Errors
/// A bad user name or password, a taken name, store errors.
pub async fn users(
    config: &Config,
    action: UsersAction,
    input: &mut impl std::io::BufRead,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let UsersAction::Create { user } = action;
    let user = user.trim().to_lowercase();
    let mut password = String::new();
    input.read_line(&mut password)?;
    let password = password.trim_end_matches(['\r', '\n']).to_owned();
    tessera::check_password_length(&password).map_err(|e| anyhow::anyhow!("{e}"))?;
    let hash = tokio::task::spawn_blocking(move || tessera::PasswordHash::new(&password)).await??;
    let m = manager(config).await?;
    anyhow::ensure!(
        m.create_user(&user, hash).await?,
        "the user name {user:?} is taken"
    );
    writeln!(out, "created {user}")?;
    Ok(())
}

/// `tessera api-key new`.
///
/// # Errors
/// When the CSPRNG fails.
pub fn api_key(action: ApiKeyAction, out: &mut impl Write) -> anyhow::Result<()> {
    match action {
        ApiKeyAction::New => writeln!(out, "{}", ApiKey::generate()?.expose())?,
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
