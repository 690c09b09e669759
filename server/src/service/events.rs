//! `GET /events`: the push channel. A signed-in user's stream of what their friends cause
//! (locations, requests, invitations, answers, revocations, shares), read from the event
//! log after the number the client last saw, so a dropped connection loses nothing.
//!
//! - A fresh connection (no `Last-Event-ID`, no `after`) starts with `ready` carrying the
//!   newest number: the client loads its state after it, and every later change arrives.
//! - A resumed one continues after its number; if events it missed are no longer kept (or
//!   the number is unknown here), it gets `resync` and loads its state again.
//! - A stream lasts at most [`MAX_STREAM_MS`] (the browser reconnects on its own and is
//!   authenticated again), and checks its session every minute: a signed-out or revoked
//!   session stops hearing within [`RECHECK`].

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::Stream;

use super::roles;
use super::sessions::Principal;
use crate::error::AppError;
use crate::push::{Refused, StreamSlot};
use crate::state::AppState;
use crate::store::EventSubscription;

/// How long one stream lasts before the client must reconnect (and re-authenticate).
pub const MAX_STREAM_MS: u64 = 30 * 60 * 1000;
/// Events read per query (each at most an inbox body, 64 KiB; usually far less).
const PAGE: i64 = 32;
/// How often an idle stream checks its session and reads the log again.
const RECHECK: Duration = Duration::from_secs(60);
/// How long events are kept for clients to resume (pruned by housekeeping).
pub const RETENTION_MS: i64 = 3 * 24 * 3600 * 1000;

/// One event as sent: its number, SSE name and JSON data.
#[derive(Debug, Clone)]
pub struct PushItem {
    /// The SSE `id`.
    pub seq: i64,
    /// The SSE `event`.
    pub kind: String,
    /// The SSE `data` (JSON).
    pub data: String,
}

struct Cursor {
    state: AppState,
    user_id: String,
    session_id: String,
    /// Location events pass only with `location:sharing` (as `GET /friends/locations`).
    locations: bool,
    after: i64,
    subscription: EventSubscription,
    queued: VecDeque<PushItem>,
    deadline: tokio::time::Instant,
    next_check: tokio::time::Instant,
    _slot: StreamSlot,
}

/// Opens the caller's stream after event `after` (from `Last-Event-ID`, or `?after=`).
pub async fn open(
    state: &AppState,
    caller: &Principal,
    after: Option<i64>,
) -> Result<impl Stream<Item = PushItem> + Send + 'static, AppError> {
    let user_id = caller.require(roles::SOCIAL_READ)?.to_owned();
    let locations = caller.require(roles::LOCATION_SHARING).is_ok();
    let slot = state.push.open(&user_id).map_err(|refused| match refused {
        Refused::UserFull => AppError::RateLimited { retry_after: 30 },
        Refused::ServerFull => AppError::Unavailable("Too many open event streams".into()),
    })?;
    // Subscribed before reading the bounds: nothing committed in between is missed.
    let subscription = state.store.subscribe_events(&user_id);
    let (head, oldest) = state.store.event_bounds(&user_id).await?;
    let mut queued = VecDeque::new();
    let marker = |kind: &str| PushItem {
        seq: head,
        kind: kind.to_owned(),
        data: "{}".to_owned(),
    };
    let after = match after {
        None => {
            queued.push_back(marker("ready"));
            head
        }
        // Gone: the first event after `a` is pruned, or `a` was never issued here.
        Some(a) if a > head || (a < head && oldest.is_none_or(|o| o > a + 1)) => {
            queued.push_back(marker("resync"));
            head
        }
        Some(a) => a,
    };
    let closing = state.push.closing();
    let cursor = Cursor {
        state: state.clone(),
        user_id,
        session_id: caller.session_id.clone(),
        locations,
        after,
        subscription,
        queued,
        deadline: tokio::time::Instant::now() + Duration::from_millis(MAX_STREAM_MS),
        next_check: tokio::time::Instant::now() + RECHECK,
        _slot: slot,
    };
    let stream = futures_util::stream::unfold(cursor, next);
    Ok(futures_util::StreamExt::take_until(stream, closing))
}

async fn next(mut c: Cursor) -> Option<(PushItem, Cursor)> {
    loop {
        // Every minute, however busy the stream: a signed-out session stops hearing.
        if tokio::time::Instant::now() >= c.next_check {
            match c
                .state
                .store
                .session_alive(&c.session_id, c.state.now_ms())
                .await
            {
                Ok(true) => c.next_check = tokio::time::Instant::now() + RECHECK,
                Ok(false) => return None,
                Err(err) => {
                    tracing::warn!(error = %err, "event stream: session check failed");
                    return None;
                }
            }
        }
        if let Some(item) = c.queued.pop_front() {
            return Some((item, c));
        }
        // Marked before reading: a commit after the read still wakes the wait below.
        c.subscription.mark_seen();
        match c.state.store.events_after(&c.user_id, c.after, PAGE).await {
            Ok(rows) if !rows.is_empty() => {
                for row in rows {
                    c.after = row.seq;
                    if !c.locations && row.kind.starts_with("location") {
                        continue;
                    }
                    c.queued.push_back(PushItem {
                        seq: row.seq,
                        kind: row.kind,
                        data: row.data,
                    });
                }
                continue;
            }
            Ok(_) => {}
            Err(err) => {
                // Ends the stream; the client reconnects and resumes where it was.
                tracing::warn!(error = %err, "event stream: read failed");
                return None;
            }
        }
        tokio::select! {
            _ = c.subscription.changed() => {}
            _ = tokio::time::sleep_until(c.deadline) => return None,
            // The log is read again even if a wake-up was lost (a PostgreSQL listener whose
            // connection died silently), and the session is checked (top of the loop).
            _ = tokio::time::sleep_until(c.next_check) => {}
        }
    }
}

/// Parses a client's `Last-Event-ID` (the browser repeats the last `id` it saw).
pub fn parse_last_event_id(text: &str) -> Result<i64, AppError> {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| AppError::validation("Last-Event-ID", "must be an event number"))
}
