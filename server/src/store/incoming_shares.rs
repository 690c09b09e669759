//! `/sharing/incoming*`: what friends shared with the user (RESOURCE_SHARE, ciphertext only),
//! pending until accepted. One row per (user, friend, resource): the inbox replaces it when the
//! friend shares the resource again (a new name, a new key version). A share its owner withdrew
//! (RESOURCE_UNSHARE) stays as a `revoked` row with no ciphertext that nothing here reads.

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
    /// `pending` or `accepted` (`revoked` rows, withdrawn by their owner, are never read).
    pub status: String,
    /// The signed message as received (the recipient's client verifies it).
    pub envelope: String,
    /// Unix milliseconds.
    pub received_at: i64,
}

const COLUMNS: &str = "id, from_handle, peer_key, resource_type, resource_id, encrypted_data, \
     data_nonce, role, status, envelope, received_at";

impl Store {
    /// The user's received shares, newest first.
    pub async fn incoming_shares(&self, user_id: &str) -> StoreResult<Vec<IncomingShareRow>> {
        self.all_by(
            &format!(
                "SELECT {COLUMNS} FROM incoming_shares WHERE user_id = $1 \
                 AND status <> 'revoked' ORDER BY received_at DESC, id DESC"
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
            "SELECT {COLUMNS} FROM incoming_shares WHERE user_id = $1 AND id = $2 \
             AND status <> 'revoked'"
        ))
        .bind(user_id)
        .bind(id)
        .fetch_optional(self.reader())
        .await?)
    }

    /// Accepts the share (one row per resource: a newer message of it replaced the row, so
    /// the newest is what is accepted). `false` when the row is gone.
    pub async fn accept_incoming_share(&self, user_id: &str, id: &str) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE incoming_shares SET status = 'accepted' WHERE user_id = $1 AND id = $2 \
             AND status <> 'revoked'",
        )
        .bind(user_id)
        .bind(id)
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes the share if it is still pending, in one statement (an accept in between
    /// wins). `false` when it was not pending (accepted, or gone).
    pub async fn decline_incoming_share(&self, user_id: &str, id: &str) -> StoreResult<bool> {
        let done = sqlx::query(
            "DELETE FROM incoming_shares WHERE user_id = $1 AND id = $2 AND status = 'pending'",
        )
        .bind(user_id)
        .bind(id)
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes the share, accepted or not. `false` when there was none (a withdrawn share is
    /// none: its row stays, so a late older message cannot bring it back).
    pub async fn remove_incoming_share(&self, user_id: &str, id: &str) -> StoreResult<bool> {
        let done = sqlx::query(
            "DELETE FROM incoming_shares WHERE user_id = $1 AND id = $2 AND status <> 'revoked'",
        )
        .bind(user_id)
        .bind(id)
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
