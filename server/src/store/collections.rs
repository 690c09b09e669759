//! `/library/collections*`: collections (encrypted metadata only).

use sqlx::FromRow;

use super::{Store, StoreResult};

#[derive(Debug, Clone, FromRow)]
pub struct CollectionRow {
    pub id: String,
    pub metadata_encrypted: Option<String>,
    pub metadata_key_version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Store {
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

    pub async fn collection_count(&self, user_id: &str) -> StoreResult<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM collections WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(self.reader())
            .await?;
        Ok(n)
    }

    pub async fn collections_of_user(&self, user_id: &str) -> StoreResult<Vec<CollectionRow>> {
        Ok(sqlx::query_as(
            "SELECT id, metadata_encrypted, metadata_key_version, created_at, updated_at \
             FROM collections WHERE user_id = $1 ORDER BY created_at, id",
        )
        .bind(user_id)
        .fetch_all(self.reader())
        .await?)
    }

    pub async fn delete_collection(&self, user_id: &str, id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM collections WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(self.writer())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
