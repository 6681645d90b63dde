//! The audit trail.

use deadpool_postgres::GenericClient;
use tessera::store::AuditStore;
use tessera::{AuditEvent, StoreError, StoreErrorKind, StoredEvent, Timestamp};

use crate::PostgresStore;
use crate::store::{db_error, int, ms, rows, run, uint};

type Result<T> = std::result::Result<T, StoreError>;

/// Appends `event` in the caller's transaction (or alone).
pub(crate) async fn append(c: &impl GenericClient, event: &AuditEvent) -> Result<()> {
    let json =
        serde_json::to_string(event).map_err(|e| StoreError::new(StoreErrorKind::Other, e))?;
    run(
        c,
        "INSERT INTO audit (at, user_id, event) VALUES ($1, $2, $3)",
        &[&ms(event.at), &event.user_id, &json],
    )
    .await?;
    Ok(())
}

impl AuditStore for PostgresStore {
    async fn append_audit(&self, events: &[AuditEvent]) -> Result<()> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db_error)?;
        for event in events {
            append(&tx, event).await?;
        }
        tx.commit().await.map_err(db_error)
    }

    async fn audit_for_user(
        &self,
        user_id: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>> {
        let rows = rows(
            &self.conn().await?,
            "SELECT id, event FROM audit WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
            &[&user_id, &before.map_or(i64::MAX, int), &int(limit as u64)],
        )
        .await?;
        rows.iter()
            .map(|r| {
                let event = serde_json::from_str(r.get::<_, &str>(1))
                    .map_err(|e| StoreError::new(StoreErrorKind::Corrupt, e))?;
                Ok(StoredEvent {
                    id: uint(r.get(0)),
                    event,
                })
            })
            .collect()
    }

    async fn purge_audit(&self, cutoff: Timestamp, batch: usize) -> Result<usize> {
        let n = run(
            &self.conn().await?,
            "DELETE FROM audit WHERE id IN
                 (SELECT id FROM audit WHERE at < $1 ORDER BY at LIMIT $2 FOR UPDATE SKIP LOCKED)",
            &[&ms(cutoff), &int(batch as u64)],
        )
        .await?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }
}
