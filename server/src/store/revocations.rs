//! `/users/me/revocations/*`: the pending revocations an identity reset queued for friends
//! on other servers.

use super::{Store, StoreResult};

/// A revocation queued for a former peer on another server.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RevocationRow {
    /// Revocation id.
    pub id: String,
    /// The peer's handle.
    pub peer_handle: String,
    /// The peer's handle, lowercased.
    pub peer_key: String,
    /// Why the last flush failed.
    pub last_error: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
}

impl Store {
    /// The user's queued revocations, oldest first.
    pub async fn pending_revocations(&self, user_id: &str) -> StoreResult<Vec<RevocationRow>> {
        self.all_by(
            "SELECT id, peer_handle, peer_key, last_error, created_at FROM pending_revocations \
             WHERE user_id = $1 ORDER BY created_at, peer_key",
            user_id,
        )
        .await
    }

    /// Drops one queued revocation; `false` when none was queued.
    pub async fn delete_revocation(&self, user_id: &str, peer_key: &str) -> StoreResult<bool> {
        self.delete_owned("pending_revocations", "peer_key", user_id, peer_key)
            .await
    }

    /// Records why the last flush of a queued revocation failed.
    pub async fn fail_revocation(
        &self,
        user_id: &str,
        peer_key: &str,
        error: &str,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE pending_revocations SET last_error = $3, updated_at = $4 \
             WHERE user_id = $1 AND peer_key = $2",
        )
        .bind(user_id)
        .bind(peer_key)
        .bind(error)
        .bind(now)
        .execute(self.writer())
        .await?;
        Ok(())
    }
}
