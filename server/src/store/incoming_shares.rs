//! `/sharing/incoming*`: what friends shared with the user (RESOURCE_SHARE, ciphertext only),
//! pending until accepted. A friend who shares the same resource again (a new name, a new key
//! version) sends a new message; only the newest per (friend, resource) is kept once the user
//! acts on it.

use sqlx::FromRow;

use super::{Store, StoreResult};

/// One received share.
#[derive(Debug, Clone, FromRow)]
pub struct IncomingShareRow {
    /// Row id.
    pub id: String,
    /// The friend's handle as they sent it.
    pub from_handle: String,
    /// The friend's handle, lowercased.
    pub peer_key: String,
    /// e.g. `collection`.
    pub resource_type: String,
    /// The resource's id on the friend's side.
    pub resource_id: String,
    /// base64 legacy ciphertext (the share's description, for the recipient's key).
    pub encrypted_data: String,
    /// base64 12-byte nonce of `encrypted_data`.
    pub data_nonce: String,
    /// `viewer` or `editor`.
    pub role: String,
    /// `pending` or `accepted`.
    pub status: String,
    /// The signed message as received (the recipient's client verifies it).
    pub envelope: String,
    /// Unix milliseconds.
    pub received_at: i64,
}

const COLUMNS: &str = "id, from_handle, peer_key, resource_type, resource_id, encrypted_data, \
     data_nonce, role, status, envelope, received_at";

impl Store {
    /// The user's received shares, newest first (several per resource when a friend shared it
    /// again; the service keeps the newest).
    pub async fn incoming_shares(&self, user_id: &str) -> StoreResult<Vec<IncomingShareRow>> {
        self.all_by(
            &format!(
                "SELECT {COLUMNS} FROM incoming_shares WHERE user_id = $1 \
                 ORDER BY received_at DESC, id DESC"
            ),
            user_id,
        )
        .await
    }

    /// One of the user's received shares.
    pub async fn incoming_share(
        &self,
        user_id: &str,
        id: &str,
    ) -> StoreResult<Option<IncomingShareRow>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM incoming_shares WHERE user_id = $1 AND id = $2"
        ))
        .bind(user_id)
        .bind(id)
        .fetch_optional(self.reader())
        .await?)
    }

    /// Accepts `share` and drops the older messages of the same resource, in one transaction.
    /// `false` when the row is gone meanwhile.
    pub async fn accept_incoming_share(
        &self,
        user_id: &str,
        share: &IncomingShareRow,
    ) -> StoreResult<bool> {
        let mut tx = self.writer().begin().await?;
        let done = sqlx::query(
            "UPDATE incoming_shares SET status = 'accepted' WHERE user_id = $1 AND id = $2",
        )
        .bind(user_id)
        .bind(&share.id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "DELETE FROM incoming_shares WHERE user_id = $1 AND peer_key = $2 \
             AND resource_type = $3 AND resource_id = $4 AND id <> $5",
        )
        .bind(user_id)
        .bind(&share.peer_key)
        .bind(&share.resource_type)
        .bind(&share.resource_id)
        .bind(&share.id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes every message of `share`'s resource from that friend (declined or removed).
    pub async fn drop_incoming_share(
        &self,
        user_id: &str,
        share: &IncomingShareRow,
    ) -> StoreResult<()> {
        sqlx::query(
            "DELETE FROM incoming_shares WHERE user_id = $1 AND peer_key = $2 \
             AND resource_type = $3 AND resource_id = $4",
        )
        .bind(user_id)
        .bind(&share.peer_key)
        .bind(&share.resource_type)
        .bind(&share.resource_id)
        .execute(self.writer())
        .await?;
        Ok(())
    }
}
