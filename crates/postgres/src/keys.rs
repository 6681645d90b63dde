//! The signing keyset (sealed) and server-wide settings.

use tessera::store::{KeyStore, StoredKeyset};
use tessera::{StoreError, StoreErrorKind};

use crate::PostgresStore;
use crate::store::{int, maybe_row, run, uint};

type Result<T> = std::result::Result<T, StoreError>;

impl KeyStore for PostgresStore {
    async fn load_keyset(&self) -> Result<Option<StoredKeyset>> {
        let row = maybe_row(
            &self.conn().await?,
            "SELECT version, document FROM keyset WHERE id = 1",
            &[],
        )
        .await?;
        Ok(row.map(|r| StoredKeyset {
            version: uint(r.get(0)),
            document: r.get(1),
        }))
    }

    async fn save_keyset(&self, expected: Option<u64>, document: &[u8]) -> Result<bool> {
        let conn = self.conn().await?;
        let n = match expected {
            None => {
                run(
                    &conn,
                    "INSERT INTO keyset (id, version, document) VALUES (1, 1, $1)
                     ON CONFLICT DO NOTHING",
                    &[&document],
                )
                .await?
            }
            Some(v) => {
                run(
                    &conn,
                    "UPDATE keyset SET version = version + 1, document = $1
                     WHERE id = 1 AND version = $2",
                    &[&document, &int(v)],
                )
                .await?
            }
        };
        Ok(n == 1)
    }

    async fn get_setting(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let row = maybe_row(
            &self.conn().await?,
            "SELECT value FROM settings WHERE name = $1",
            &[&name],
        )
        .await?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn put_setting(&self, name: &str, value: &[u8]) -> Result<()> {
        run(
            &self.conn().await?,
            "INSERT INTO settings (name, value) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
            &[&name, &value],
        )
        .await?;
        Ok(())
    }

    async fn init_setting(&self, name: &str, value: &[u8]) -> Result<Vec<u8>> {
        // Inserted unless present, then whatever is there: the first writer's value wins. A
        // statement racing another node's first insert waits for it, then cannot see it (its
        // snapshot is older): the next statement does.
        let conn = self.conn().await?;
        for _ in 0..3 {
            let found = maybe_row(
                &conn,
                "WITH put AS (INSERT INTO settings (name, value) VALUES ($1, $2)
                              ON CONFLICT (name) DO NOTHING RETURNING value)
                 SELECT value FROM put UNION ALL SELECT value FROM settings WHERE name = $1 LIMIT 1",
                &[&name, &value],
            )
            .await?;
            if let Some(row) = found {
                return Ok(row.get(0));
            }
        }
        Err(StoreError::new(
            StoreErrorKind::Unavailable,
            "a setting kept changing while it was being initialised",
        ))
    }
}
