//! `/users/me/wrapped-keys*`: passkey key slots (the seed sealed under a passkey's PRF).

use sqlx::{Any, FromRow, Transaction};

use super::placeholders;
use super::{Store, StoreResult};
use crate::store::keys::BATCH_ROWS;

/// A stored key slot.
#[derive(Debug, Clone, FromRow)]
pub struct SlotRow {
    /// WebAuthn credential id (base64url) of the passkey.
    pub credential_id: String,
    /// base64 v2 envelope of the master key.
    pub wrapped_km: String,
    /// e.g. `aes-256-gcm-prf-v1`.
    pub wrap_algo: String,
    /// base64 Ed25519 signature by the identity key.
    pub slot_signature: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub last_used_at: Option<i64>,
}

/// A key slot to store (created or replaced).
pub struct NewSlot<'a> {
    /// WebAuthn credential id (base64url) of the passkey.
    pub credential_id: &'a str,
    /// base64 v2 envelope of the master key.
    pub wrapped_km: &'a str,
    /// e.g. `aes-256-gcm-prf-v1`.
    pub wrap_algo: &'a str,
    /// base64 Ed25519 signature by the identity key.
    pub slot_signature: &'a str,
}

pub(super) async fn upsert_slots(
    tx: &mut Transaction<'_, Any>,
    user_id: &str,
    slots: &[NewSlot<'_>],
    now: i64,
) -> StoreResult<()> {
    for chunk in slots.chunks(BATCH_ROWS) {
        let sql = format!(
            "INSERT INTO wrapped_master_keys \
             (user_id, credential_id, wrapped_km, wrap_algo, slot_signature, created_at) \
             VALUES {} ON CONFLICT (user_id, credential_id) DO UPDATE SET \
             wrapped_km = excluded.wrapped_km, wrap_algo = excluded.wrap_algo, \
             slot_signature = excluded.slot_signature",
            placeholders::rows(chunk.len(), 6, 0)
        );
        let mut q = sqlx::query(&sql);
        for slot in chunk {
            q = q
                .bind(user_id)
                .bind(slot.credential_id)
                .bind(slot.wrapped_km)
                .bind(slot.wrap_algo)
                .bind(slot.slot_signature)
                .bind(now);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

impl Store {
    /// The user's key slots, oldest first.
    pub async fn slots_of_user(&self, user_id: &str) -> StoreResult<Vec<SlotRow>> {
        self.all_by(
            "SELECT credential_id, wrapped_km, wrap_algo, slot_signature, created_at, last_used_at \
             FROM wrapped_master_keys WHERE user_id = $1 ORDER BY created_at, credential_id",
            user_id,
        )
        .await
    }

    /// Whether `credential_id` is one of the user's passkeys.
    pub async fn owns_passkey(&self, user_id: &str, credential_id: &str) -> StoreResult<bool> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM passkeys WHERE id = $1 AND user_id = $2")
                .bind(credential_id)
                .bind(user_id)
                .fetch_one(self.reader())
                .await?;
        Ok(n == 1)
    }

    /// Stores one slot (created, or replaced for the same credential).
    pub async fn put_slot(&self, user_id: &str, slot: &NewSlot<'_>, now: i64) -> StoreResult<()> {
        let mut tx = self.writer().begin().await?;
        upsert_slots(&mut tx, user_id, std::slice::from_ref(slot), now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes one slot of the user; `false` when there was none.
    pub async fn delete_slot(&self, user_id: &str, credential_id: &str) -> StoreResult<bool> {
        self.delete_owned(
            "wrapped_master_keys",
            "credential_id",
            user_id,
            credential_id,
        )
        .await
    }

    /// Records that the slot unlocked the master key; `false` when there is no such slot.
    pub async fn mark_slot_used(
        &self,
        user_id: &str,
        credential_id: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE wrapped_master_keys SET last_used_at = $3 \
             WHERE user_id = $1 AND credential_id = $2",
        )
        .bind(user_id)
        .bind(credential_id)
        .bind(now)
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() > 0)
    }
}
