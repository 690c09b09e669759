//! The push channel's event log (read by `GET /events`): appended in the transaction of
//! what caused each event, read back after a sequence number, pruned by age. A commit wakes
//! the subscribers of the users concerned: in this process at once, and on PostgreSQL every
//! other replica through `NOTIFY` (see [`listen_postgres`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::{AnyConnection, FromRow};
use tokio::sync::watch;

use super::placeholders;
use super::{Backend, Store, StoreResult};

/// The PostgreSQL channel commits announce user ids on (comma-separated).
const CHANNEL: &str = "parchment_events";

/// An event to append for a user.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Whose stream it goes to.
    pub user_id: String,
    /// The SSE event name (`location`, `friend-removed`, …).
    pub kind: &'static str,
    /// Events of one topic replace each other (only the newest is kept), e.g. a friend's
    /// positions; `None`: every event is kept (until pruned by age).
    pub topic: Option<String>,
    /// Its JSON data.
    pub data: String,
}

/// One stored event.
#[derive(Debug, Clone, FromRow)]
pub struct EventRow {
    /// Per-user number, increasing without reuse.
    pub seq: i64,
    /// The SSE event name.
    pub kind: String,
    /// JSON.
    pub data: String,
}

/// Appends `events` (any users, any order; each user's keep their order) in the caller's
/// transaction: one upsert numbers them per user, one insert stores them, and on PostgreSQL
/// one `pg_notify` (delivered at commit) tells the other replicas. Returns the users.
pub(super) async fn append(
    conn: &mut AnyConnection,
    backend: Backend,
    events: &[NewEvent],
    now: i64,
) -> StoreResult<Vec<String>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let mut counts: Vec<(&str, i64)> = Vec::new();
    for e in events {
        match counts.iter_mut().find(|(u, _)| *u == e.user_id) {
            Some((_, n)) => *n += 1,
            None => counts.push((&e.user_id, 1)),
        }
    }
    // Row locks in one order everywhere: two appenders never wait for each other in a circle.
    counts.sort_by(|a, b| a.0.cmp(b.0));
    // The row lock this upsert takes orders concurrent appenders for one user, so numbers
    // become visible in order.
    let sql = format!(
        "INSERT INTO user_event_heads (user_id, seq) VALUES {} ON CONFLICT (user_id) \
         DO UPDATE SET seq = user_event_heads.seq + excluded.seq RETURNING user_id, seq",
        placeholders::rows(counts.len(), 2, 0)
    );
    let mut query = sqlx::query_as::<_, (String, i64)>(&sql);
    for (user, n) in &counts {
        query = query.bind(*user).bind(*n);
    }
    let heads: HashMap<String, i64> = query.fetch_all(&mut *conn).await?.into_iter().collect();
    // The first number of each user's run in this append.
    let mut next: HashMap<&str, i64> = counts
        .iter()
        .map(|(user, n)| (*user, heads.get(*user).copied().unwrap_or(*n) - n + 1))
        .collect();
    let replaced: Vec<(&str, &str)> = events
        .iter()
        .filter_map(|e| Some((e.user_id.as_str(), e.topic.as_deref()?)))
        .collect();
    if !replaced.is_empty() {
        let sql = format!(
            "DELETE FROM user_events WHERE {}",
            placeholders::pairs("user_id", "topic", replaced.len(), 0)
        );
        let mut query = sqlx::query(&sql);
        for (user, topic) in &replaced {
            query = query.bind(*user).bind(*topic);
        }
        query.execute(&mut *conn).await?;
    }
    let sql = format!(
        "INSERT INTO user_events (user_id, seq, kind, topic, data, created_at) VALUES {}",
        placeholders::rows(events.len(), 6, 0)
    );
    let mut query = sqlx::query(&sql);
    for e in events {
        let seq = next.get_mut(e.user_id.as_str()).map_or(0, |s| {
            *s += 1;
            *s - 1
        });
        query = query
            .bind(e.user_id.as_str())
            .bind(seq)
            .bind(e.kind)
            .bind(e.topic.as_deref())
            .bind(e.data.as_str())
            .bind(now);
    }
    query.execute(&mut *conn).await?;
    let users: Vec<String> = counts.iter().map(|(u, _)| u.to_string()).collect();
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(users.join(","))
            .execute(&mut *conn)
            .await?;
    }
    Ok(users)
}

impl Store {
    /// Appends events in a transaction of their own and wakes their subscribers.
    pub async fn append_events(&self, events: &[NewEvent], now: i64) -> StoreResult<()> {
        let mut tx = self.writer().begin().await?;
        let users = append(&mut tx, self.backend, events, now).await?;
        tx.commit().await?;
        self.event_wake.wake(users.iter().map(String::as_str));
        Ok(())
    }

    /// Up to `limit` events of `user_id` numbered after `after`, oldest first.
    pub async fn events_after(
        &self,
        user_id: &str,
        after: i64,
        limit: i64,
    ) -> StoreResult<Vec<EventRow>> {
        Ok(sqlx::query_as(
            "SELECT seq, kind, data FROM user_events WHERE user_id = $1 AND seq > $2 \
             ORDER BY seq LIMIT $3",
        )
        .bind(user_id)
        .bind(after)
        .bind(limit)
        .fetch_all(self.reader())
        .await?)
    }

    /// The number of the user's newest event ever appended (0: none yet) and of their
    /// oldest one still kept (`None`: none kept).
    pub async fn event_bounds(&self, user_id: &str) -> StoreResult<(i64, Option<i64>)> {
        let head: Option<i64> =
            sqlx::query_scalar("SELECT seq FROM user_event_heads WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(self.reader())
                .await?;
        let oldest: Option<i64> =
            sqlx::query_scalar("SELECT MIN(seq) FROM user_events WHERE user_id = $1")
                .bind(user_id)
                .fetch_one(self.reader())
                .await?;
        Ok((head.unwrap_or(0), oldest))
    }

    /// Deletes events created before `before` (their numbers are never reused).
    pub async fn prune_events(&self, before: i64) -> StoreResult<u64> {
        Ok(sqlx::query("DELETE FROM user_events WHERE created_at < $1")
            .bind(before)
            .execute(self.writer())
            .await?
            .rows_affected())
    }

    /// A subscription to "new events for `user_id` committed" (a hint: read them with
    /// [`Store::events_after`]).
    pub fn subscribe_events(&self, user_id: &str) -> EventSubscription {
        self.event_wake.subscribe(user_id)
    }

    /// Wakes the subscribers of `users` (called after a commit that appended events).
    pub(super) fn wake_events<'a>(&self, users: impl IntoIterator<Item = &'a str>) {
        self.event_wake.wake(users);
    }
}

/// Who waits for whose events, in this process: one `watch` per user with subscribers.
#[derive(Default)]
pub struct EventWake {
    users: Mutex<HashMap<String, watch::Sender<()>>>,
}

impl EventWake {
    fn subscribe(self: &Arc<Self>, user_id: &str) -> EventSubscription {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        let receiver = users
            .entry(user_id.to_owned())
            .or_insert_with(|| watch::channel(()).0)
            .subscribe();
        EventSubscription {
            receiver: Some(receiver),
            user_id: user_id.to_owned(),
            wake: Arc::clone(self),
        }
    }

    fn wake<'a>(&self, user_ids: impl IntoIterator<Item = &'a str>) {
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        for user in user_ids {
            if let Some(sender) = users.get(user) {
                sender.send_replace(());
            }
        }
    }

    /// Wakes everybody (after a gap in which notifications may have been lost).
    fn wake_all(&self) {
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        for sender in users.values() {
            sender.send_replace(());
        }
    }
}

/// A stream's wake-up hint; unregisters itself when dropped.
pub struct EventSubscription {
    receiver: Option<watch::Receiver<()>>,
    user_id: String,
    wake: Arc<EventWake>,
}

impl EventSubscription {
    /// Forgets wake-ups so far: call before reading, so a commit after the read still
    /// wakes [`EventSubscription::changed`].
    pub fn mark_seen(&mut self) {
        if let Some(r) = self.receiver.as_mut() {
            r.mark_unchanged();
        }
    }

    /// Waits for a wake-up after the last [`EventSubscription::mark_seen`].
    pub async fn changed(&mut self) {
        match self.receiver.as_mut() {
            Some(r) => {
                if r.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            None => std::future::pending::<()>().await,
        }
    }
}

impl Drop for EventSubscription {
    fn drop(&mut self) {
        drop(self.receiver.take());
        let mut users = self.wake.users.lock().unwrap_or_else(|e| e.into_inner());
        if users
            .get(&self.user_id)
            .is_some_and(|s| s.receiver_count() == 0)
        {
            users.remove(&self.user_id);
        }
    }
}

impl Store {
    /// On PostgreSQL, the task that relays every replica's commits to this process's
    /// subscribers (`None` on SQLite, where this process is the only writer).
    pub fn spawn_event_listener(&self) -> Option<tokio::task::JoinHandle<()>> {
        (self.backend == Backend::Postgres).then(|| tokio::spawn(listen_postgres(self.clone())))
    }
}

/// Relays `NOTIFY parchment_events` to this process's subscribers until the task is
/// aborted. After a lost connection everybody is woken, since notifications sent meanwhile
/// are gone (their events are not: the streams read them back).
async fn listen_postgres(store: Store) {
    let url = store.url.to_string();
    loop {
        match sqlx::postgres::PgListener::connect(&url).await {
            Ok(mut listener) => {
                if let Err(err) = listener.listen(CHANNEL).await {
                    tracing::warn!(error = %err, "event listener: LISTEN failed");
                } else {
                    store.event_wake.wake_all();
                    loop {
                        // `try_recv` says when the connection dropped (`Ok(None)`), where
                        // `recv` would reconnect silently and lose what was sent meanwhile.
                        match listener.try_recv().await {
                            Ok(Some(note)) => store.event_wake.wake(note.payload().split(',')),
                            Ok(None) => {
                                tracing::warn!("event listener: connection lost");
                                store.event_wake.wake_all();
                            }
                            Err(err) => {
                                tracing::warn!(error = %err, "event listener failed");
                                break;
                            }
                        }
                    }
                }
            }
            Err(err) => tracing::warn!(error = %err, "event listener: cannot connect"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
