//! `/users/me/identity`, `/users/me/alias`, `POST /users/me/identity/reset`: the alias and
//! the identity reset (one transaction that also queues the revocations friends are owed).

use std::collections::BTreeMap;

use super::{Store, StoreResult};

/// The caller's own tables that reset empties (all scoped by `user_id`).
pub const WIPED_TABLES: &[&str] = &[
    "device_transfers",
    "wrapped_master_keys",
    "device_wrap_secrets",
    "encrypted_user_blobs",
    "collection_shares",
    "collections",
    "friend_locations",
    "incoming_shares",
    "location_requests",
    "location_sharing",
    "user_events",
    "friend_invitations",
    "friendships",
    "federation_outbox",
];

impl Store {
    /// Sets the alias; the unique index on its lowercase form decides races (`UniqueViolation`).
    pub async fn set_alias(
        &self,
        user_id: &str,
        alias: &str,
        alias_normalized: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE users SET alias = $2, alias_normalized = $3, updated_at = $4 WHERE id = $1",
        )
        .bind(user_id)
        .bind(alias)
        .bind(alias_normalized)
        .bind(now)
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The user whose alias is `alias` in any letter case (the unique index is on the
    /// lowercase form).
    pub async fn user_by_alias(&self, alias: &str) -> StoreResult<Option<super::UserRow>> {
        self.one_by(
            &format!(
                "SELECT {} FROM users WHERE alias_normalized = $1",
                super::users::USER_COLUMNS
            ),
            &alias.to_ascii_lowercase(),
        )
        .await
    }

    /// Wipes everything encrypted under the user's old seed and queues one revocation per
    /// former peer on another server (`our_domain` lowercase host[:port]); local peers have
    /// the relationship ended on their side at once. The first statement takes the user
    /// row's write lock, so a racing km-version commit runs wholly before or after.
    /// Returns the number of revocations newly queued.
    pub async fn reset_identity(
        &self,
        user_id: &str,
        own_key: Option<&str>,
        our_domain: &str,
        new_id: fn() -> String,
        now: i64,
    ) -> StoreResult<usize> {
        let mut tx = self.writer().begin().await?;
        sqlx::query(
            "UPDATE users SET signing_key = NULL, encryption_key = NULL, km_version = 1, \
             updated_at = $2 WHERE id = $1",
        )
        .bind(user_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;

        // Every peer the old identity had a relationship with: (lowercase key, handle).
        let peers: Vec<(String, String)> = sqlx::query_as(
            "SELECT peer_key, friend_handle FROM friendships WHERE user_id = $1 \
             UNION SELECT peer_key, from_handle FROM incoming_shares WHERE user_id = $1 \
             UNION SELECT peer_key, from_handle FROM friend_locations WHERE user_id = $1 \
             UNION SELECT peer_key, from_handle FROM location_requests WHERE user_id = $1 \
             UNION SELECT peer_key, CASE WHEN direction = 'incoming' THEN from_handle \
                   ELSE to_handle END FROM friend_invitations WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_all(&mut *tx)
        .await?;
        let mut unique = BTreeMap::new();
        for (key, handle) in peers {
            unique.entry(key).or_insert(handle);
        }
        let suffix = format!("@{our_domain}");
        let mut queued = 0;
        for (key, handle) in &unique {
            if key.ends_with(&suffix) {
                // A local peer: end the relationship on their side now.
                if let Some(own_key) = own_key {
                    let peer: Option<(String,)> =
                        sqlx::query_as("SELECT id FROM users WHERE alias_normalized = $1")
                            .bind(&key[..key.len() - suffix.len()])
                            .fetch_optional(&mut *tx)
                            .await?;
                    if let Some((peer_id,)) = peer {
                        super::friends::end_relationship(&mut tx, &peer_id, own_key, now).await?;
                    }
                }
                continue;
            }
            let done = sqlx::query(
                "INSERT INTO pending_revocations \
                 (id, user_id, peer_handle, peer_key, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (user_id, peer_key) DO NOTHING",
            )
            .bind(new_id())
            .bind(user_id)
            .bind(handle)
            .bind(key)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            queued += done.rows_affected() as usize;
        }
        for table in WIPED_TABLES {
            sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(queued)
    }
}
