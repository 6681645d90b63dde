//! The SQL of the account and API-key steps, and the one-time move of accounts kept by name
//! (before account ids existed) to server-chosen ids.

use rusqlite::{Connection, OptionalExtension, Row, params};
use tessera::store::{Revoked, StoredApiKey, User};
use tessera::{
    AccountId, ApiScope, LoginName, PasswordHash, StoreError, StoreErrorKind, Timestamp, TokenHash,
};

use crate::codec::{db_error, ms};

type Result<T> = std::result::Result<T, StoreError>;

fn corrupt(what: &'static str) -> StoreError {
    StoreError::new(StoreErrorKind::Corrupt, what)
}

pub(crate) fn create_user(conn: &Connection, user: &User) -> Result<bool> {
    let n = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO accounts (id, login, password, created_at) VALUES (?1, ?2, ?3, ?4)",
        )
        .and_then(|mut st| {
            st.execute(params![
                user.id.as_str(),
                user.login.as_str(),
                user.password.as_str(),
                ms(user.created_at)
            ])
        })
        .map_err(db_error)?;
    Ok(n == 1)
}

const ACCOUNT_COLUMNS: &str = "SELECT id, login, password, created_at FROM accounts";

fn account(row: &Row<'_>) -> rusqlite::Result<(String, String, String, i64)> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

fn user_of((id, login, password, created_at): (String, String, String, i64)) -> Result<User> {
    Ok(User {
        id: id.parse().map_err(|_| corrupt("account id"))?,
        login: LoginName::from_stored(login),
        password: PasswordHash::from_stored(password).map_err(|_| corrupt("password hash"))?,
        created_at: Timestamp::from_millis(created_at),
    })
}

fn one_user(conn: &Connection, filter: &str, value: &str) -> Result<Option<User>> {
    conn.prepare_cached(&format!("{ACCOUNT_COLUMNS} WHERE {filter} = ?1"))
        .and_then(|mut st| st.query_row([value], account).optional())
        .map_err(db_error)?
        .map(user_of)
        .transpose()
}

pub(crate) fn get_user(conn: &Connection, id: &AccountId) -> Result<Option<User>> {
    one_user(conn, "id", id.as_str())
}

pub(crate) fn find_user(conn: &Connection, login: &LoginName) -> Result<Option<User>> {
    one_user(conn, "login", login.as_str())
}

pub(crate) fn set_password(
    conn: &Connection,
    id: &AccountId,
    password: &PasswordHash,
) -> Result<bool> {
    let n = conn
        .prepare_cached("UPDATE accounts SET password = ?1 WHERE id = ?2")
        .and_then(|mut st| st.execute(params![password.as_str(), id.as_str()]))
        .map_err(db_error)?;
    Ok(n == 1)
}

/// Migration 4: every account of the old `users` table (keyed by the name its owner typed)
/// gets a fresh random id and keeps its password. Names already in today's normal form keep
/// it first (they are what people type); any other takes its normal form if free, else stays
/// as it was. No account is ever dropped: a name that fits nowhere fails the migration.
pub(crate) fn move_users_to_accounts(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    let old: Vec<(String, String, i64)> = tx
        .prepare("SELECT user_id, password, created_at FROM users ORDER BY created_at")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let normal = |name: &str| LoginName::parse(name).ok().map(|l| l.to_string());
    let (settled, others): (Vec<_>, Vec<_>) = old
        .into_iter()
        .partition(|(name, _, _)| normal(name).as_deref() == Some(name.as_str()));
    let mut insert = tx.prepare(
        "INSERT OR IGNORE INTO accounts (id, login, password, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (name, password, created_at) in settled.into_iter().chain(others) {
        let id = AccountId::generate()
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        let moved = [normal(&name), Some(name.clone())]
            .into_iter()
            .flatten()
            .map(|login| insert.execute(params![id.as_str(), login, password, created_at]))
            .find(|n| !matches!(n, Ok(0)))
            .transpose()?;
        if moved.is_none() {
            return Err(rusqlite::Error::ToSqlConversionFailure(
                format!("account {name:?} clashes with another after normalization").into(),
            ));
        }
    }
    tx.execute_batch("DROP TABLE users")
}

pub(crate) fn create_api_key(conn: &Connection, key: &StoredApiKey) -> Result<bool> {
    let n = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO api_keys (name, scope, hash, created_at) VALUES (?1, ?2, ?3, ?4)",
        )
        .and_then(|mut st| {
            st.execute(params![
                key.name,
                key.scope.as_str(),
                key.hash.as_bytes(),
                ms(key.created_at)
            ])
        })
        .map_err(db_error)?;
    Ok(n == 1)
}

pub(crate) fn list_api_keys(conn: &Connection) -> Result<Vec<StoredApiKey>> {
    let mut st = conn
        .prepare_cached(
            "SELECT name, scope, hash, created_at, last_used_at FROM api_keys ORDER BY name",
        )
        .map_err(db_error)?;
    let rows = st
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, Option<i64>>(4)?,
            ))
        })
        .map_err(db_error)?;
    rows.map(|row| {
        let (name, scope, hash, created_at, last_used_at) = row.map_err(db_error)?;
        Ok(StoredApiKey {
            name,
            scope: scope
                .parse::<ApiScope>()
                .map_err(|_| corrupt("API key scope"))?,
            hash: TokenHash::from_bytes(hash.try_into().map_err(|_| corrupt("API key hash"))?),
            created_at: Timestamp::from_millis(created_at),
            last_used_at: last_used_at.map(Timestamp::from_millis),
        })
    })
    .collect()
}

pub(crate) fn revoke_api_key(
    conn: &Connection,
    name: &str,
    until: Timestamp,
) -> Result<Option<TokenHash>> {
    let hash: Option<Vec<u8>> = conn
        .prepare_cached("DELETE FROM api_keys WHERE name = ?1 RETURNING hash")
        .and_then(|mut st| st.query_row([name], |r| r.get(0)).optional())
        .map_err(db_error)?;
    let Some(hash) = hash else {
        return Ok(None);
    };
    let hash = TokenHash::from_bytes(hash.try_into().map_err(|_| corrupt("API key hash"))?);
    crate::ops::append(conn, &Revoked::ApiKey(hash), until)?;
    Ok(Some(hash))
}

pub(crate) fn record_api_key_use(
    conn: &Connection,
    name: &str,
    hash: &TokenHash,
    at: Timestamp,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, 0), ?3)
         WHERE name = ?1 AND hash = ?2",
    )
    .and_then(|mut st| st.execute(params![name, hash.as_bytes(), ms(at)]))
    .map_err(db_error)?;
    Ok(())
}
