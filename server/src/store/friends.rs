//! Invitations, friendships and what friends sent (ciphertext only).

use std::collections::HashSet;

use sqlx::{Any, AnyConnection, Executor, FromRow};

use super::{placeholders, InvitationDirection, InvitationStatus, Store, StoreResult};

pub(super) const INVITATION_COLUMNS: &str =
    "id, user_id, direction, from_handle, to_handle, peer_key, \
     status, created_at, updated_at, expires_at";

/// A `friend_invitations` row: one per invitation and side.
#[derive(Debug, Clone, FromRow)]
pub struct InvitationRow {
    /// Invitation id (each side has its own).
    pub id: String,
    /// The local user whose row this is.
    pub user_id: String,
    /// Whether the user sent or received it.
    #[sqlx(try_from = "String")]
    pub direction: InvitationDirection,
    /// Handle of the inviter.
    pub from_handle: String,
    /// Handle of the invitee.
    pub to_handle: String,
    /// The other side's handle, lowercased.
    pub peer_key: String,
    /// As stored (an expired one may still read `pending` until housekeeping marks it).
    #[sqlx(try_from = "String")]
    pub status: InvitationStatus,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
    /// Unix milliseconds.
    pub expires_at: i64,
}

/// A `friendships` row, seen from its user.
#[derive(Debug, Clone, FromRow)]
pub struct FriendRow {
    /// The friend's handle.
    pub friend_handle: String,
    /// The friend's handle, lowercased.
    pub peer_key: String,
    /// The friend's Ed25519 key (base64) as of the friendship's start.
    pub signing_key: String,
    /// The friend's X25519 key (base64) as of the friendship's start.
    pub encryption_key: Option<String>,
    /// The friend's display name as of the friendship's start.
    pub name: Option<String>,
    /// Unix milliseconds.
    pub established_at: i64,
}

/// The newest location a friend sent the user (ciphertext).
#[derive(Debug, Clone, FromRow)]
pub struct LocationRow {
    /// The friend's handle.
    pub from_handle: String,
    /// The sealed location as sent; empty for a stop.
    pub encrypted_location: String,
    /// Unix milliseconds: when the friend sent it.
    pub sent_at: i64,
    /// Unix milliseconds: when the friend's sharing ends; `None`: when turned off.
    pub expires_at: Option<i64>,
    /// The signed envelope as received (canonical JSON).
    pub envelope: String,
    /// Unix milliseconds.
    pub received_at: i64,
}

impl Store {
    /// Inserts a pending invitation; `UniqueViolation` when one is already pending for
    /// this user, peer and direction.
    pub async fn insert_invitation(&self, row: &InvitationRow) -> StoreResult<()> {
        insert_invitation(self.writer(), row, false)
            .await
            .map(|_| ())
    }

    /// The user's invitation `id`, either direction.
    pub async fn invitation(&self, user_id: &str, id: &str) -> StoreResult<Option<InvitationRow>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {INVITATION_COLUMNS} FROM friend_invitations WHERE user_id = $1 AND id = $2"
        ))
        .bind(user_id)
        .bind(id)
        .fetch_optional(self.reader())
        .await?)
    }

    /// Moves a pending, unexpired invitation to `status`; `false` when it was not pending.
    pub async fn finish_invitation(
        &self,
        id: &str,
        status: InvitationStatus,
        now: i64,
    ) -> StoreResult<bool> {
        finish_invitation(self.writer(), id, status, now).await
    }

    /// Answers a pending incoming invitation in ONE transaction: moves it to `status`,
    /// creates the friendship when accepting, and queues the signed answer. `false` (and
    /// nothing written) when the invitation was no longer pending.
    pub async fn answer_invitation(
        &self,
        id: &str,
        status: InvitationStatus,
        friendship: Option<&NewFriendship<'_>>,
        outbox: &super::NewOutboxRow<'_>,
    ) -> StoreResult<bool> {
        let mut tx = self.writer().begin().await?;
        if !finish_invitation(&mut *tx, id, status, outbox.now).await? {
            return Ok(false);
        }
        if let Some(f) = friendship {
            insert_friendship(&mut *tx, f, outbox.now).await?;
        }
        super::outbox::insert_outbox(&mut *tx, outbox).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Marks pending invitations past their expiry as `expired`.
    pub async fn expire_invitations(&self, now: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE friend_invitations SET status = 'expired', updated_at = $1 \
             WHERE status = 'pending' AND expires_at <= $1",
        )
        .bind(now)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// The user's invitations, newest first, optionally of one direction.
    pub async fn list_invitations(
        &self,
        user_id: &str,
        direction: Option<InvitationDirection>,
    ) -> StoreResult<Vec<InvitationRow>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {INVITATION_COLUMNS} FROM friend_invitations WHERE user_id = $1 \
             AND ($2 IS NULL OR direction = $2) ORDER BY created_at DESC, id"
        ))
        .bind(user_id)
        .bind(direction.map(InvitationDirection::as_str))
        .fetch_all(self.reader())
        .await?)
    }

    /// The user's friendship with `peer_key`, if any.
    pub async fn friendship(
        &self,
        user_id: &str,
        peer_key: &str,
    ) -> StoreResult<Option<FriendRow>> {
        friendship(self.reader(), user_id, peer_key).await
    }

    /// The user's friendships, oldest first.
    pub async fn list_friends(&self, user_id: &str) -> StoreResult<Vec<FriendRow>> {
        self.all_by(
            "SELECT friend_handle, peer_key, signing_key, encryption_key, name, established_at \
             FROM friendships WHERE user_id = $1 ORDER BY established_at, peer_key",
            user_id,
        )
        .await
    }

    /// Ends the relationship of `user_id` with `peer_key` and everything shared in it (see
    /// [`end_relationship`]), in one transaction.
    pub async fn end_relationship(
        &self,
        user_id: &str,
        peer_key: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.writer().begin().await?;
        let existed = end_relationship(&mut tx, user_id, peer_key, now).await?;
        tx.commit().await?;
        Ok(existed)
    }

    /// The newest location of each friend who shares with the user now (not stopped, not
    /// expired).
    pub async fn locations(&self, user_id: &str, now: i64) -> StoreResult<Vec<LocationRow>> {
        Ok(sqlx::query_as(
            "SELECT from_handle, encrypted_location, sent_at, expires_at, envelope, received_at \
             FROM friend_locations WHERE user_id = $1 AND encrypted_location <> '' \
             AND (expires_at IS NULL OR expires_at > $2) ORDER BY peer_key",
        )
        .bind(user_id)
        .bind(now)
        .fetch_all(self.reader())
        .await?)
    }
}

/// A friendship to create.
pub struct NewFriendship<'a> {
    /// Friendship id.
    pub id: &'a str,
    /// The local user.
    pub user_id: &'a str,
    /// The friend's handle.
    pub friend_handle: &'a str,
    /// The friend's handle, lowercased.
    pub peer_key: &'a str,
    /// The friend's Ed25519 key, base64.
    pub signing_key: &'a str,
    /// The friend's X25519 key, base64.
    pub encryption_key: Option<&'a str>,
    /// The friend's display name.
    pub name: Option<&'a str>,
}

// Statements shared by the pool-level methods above and the inbox transaction
// ([`super::InboxTx`]).

/// Inserts a pending invitation. With `skip_duplicate`, an invitation already pending for
/// this user, peer and direction makes it a no-op (`false`) instead of a `UniqueViolation`
/// (which would abort a PostgreSQL transaction).
pub(super) async fn insert_invitation<'e>(
    ex: impl Executor<'e, Database = Any>,
    row: &InvitationRow,
    skip_duplicate: bool,
) -> StoreResult<bool> {
    let on_conflict = if skip_duplicate {
        " ON CONFLICT DO NOTHING"
    } else {
        ""
    };
    let done = sqlx::query(&format!(
        "INSERT INTO friend_invitations ({INVITATION_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10){on_conflict}"
    ))
    .bind(&row.id)
    .bind(&row.user_id)
    .bind(row.direction.as_str())
    .bind(&row.from_handle)
    .bind(&row.to_handle)
    .bind(&row.peer_key)
    .bind(row.status.as_str())
    .bind(row.created_at)
    .bind(row.updated_at)
    .bind(row.expires_at)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Pending (not yet expired) invitation of `user_id` with `peer_key` in `direction`.
pub(super) async fn pending_invitation<'e>(
    ex: impl Executor<'e, Database = Any>,
    user_id: &str,
    peer_key: &str,
    direction: InvitationDirection,
    now: i64,
) -> StoreResult<Option<InvitationRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {INVITATION_COLUMNS} FROM friend_invitations WHERE user_id = $1 \
         AND peer_key = $2 AND direction = $3 AND status = 'pending' AND expires_at > $4"
    ))
    .bind(user_id)
    .bind(peer_key)
    .bind(direction.as_str())
    .bind(now)
    .fetch_optional(ex)
    .await?)
}

/// Moves a pending, unexpired invitation to `status`; `false` when it was not pending.
pub(super) async fn finish_invitation<'e>(
    ex: impl Executor<'e, Database = Any>,
    id: &str,
    status: InvitationStatus,
    now: i64,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE friend_invitations SET status = $2, updated_at = $3 \
         WHERE id = $1 AND status = 'pending' AND expires_at > $3",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(now)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Creates the friendship unless it exists (idempotent). `true` when created.
pub(super) async fn insert_friendship<'e>(
    ex: impl Executor<'e, Database = Any>,
    f: &NewFriendship<'_>,
    now: i64,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT INTO friendships (id, user_id, friend_handle, peer_key, signing_key, \
         encryption_key, name, established_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (user_id, peer_key) DO NOTHING",
    )
    .bind(f.id)
    .bind(f.user_id)
    .bind(f.friend_handle)
    .bind(f.peer_key)
    .bind(f.signing_key)
    .bind(f.encryption_key)
    .bind(f.name)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn friendship<'e>(
    ex: impl Executor<'e, Database = Any>,
    user_id: &str,
    peer_key: &str,
) -> StoreResult<Option<FriendRow>> {
    Ok(sqlx::query_as(
        "SELECT friend_handle, peer_key, signing_key, encryption_key, name, established_at \
         FROM friendships WHERE user_id = $1 AND peer_key = $2",
    )
    .bind(user_id)
    .bind(peer_key)
    .fetch_optional(ex)
    .await?)
}

/// Ends the relationship of `user_id` with `peer_key` and everything shared in it: the
/// friendship, their locations, shares and requests; pending invitations are cancelled.
/// Returns whether a friendship existed. The caller owns the transaction.
pub(super) async fn end_relationship(
    conn: &mut AnyConnection,
    user_id: &str,
    peer_key: &str,
    now: i64,
) -> StoreResult<bool> {
    Ok(!end_relationships(conn, &[(user_id, peer_key)], now)
        .await?
        .is_empty())
}

/// [`end_relationship`] for many (user, peer) pairs at once, in a fixed number of statements
/// (the inbox's group commit ends a batch's relationships together); returns the pairs
/// whose friendship existed.
pub(super) async fn end_relationships(
    conn: &mut AnyConnection,
    pairs: &[(&str, &str)],
    now: i64,
) -> StoreResult<HashSet<(String, String)>> {
    if pairs.is_empty() {
        return Ok(HashSet::new());
    }
    let condition = placeholders::pairs("user_id", "peer_key", pairs.len(), 0);
    let sql = format!("DELETE FROM friendships WHERE {condition} RETURNING user_id, peer_key");
    let mut ended = sqlx::query_as::<_, (String, String)>(&sql);
    for (user_id, peer_key) in pairs {
        ended = ended.bind(*user_id).bind(*peer_key);
    }
    let ended = ended.fetch_all(&mut *conn).await?.into_iter().collect();
    for table in [
        "collection_shares",
        "friend_locations",
        "incoming_shares",
        "location_requests",
        "location_sharing",
    ] {
        let sql = format!("DELETE FROM {table} WHERE {condition}");
        let mut query = sqlx::query(&sql);
        for (user_id, peer_key) in pairs {
            query = query.bind(*user_id).bind(*peer_key);
        }
        query.execute(&mut *conn).await?;
    }
    let sql = format!(
        "UPDATE friend_invitations SET status = 'cancelled', updated_at = ${} \
         WHERE status = 'pending' AND ({condition})",
        2 * pairs.len() + 1,
    );
    let mut query = sqlx::query(&sql);
    for (user_id, peer_key) in pairs {
        query = query.bind(*user_id).bind(*peer_key);
    }
    query.bind(now).execute(&mut *conn).await?;
    Ok(ended)
}
