//! The federation outbox. Claims are one statement; PostgreSQL adds `FOR UPDATE SKIP
//! LOCKED` so concurrent replicas claim disjoint rows (SQLite has one writer anyway).

use sqlx::FromRow;

use super::{Backend, OutboxStatus, Store, StoreError, StoreResult};

const OUTBOX_COLUMNS: &str = "id, user_id, message_type, to_handle, peer_host, body, \
     invitation_id, status, attempts, next_attempt_at, last_error, created_at, updated_at";

/// A queued outbound federation message.
#[derive(Debug, Clone, FromRow)]
pub struct OutboxRow {
    /// Outbox id.
    pub id: String,
    /// The local sender; `None` once the sender is gone.
    pub user_id: Option<String>,
    /// e.g. `FRIEND_INVITE`.
    pub message_type: String,
    /// The recipient's handle.
    pub to_handle: String,
    /// The recipient's server (host[:port]).
    pub peer_host: String,
    /// The signed envelope to deliver (JSON).
    pub body: String,
    /// The invitation this message answers or makes, if any.
    pub invitation_id: Option<String>,
    /// Where delivery stands.
    #[sqlx(try_from = "String")]
    pub status: OutboxStatus,
    /// Delivery attempts made so far.
    pub attempts: i64,
    /// Unix milliseconds: when the next attempt is due.
    pub next_attempt_at: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
}

/// A message to queue (pending, due at once).
pub struct NewOutboxRow<'a> {
    /// Outbox id.
    pub id: &'a str,
    /// The local sender.
    pub user_id: &'a str,
    /// e.g. `FRIEND_INVITE`.
    pub message_type: &'a str,
    /// The recipient's handle.
    pub to_handle: &'a str,
    /// The recipient's server (host[:port]).
    pub peer_host: &'a str,
    /// The signed envelope to deliver (JSON).
    pub body: &'a str,
    /// The invitation this message answers or makes, if any.
    pub invitation_id: Option<&'a str>,
    /// Unix milliseconds: the creation time.
    pub now: i64,
}

impl Store {
    /// Queues one message.
    pub async fn enqueue_outbox(&self, row: &NewOutboxRow<'_>) -> StoreResult<()> {
        insert_outbox(self.writer(), row).await
    }

    /// Leases up to `limit` due pending rows until `lease_until`.
    pub async fn claim_outbox(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> StoreResult<Vec<OutboxRow>> {
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        Ok(sqlx::query_as(&format!(
            "UPDATE federation_outbox SET locked_until = $2 WHERE id IN (\
             SELECT id FROM federation_outbox WHERE status = 'pending' \
             AND next_attempt_at <= $1 AND locked_until <= $1 \
             ORDER BY next_attempt_at LIMIT $3{lock}) RETURNING {OUTBOX_COLUMNS}"
        ))
        .bind(now)
        .bind(lease_until)
        .bind(limit)
        .fetch_all(self.writer())
        .await?)
    }

    /// Ends a claimed row: `status` with the attempt count and the last error.
    pub async fn finish_outbox(
        &self,
        id: &str,
        status: OutboxStatus,
        error: Option<&str>,
        attempts: i64,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE federation_outbox SET status = $2, last_error = $3, attempts = $4, \
             locked_until = 0, updated_at = $5 WHERE id = $1",
        )
        .bind(id)
        .bind(status.as_str())
        .bind(error)
        .bind(attempts)
        .bind(now)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Releases a claimed row for another attempt at `next_attempt_at`.
    pub async fn retry_outbox(
        &self,
        id: &str,
        error: &str,
        attempts: i64,
        next_attempt_at: i64,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE federation_outbox SET last_error = $2, attempts = $3, \
             next_attempt_at = $4, locked_until = 0, updated_at = $5 WHERE id = $1",
        )
        .bind(id)
        .bind(error)
        .bind(attempts)
        .bind(next_attempt_at)
        .bind(now)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// The user's newest `limit` outbound messages, newest first.
    pub async fn list_outbox(&self, user_id: &str, limit: i64) -> StoreResult<Vec<OutboxRow>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM federation_outbox WHERE user_id = $1 \
             ORDER BY created_at DESC, id LIMIT $2"
        ))
        .bind(user_id)
        .bind(limit)
        .fetch_all(self.reader())
        .await?)
    }

    /// Messages waiting to be delivered (`metrics`).
    pub async fn outbox_depth(&self) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM federation_outbox WHERE status = 'pending'")
                .fetch_one(self.reader())
                .await?,
        )
    }

    /// Delivery status of the newest message sent for an invitation.
    pub async fn invitation_delivery(
        &self,
        invitation_id: &str,
    ) -> StoreResult<Option<OutboxStatus>> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT status FROM federation_outbox WHERE invitation_id = $1 \
             ORDER BY created_at DESC LIMIT 1",
        )
        .bind(invitation_id)
        .fetch_optional(self.reader())
        .await?;
        row.map(|(s,)| OutboxStatus::try_from(s).map_err(StoreError::Corrupt))
            .transpose()
    }
}

/// The outbox insert, on the pool or inside a caller's transaction.
pub(super) async fn insert_outbox<'e, E>(executor: E, row: &NewOutboxRow<'_>) -> StoreResult<()>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO federation_outbox (id, user_id, message_type, to_handle, peer_host, \
         body, invitation_id, status, attempts, next_attempt_at, locked_until, \
         created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, 0, $8, $8)",
    )
    .bind(row.id)
    .bind(row.user_id)
    .bind(row.message_type)
    .bind(row.to_handle)
    .bind(row.peer_host)
    .bind(row.body)
    .bind(row.invitation_id)
    .bind(row.now)
    .execute(executor)
    .await?;
    Ok(())
}
