//! The writes of one inbox message as ONE transaction: its replay memory (transport and
//! message nonce) and its state transition commit together or not at all, so a failed
//! message leaves nothing behind and a crash cannot leave a nonce without its effect.
//! One commit per message is also what makes the inbox fast: on SQLite the commit, not the
//! statements, is the cost.

use sqlx::{Any, Transaction};

use super::friends::{self, FriendRow, InvitationRow, NewShare};
use super::{Store, StoreResult};

pub struct InboxTx {
    tx: Transaction<'static, Any>,
}

impl Store {
    pub async fn begin_inbox(&self) -> StoreResult<InboxTx> {
        Ok(InboxTx {
            tx: self.writer().begin().await?,
        })
    }
}

impl InboxTx {
    pub async fn commit(self) -> StoreResult<()> {
        self.tx.commit().await?;
        Ok(())
    }

    /// Records a transport nonce of `sender`; `false` when it was seen before (a replay).
    pub async fn record_transport_nonce(
        &mut self,
        sender: &str,
        nonce: &str,
        now: i64,
    ) -> StoreResult<bool> {
        super::federation::record_transport_nonce(&mut *self.tx, sender, nonce, now).await
    }

    /// Records the user-level (from, nonce) of a v2 message; `false` when already processed.
    pub async fn record_message_nonce(
        &mut self,
        from_key: &str,
        nonce: &str,
        now: i64,
    ) -> StoreResult<bool> {
        // ON CONFLICT, not a caught unique violation: on PostgreSQL an error would abort
        // the whole transaction.
        let done = sqlx::query(
            "INSERT INTO federation_message_nonces (from_handle, nonce, created_at) \
             VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(from_key)
        .bind(nonce)
        .bind(now)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn friendship(
        &mut self,
        user_id: &str,
        peer_key: &str,
    ) -> StoreResult<Option<FriendRow>> {
        friends::friendship(&mut *self.tx, user_id, peer_key).await
    }

    pub async fn pending_invitation(
        &mut self,
        user_id: &str,
        peer_key: &str,
        direction: &str,
        now: i64,
    ) -> StoreResult<Option<InvitationRow>> {
        friends::pending_invitation(&mut *self.tx, user_id, peer_key, direction, now).await
    }

    /// Inserts a pending invitation unless one is already pending for this user, peer and
    /// direction (then `false`).
    pub async fn insert_invitation(&mut self, row: &InvitationRow) -> StoreResult<bool> {
        friends::insert_invitation(&mut *self.tx, row, true).await
    }

    pub async fn finish_invitation(
        &mut self,
        id: &str,
        status: &str,
        now: i64,
    ) -> StoreResult<bool> {
        friends::finish_invitation(&mut *self.tx, id, status, now).await
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn insert_friendship(
        &mut self,
        id: &str,
        user_id: &str,
        friend_handle: &str,
        peer_key: &str,
        signing_key: &str,
        encryption_key: Option<&str>,
        name: Option<&str>,
        now: i64,
    ) -> StoreResult<bool> {
        friends::insert_friendship(
            &mut *self.tx,
            id,
            user_id,
            friend_handle,
            peer_key,
            signing_key,
            encryption_key,
            name,
            now,
        )
        .await
    }

    pub async fn end_relationship(
        &mut self,
        user_id: &str,
        peer_key: &str,
        now: i64,
    ) -> StoreResult<bool> {
        friends::end_relationship(&mut self.tx, user_id, peer_key, now).await
    }

    /// Keeps the newest location per friend: `false` when `sent_at` is not newer.
    #[allow(clippy::too_many_arguments)]
    pub async fn put_location(
        &mut self,
        user_id: &str,
        peer_key: &str,
        from_handle: &str,
        encrypted_location: &str,
        sent_at: i64,
        envelope: &str,
        now: i64,
    ) -> StoreResult<bool> {
        friends::put_location(
            &mut *self.tx,
            user_id,
            peer_key,
            from_handle,
            encrypted_location,
            sent_at,
            envelope,
            now,
        )
        .await
    }

    pub async fn put_location_request(
        &mut self,
        user_id: &str,
        peer_key: &str,
        from_handle: &str,
        now: i64,
    ) -> StoreResult<()> {
        friends::put_location_request(&mut *self.tx, user_id, peer_key, from_handle, now).await
    }

    pub async fn insert_share(&mut self, share: &NewShare<'_>, now: i64) -> StoreResult<()> {
        friends::insert_share(&mut *self.tx, share, now).await
    }
}
