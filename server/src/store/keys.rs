//! `PUT /users/me/keys` and `POST /users/me/km-version/commit`: the identity's public keys,
//! first set, then replaced with everything re-encrypted under them in one transaction.

use sqlx::{Any, Transaction};

use super::key_slots::{upsert_slots, NewSlot};
use super::placeholders;
use super::{Store, StoreResult};

/// A master-key rotation to commit.
pub struct Commit<'a> {
    /// The user rotating.
    pub user_id: &'a str,
    /// The kmVersion the client rotated from.
    pub expected_current: i64,
    /// The signing key the caller proved to hold (None: the account had none). The swap
    /// happens only if it is still the account's key.
    pub current_signing_key: Option<&'a str>,
    /// New Ed25519 public key, base64.
    pub signing_key: &'a str,
    /// New X25519 public key, base64.
    pub encryption_key: &'a str,
    /// (blob type, envelope)
    pub blobs: &'a [(&'a str, &'a str)],
    /// Collections re-sealed.
    pub collections: &'a [CommitCollection<'a>],
    /// Every key slot, re-sealed under the new master key.
    pub slots: &'a [NewSlot<'a>],
    /// Unix milliseconds.
    pub now: i64,
}

/// One collection of a commit (`None`: that part unchanged).
pub struct CommitCollection<'a> {
    /// The collection.
    pub id: &'a str,
    /// Metadata envelope under the new master key.
    pub metadata: Option<&'a str>,
    /// Content envelope under the new seed's collection key (bumps the revision).
    pub content: Option<&'a str>,
    /// The owner's sealed state under the new personal key.
    pub owner: Option<&'a str>,
    /// The revision re-sealed: the commit is refused if the collection is no longer at it.
    pub revision: Option<i64>,
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
    /// There is no such user.
    NoSuchUser,
    /// A collection id is not one of the caller's.
    ForeignCollection,
    /// A slot credential is not one of the caller's passkeys.
    ForeignCredential,
    /// A collection is no longer at the revision the client re-sealed.
    CollectionChanged,
}

/// Rows per multi-row statement: well under both engines' bind-parameter limits.
pub(super) const BATCH_ROWS: usize = 500;

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
        let list = placeholders::list(2, chunk.len());
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

impl Store {
    /// Publishes first keys: only while none are set, or when they are the same keys
    /// (idempotent). Returns `false` when other keys are already published.
    pub async fn set_initial_keys(
        &self,
        user_id: &str,
        signing_key: &str,
        encryption_key: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE users SET signing_key = $2, encryption_key = $3, updated_at = $4 \
             WHERE id = $1 AND ((signing_key IS NULL AND encryption_key IS NULL) \
             OR (signing_key = $2 AND encryption_key = $3))",
        )
        .bind(user_id)
        .bind(signing_key)
        .bind(encryption_key)
        .bind(now)
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
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
        let collection_ids: Vec<&str> = commit.collections.iter().map(|c| c.id).collect();
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
                placeholders::rows(chunk.len(), 5, 0)
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
            // `VALUES` columns are called column1, column2 in both engines. A row whose
            // revision moved is not updated, and the count below refuses the whole commit.
            let sql = format!(
                "UPDATE collections SET \
                 metadata_encrypted = COALESCE(v.column2, collections.metadata_encrypted), \
                 content_encrypted = COALESCE(v.column3, collections.content_encrypted), \
                 owner_encrypted = COALESCE(v.column4, collections.owner_encrypted), \
                 revision = collections.revision + v.column5, \
                 metadata_key_version = CASE WHEN v.column2 IS NULL \
                 THEN collections.metadata_key_version ELSE $1 END, updated_at = $2 \
                 FROM (VALUES {}) AS v \
                 WHERE collections.id = v.column1 AND collections.user_id = $3 \
                 AND (v.column6 IS NULL OR collections.revision = v.column6)",
                placeholders::rows(chunk.len(), 6, 3)
            );
            let mut q = sqlx::query(&sql)
                .bind(next)
                .bind(commit.now)
                .bind(commit.user_id);
            for c in chunk {
                let changes = c.content.is_some() || c.owner.is_some();
                q = q
                    .bind(c.id)
                    .bind(c.metadata)
                    .bind(c.content)
                    .bind(c.owner)
                    .bind(i64::from(changes))
                    .bind(c.revision);
            }
            let done = q.execute(&mut *tx).await?;
            if done.rows_affected() != chunk.len() as u64 {
                tx.rollback().await?;
                return Ok(Err(CommitRefused::CollectionChanged));
            }
        }
        upsert_slots(&mut tx, commit.user_id, commit.slots, commit.now).await?;
        tx.commit().await?;
        Ok(Ok(next))
    }
}
