//! Named API keys; a revocation commits with its feed entry.

use tessera::store::{ApiKeyStore, Revoked, StoredApiKey};
use tessera::{ApiScope, StoreError, Timestamp, TokenHash};

use crate::PostgresStore;
use crate::store::{corrupt, db_error, maybe_row, ms, rows, run};

type Result<T> = std::result::Result<T, StoreError>;

fn hash_of(bytes: &[u8]) -> Result<TokenHash> {
    <[u8; 32]>::try_from(bytes)
        .map(TokenHash::from_bytes)
        .map_err(|_| corrupt("API key hash"))
}

impl ApiKeyStore for PostgresStore {
    async fn create_api_key(&self, key: &StoredApiKey) -> Result<bool> {
        let n = run(
            &self.conn().await?,
            "INSERT INTO api_keys (name, scope, hash, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
            &[
                &key.name,
                &key.scope.as_str(),
                &key.hash.as_bytes().as_slice(),
                &ms(key.created_at),
            ],
        )
        .await?;
        Ok(n == 1)
    }

    async fn list_api_keys(&self) -> Result<Vec<StoredApiKey>> {
        let rows = rows(
            &self.conn().await?,
            "SELECT name, scope, hash, created_at, last_used_at FROM api_keys ORDER BY name",
            &[],
        )
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredApiKey {
                    name: r.get(0),
                    scope: r
                        .get::<_, &str>(1)
                        .parse::<ApiScope>()
                        .map_err(|_| corrupt("API key scope"))?,
                    hash: hash_of(r.get(2))?,
                    created_at: Timestamp::from_millis(r.get(3)),
                    last_used_at: r.get::<_, Option<i64>>(4).map(Timestamp::from_millis),
                })
            })
            .collect()
    }

    async fn revoke_api_key(&self, name: &str, until: Timestamp) -> Result<Option<TokenHash>> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db_error)?;
        let Some(row) = maybe_row(
            &tx,
            "DELETE FROM api_keys WHERE name = $1 RETURNING hash",
            &[&name],
        )
        .await?
        else {
            return Ok(None);
        };
        let hash = hash_of(row.get(0))?;
        crate::feed::append(&tx, &Revoked::ApiKey(hash), until).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(Some(hash))
    }

    async fn record_api_key_use(&self, name: &str, hash: &TokenHash, at: Timestamp) -> Result<()> {
        run(
            &self.conn().await?,
            "UPDATE api_keys SET last_used_at = GREATEST(COALESCE(last_used_at, 0), $3)
                 WHERE name = $1 AND hash = $2",
            &[&name, &hash.as_bytes().as_slice(), &ms(at)],
        )
        .await?;
        Ok(())
    }
}
