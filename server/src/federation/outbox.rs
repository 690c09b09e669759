//! The durable outbound queue: every message a local user sends is a row; a worker task
//! claims due rows (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so replicas never share a row),
//! delivers them (local recipients directly, remote ones to their inbox) and retries with
//! exponential backoff and jitter until the configured maximum age. The receiver's (from,
//! nonce) dedupe makes delivery exactly-once from its point of view: a `replay` answer means
//! an earlier attempt arrived.

use std::time::Duration;

use parchment_core::federation::Envelope;
use parchment_core::handle::Handle;
use parchment_core::rand_core::{OsRng, RngCore};

use super::{deliver, Delivery};
use crate::error::AppError;
use crate::service::{federation as service, now_ms, AppState};
use crate::store::{NewOutboxRow, OutboxRow};

/// Delivered and failed messages are kept this long for their sender to see
/// (`GET /federation/outbox`, an invitation's delivery state), then deleted: as long as an
/// invitation can stay pending.
pub const RETENTION_MS: i64 = 30 * 24 * 3600 * 1000;

/// A claimed row is someone else's for this long (a worker that died frees it after).
const LEASE_MS: i64 = 60 * 1000;
const FIRST_RETRY_MS: i64 = 1000;
const LONGEST_RETRY_MS: i64 = 5 * 60 * 1000;
const BATCH: i64 = 32;

/// A verified envelope ready to be queued: the owned values of its outbox row.
pub struct Outgoing {
    pub id: String,
    message_type: String,
    to_handle: String,
    peer_host: String,
    body: String,
}

impl Outgoing {
    pub fn new(envelope: &Envelope) -> Result<Self, AppError> {
        let to = Handle::parse(&envelope.to).map_err(|e| AppError::BadRequest {
            code: "invalid_handle",
            message: format!("to: {e}"),
        })?;
        Ok(Outgoing {
            id: super::new_id(),
            message_type: envelope.type_name().unwrap_or_default().to_owned(),
            to_handle: envelope.to.clone(),
            peer_host: to.domain().to_ascii_lowercase(),
            body: envelope.body(),
        })
    }

    pub fn row<'a>(
        &'a self,
        user_id: &'a str,
        invitation_id: Option<&'a str>,
        now: i64,
    ) -> NewOutboxRow<'a> {
        NewOutboxRow {
            id: &self.id,
            user_id,
            message_type: &self.message_type,
            to_handle: &self.to_handle,
            peer_host: &self.peer_host,
            body: &self.body,
            invitation_id,
            now,
        }
    }
}

/// Queues a verified envelope and wakes the worker. Returns the outbox id.
pub async fn enqueue(
    state: &AppState,
    user_id: &str,
    envelope: &Envelope,
    invitation_id: Option<&str>,
) -> Result<String, AppError> {
    let outgoing = Outgoing::new(envelope)?;
    state
        .store
        .enqueue_outbox(&outgoing.row(user_id, invitation_id, now_ms()))
        .await?;
    state.outbox_wake.notify_one();
    Ok(outgoing.id)
}

/// Backoff before attempt `attempts + 1`: doubling from 1 s up to 5 min, ±25 % jitter.
pub fn backoff_ms(attempts: i64) -> i64 {
    let base = FIRST_RETRY_MS
        .saturating_mul(1i64 << attempts.clamp(0, 20))
        .min(LONGEST_RETRY_MS);
    let jitter = (OsRng.next_u64() % 1000) as i64; // 0..1000 ‰ of half the base
    base * 3 / 4 + base / 2 * jitter / 1000
}

/// Runs until the process ends.
pub async fn worker(state: AppState) {
    loop {
        let worked = match run_once(&state).await {
            Ok(n) => n,
            Err(err) => {
                tracing::warn!(error = %err, "outbox pass failed");
                0
            }
        };
        if worked == 0 {
            let _ = tokio::time::timeout(Duration::from_millis(500), state.outbox_wake.notified())
                .await;
        }
    }
}

/// Claims and attempts every due row once; returns how many were attempted.
pub async fn run_once(state: &AppState) -> Result<usize, AppError> {
    let now = now_ms();
    let rows = state.store.claim_outbox(now, now + LEASE_MS, BATCH).await?;
    let count = rows.len();
    let mut tasks = tokio::task::JoinSet::new();
    for row in rows {
        let state = state.clone();
        tasks.spawn(async move { attempt(&state, row).await });
    }
    while let Some(done) = tasks.join_next().await {
        if let Ok(Err(err)) = done {
            tracing::warn!(error = %err, "outbox attempt failed");
        }
    }
    Ok(count)
}

async fn attempt(state: &AppState, row: OutboxRow) -> Result<(), AppError> {
    let now = now_ms();
    let outcome = match Envelope::parse(&row.body) {
        Err(e) => Delivery::Refused(format!("stored body: {e}")),
        Ok(envelope) => {
            let local = state
                .settings
                .domain()
                .is_some_and(|ours| ours.eq_ignore_ascii_case(&row.peer_host));
            if local {
                match service::process(state, &envelope).await {
                    Ok(()) => Delivery::Delivered,
                    Err(AppError::Conflict { code: "replay", .. }) => Delivery::Delivered,
                    Err(AppError::Store(e)) => Delivery::Retry(e.to_string()),
                    Err(e) => Delivery::Refused(e.to_string()),
                }
            } else {
                deliver(state, &envelope).await
            }
        }
    };
    let attempts = row.attempts + 1;
    match outcome {
        Delivery::Delivered => {
            tracing::info!(id = %row.id, to = %row.to_handle, attempts, "delivered");
            state
                .store
                .finish_outbox(&row.id, "delivered", None, attempts, now)
                .await?;
        }
        Delivery::Refused(reason) => {
            tracing::warn!(id = %row.id, to = %row.to_handle, %reason, "delivery refused");
            state
                .store
                .finish_outbox(&row.id, "failed", Some(&reason), attempts, now)
                .await?;
        }
        Delivery::Retry(reason) => {
            if now - row.created_at >= state.settings.federation_max_age_ms {
                tracing::warn!(id = %row.id, to = %row.to_handle, %reason, "delivery gave up");
                state
                    .store
                    .finish_outbox(&row.id, "failed", Some(&reason), attempts, now)
                    .await?;
            } else {
                let next = now + backoff_ms(row.attempts);
                tracing::info!(id = %row.id, to = %row.to_handle, %reason, attempts, "delivery will be retried");
                state
                    .store
                    .retry_outbox(&row.id, &reason, attempts, next, now)
                    .await?;
            }
        }
    }
    Ok(())
}
