//! `tessera users …`: accounts, their passwords, and one-time reset links.

use std::io::Write;

use anyhow::Context;
use tessera::{AuditKind, LoginName};

use super::{date, existing, manager};
use crate::boot;
use crate::cli::UsersAction;
use crate::config::Config;

/// `tessera users create NAME`, password on standard input. The name is normalized as the
/// sign-in page normalizes what people type; the account gets a fresh `usr_` id.
///
/// # Errors
/// A bad user name or password, a taken name, store errors.
pub async fn users(
    config: &Config,
    action: UsersAction,
    input: &mut impl std::io::BufRead,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    match action {
        UsersAction::Create { user } => create_user(config, &user, input, out).await,
        UsersAction::Passwd { user } => passwd(config, &user, input, out).await,
        UsersAction::ResetLink { user, valid } => reset_link(config, &user, &valid, out).await,
        UsersAction::List { after, limit } => list(config, after.as_deref(), limit, out).await,
        UsersAction::Delete { user, yes } => delete(config, &user, yes, input, out).await,
    }
}

async fn list(
    config: &Config,
    after: Option<&str>,
    limit: u32,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let after = after
        .map(|a| LoginName::parse(a).map_err(|e| anyhow::anyhow!("--after: {e}")))
        .transpose()?;
    let m = existing(config).await?;
    let users = m.users(after.as_ref(), limit as usize).await?;
    if users.is_empty() {
        writeln!(out, "no accounts")?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<32}  {:<36}  {:<19}  sessions",
        "login", "id", "created"
    )?;
    for u in &users {
        let live = m.list(u.id.as_str()).await?.len();
        writeln!(
            out,
            "{:<32}  {:<36}  {:<19}  {live}",
            u.login.as_str(),
            u.id.as_str(),
            date(u.created_at)
        )?;
    }
    if let Some(last) = users.last().filter(|_| users.len() == limit as usize) {
        writeln!(out, "(more: --after {})", last.login)?;
    }
    Ok(())
}

async fn delete(
    config: &Config,
    user: &str,
    yes: bool,
    input: &mut impl std::io::BufRead,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let (m, account) = self::account(config, user).await?;
    if !yes {
        anyhow::ensure!(
            std::io::stdin().is_terminal(),
            "deleting {} cannot be undone: add --yes to do it without a terminal",
            account.login
        );
        write!(
            out,
            "Delete {} ({}) and end its sessions? Type its name to confirm: ",
            account.login, account.id
        )?;
        out.flush()?;
        let mut typed = String::new();
        input.read_line(&mut typed)?;
        anyhow::ensure!(typed.trim() == account.login.as_str(), "not deleted");
    }
    let ended = m.delete_user(&account.id).await?;
    writeln!(
        out,
        "deleted {} ({}); {} session(s) ended",
        account.login,
        account.id,
        ended.len()
    )?;
    Ok(())
}

/// A password for the account `login` read from `input`, checked as the pages check one
/// (length, the common-password list, `password_min_strength`) and hashed (off the runtime).
async fn new_password(
    config: &Config,
    login: &str,
    input: &mut impl std::io::BufRead,
) -> anyhow::Result<tessera::PasswordHash> {
    let password = read_password(input)?;
    crate::strength::check(&password, login, config.password_min_strength)
        .map_err(|weak| anyhow::anyhow!("{weak}"))?;
    Ok(tokio::task::spawn_blocking(move || tessera::PasswordHash::new(&password)).await??)
}

async fn create_user(
    config: &Config,
    user: &str,
    input: &mut impl std::io::BufRead,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let login = LoginName::parse(user).map_err(|e| anyhow::anyhow!("{e}"))?;
    let hash = new_password(config, login.as_str(), input).await?;
    let m = manager(config).await?;
    let account = m
        .create_user(&login, hash)
        .await?
        .with_context(|| format!("the login name {login} is taken"))?;
    m.record(Some(account.id.as_str()), None, AuditKind::AccountCreated)
        .await?;
    writeln!(out, "created {login} as {}", account.id)?;
    Ok(())
}

/// The account named `user` on existing data.
async fn account(
    config: &Config,
    user: &str,
) -> anyhow::Result<(boot::Manager, tessera::store::User)> {
    let login = LoginName::parse(user).map_err(|e| anyhow::anyhow!("{e}"))?;
    let m = existing(config).await?;
    let account = m
        .find_user(&login)
        .await?
        .with_context(|| format!("no account is named {login}"))?;
    Ok((m, account))
}

async fn passwd(
    config: &Config,
    user: &str,
    input: &mut impl std::io::BufRead,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let hash = new_password(config, user, input).await?;
    let (m, account) = self::account(config, user).await?;
    m.set_password(&account.id, &hash).await?;
    let ended = m
        .revoke_user(
            account.id.as_str(),
            None,
            tessera::RevokeReason::PasswordChanged,
        )
        .await?;
    m.record(Some(account.id.as_str()), None, AuditKind::PasswordChanged)
        .await?;
    writeln!(
        out,
        "password of {} set; {} session(s) ended",
        account.login,
        ended.len()
    )?;
    Ok(())
}

async fn reset_link(
    config: &Config,
    user: &str,
    valid: &str,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let valid = crate::config::parse_duration(valid, "--valid").map_err(anyhow::Error::msg)?;
    anyhow::ensure!(
        valid > std::time::Duration::ZERO && valid <= tessera::ResetLinks::MAX_LIFETIME,
        "--valid: 1s to 1d; a long-lived link is a standing way in"
    );
    let (m, account) = self::account(config, user).await?;
    let until = tessera::Clock::now(m.clock()).plus(valid);
    let token = m
        .reset_links()
        .issue(&account.id, account.password.as_str().as_bytes(), until);
    m.record(Some(account.id.as_str()), None, AuditKind::ResetLinkIssued)
        .await?;
    writeln!(out, "{}/auth/reset?token={token}", config.public_origin)?;
    writeln!(
        out,
        "(works once, until {}; hand it over by a channel you trust)",
        date(until)
    )?;
    Ok(())
}

/// The password: typed at the terminal without echo (twice, to catch a typo), or the first
/// line of standard input when that is a pipe or a file.
fn read_password(input: &mut impl std::io::BufRead) -> anyhow::Result<String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Repeat the password: ")?;
        anyhow::ensure!(first == again, "the two passwords differ");
        return Ok(first);
    }
    let mut password = String::new();
    input.read_line(&mut password)?;
    Ok(password.trim_end_matches(['\r', '\n']).to_owned())
}
