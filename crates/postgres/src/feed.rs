//! The revocation feed: appended to by every revoking step, in its transaction; read by every
//! node in cursor order; announced with `NOTIFY` on commit.

use deadpool_postgres::GenericClient;
use futures_util::StreamExt;
use tessera::store::{FeedEntry, Revoked};
use tessera::{StoreError, StoreErrorKind, Timestamp};
use tokio_postgres::AsyncMessage;

use crate::PostgresStore;
use crate::store::{db_error, int, ms, row, rows, run, uint};

type Result<T> = std::result::Result<T, StoreError>;

/// The channel new feed entries are announced on (the payload is the cursor).
pub(crate) const CHANNEL: &str = "tessera_revocations";

/// Appends one entry in the caller's transaction. The cursor comes from the `feed_head` row,
/// locked until the transaction ends: cursors are in commit order.
pub(crate) async fn append(
    tx: &impl GenericClient,
    revoked: &Revoked,
    until: Timestamp,
) -> Result<()> {
    let (kind, target) = revoked.to_stored();
    let kind = i16::from(kind);
    let row = row(
        tx,
        "UPDATE feed_head SET cursor = cursor + 1 WHERE id = 1 RETURNING cursor",
        &[],
    )
    .await?;
    let cursor: i64 = row.get(0);
    run(
        tx,
        "INSERT INTO revocations (cursor, kind, target, until) VALUES ($1, $2, $3, $4)",
        &[&cursor, &kind, &target, &ms(until)],
    )
    .await?;
    run(
        tx,
        "SELECT pg_notify($1, $2)",
        &[&CHANNEL, &cursor.to_string()],
    )
    .await?;
    Ok(())
}

pub(crate) async fn revocations_after(
    client: &impl GenericClient,
    after: u64,
    limit: usize,
) -> Result<Vec<FeedEntry>> {
    let rows = rows(
        client,
        "SELECT cursor, kind, target, until FROM revocations WHERE cursor > $1
             ORDER BY cursor LIMIT $2",
        &[&int(after), &int(limit as u64)],
    )
    .await?;
    rows.iter()
        .map(|r| {
            let (cursor, kind, target, until): (i64, i16, String, i64) =
                (r.get(0), r.get(1), r.get(2), r.get(3));
            Ok(FeedEntry {
                cursor: uint(cursor),
                revoked: Revoked::from_stored(u8::try_from(kind).unwrap_or(u8::MAX), &target)?,
                until: Timestamp::from_millis(until),
            })
        })
        .collect()
}

/// Deletes up to `batch` entries past their `until`.
pub(crate) async fn purge(client: &impl GenericClient, now: Timestamp, batch: i64) -> Result<()> {
    run(
        client,
        "DELETE FROM revocations WHERE cursor IN
             (SELECT cursor FROM revocations WHERE until <= $1 ORDER BY until LIMIT $2)",
        &[&ms(now), &batch],
    )
    .await?;
    Ok(())
}

impl PostgresStore {
    /// Follows the announcements of revocations made by any node (`LISTEN` on a connection of
    /// its own): calls `heard` once listening (to catch up on whatever was missed before) and
    /// then for each announcement. Returns when the connection is lost; call again (after a
    /// pause) to listen again. Announcements only wake a node early: it reads the feed itself,
    /// and fails closed when it cannot.
    ///
    /// # Errors
    /// A [`StoreError`] when the database cannot be reached, or the connection breaks.
    pub async fn follow_revocations(&self, heard: impl Fn() + Send) -> Result<()> {
        let (client, mut connection) = self
            .config
            .connect(self.tls.clone())
            .await
            .map_err(db_error)?;
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        let closed =
            || StoreError::new(StoreErrorKind::Unavailable, "the LISTEN connection closed");
        // The connection's messages must be read for LISTEN itself to complete.
        let sql = format!("LISTEN {CHANNEL}");
        let listen = client.batch_execute(&sql);
        tokio::pin!(listen);
        loop {
            tokio::select! {
                done = &mut listen => {
                    done.map_err(db_error)?;
                    break;
                }
                message = messages.next() => match message {
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(db_error(e)),
                    None => return Err(closed()),
                },
            }
        }
        heard();
        // `client` stays alive while the messages are read: dropping it would close them.
        while let Some(message) = messages.next().await {
            if let AsyncMessage::Notification(_) = message.map_err(db_error)? {
                heard();
            }
        }
        Err(closed())
    }
}
