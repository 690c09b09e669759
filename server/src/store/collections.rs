//! `/library/collections*`: collections (their metadata and content are ciphertext) and the
//! owner's list of friends each one is shared with.

use sqlx::FromRow;

use super::{Store, StoreResult};

/// A collection (its metadata and content are ciphertext).
#[derive(Debug, Clone, FromRow)]
pub struct CollectionRow {
    /// Collection id.
    pub id: String,
    /// base64 v2 envelope of the name and description (owner only, master-key generation).
    pub metadata_encrypted: Option<String>,
    /// Master-key generation the metadata is sealed under.
    pub metadata_key_version: i64,
    /// base64 v2 envelope of the content, sealed under the collection key `key_version`.
    pub content_encrypted: Option<String>,
    /// Collection key version (crypto.md D5), 1 or more.
    pub key_version: i64,
    /// Bumped by every change of content or of who it is shared with.
    pub revision: i64,
    /// base64 v2 envelope only the owner opens (their sealed share list and content digest).
    pub owner_encrypted: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
}

/// One friend a collection is shared with.
#[derive(Debug, Clone, FromRow)]
pub struct CollectionShareRow {
    /// The collection.
    pub collection_id: String,
    /// The friend's handle as stored in the friendship.
    pub recipient_handle: String,
    /// `viewer` or `editor`.
    pub role: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A content write: what the owner's client sealed, and the revision it was based on.
pub struct ContentWrite<'a> {
    /// The collection.
    pub id: &'a str,
    /// The owner.
    pub user_id: &'a str,
    /// base64 envelope under the collection key `key_version`.
    pub content: &'a str,
    /// The key version it is sealed under: the current one or the next (a rotation).
    pub key_version: i64,
    /// The owner's sealed state (`None`: unchanged).
    pub owner: Option<&'a str>,
    /// The revision the client read; the write is refused when it moved on.
    pub base_revision: i64,
    /// Unix milliseconds.
    pub now: i64,
}

const COLUMNS: &str = "id, metadata_encrypted, metadata_key_version, content_encrypted, \
     key_version, revision, owner_encrypted, created_at, updated_at";

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
            &format!(
                "SELECT {COLUMNS} FROM collections WHERE user_id = $1 ORDER BY created_at, id"
            ),
            user_id,
        )
        .await
    }

    /// One collection of the user.
    pub async fn collection(&self, user_id: &str, id: &str) -> StoreResult<Option<CollectionRow>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM collections WHERE user_id = $1 AND id = $2"
        ))
        .bind(user_id)
        .bind(id)
        .fetch_optional(self.writer())
        .await?)
    }

    /// Deletes one collection of the user (and its share list); `false` when there was none.
    pub async fn delete_collection(&self, user_id: &str, id: &str) -> StoreResult<bool> {
        self.delete_owned("collections", "id", user_id, id).await
    }

    /// Replaces the content if the revision is still `base_revision` and the key version is the
    /// current one or the next, in one statement (of two racing writers one wins). Returns the
    /// new revision, `None` when nothing was written (the caller looks at why).
    pub async fn write_collection_content(&self, w: ContentWrite<'_>) -> StoreResult<Option<i64>> {
        let row: Option<(i64,)> = sqlx::query_as(
            "UPDATE collections SET content_encrypted = $3, key_version = $4, \
             revision = revision + 1, updated_at = $6, \
             owner_encrypted = COALESCE($7, owner_encrypted) \
             WHERE user_id = $1 AND id = $2 AND revision = $5 \
             AND key_version <= $4 AND $4 <= key_version + 1 RETURNING revision",
        )
        .bind(w.user_id)
        .bind(w.id)
        .bind(w.content)
        .bind(w.key_version)
        .bind(w.base_revision)
        .bind(w.now)
        .bind(w.owner)
        .fetch_optional(self.writer())
        .await?;
        Ok(row.map(|(r,)| r))
    }

    /// Who the user's collections are shared with, by collection then age.
    pub async fn collection_shares_of_user(
        &self,
        user_id: &str,
    ) -> StoreResult<Vec<CollectionShareRow>> {
        self.all_by(
            "SELECT collection_id, recipient_handle, role, created_at FROM collection_shares \
             WHERE user_id = $1 ORDER BY collection_id, created_at, peer_key",
            user_id,
        )
        .await
    }

    /// Shares the collection with a friend (or changes their role) unless it already has
    /// `max` other recipients, and bumps its revision, in one transaction. Returns the new
    /// revision; `None` when the collection is not the user's or is full.
    #[allow(clippy::too_many_arguments)]
    pub async fn put_collection_share(
        &self,
        user_id: &str,
        collection_id: &str,
        peer_key: &str,
        handle: &str,
        role: &str,
        max: i64,
        now: i64,
    ) -> StoreResult<Option<i64>> {
        let mut tx = self.writer().begin().await?;
        // The revision first: on PostgreSQL the update locks the collection's row, so two
        // shares racing at the cap count one after the other (SQLite has one writer anyway).
        // A refusal below rolls it back with the rest.
        let Some(revision) = bump_revision(&mut tx, user_id, collection_id, now).await? else {
            return Ok(None);
        };
        let done = sqlx::query(
            "INSERT INTO collection_shares (collection_id, user_id, peer_key, recipient_handle, \
             role, created_at) SELECT id, user_id, $3, $4, $5, $6 FROM collections \
             WHERE id = $2 AND user_id = $1 AND (SELECT COUNT(*) FROM collection_shares \
             WHERE collection_id = $2 AND peer_key <> $3) < $7 \
             ON CONFLICT (collection_id, peer_key) DO UPDATE SET role = excluded.role, \
             recipient_handle = excluded.recipient_handle",
        )
        .bind(user_id)
        .bind(collection_id)
        .bind(peer_key)
        .bind(handle)
        .bind(role)
        .bind(now)
        .bind(max)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        tx.commit().await?;
        Ok(Some(revision))
    }

    /// Stops sharing the collection with a friend and bumps its revision. Returns the new
    /// revision; `None` when it was not shared with them.
    pub async fn delete_collection_share(
        &self,
        user_id: &str,
        collection_id: &str,
        peer_key: &str,
        now: i64,
    ) -> StoreResult<Option<i64>> {
        let mut tx = self.writer().begin().await?;
        let done = sqlx::query(
            "DELETE FROM collection_shares WHERE user_id = $1 AND collection_id = $2 \
             AND peer_key = $3",
        )
        .bind(user_id)
        .bind(collection_id)
        .bind(peer_key)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        let revision = bump_revision(&mut tx, user_id, collection_id, now).await?;
        tx.commit().await?;
        Ok(revision)
    }
}

async fn bump_revision(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: &str,
    collection_id: &str,
    now: i64,
) -> StoreResult<Option<i64>> {
    let row: Option<(i64,)> = sqlx::query_as(
        "UPDATE collections SET revision = revision + 1, updated_at = $3 \
         WHERE user_id = $1 AND id = $2 RETURNING revision",
    )
    .bind(user_id)
    .bind(collection_id)
    .bind(now)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|(r,)| r))
}
