//! The writes of one inbox message as ONE transaction: its replay memory (transport and
//! message nonce) and its state transition commit together or not at all, so a failed
//! message leaves nothing behind and a crash cannot leave a nonce without its effect.
//! One commit per message is also what makes the inbox fast: on SQLite the commit, not the
//! statements, is the cost.

use sqlx::{Any, Transaction};

use super::friends::{self, FriendRow, InvitationRow, NewShare};
use super::{Store, StoreResult};

pub struct InboxTx {
    tx: Transaction<'static, Any>,
}

impl Store {
    pub async fn begin_inbox(&self) -> StoreResult<InboxTx> {
        Ok(InboxTx {
            tx: self.writer().begin().await?,
        })
    }
}

impl InboxTx {
    pub async fn commit(self) -> StoreResult<()> {
        self.tx.commit().await?;
        Ok(())
    }

    /// Records a transport nonce of `sender`; `false` when it was seen before (a replay).
    pub async fn record_transport_nonce(
        &mut self,
        sender: &str,
        nonce: &str,
        now: i64,
    ) -> StoreResult<bool> {
        super::federation::record_transport_nonce(&mut *self.tx, sender, nonce, now).await
    }

    /// Records the user-level (from, nonce) of a v2 message; `false` when already processed.
    pub async fn record_message_nonce(
        &mut self,
        from_key: &str,
        nonce: &str,
        now: i64,
    ) -> StoreResult<bool> {
        // ON CONFLICT, not a caught unique violation: on PostgreSQL an error would abort
        // the whole transaction.
        let done = sqlx::query(
            "INSERT INTO federation_message_nonces (from_handle, nonce, created_at) \
             VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(from_key)
        .bind(nonce)
        .bind(now)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn friendship(
        &mut self,
        user_id: &str,
        peer_key: &str,
    ) -> StoreResult<Option<FriendRow>> {
        friends::friendship(&mut *self.tx, user_id, peer_key).await
    }

    pub async fn pending_invitation(
        &mut self,
        user_id: &str,
        peer_key: &str,
        direction: &str,
        now: i64,
    ) -> StoreResult<Option<InvitationRow>> {
        friends::pending_invitation(&mut *self.tx, user_id, peer_key, direction, now).await
    }

    /// Inserts a pending invitation unless one is already pending for this user, peer and
    /// direction (then `false`).
    pub async fn insert_invitation(&mut self, row: &InvitationRow) -> StoreResult<bool> {
        friends::insert_invitation(&mut *self.tx, row, true).await
    }

    pub async fn finish_invitation(
        &mut self,
        id: &str,
        status: &str,
        now: i64,
    ) -> StoreResult<bool> {
        friends::finish_invitation(&mut *self.tx, id, status, now).await
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn insert_friendship(
        &mut self,
        id: &str,
        user_id: &str,
        friend_handle: &str,
        peer_key: &str,
        signing_key: &str,
        encryption_key: Option<&str>,
        name: Option<&str>,
        now: i64,
    ) -> StoreResult<bool> {
        friends::insert_friendship(
            &mut *self.tx,
            id,
            user_id,
            friend_handle,
            peer_key,
            signing_key,
            encryption_key,
            name,
            now,
        )
        .await
    }

    pub async fn end_relationship(
        &mut self,
        user_id: &str,
        peer_key: &str,
        now: i64,
    ) -> StoreResult<bool> {
        friends::end_relationship(&mut self.tx, user_id, peer_key, now).await
    }
}

/// A friend-gated write of the inbox's hot path (live locations, location requests,
/// shares): applied in batches by [`Store::apply_friend_deliveries`].
pub struct FriendDelivery {
    /// The transport nonce (sending server, nonce) of the request it came in, if any.
    pub transport: Option<(String, String)>,
    /// The user-level (sender key, nonce) of a v2 message.
    pub message_nonce: Option<(String, String)>,
    pub user_id: String,
    pub peer_key: String,
    pub from_handle: String,
    pub effect: FriendEffect,
}

pub enum FriendEffect {
    Location {
        encrypted_location: String,
        sent_at: i64,
        envelope: String,
    },
    LocationRequest,
    Share {
        id: String,
        resource_type: String,
        resource_id: String,
        encrypted_data: String,
        data_nonce: String,
        role: &'static str,
        envelope: String,
    },
}

/// What became of one delivery of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Applied,
    /// The transport nonce was used before: nothing written.
    TransportReplay,
    /// The message was processed before: only its transport nonce was recorded.
    MessageReplay,
    /// The sender is not (or no longer) a friend: only its transport nonce was recorded.
    NotFriend,
    /// A newer location is stored: only its transport nonce was recorded.
    StaleLocation,
}

/// `($1, $2, $3), ($4, $5, $6), …` for `rows` rows of `width` columns.
fn value_rows(rows: usize, width: usize) -> String {
    (0..rows)
        .map(|r| {
            let cols: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
            format!("({})", cols.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `$first, $first+1, …` (`count` placeholders).
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Inserts `keys` into a nonce table (`table (key_col, nonce, created_at)`), all in one
/// statement; returns, per key, whether it was new. Of duplicates within `keys` only the
/// first counts as new.
async fn insert_nonces(
    conn: &mut sqlx::AnyConnection,
    table: &str,
    key_col: &str,
    keys: &[(&str, &str)],
    now: i64,
) -> StoreResult<Vec<bool>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "INSERT INTO {table} ({key_col}, nonce, created_at) VALUES {} \
         ON CONFLICT DO NOTHING RETURNING {key_col}, nonce",
        value_rows(keys.len(), 3)
    );
    let mut query = sqlx::query_as::<_, (String, String)>(&sql);
    for (key, nonce) in keys {
        query = query.bind(*key).bind(*nonce).bind(now);
    }
    let mut inserted: std::collections::HashSet<(String, String)> =
        query.fetch_all(&mut *conn).await?.into_iter().collect();
    Ok(keys
        .iter()
        .map(|(key, nonce)| inserted.remove(&(key.to_string(), nonce.to_string())))
        .collect())
}

impl Store {
    /// Applies a batch of friend-gated deliveries in ONE transaction, each with its nonces:
    /// the batch costs a handful of statements plus one per delivery, where one message in
    /// a transaction of its own costs six round trips and a commit. A delivery refused for
    /// a reason of its own (replay, not a friend, stale) is reported and leaves only its
    /// transport nonce; a database error fails the whole batch (nothing written).
    pub async fn apply_friend_deliveries(
        &self,
        batch: &[&FriendDelivery],
        now: i64,
    ) -> StoreResult<Vec<DeliveryOutcome>> {
        let mut tx = self.writer().begin().await?;
        let mut outcome: Vec<Option<DeliveryOutcome>> = vec![None; batch.len()];

        let with_transport: Vec<usize> = (0..batch.len())
            .filter(|&i| batch[i].transport.is_some())
            .collect();
        let keys: Vec<(&str, &str)> = with_transport
            .iter()
            .filter_map(|&i| batch[i].transport.as_ref())
            .map(|(sender, nonce)| (sender.as_str(), nonce.as_str()))
            .collect();
        let fresh = insert_nonces(&mut tx, "federation_nonces", "sender", &keys, now).await?;
        for (&i, fresh) in with_transport.iter().zip(fresh) {
            if !fresh {
                outcome[i] = Some(DeliveryOutcome::TransportReplay);
            }
        }

        let with_nonce: Vec<usize> = (0..batch.len())
            .filter(|&i| outcome[i].is_none() && batch[i].message_nonce.is_some())
            .collect();
        let keys: Vec<(&str, &str)> = with_nonce
            .iter()
            .filter_map(|&i| batch[i].message_nonce.as_ref())
            .map(|(from, nonce)| (from.as_str(), nonce.as_str()))
            .collect();
        let fresh = insert_nonces(
            &mut tx,
            "federation_message_nonces",
            "from_handle",
            &keys,
            now,
        )
        .await?;
        // Message nonces recorded for deliveries refused later, to take back.
        let mut recorded: Vec<bool> = vec![false; batch.len()];
        for (&i, fresh) in with_nonce.iter().zip(fresh) {
            if fresh {
                recorded[i] = true;
            } else {
                outcome[i] = Some(DeliveryOutcome::MessageReplay);
            }
        }

        let pending: Vec<usize> = (0..batch.len()).filter(|&i| outcome[i].is_none()).collect();
        if !pending.is_empty() {
            // A superset (users × peers), narrowed to the exact pairs below.
            let users: Vec<&str> = pending.iter().map(|&i| batch[i].user_id.as_str()).collect();
            let peers: Vec<&str> = pending
                .iter()
                .map(|&i| batch[i].peer_key.as_str())
                .collect();
            let sql = format!(
                "SELECT user_id, peer_key FROM friendships WHERE user_id IN ({}) \
                 AND peer_key IN ({})",
                placeholders(1, users.len()),
                placeholders(users.len() + 1, peers.len())
            );
            let mut query = sqlx::query_as::<_, (String, String)>(&sql);
            for value in users.iter().chain(peers.iter()) {
                query = query.bind(*value);
            }
            let friends: std::collections::HashSet<(String, String)> =
                query.fetch_all(&mut *tx).await?.into_iter().collect();
            for &i in &pending {
                let d = batch[i];
                if !friends.contains(&(d.user_id.clone(), d.peer_key.clone())) {
                    outcome[i] = Some(DeliveryOutcome::NotFriend);
                }
            }
        }

        for i in 0..batch.len() {
            if outcome[i].is_some() {
                continue;
            }
            let d = batch[i];
            match &d.effect {
                FriendEffect::Location {
                    encrypted_location,
                    sent_at,
                    envelope,
                } => {
                    let newer = friends::put_location(
                        &mut *tx,
                        &d.user_id,
                        &d.peer_key,
                        &d.from_handle,
                        encrypted_location,
                        *sent_at,
                        envelope,
                        now,
                    )
                    .await?;
                    if !newer {
                        outcome[i] = Some(DeliveryOutcome::StaleLocation);
                    }
                }
                FriendEffect::LocationRequest => {
                    friends::put_location_request(
                        &mut *tx,
                        &d.user_id,
                        &d.peer_key,
                        &d.from_handle,
                        now,
                    )
                    .await?;
                }
                FriendEffect::Share {
                    id,
                    resource_type,
                    resource_id,
                    encrypted_data,
                    data_nonce,
                    role,
                    envelope,
                } => {
                    let share = NewShare {
                        id,
                        user_id: &d.user_id,
                        peer_key: &d.peer_key,
                        from_handle: &d.from_handle,
                        resource_type,
                        resource_id,
                        encrypted_data,
                        data_nonce,
                        role,
                        envelope,
                    };
                    friends::insert_share(&mut *tx, &share, now).await?;
                }
            }
        }

        // A refused message may be sent again (by its server's retry): forget its nonce.
        let take_back: Vec<(&str, &str)> = (0..batch.len())
            .filter(|&i| recorded[i] && outcome[i].is_some())
            .filter_map(|i| batch[i].message_nonce.as_ref())
            .map(|(from, nonce)| (from.as_str(), nonce.as_str()))
            .collect();
        for (from, nonce) in take_back {
            sqlx::query(
                "DELETE FROM federation_message_nonces WHERE from_handle = $1 AND nonce = $2",
            )
            .bind(from)
            .bind(nonce)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(outcome
            .into_iter()
            .map(|o| o.unwrap_or(DeliveryOutcome::Applied))
            .collect())
    }
}
