//! Collections, key slots and the atomic master-key commit.

use sqlx::{Any, FromRow, Transaction};

use super::{Store, StoreResult};

#[derive(Debug, Clone, FromRow)]
pub struct CollectionRow {
    pub id: String,
    pub metadata_encrypted: Option<String>,
    pub metadata_key_version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct SlotRow {
    pub credential_id: String,
    pub wrapped_km: String,
    pub wrap_algo: String,
    pub slot_signature: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

pub struct NewSlot<'a> {
    pub credential_id: &'a str,
    pub wrapped_km: &'a str,
    pub wrap_algo: &'a str,
    pub slot_signature: &'a str,
}

pub struct Commit<'a> {
    pub user_id: &'a str,
    pub expected_current: i64,
    /// The signing key the caller proved to hold (None: the account had none). The swap
    /// happens only if it is still the account's key.
    pub current_signing_key: Option<&'a str>,
    pub signing_key: &'a str,
    pub encryption_key: &'a str,
    /// (blob type, envelope)
    pub blobs: &'a [(&'a str, &'a str)],
    /// (collection id, metadata envelope)
    pub collections: &'a [(&'a str, &'a str)],
    pub slots: &'a [NewSlot<'a>],
    pub now: i64,
}

/// Why a commit wrote nothing.
#[derive(Debug)]
pub enum CommitRefused {
    /// kmVersion is not `expected_current` (another device rotated first); carries the
    /// current version.
    VersionMismatch(i64),
    /// Same kmVersion, but the signing key is no longer the one the caller proved (an
    /// identity reset and a new publication happened in between).
    KeyChanged,
    NoSuchUser,
    /// A collection id is not one of the caller's.
    ForeignCollection,
    /// A slot credential is not one of the caller's passkeys.
    ForeignCredential,
}

/// Rows per multi-row statement: well under both engines' bind-parameter limits.
const BATCH_ROWS: usize = 500;

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

    pub async fn slots_of_user(&self, user_id: &str) -> StoreResult<Vec<SlotRow>> {
        Ok(sqlx::query_as(
            "SELECT credential_id, wrapped_km, wrap_algo, slot_signature, created_at, last_used_at \
             FROM wrapped_master_keys WHERE user_id = $1 ORDER BY created_at, credential_id",
        )
        .bind(user_id)
        .fetch_all(self.reader())
        .await?)
    }

    pub async fn owns_passkey(&self, user_id: &str, credential_id: &str) -> StoreResult<bool> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM passkeys WHERE id = $1 AND user_id = $2")
                .bind(credential_id)
                .bind(user_id)
                .fetch_one(self.reader())
                .await?;
        Ok(n == 1)
    }

    pub async fn put_slot(&self, user_id: &str, slot: &NewSlot<'_>, now: i64) -> StoreResult<()> {
        let mut tx = self.writer().begin().await?;
        upsert_slots(&mut tx, user_id, std::slice::from_ref(slot), now).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_slot(&self, user_id: &str, credential_id: &str) -> StoreResult<bool> {
        let done = sqlx::query(
            "DELETE FROM wrapped_master_keys WHERE user_id = $1 AND credential_id = $2",
        )
        .bind(user_id)
        .bind(credential_id)
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() > 0)
    }

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

    /// The master-key rotation in ONE transaction. The compare-and-swap on kmVersion is the
    /// first write (an `UPDATE … WHERE km_version = expected`), so of racing commits exactly
    /// one passes it; the others wait on the row lock (PostgreSQL) or the write lock
    /// (SQLite), then match no row. Ownership is checked inside the transaction; any refusal
    /// rolls everything back.
    pub async fn commit_rotation(
        &self,
        commit: &Commit<'_>,
    ) -> StoreResult<Result<i64, CommitRefused>> {
        let mut tx = self.writer().begin().await?;
        let swapped: Option<(i64,)> = sqlx::query_as(
            "UPDATE users SET signing_key = $2, encryption_key = $3, km_version = km_version + 1, \
             updated_at = $5 WHERE id = $1 AND km_version = $4 \
             AND signing_key IS NOT DISTINCT FROM $6 RETURNING km_version",
        )
        .bind(commit.user_id)
        .bind(commit.signing_key)
        .bind(commit.encryption_key)
        .bind(commit.expected_current)
        .bind(commit.now)
        .bind(commit.current_signing_key)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((next,)) = swapped else {
            let current: Option<(i64,)> =
                sqlx::query_as("SELECT km_version FROM users WHERE id = $1")
                    .bind(commit.user_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            tx.rollback().await?;
            return Ok(Err(match current {
                Some((v,)) if v == commit.expected_current => CommitRefused::KeyChanged,
                Some((v,)) => CommitRefused::VersionMismatch(v),
                None => CommitRefused::NoSuchUser,
            }));
        };
        let collection_ids: Vec<&str> = commit.collections.iter().map(|(id, _)| *id).collect();
        if !owns_all(&mut tx, "collections", commit.user_id, &collection_ids).await? {
            tx.rollback().await?;
            return Ok(Err(CommitRefused::ForeignCollection));
        }
        let credential_ids: Vec<&str> = commit.slots.iter().map(|s| s.credential_id).collect();
        if !owns_all(&mut tx, "passkeys", commit.user_id, &credential_ids).await? {
            tx.rollback().await?;
            return Ok(Err(CommitRefused::ForeignCredential));
        }
        for chunk in commit.blobs.chunks(BATCH_ROWS) {
            let sql = format!(
                "INSERT INTO encrypted_user_blobs \
                 (user_id, blob_type, encrypted_blob, km_version, updated_at) VALUES {} \
                 ON CONFLICT (user_id, blob_type) DO UPDATE SET \
                 encrypted_blob = excluded.encrypted_blob, km_version = excluded.km_version, \
                 updated_at = excluded.updated_at",
                values_placeholders(chunk.len(), 5, 0)
            );
            let mut q = sqlx::query(&sql);
            for (blob_type, blob) in chunk {
                q = q
                    .bind(commit.user_id)
                    .bind(*blob_type)
                    .bind(*blob)
                    .bind(next)
                    .bind(commit.now);
            }
            q.execute(&mut *tx).await?;
        }
        for chunk in commit.collections.chunks(BATCH_ROWS) {
            // `VALUES` columns are called column1, column2 in both engines.
            let sql = format!(
                "UPDATE collections SET metadata_encrypted = v.column2, \
                 metadata_key_version = $1, updated_at = $2 \
                 FROM (VALUES {}) AS v \
                 WHERE collections.id = v.column1 AND collections.user_id = $3",
                values_placeholders(chunk.len(), 2, 3)
            );
            let mut q = sqlx::query(&sql)
                .bind(next)
                .bind(commit.now)
                .bind(commit.user_id);
            for (id, metadata) in chunk {
                q = q.bind(*id).bind(*metadata);
            }
            q.execute(&mut *tx).await?;
        }
        upsert_slots(&mut tx, commit.user_id, commit.slots, commit.now).await?;
        tx.commit().await?;
        Ok(Ok(next))
    }
}

/// True when every id (duplicates allowed) is a row of `table` owned by the user.
async fn owns_all(
    tx: &mut Transaction<'_, Any>,
    table: &str,
    user_id: &str,
    ids: &[&str],
) -> StoreResult<bool> {
    let mut distinct: Vec<&str> = ids.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    let mut owned = 0i64;
    for chunk in distinct.chunks(BATCH_ROWS) {
        let list = (2..chunk.len() + 2)
            .map(|n| format!("${n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE user_id = $1 AND id IN ({list})");
        let mut q = sqlx::query_as::<_, (i64,)>(&sql).bind(user_id);
        for id in chunk {
            q = q.bind(*id);
        }
        let (n,) = q.fetch_one(&mut **tx).await?;
        owned += n;
    }
    Ok(owned == distinct.len() as i64)
}

async fn upsert_slots(
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
            values_placeholders(chunk.len(), 6, 0)
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

/// `($o+1, …, $o+width), (…)` for `rows` rows: `$n` placeholders, which both engines accept
/// (sqlx's `QueryBuilder` writes `?` for `Any`, which PostgreSQL rejects).
fn values_placeholders(rows: usize, width: usize, offset: usize) -> String {
    (0..rows)
        .map(|r| {
            let cells = (1..=width)
                .map(|c| format!("${}", offset + r * width + c))
                .collect::<Vec<_>>()
                .join(", ");
            format!("({cells})")
        })
        .collect::<Vec<_>>()
        .join(", ")
}
