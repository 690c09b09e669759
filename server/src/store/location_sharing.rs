//! Live-location settings (`/friends/location-sharing`, `/friends/{handle}/location-sharing`)
//! and the queueing of location messages, where a newer one supersedes what is still queued.

use sqlx::{AnyConnection, FromRow};

use super::outbox::insert_outbox;
use super::{Backend, NewOutboxRow, Store, StoreResult};

/// One friend the user shares their live location with.
#[derive(Debug, Clone, FromRow)]
pub struct SharingRow {
    /// The friend's handle as stored with the friendship.
    pub friend_handle: String,
    /// The lowercased handle (the key).
    pub peer_key: String,
    /// When sharing ends by itself (`None`: when turned off).
    pub expires_at: Option<i64>,
}

impl Store {
    /// Turns sharing with a friend on, or changes its expiry.
    pub async fn share_location(
        &self,
        user_id: &str,
        peer_key: &str,
        friend_handle: &str,
        expires_at: Option<i64>,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO location_sharing (user_id, peer_key, friend_handle, expires_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, peer_key) DO UPDATE \
             SET friend_handle = excluded.friend_handle, expires_at = excluded.expires_at, \
             updated_at = excluded.updated_at",
        )
        .bind(user_id)
        .bind(peer_key)
        .bind(friend_handle)
        .bind(expires_at)
        .bind(now)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// The friends the user shares with now (not expired), by handle.
    pub async fn location_sharing(&self, user_id: &str, now: i64) -> StoreResult<Vec<SharingRow>> {
        Ok(sqlx::query_as(
            "SELECT friend_handle, peer_key, expires_at FROM location_sharing \
             WHERE user_id = $1 AND (expires_at IS NULL OR expires_at > $2) ORDER BY peer_key",
        )
        .bind(user_id)
        .bind(now)
        .fetch_all(self.reader())
        .await?)
    }

    /// Queues a position for a friend the user shares with, in one transaction with the
    /// check that sharing is on and ends at `expires_at` (the sharing row is locked on
    /// PostgreSQL, so a concurrent stop comes wholly before or after). Positions still
    /// queued for that friend are dropped: after an outage the friend gets the newest one,
    /// not a backlog. A queued stop is never dropped.
    pub async fn enqueue_location(
        &self,
        row: &NewOutboxRow<'_>,
        peer_key: &str,
        expires_at: Option<i64>,
    ) -> StoreResult<Queued> {
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        };
        let mut tx = self.writer().begin().await?;
        let sharing: Option<(Option<i64>,)> = sqlx::query_as(&format!(
            "SELECT expires_at FROM location_sharing WHERE user_id = $1 AND peer_key = $2 \
             AND (expires_at IS NULL OR expires_at > $3){lock}"
        ))
        .bind(row.user_id)
        .bind(peer_key)
        .bind(row.now)
        .fetch_optional(&mut *tx)
        .await?;
        match sharing {
            None => return Ok(Queued::NotSharing),
            Some((until,)) if until != expires_at => return Ok(Queued::OtherExpiry),
            Some(_) => {}
        }
        supersede(&mut tx, row).await?;
        insert_outbox(&mut *tx, row).await?;
        tx.commit().await?;
        Ok(Queued::Queued)
    }

    /// Turns sharing with a friend off and queues the signed stop for them, in one
    /// transaction; positions still queued for them are dropped.
    pub async fn enqueue_location_stop(
        &self,
        row: &NewOutboxRow<'_>,
        peer_key: &str,
    ) -> StoreResult<()> {
        let mut tx = self.writer().begin().await?;
        sqlx::query("DELETE FROM location_sharing WHERE user_id = $1 AND peer_key = $2")
            .bind(row.user_id)
            .bind(peer_key)
            .execute(&mut *tx)
            .await?;
        supersede(&mut tx, row).await?;
        insert_outbox(&mut *tx, row).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether the friend asked for the user's location and has no answer yet.
    pub async fn location_requested(&self, user_id: &str, peer_key: &str) -> StoreResult<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM location_requests WHERE user_id = $1 AND peer_key = $2",
        )
        .bind(user_id)
        .bind(peer_key)
        .fetch_one(self.reader())
        .await?;
        Ok(n > 0)
    }

    /// Queues a LOCATION_UPDATE that answers the friend's pending LOCATION_REQUEST, which it
    /// uses up in the same transaction: `false` (nothing queued) when there is none.
    pub async fn enqueue_location_answer(
        &self,
        row: &NewOutboxRow<'_>,
        peer_key: &str,
    ) -> StoreResult<bool> {
        let mut tx = self.writer().begin().await?;
        let asked =
            sqlx::query("DELETE FROM location_requests WHERE user_id = $1 AND peer_key = $2")
                .bind(row.user_id)
                .bind(peer_key)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if asked == 0 {
            return Ok(false);
        }
        supersede(&mut tx, row).await?;
        insert_outbox(&mut *tx, row).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Ends sharing that expired, and forgets received locations past their expiry and
    /// stops older than `stops_before`.
    pub async fn prune_locations(&self, now: i64, stops_before: i64) -> StoreResult<()> {
        let mut tx = self.writer().begin().await?;
        sqlx::query("DELETE FROM location_sharing WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "DELETE FROM friend_locations WHERE expires_at <= $1 \
             OR (encrypted_location = '' AND received_at < $2)",
        )
        .bind(now)
        .bind(stops_before)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// What became of a position to queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queued {
    /// In the outbox.
    Queued,
    /// Sharing with that friend is off (or over): nothing queued.
    NotSharing,
    /// Sharing is on but ends at another time than the message says: nothing queued.
    OtherExpiry,
}

/// The canonical body of a stop contains this (its payload is exactly `{"stopped":true}`).
const STOP_PAYLOAD: &str = "%\"payload\":{\"stopped\":true}%";

/// Deletes the queued (not yet claimed by a worker) positions of `row`'s sender to its
/// recipient; stops stay.
async fn supersede(conn: &mut AnyConnection, row: &NewOutboxRow<'_>) -> StoreResult<()> {
    sqlx::query(
        "DELETE FROM federation_outbox WHERE user_id = $1 AND to_handle = $2 \
         AND message_type = $3 AND status = 'pending' AND locked_until <= $4 \
         AND body NOT LIKE $5",
    )
    .bind(row.user_id)
    .bind(row.to_handle)
    .bind(row.message_type)
    .bind(row.now)
    .bind(STOP_PAYLOAD)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
