//! The signing keyset and server-wide settings: the SQL of each step and [`KeyStore`].

use rusqlite::{Connection, OptionalExtension, params};
use tessera::store::{KeyStore, StoredKeyset};
use tessera::{StoreError, StoreErrorKind};

use crate::SqliteStore;
use crate::codec::{db_error, int, uint};

type Result<T> = std::result::Result<T, StoreError>;

fn load_keyset(conn: &Connection) -> Result<Option<StoredKeyset>> {
    conn.prepare_cached("SELECT version, document FROM keyset WHERE id = 1")
        .and_then(|mut st| {
            st.query_row([], |r| {
                Ok(StoredKeyset {
                    version: uint(r.get(0)?),
                    document: r.get(1)?,
                })
            })
            .optional()
        })
        .map_err(db_error)
}

fn save_keyset(conn: &Connection, expected: Option<u64>, document: &[u8]) -> Result<bool> {
    let changed = match expected {
        None => conn.execute(
            "INSERT OR IGNORE INTO keyset (id, version, document) VALUES (1, 1, ?1)",
            [document],
        ),
        Some(v) => conn.execute(
            "UPDATE keyset SET version = version + 1, document = ?1 WHERE id = 1 AND version = ?2",
            params![document, int(v)],
        ),
    }
    .map_err(db_error)?;
    Ok(changed == 1)
}

fn get_setting(conn: &Connection, name: &str) -> Result<Option<Vec<u8>>> {
    conn.prepare_cached("SELECT value FROM settings WHERE name = ?1")
        .and_then(|mut st| st.query_row([name], |r| r.get(0)).optional())
        .map_err(db_error)
}

fn put_setting(conn: &Connection, name: &str, value: &[u8]) -> Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO settings (name, value) VALUES (?1, ?2)",
        params![name, value],
    )
    .map_err(db_error)?;
    Ok(())
}

fn init_setting(conn: &Connection, name: &str, value: &[u8]) -> Result<Vec<u8>> {
    conn.execute(
        "INSERT OR IGNORE INTO settings (name, value) VALUES (?1, ?2)",
        params![name, value],
    )
    .map_err(db_error)?;
    get_setting(conn, name)?
        .ok_or_else(|| StoreError::new(StoreErrorKind::Other, "setting vanished"))
}

impl KeyStore for SqliteStore {
    async fn load_keyset(&self) -> Result<Option<StoredKeyset>> {
        self.readers.read(load_keyset).await
    }

    async fn save_keyset(&self, expected: Option<u64>, document: &[u8]) -> Result<bool> {
        let document = document.to_vec();
        self.writer
            .write(move |c| save_keyset(c, expected, &document))
            .await
    }

    async fn get_setting(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let name = name.to_owned();
        self.readers.read(move |c| get_setting(c, &name)).await
    }

    async fn put_setting(&self, name: &str, value: &[u8]) -> Result<()> {
        let (name, value) = (name.to_owned(), value.to_vec());
        self.writer
            .write(move |c| put_setting(c, &name, &value))
            .await
    }

    async fn init_setting(&self, name: &str, value: &[u8]) -> Result<Vec<u8>> {
        let (name, value) = (name.to_owned(), value.to_vec());
        self.writer
            .write(move |c| init_setting(c, &name, &value))
            .await
    }
}
