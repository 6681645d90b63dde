//! Named API keys: the SQL of each step and [`ApiKeyStore`].

use rusqlite::{Connection, OptionalExtension, params};
use tessera::store::{ApiKeyStore, Revoked, StoredApiKey};
use tessera::{ApiScope, StoreError, StoreErrorKind, Timestamp, TokenHash};

use crate::SqliteStore;
use crate::codec::{db_error, ms};

type Result<T> = std::result::Result<T, StoreError>;

fn corrupt(what: &'static str) -> StoreError {
    StoreError::new(StoreErrorKind::Corrupt, what)
}

fn create_api_key(conn: &Connection, key: &StoredApiKey) -> Result<bool> {
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

fn list_api_keys(conn: &Connection) -> Result<Vec<StoredApiKey>> {
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

fn revoke_api_key(conn: &Connection, name: &str, until: Timestamp) -> Result<Option<TokenHash>> {
    let hash: Option<Vec<u8>> = conn
        .prepare_cached("DELETE FROM api_keys WHERE name = ?1 RETURNING hash")
        .and_then(|mut st| st.query_row([name], |r| r.get(0)).optional())
        .map_err(db_error)?;
    let Some(hash) = hash else {
        return Ok(None);
    };
    let hash = TokenHash::from_bytes(hash.try_into().map_err(|_| corrupt("API key hash"))?);
    crate::feed::append(conn, &Revoked::ApiKey(hash), until)?;
    Ok(Some(hash))
}

fn record_api_key_use(
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

impl ApiKeyStore for SqliteStore {
    async fn create_api_key(&self, key: &StoredApiKey) -> Result<bool> {
        let key = key.clone();
        self.writer.write(move |c| create_api_key(c, &key)).await
    }

    async fn list_api_keys(&self) -> Result<Vec<StoredApiKey>> {
        self.readers.read(list_api_keys).await
    }

    async fn revoke_api_key(&self, name: &str, until: Timestamp) -> Result<Option<TokenHash>> {
        let name = name.to_owned();
        self.writer
            .write(move |c| revoke_api_key(c, &name, until))
            .await
    }

    async fn record_api_key_use(&self, name: &str, hash: &TokenHash, at: Timestamp) -> Result<()> {
        let (name, hash) = (name.to_owned(), *hash);
        self.writer
            .write(move |c| record_api_key_use(c, &name, &hash, at))
            .await
    }
}
