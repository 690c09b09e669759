//! `/users/me/blobs*`: the user's encrypted blobs, one per type.

use sqlx::FromRow;

use super::{Store, StoreResult};

/// One encrypted blob of a user.
#[derive(Debug, Clone, FromRow)]
pub struct BlobRow {
    /// The blob's type.
    pub blob_type: String,
    /// base64 v2 envelope.
    pub encrypted_blob: String,
    /// Master-key generation it is sealed under.
    pub km_version: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
}

/// One encrypted blob of a user, without its ciphertext.
#[derive(Debug, Clone, FromRow)]
pub struct BlobInfoRow {
    /// The blob's type.
    pub blob_type: String,
    /// Master-key generation it is sealed under.
    pub km_version: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
}

impl Store {
    /// The user's blobs by type, without ciphertext.
    pub async fn blobs_of_user(&self, user_id: &str) -> StoreResult<Vec<BlobInfoRow>> {
        self.all_by(
            "SELECT blob_type, km_version, updated_at FROM encrypted_user_blobs \
             WHERE user_id = $1 ORDER BY blob_type",
            user_id,
        )
        .await
    }

    /// The user's blob of this type, if any.
    pub async fn blob(&self, user_id: &str, blob_type: &str) -> StoreResult<Option<BlobRow>> {
        Ok(sqlx::query_as(
            "SELECT blob_type, encrypted_blob, km_version, updated_at FROM encrypted_user_blobs \
             WHERE user_id = $1 AND blob_type = $2",
        )
        .bind(user_id)
        .bind(blob_type)
        .fetch_optional(self.reader())
        .await?)
    }

    /// Full replace of one blob; `km_version` `None` means the user's current version.
    pub async fn put_blob(
        &self,
        user_id: &str,
        blob_type: &str,
        encrypted_blob: &str,
        km_version: Option<i64>,
        now: i64,
    ) -> StoreResult<Option<BlobRow>> {
        Ok(sqlx::query_as(
            "INSERT INTO encrypted_user_blobs (user_id, blob_type, encrypted_blob, km_version, updated_at) \
             SELECT id, $2, $3, COALESCE($4, km_version), $5 FROM users WHERE id = $1 \
             ON CONFLICT (user_id, blob_type) DO UPDATE SET \
             encrypted_blob = excluded.encrypted_blob, km_version = excluded.km_version, \
             updated_at = excluded.updated_at \
             RETURNING blob_type, encrypted_blob, km_version, updated_at",
        )
        .bind(user_id)
        .bind(blob_type)
        .bind(encrypted_blob)
        .bind(km_version)
        .bind(now)
        .fetch_optional(self.writer())
        .await?)
    }

    /// Deletes the user's blob of this type; `false` when there was none.
    pub async fn delete_blob(&self, user_id: &str, blob_type: &str) -> StoreResult<bool> {
        self.delete_owned("encrypted_user_blobs", "blob_type", user_id, blob_type)
            .await
    }
}
