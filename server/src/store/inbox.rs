//! The inbox's writes. A message's replay memory (transport and message nonce) commits with
//! its state transition or not at all: a refused message leaves only its spent transport nonce,
//! and a crash cannot leave a nonce without its effect.
//! - Friend-gated messages (locations, location requests, shares), invitations and
//!   revocations, the hot path: many messages per transaction ([`Store::apply_deliveries`],
//!   fed by `federation::inbox`), in a fixed number of statements, because on SQLite each
//!   statement is a hop to the writer's thread and on PostgreSQL each commit a WAL flush.
//! - Acceptances and rejections (refused unless an invitation is pending): one transaction
//!   per message ([`InboxTx`]).

use std::collections::{HashMap, HashSet};

use sqlx::{Any, AnyConnection, Executor, Transaction};

use super::events::{self, NewEvent};
use super::friends::{self, FriendRow, InvitationRow, NewFriendship};
use super::placeholders;
use super::users::{UserRow, USER_COLUMNS};
use super::{InvitationDirection, InvitationStatus, Store, StoreResult};

/// One message's transaction (invitations and relationship changes).
pub struct InboxTx {
    tx: Transaction<'static, Any>,
    store: Store,
    /// Users with events appended here, woken at commit.
    woken: Vec<String>,
}

/// A message's recipient and, if the sender is a friend, the friendship (one query).
#[derive(sqlx::FromRow)]
struct RecipientRow {
    #[sqlx(flatten)]
    user: UserRow,
    f_friend_handle: Option<String>,
    f_peer_key: Option<String>,
    f_signing_key: Option<String>,
    f_encryption_key: Option<String>,
    f_name: Option<String>,
    f_established_at: Option<i64>,
}

impl Store {
    /// The local user with this alias and their friendship with `peer_key`, in one round
    /// trip (the inbox needs both for every message).
    pub async fn recipient(
        &self,
        alias: &str,
        peer_key: &str,
    ) -> StoreResult<Option<(UserRow, Option<FriendRow>)>> {
        let user_columns = USER_COLUMNS
            .split(',')
            .map(|c| format!("u.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let row: Option<RecipientRow> = sqlx::query_as(&format!(
            "SELECT {user_columns}, f.friend_handle AS f_friend_handle, \
             f.peer_key AS f_peer_key, f.signing_key AS f_signing_key, \
             f.encryption_key AS f_encryption_key, f.name AS f_name, \
             f.established_at AS f_established_at \
             FROM users u LEFT JOIN friendships f ON f.user_id = u.id AND f.peer_key = $2 \
             WHERE u.alias_normalized = $1"
        ))
        .bind(alias.to_ascii_lowercase())
        .bind(peer_key)
        .fetch_optional(self.reader())
        .await?;
        Ok(row.map(|r| {
            let friend = match (
                r.f_friend_handle,
                r.f_peer_key,
                r.f_signing_key,
                r.f_established_at,
            ) {
                (Some(friend_handle), Some(peer_key), Some(signing_key), Some(established_at)) => {
                    Some(FriendRow {
                        friend_handle,
                        peer_key,
                        signing_key,
                        encryption_key: r.f_encryption_key,
                        name: r.f_name,
                        established_at,
                    })
                }
                _ => None,
            };
            (r.user, friend)
        }))
    }

    /// Starts one message's transaction.
    pub async fn begin_inbox(&self) -> StoreResult<InboxTx> {
        Ok(InboxTx {
            tx: self.writer().begin().await?,
            store: self.clone(),
            woken: Vec::new(),
        })
    }
}

impl InboxTx {
    /// Commits, then wakes the push streams of users with new events.
    pub async fn commit(self) -> StoreResult<()> {
        self.tx.commit().await?;
        self.store
            .wake_events(self.woken.iter().map(String::as_str));
        Ok(())
    }

    /// Appends push events, committed with the message.
    pub async fn append_events(&mut self, events: &[NewEvent], now: i64) -> StoreResult<()> {
        let users = events::append(&mut self.tx, self.store.backend, events, now).await?;
        self.woken.extend(users);
        Ok(())
    }

    /// Records a transport nonce of `sender`; `false` when it was seen before (a replay).
    pub async fn record_transport_nonce(
        &mut self,
        sender: &str,
        nonce: &str,
        now: i64,
    ) -> StoreResult<bool> {
        insert_nonce(&mut *self.tx, NonceTable::Transport, sender, nonce, now).await
    }

    /// Records the user-level (from, nonce) of a v2 message; `false` when already processed.
    pub async fn record_message_nonce(
        &mut self,
        from_key: &str,
        nonce: &str,
        now: i64,
    ) -> StoreResult<bool> {
        insert_nonce(&mut *self.tx, NonceTable::Message, from_key, nonce, now).await
    }

    /// The user's friendship with `peer_key`, if any.
    pub async fn friendship(
        &mut self,
        user_id: &str,
        peer_key: &str,
    ) -> StoreResult<Option<FriendRow>> {
        friends::friendship(&mut *self.tx, user_id, peer_key).await
    }

    /// The pending, unexpired invitation of the user with `peer_key` in `direction`, if any.
    pub async fn pending_invitation(
        &mut self,
        user_id: &str,
        peer_key: &str,
        direction: InvitationDirection,
        now: i64,
    ) -> StoreResult<Option<InvitationRow>> {
        friends::pending_invitation(&mut *self.tx, user_id, peer_key, direction, now).await
    }

    /// Inserts a pending invitation unless one is already pending for this user, peer and
    /// direction (then `false`).
    pub async fn insert_invitation(&mut self, row: &InvitationRow) -> StoreResult<bool> {
        friends::insert_invitation(&mut *self.tx, row, true).await
    }

    /// Moves a pending, unexpired invitation to `status`; `false` when it was not pending.
    pub async fn finish_invitation(
        &mut self,
        id: &str,
        status: InvitationStatus,
        now: i64,
    ) -> StoreResult<bool> {
        friends::finish_invitation(&mut *self.tx, id, status, now).await
    }

    /// Creates the friendship unless it exists (idempotent). `true` when created.
    pub async fn insert_friendship(
        &mut self,
        friendship: &NewFriendship<'_>,
        now: i64,
    ) -> StoreResult<bool> {
        friends::insert_friendship(&mut *self.tx, friendship, now).await
    }

    /// Ends the user's relationship with `peer_key` and everything shared in it; `true` when a
    /// friendship existed.
    pub async fn end_relationship(
        &mut self,
        user_id: &str,
        peer_key: &str,
        now: i64,
    ) -> StoreResult<bool> {
        friends::end_relationship(&mut self.tx, user_id, peer_key, now).await
    }
}

/// A message of the inbox's hot path (friend-gated writes, invitations, revocations):
/// applied in batches by [`Store::apply_deliveries`].
pub struct Delivery {
    /// The transport nonce (sending server, nonce) of the request it came in, if any.
    pub transport: Option<(String, String)>,
    /// The user-level (sender key, nonce) of a v2 message.
    pub message_nonce: Option<(String, String)>,
    /// The recipient.
    pub user_id: String,
    /// The sender's handle, lowercased.
    pub peer_key: String,
    /// The sender's handle as sent.
    pub from_handle: String,
    /// What the delivery writes.
    pub effect: DeliveryEffect,
    /// The push event for the recipient, appended if the delivery changed something.
    pub event: Option<NewEvent>,
}

impl Delivery {
    /// Whether it needs a friendship (refused as [`DeliveryOutcome::NotFriend`] without).
    fn friend_gated(&self) -> bool {
        matches!(self.effect, DeliveryEffect::Friend(_))
    }
}

/// What a delivery does.
pub enum DeliveryEffect {
    /// A friend-gated write: refused unless the sender is a friend.
    Friend(FriendEffect),
    /// FRIEND_INVITE: a pending incoming invitation, unless they are friends already or an
    /// invitation from them is pending (accepted either way: inviting twice is inviting once).
    Invite {
        /// The invitation's id.
        id: String,
        /// The invitee's handle as sent.
        to_handle: String,
        /// How long it stays pending.
        ttl_ms: i64,
    },
    /// RELATIONSHIP_REVOKE: ends the relationship and everything shared in it, and cancels
    /// pending invitations (accepted whether or not they were friends).
    Revoke,
}

/// What a friend-gated delivery writes.
pub enum FriendEffect {
    /// A live location, or (`encrypted_location: None`) the end of sharing it: stored as a
    /// row with no ciphertext, so an older update that arrives late stays refused.
    Location {
        /// The sealed location; `None` for a stop.
        encrypted_location: Option<String>,
        /// Unix milliseconds: when the friend sent it.
        sent_at: i64,
        /// When the sender's sharing ends, if it does.
        expires_at: Option<i64>,
        /// The signed envelope as received (canonical JSON).
        envelope: String,
    },
    /// A request for the recipient's location (the newest per friend is kept).
    LocationRequest,
    /// A resource the friend shares.
    Share {
        /// Share id.
        id: String,
        /// What kind of resource, as the sender named it.
        resource_type: String,
        /// The resource's id at the sender.
        resource_id: String,
        /// The resource's data, sealed for the recipient.
        encrypted_data: String,
        /// The nonce the data was sealed with.
        data_nonce: String,
        /// `editor` or `viewer`.
        role: &'static str,
        /// The sender's revision of the resource (0 from senders that have none): an older one
        /// never replaces a newer one.
        revision: i64,
        /// The signed envelope as received (canonical JSON).
        envelope: String,
    },
    /// The friend stopped sharing a resource (RESOURCE_UNSHARE): its row is kept (or created)
    /// as withdrawn, its ciphertext cleared.
    Unshare {
        /// Row id, if a marker is created.
        id: String,
        /// What kind of resource.
        resource_type: String,
        /// The resource's id at the sender.
        resource_id: String,
        /// The sender's revision of the resource at the withdrawal.
        revision: i64,
        /// The signed envelope as received (canonical JSON).
        envelope: String,
    },
}

/// What became of one delivery of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Written.
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

/// The replay memories: transport nonces per sending server, message nonces per sender.
#[derive(Clone, Copy)]
pub(super) enum NonceTable {
    Transport,
    Message,
}

/// Records one nonce; `false` when it was seen before (see [`insert_nonces`]).
pub(super) async fn insert_nonce<'e>(
    ex: impl Executor<'e, Database = Any>,
    table: NonceTable,
    key: &str,
    nonce: &str,
    now: i64,
) -> StoreResult<bool> {
    Ok(insert_nonces(ex, table, &[(key, nonce)], now).await? == [true])
}

/// Inserts `keys` into a nonce table, all in one statement; returns, per key, whether it was
/// new. Of duplicates within `keys` only the first counts as new. ON CONFLICT rather than a
/// caught unique violation, so it can run inside a PostgreSQL transaction.
async fn insert_nonces<'e>(
    ex: impl Executor<'e, Database = Any>,
    table: NonceTable,
    keys: &[(&str, &str)],
    now: i64,
) -> StoreResult<Vec<bool>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let (table, key_col) = match table {
        NonceTable::Transport => ("federation_nonces", "sender"),
        NonceTable::Message => ("federation_message_nonces", "from_handle"),
    };
    let sql = format!(
        "INSERT INTO {table} ({key_col}, nonce, created_at) VALUES {} \
         ON CONFLICT DO NOTHING RETURNING {key_col}, nonce",
        placeholders::rows(keys.len(), 3, 0)
    );
    let mut query = sqlx::query_as::<_, (String, String)>(&sql);
    for (key, nonce) in keys {
        query = query.bind(*key).bind(*nonce).bind(now);
    }
    let mut inserted: HashSet<(String, String)> = query.fetch_all(ex).await?.into_iter().collect();
    Ok(keys
        .iter()
        .map(|(key, nonce)| inserted.remove(&(key.to_string(), nonce.to_string())))
        .collect())
}

impl Store {
    /// Applies a batch of deliveries in ONE transaction, each with its nonces: the batch
    /// costs a fixed number of statements, where one message in a transaction of its own
    /// costs six to ten round trips and a commit. A delivery refused for a reason of its own
    /// (replay, not a friend, stale) is reported and leaves only its transport nonce; a
    /// database error fails the whole batch (nothing written). The deliveries of one (user,
    /// peer) pair must be alike, all friend-gated, all invitations or all revocations
    /// (applied together, the order of unlike ones would be lost; `federation::inbox` cuts
    /// batches there); alike ones count once (one invitation, one ended friendship).
    pub async fn apply_deliveries(
        &self,
        batch: &[&Delivery],
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
        let fresh = insert_nonces(&mut *tx, NonceTable::Transport, &keys, now).await?;
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
        let fresh = insert_nonces(&mut *tx, NonceTable::Message, &keys, now).await?;
        // Message nonces recorded for deliveries refused later, to take back.
        let mut recorded: Vec<bool> = vec![false; batch.len()];
        for (&i, fresh) in with_nonce.iter().zip(fresh) {
            if fresh {
                recorded[i] = true;
            } else {
                outcome[i] = Some(DeliveryOutcome::MessageReplay);
            }
        }

        // Whether an applied delivery changed something (else it makes no event).
        let mut changed: Vec<bool> = vec![true; batch.len()];
        let pending: Vec<usize> = (0..batch.len())
            .filter(|&i| outcome[i].is_none() && !matches!(batch[i].effect, DeliveryEffect::Revoke))
            .collect();
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
                placeholders::list(1, users.len()),
                placeholders::list(users.len() + 1, peers.len())
            );
            let mut query = sqlx::query_as::<_, (String, String)>(&sql);
            for value in users.iter().chain(peers.iter()) {
                query = query.bind(*value);
            }
            let friends: HashSet<(String, String)> =
                query.fetch_all(&mut *tx).await?.into_iter().collect();
            for &i in &pending {
                let d = batch[i];
                let friend = friends.contains(&(d.user_id.clone(), d.peer_key.clone()));
                match (d.friend_gated(), friend) {
                    (true, false) => outcome[i] = Some(DeliveryOutcome::NotFriend),
                    // An invitation from a friend: nothing to do.
                    (false, true) => changed[i] = false,
                    _ => {}
                }
            }
        }

        apply_shares(&mut tx, batch, &outcome, now).await?;
        apply_location_requests(&mut tx, batch, &outcome, now).await?;
        apply_locations(&mut tx, batch, &mut outcome, now).await?;
        apply_revocations(&mut tx, batch, &outcome, &mut changed, now).await?;
        apply_invitations(&mut tx, batch, &outcome, &mut changed, now).await?;
        let applied: Vec<NewEvent> = (0..batch.len())
            .filter(|&i| outcome[i].is_none() && changed[i])
            .filter_map(|i| batch[i].event.clone())
            .collect();
        let woken = events::append(&mut tx, self.backend, &applied, now).await?;

        // A refused message may be sent again (by its server's retry): forget its nonce.
        let take_back: Vec<(&str, &str)> = (0..batch.len())
            .filter(|&i| recorded[i] && outcome[i].is_some())
            .filter_map(|i| batch[i].message_nonce.as_ref())
            .map(|(from, nonce)| (from.as_str(), nonce.as_str()))
            .collect();
        if !take_back.is_empty() {
            let sql = format!(
                "DELETE FROM federation_message_nonces WHERE {}",
                placeholders::pairs("from_handle", "nonce", take_back.len(), 0)
            );
            let mut query = sqlx::query(&sql);
            for (from, nonce) in take_back {
                query = query.bind(from).bind(nonce);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        self.wake_events(woken.iter().map(String::as_str));
        Ok(outcome
            .into_iter()
            .map(|o| o.unwrap_or(DeliveryOutcome::Applied))
            .collect())
    }
}

/// The most pending shares one friend can have waiting for a user: a flood of distinct
/// resources pushes that friend's oldest pending ones out; accepted ones stay.
pub const MAX_PENDING_SHARES_PER_FRIEND: i64 = 200;

/// The most withdrawn markers one friend can leave for a user (each small: no ciphertext).
/// Counted apart from pending shares, so a flood of shares never pushes out a withdrawal
/// whose older share may still arrive late; only a flood of withdrawals does.
pub const MAX_WITHDRAWN_SHARES_PER_FRIEND: i64 = 1000;

/// The batch's shares still pending: one row per (user, friend, resource), so a resource shared
/// again replaces its row (its description, role, revision and message; not its id or whether
/// the user accepted it) unless the row holds a newer revision, and at most
/// [`MAX_PENDING_SHARES_PER_FRIEND`] pending per friend. Then the withdrawals.
async fn apply_shares(
    conn: &mut AnyConnection,
    batch: &[&Delivery],
    outcome: &[Option<DeliveryOutcome>],
    now: i64,
) -> StoreResult<()> {
    // Per resource, the batch's newest revision (the later message on a tie): one upsert may
    // not touch a row twice (PostgreSQL refuses), and messages can arrive out of order.
    let mut newest: HashMap<(&str, &str, &str, &str), (usize, i64)> = HashMap::new();
    for i in (0..batch.len()).filter(|&i| outcome[i].is_none()) {
        if let DeliveryEffect::Friend(FriendEffect::Share {
            resource_type,
            resource_id,
            revision,
            ..
        }) = &batch[i].effect
        {
            let d = batch[i];
            let key = (
                d.user_id.as_str(),
                d.peer_key.as_str(),
                resource_type.as_str(),
                resource_id.as_str(),
            );
            match newest.get(&key) {
                Some(&(_, best)) if best > *revision => {}
                _ => {
                    newest.insert(key, (i, *revision));
                }
            }
        }
    }
    let mut chosen: Vec<usize> = newest.values().map(|&(i, _)| i).collect();
    chosen.sort_unstable();
    if !chosen.is_empty() {
        // A withdrawn row comes back only with a newer revision than its withdrawal's.
        let sql = format!(
            "INSERT INTO incoming_shares (id, user_id, peer_key, from_handle, resource_type, \
             resource_id, encrypted_data, data_nonce, role, envelope, received_at, revision) \
             VALUES {} \
             ON CONFLICT (user_id, peer_key, resource_type, resource_id) DO UPDATE SET \
             from_handle = excluded.from_handle, encrypted_data = excluded.encrypted_data, \
             data_nonce = excluded.data_nonce, role = excluded.role, envelope = excluded.envelope, \
             received_at = excluded.received_at, revision = excluded.revision, \
             status = CASE WHEN incoming_shares.status = 'revoked' THEN 'pending' \
             ELSE incoming_shares.status END \
             WHERE excluded.revision > incoming_shares.revision \
             OR (excluded.revision = incoming_shares.revision \
             AND incoming_shares.status <> 'revoked')",
            placeholders::rows(chosen.len(), 12, 0)
        );
        let mut query = sqlx::query(&sql);
        let mut friends = HashSet::new();
        for &i in &chosen {
            let d = batch[i];
            let DeliveryEffect::Friend(FriendEffect::Share {
                id,
                resource_type,
                resource_id,
                encrypted_data,
                data_nonce,
                role,
                revision,
                envelope,
            }) = &d.effect
            else {
                continue;
            };
            friends.insert((d.user_id.as_str(), d.peer_key.as_str()));
            query = query
                .bind(id.as_str())
                .bind(d.user_id.as_str())
                .bind(d.peer_key.as_str())
                .bind(d.from_handle.as_str())
                .bind(resource_type.as_str())
                .bind(resource_id.as_str())
                .bind(encrypted_data.as_str())
                .bind(data_nonce.as_str())
                .bind(*role)
                .bind(envelope.as_str())
                .bind(now)
                .bind(*revision);
        }
        query.execute(&mut *conn).await?;
        prune(conn, &friends, Unaccepted::Pending).await?;
    }
    // Withdrawals are rare: one statement each. The row becomes (or, when the share has not
    // arrived yet, is created as) a withdrawn marker, unless it holds a newer revision: a
    // share sent before the withdrawal but delivered after it (the outbox retries out of
    // order) then stays withdrawn. Markers have their own per-friend cap.
    let mut withdrawn = HashSet::new();
    for i in (0..batch.len()).filter(|&i| outcome[i].is_none()) {
        let d = batch[i];
        if let DeliveryEffect::Friend(FriendEffect::Unshare {
            id,
            resource_type,
            resource_id,
            revision,
            envelope,
        }) = &d.effect
        {
            sqlx::query(
                "INSERT INTO incoming_shares (id, user_id, peer_key, from_handle, resource_type, \
                 resource_id, encrypted_data, data_nonce, role, envelope, received_at, revision, \
                 status) VALUES ($1, $2, $3, $4, $5, $6, '', '', 'viewer', $7, $8, $9, 'revoked') \
                 ON CONFLICT (user_id, peer_key, resource_type, resource_id) DO UPDATE SET \
                 status = 'revoked', encrypted_data = '', data_nonce = '', role = 'viewer', \
                 envelope = excluded.envelope, revision = excluded.revision, \
                 received_at = excluded.received_at \
                 WHERE incoming_shares.revision <= excluded.revision",
            )
            .bind(id.as_str())
            .bind(d.user_id.as_str())
            .bind(d.peer_key.as_str())
            .bind(d.from_handle.as_str())
            .bind(resource_type.as_str())
            .bind(resource_id.as_str())
            .bind(envelope.as_str())
            .bind(now)
            .bind(*revision)
            .execute(&mut *conn)
            .await?;
            withdrawn.insert((d.user_id.as_str(), d.peer_key.as_str()));
        }
    }
    prune(conn, &withdrawn, Unaccepted::Withdrawn).await?;
    Ok(())
}

/// The two kinds of a friend's rows not accepted, each capped on its own.
#[derive(Clone, Copy)]
enum Unaccepted {
    Pending,
    Withdrawn,
}

impl Unaccepted {
    fn status(self) -> &'static str {
        match self {
            Unaccepted::Pending => "pending",
            Unaccepted::Withdrawn => "revoked",
        }
    }

    fn cap(self) -> i64 {
        match self {
            Unaccepted::Pending => MAX_PENDING_SHARES_PER_FRIEND,
            Unaccepted::Withdrawn => MAX_WITHDRAWN_SHARES_PER_FRIEND,
        }
    }
}

/// Keeps at most the cap of each friend's rows of one kind for a user (`friends` holds the
/// batch's (user, friend) pairs): past it, only the newest three quarters stay, so a flood
/// prunes once per quarter of the cap instead of sorting the friend's rows with every batch
/// (~200 µs of the server's CPU per share on SQLite when it did). Accepted shares are never
/// pushed out. One statement counts every pair of the batch (one per pair cost ~70 µs a share
/// on SQLite, each a hand-off to the connection's thread); each count reads one partial index
/// (`incoming_shares_unaccepted`): the `status <> 'accepted'` term, implied by `status = $1`,
/// is what lets the planners of both databases choose it.
async fn prune(
    conn: &mut AnyConnection,
    friends: &HashSet<(&str, &str)>,
    kind: Unaccepted,
) -> StoreResult<()> {
    if friends.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "WITH friend (user_id, peer_key) AS (VALUES {}) \
         SELECT friend.user_id, friend.peer_key FROM friend WHERE (SELECT COUNT(*) \
         FROM incoming_shares s WHERE s.user_id = friend.user_id \
         AND s.peer_key = friend.peer_key AND s.status <> 'accepted' AND s.status = $1) > $2",
        placeholders::rows(friends.len(), 2, 2)
    );
    let mut query = sqlx::query_as::<_, (String, String)>(&sql)
        .bind(kind.status())
        .bind(kind.cap());
    for (user_id, peer_key) in friends {
        query = query.bind(*user_id).bind(*peer_key);
    }
    for (user_id, peer_key) in query.fetch_all(&mut *conn).await? {
        sqlx::query(
            "DELETE FROM incoming_shares WHERE user_id = $1 AND peer_key = $2 \
             AND status <> 'accepted' AND status = $3 AND id NOT IN (SELECT id FROM \
             incoming_shares WHERE user_id = $1 AND peer_key = $2 AND status <> 'accepted' \
             AND status = $3 ORDER BY received_at DESC, id DESC LIMIT $4)",
        )
        .bind(&user_id)
        .bind(&peer_key)
        .bind(kind.status())
        .bind(kind.cap() - kind.cap() / 4)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The batch's location requests still pending, one row per (user, friend): requesting
/// twice is requesting once.
async fn apply_location_requests(
    conn: &mut AnyConnection,
    batch: &[&Delivery],
    outcome: &[Option<DeliveryOutcome>],
    now: i64,
) -> StoreResult<()> {
    let mut seen = HashSet::new();
    let rows: Vec<&Delivery> = (0..batch.len())
        .filter(|&i| outcome[i].is_none())
        .map(|i| batch[i])
        .filter(|d| {
            matches!(
                d.effect,
                DeliveryEffect::Friend(FriendEffect::LocationRequest)
            )
        })
        .filter(|d| seen.insert((d.user_id.as_str(), d.peer_key.as_str())))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    // Upserting one row twice in a statement is an error on PostgreSQL: hence the dedup.
    let sql = format!(
        "INSERT INTO location_requests (user_id, peer_key, from_handle, requested_at) \
         VALUES {} ON CONFLICT (user_id, peer_key) DO UPDATE SET \
         requested_at = excluded.requested_at",
        placeholders::rows(rows.len(), 4, 0)
    );
    let mut query = sqlx::query(&sql);
    for d in rows {
        query = query
            .bind(d.user_id.as_str())
            .bind(d.peer_key.as_str())
            .bind(d.from_handle.as_str())
            .bind(now);
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

/// The batch's locations still pending: per (user, friend) only the newest can be kept, so
/// the others are stale at once; the newest replaces the stored one only if it is newer
/// (else it is stale too).
/// How a location compares with another for the same pair: (is a stop, sent at).
type Rank = (bool, i64);

async fn apply_locations(
    conn: &mut AnyConnection,
    batch: &[&Delivery],
    outcome: &mut [Option<DeliveryOutcome>],
    now: i64,
) -> StoreResult<()> {
    // A stop outranks any position (a device whose clock runs ahead must not keep a
    // position alive past the stop); then the newest wins.
    let mut newest: HashMap<(&str, &str), (usize, Rank)> = HashMap::new();
    for i in 0..batch.len() {
        let d = batch[i];
        let DeliveryEffect::Friend(FriendEffect::Location {
            sent_at,
            encrypted_location,
            ..
        }) = &d.effect
        else {
            continue;
        };
        if outcome[i].is_some() {
            continue;
        }
        let rank = (encrypted_location.is_none(), *sent_at);
        let key = (d.user_id.as_str(), d.peer_key.as_str());
        match newest.get(&key) {
            Some(&(_, best)) if best >= rank => {
                outcome[i] = Some(DeliveryOutcome::StaleLocation);
            }
            Some(&(older, _)) => {
                outcome[older] = Some(DeliveryOutcome::StaleLocation);
                newest.insert(key, (i, rank));
            }
            None => {
                newest.insert(key, (i, rank));
            }
        }
    }
    if newest.is_empty() {
        return Ok(());
    }
    let chosen: Vec<usize> = newest.values().map(|&(i, _)| i).collect();
    let sql = format!(
        "INSERT INTO friend_locations (user_id, peer_key, from_handle, encrypted_location, \
         sent_at, expires_at, envelope, received_at) VALUES {} \
         ON CONFLICT (user_id, peer_key) DO UPDATE SET \
         from_handle = excluded.from_handle, encrypted_location = excluded.encrypted_location, \
         sent_at = CASE WHEN friend_locations.sent_at > excluded.sent_at \
         THEN friend_locations.sent_at ELSE excluded.sent_at END, \
         expires_at = excluded.expires_at, \
         envelope = excluded.envelope, received_at = excluded.received_at \
         WHERE friend_locations.sent_at < excluded.sent_at \
         OR excluded.encrypted_location = '' \
         RETURNING user_id, peer_key",
        placeholders::rows(chosen.len(), 8, 0)
    );
    let mut query = sqlx::query_as::<_, (String, String)>(&sql);
    for &i in &chosen {
        let d = batch[i];
        if let DeliveryEffect::Friend(FriendEffect::Location {
            encrypted_location,
            sent_at,
            expires_at,
            envelope,
        }) = &d.effect
        {
            query = query
                .bind(d.user_id.as_str())
                .bind(d.peer_key.as_str())
                .bind(d.from_handle.as_str())
                .bind(encrypted_location.as_deref().unwrap_or_default())
                .bind(*sent_at)
                .bind(*expires_at)
                .bind(envelope.as_str())
                .bind(now);
        }
    }
    let written: HashSet<(String, String)> =
        query.fetch_all(&mut *conn).await?.into_iter().collect();
    for i in chosen {
        let d = batch[i];
        if !written.contains(&(d.user_id.clone(), d.peer_key.clone())) {
            outcome[i] = Some(DeliveryOutcome::StaleLocation);
        }
    }
    Ok(())
}

/// The batch's revocations still pending: every relationship ended at once; those that
/// ended a friendship changed something (their event says so).
async fn apply_revocations(
    conn: &mut AnyConnection,
    batch: &[&Delivery],
    outcome: &[Option<DeliveryOutcome>],
    changed: &mut [bool],
    now: i64,
) -> StoreResult<()> {
    let revocations: Vec<usize> = (0..batch.len())
        .filter(|&i| outcome[i].is_none() && matches!(batch[i].effect, DeliveryEffect::Revoke))
        .collect();
    if revocations.is_empty() {
        return Ok(());
    }
    let pairs: Vec<(&str, &str)> = revocations
        .iter()
        .map(|&i| (batch[i].user_id.as_str(), batch[i].peer_key.as_str()))
        .collect();
    let mut ended = friends::end_relationships(conn, &pairs, now).await?;
    for i in revocations {
        // The first revocation of a pair ended it; any other changed nothing.
        changed[i] = ended.remove(&(batch[i].user_id.clone(), batch[i].peer_key.clone()));
    }
    Ok(())
}

/// The batch's invitations still pending from senders who are not friends: one row each,
/// unless an invitation from that sender is pending already.
async fn apply_invitations(
    conn: &mut AnyConnection,
    batch: &[&Delivery],
    outcome: &[Option<DeliveryOutcome>],
    changed: &mut [bool],
    now: i64,
) -> StoreResult<()> {
    let invitations: Vec<usize> = (0..batch.len())
        .filter(|&i| outcome[i].is_none() && changed[i])
        .filter(|&i| matches!(batch[i].effect, DeliveryEffect::Invite { .. }))
        .collect();
    if invitations.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "SELECT user_id, peer_key FROM friend_invitations WHERE direction = 'incoming' \
         AND status = 'pending' AND expires_at > $1 AND ({})",
        placeholders::pairs("user_id", "peer_key", invitations.len(), 1)
    );
    let mut query = sqlx::query_as::<_, (String, String)>(&sql).bind(now);
    for &i in &invitations {
        query = query
            .bind(batch[i].user_id.as_str())
            .bind(batch[i].peer_key.as_str());
    }
    let pending: HashSet<(String, String)> =
        query.fetch_all(&mut *conn).await?.into_iter().collect();
    // Changed only if written, below.
    for &i in &invitations {
        changed[i] = false;
    }
    // One row per pair: inviting twice is inviting once.
    let mut seen = HashSet::new();
    let new: Vec<usize> = invitations
        .into_iter()
        .filter(|&i| {
            let pair = (batch[i].user_id.clone(), batch[i].peer_key.clone());
            !pending.contains(&pair) && seen.insert(pair)
        })
        .collect();
    if new.is_empty() {
        return Ok(());
    }
    // ON CONFLICT: an expired invitation still marked pending (until housekeeping) keeps
    // its place; then nothing new is written and nothing announced.
    let sql = format!(
        "INSERT INTO friend_invitations ({}) VALUES {} ON CONFLICT DO NOTHING \
         RETURNING user_id, peer_key",
        friends::INVITATION_COLUMNS,
        placeholders::rows(new.len(), 10, 0)
    );
    let mut query = sqlx::query_as::<_, (String, String)>(&sql);
    for &i in &new {
        let d = batch[i];
        if let DeliveryEffect::Invite {
            id,
            to_handle,
            ttl_ms,
        } = &d.effect
        {
            query = query
                .bind(id.as_str())
                .bind(d.user_id.as_str())
                .bind(InvitationDirection::Incoming.as_str())
                .bind(d.from_handle.as_str())
                .bind(to_handle.as_str())
                .bind(d.peer_key.as_str())
                .bind(InvitationStatus::Pending.as_str())
                .bind(now)
                .bind(now)
                .bind(now + ttl_ms);
        }
    }
    let inserted: HashSet<(String, String)> =
        query.fetch_all(&mut *conn).await?.into_iter().collect();
    for i in new {
        changed[i] = inserted.contains(&(batch[i].user_id.clone(), batch[i].peer_key.clone()));
    }
    Ok(())
}
