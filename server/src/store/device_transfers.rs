//! `/device-transfer*`: transfer sessions between two devices of one user. Each step is one
//! conditional `UPDATE`, so two racing requests cannot both move a session on.

use sqlx::FromRow;

use super::{Store, StoreResult};

/// A transfer session as stored.
#[derive(Debug, Clone, FromRow)]
pub struct TransferRow {
    /// Random id (the session id both devices bind their keys to).
    pub id: String,
    /// The user both devices are signed in as.
    pub user_id: String,
    /// The sign-in session of the new (receiving) device.
    pub receiver_session: String,
    /// base64 SHA-256 commitment to the receiver's ephemeral key.
    pub receiver_commitment: String,
    /// The sign-in session of the sending device, once it joined.
    pub sender_session: Option<String>,
    /// base64 X25519 ephemeral key of the sender, once it joined.
    pub sender_public: Option<String>,
    /// base64 X25519 ephemeral key of the receiver, once revealed.
    pub receiver_public: Option<String>,
    /// base64 envelope of the seed, once uploaded.
    pub sealed_seed: Option<String>,
    /// base64 identity signature over the exchange, once uploaded.
    pub sender_signature: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub expires_at: i64,
    /// The `User-Agent` the new device signed in with (shown on the old device).
    pub receiver_user_agent: Option<String>,
    /// When the new device signed in, Unix milliseconds.
    pub receiver_signed_in_at: i64,
}

/// A new transfer session.
pub struct NewTransfer<'a> {
    /// Random id.
    pub id: &'a str,
    /// The user.
    pub user_id: &'a str,
    /// The receiver's sign-in session.
    pub receiver_session: &'a str,
    /// base64 commitment.
    pub receiver_commitment: &'a str,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub expires_at: i64,
}

const COLUMNS: &str = "t.id, t.user_id, t.receiver_session, t.receiver_commitment, \
     t.sender_session, t.sender_public, t.receiver_public, t.sealed_seed, t.sender_signature, \
     t.created_at, t.expires_at, s.user_agent AS receiver_user_agent, \
     s.created_at AS receiver_signed_in_at";

impl Store {
    /// Creates a session unless the user already has `max_live` unexpired ones; `false` then.
    pub async fn create_transfer(&self, new: NewTransfer<'_>, max_live: i64) -> StoreResult<bool> {
        // One statement: the count and the insert cannot interleave with another create.
        let done = sqlx::query(
            "INSERT INTO device_transfers (id, user_id, receiver_session, receiver_commitment, \
             created_at, expires_at) SELECT $1, $2, $3, $4, $5, $6 \
             WHERE (SELECT COUNT(*) FROM device_transfers WHERE user_id = $2 \
             AND expires_at > $5) < $7",
        )
        .bind(new.id)
        .bind(new.user_id)
        .bind(new.receiver_session)
        .bind(new.receiver_commitment)
        .bind(new.created_at)
        .bind(new.expires_at)
        .bind(max_live)
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The user's session `id`, expired or not.
    pub async fn transfer(&self, user_id: &str, id: &str) -> StoreResult<Option<TransferRow>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM device_transfers t JOIN sessions s ON s.id = t.receiver_session \
             WHERE t.id = $1 AND t.user_id = $2"
        ))
        .bind(id)
        .bind(user_id)
        .fetch_optional(self.reader())
        .await?)
    }

    /// The sender joins: only while nobody has, from another sign-in session than the
    /// receiver's, before expiry. `false` when the session moved on meanwhile.
    pub async fn join_transfer(
        &self,
        id: &str,
        sender_session: &str,
        sender_public: &str,
        now: i64,
    ) -> StoreResult<bool> {
        self.transfer_step(
            "sender_session = $2, sender_public = $3 WHERE id = $1 AND sender_public IS NULL \
             AND receiver_session <> $2 AND expires_at > $4",
            [id, sender_session, sender_public],
            now,
        )
        .await
    }

    /// The receiver reveals its key: only its own sign-in session, after the sender joined.
    pub async fn reveal_transfer(
        &self,
        id: &str,
        receiver_session: &str,
        receiver_public: &str,
        now: i64,
    ) -> StoreResult<bool> {
        self.transfer_step(
            "receiver_public = $3 WHERE id = $1 AND receiver_session = $2 \
             AND sender_public IS NOT NULL AND receiver_public IS NULL AND expires_at > $4",
            [id, receiver_session, receiver_public],
            now,
        )
        .await
    }

    /// The sender uploads the sealed seed: only its own sign-in session, once, after the
    /// reveal. `sealed` is `(sealedSeed, senderSignature)`.
    pub async fn seal_transfer(
        &self,
        id: &str,
        sender_session: &str,
        sealed: (&str, &str),
        now: i64,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE device_transfers SET sealed_seed = $3, sender_signature = $4 \
             WHERE id = $1 AND sender_session = $2 AND receiver_public IS NOT NULL \
             AND sealed_seed IS NULL AND expires_at > $5",
        )
        .bind(id)
        .bind(sender_session)
        .bind(sealed.0)
        .bind(sealed.1)
        .bind(now)
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn transfer_step(
        &self,
        set_where: &str,
        values: [&str; 3],
        now: i64,
    ) -> StoreResult<bool> {
        let done = sqlx::query(&format!("UPDATE device_transfers SET {set_where}"))
            .bind(values[0])
            .bind(values[1])
            .bind(values[2])
            .bind(now)
            .execute(self.writer())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Forgets the sealed seed of an expired session (the row stays until housekeeping, so
    /// both devices are told it expired).
    pub async fn scrub_transfer(&self, id: &str) -> StoreResult<()> {
        sqlx::query(
            "UPDATE device_transfers SET sealed_seed = NULL, sender_signature = NULL WHERE id = $1",
        )
        .bind(id)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Deletes the user's session `id`; `false` when there was none.
    pub async fn delete_transfer(&self, user_id: &str, id: &str) -> StoreResult<bool> {
        self.delete_owned("device_transfers", "id", user_id, id)
            .await
    }
}
