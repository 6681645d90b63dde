//! Accounts of the built-in sign-in: the SQL of each step, [`AccountStore`], and the one-time
//! move of accounts kept by name (before account ids existed) to server-chosen ids.

use rusqlite::{Connection, OptionalExtension, Row, params};
use tessera::store::{AccountStore, User};
use tessera::{AccountId, LoginName, PasswordHash, StoreError, StoreErrorKind, Timestamp};

use crate::SqliteStore;

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

pub(crate) fn list_users(
    conn: &Connection,
    after: Option<&LoginName>,
    limit: usize,
) -> Result<Vec<User>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    conn.prepare_cached(&format!(
        "{ACCOUNT_COLUMNS} WHERE login > ?1 ORDER BY login LIMIT ?2"
    ))
    .and_then(|mut st| {
        st.query_map(params![after.map_or("", LoginName::as_str), limit], account)?
            .collect::<rusqlite::Result<Vec<_>>>()
    })
    .map_err(db_error)?
    .into_iter()
    .map(user_of)
    .collect()
}

pub(crate) fn delete_user(conn: &Connection, id: &AccountId) -> Result<bool> {
    let n = conn
        .prepare_cached("DELETE FROM accounts WHERE id = ?1")
        .and_then(|mut st| st.execute([id.as_str()]))
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

impl AccountStore for SqliteStore {
    async fn create_user(&self, user: &User) -> Result<bool> {
        let user = user.clone();
        self.writer.write(move |c| create_user(c, &user)).await
    }

    async fn get_user(&self, id: &AccountId) -> Result<Option<User>> {
        let id = id.clone();
        self.readers.read(move |c| get_user(c, &id)).await
    }

    async fn find_user(&self, login: &LoginName) -> Result<Option<User>> {
        let login = login.clone();
        self.readers.read(move |c| find_user(c, &login)).await
    }

    async fn set_password(&self, id: &AccountId, password: &PasswordHash) -> Result<bool> {
        let (id, password) = (id.clone(), password.clone());
        self.writer
            .write(move |c| set_password(c, &id, &password))
            .await
    }

    async fn list_users(&self, after: Option<&LoginName>, limit: usize) -> Result<Vec<User>> {
        let after = after.cloned();
        self.readers
            .read(move |c| list_users(c, after.as_ref(), limit))
            .await
    }

    async fn delete_user(&self, id: &AccountId) -> Result<bool> {
        let id = id.clone();
        self.writer.write(move |c| delete_user(c, &id)).await
    }
}
