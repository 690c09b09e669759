//! `/library/collections*`: collections (encrypted metadata only).

use sqlx::FromRow;

use super::{Store, StoreResult};

/// A collection (its metadata is ciphertext).
#[derive(Debug, Clone, FromRow)]
pub struct CollectionRow {
    /// Collection id.
    pub id: String,
    /// base64 v2 envelope of the name and description.
    pub metadata_encrypted: Option<String>,
    /// Master-key generation the metadata is sealed under.
    pub metadata_key_version: i64,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
}

impl Store {
    /// Inserts a collection sealed under the user's current master-key generation (nothing when
    /// there is no such user).
    pub async fn insert_collection(
        &self,
        id: &str,
        user_id: &str,
        metadata: Option<&str>,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO collections (id, user_id, metadata_encrypted, metadata_key_version, \
             created_at, updated_at) \
             SELECT $1, id, $3, km_version, $4, $4 FROM users WHERE id = $2",
        )
        .bind(id)
        .bind(user_id)
        .bind(metadata)
        .bind(now)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// How many collections the user has.
    pub async fn collection_count(&self, user_id: &str) -> StoreResult<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM collections WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(self.reader())
            .await?;
        Ok(n)
    }

    /// The user's collections, oldest first.
    pub async fn collections_of_user(&self, user_id: &str) -> StoreResult<Vec<CollectionRow>> {
        self.all_by(
            "SELECT id, metadata_encrypted, metadata_key_version, created_at, updated_at \
             FROM collections WHERE user_id = $1 ORDER BY created_at, id",
            user_id,
        )
        .await
    }

    /// Deletes one collection of the user; `false` when there was none.
    pub async fn delete_collection(&self, user_id: &str, id: &str) -> StoreResult<bool> {
        self.delete_owned("collections", "id", user_id, id).await
    }
}
