//! The durable outbound queue: every message a local user sends is a row; a worker task
//! claims due rows (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so replicas never share a row),
//! delivers them (local recipients directly, remote ones to their inbox) and retries with
//! exponential backoff and jitter until the configured maximum age. The receiver's (from,
//! nonce) dedupe makes delivery exactly-once from its point of view: a `replay` answer means
//! an earlier attempt arrived.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use parchment_core::federation::Envelope;
use parchment_core::handle::{Handle, HandleError};
use parchment_core::rand_core::{OsRng, RngCore};
use tokio::sync::Notify;

use crate::clock::SharedClock;
use crate::store::{NewOutboxRow, OutboxRow, OutboxStatus, Store, StoreError};

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
    /// The outbox id it gets.
    pub id: String,
    message_type: String,
    to_handle: String,
    peer_host: String,
    body: String,
}

impl Outgoing {
    /// The row of `envelope`, addressed to the server of its `to` handle.
    pub fn new(envelope: &Envelope) -> Result<Self, HandleError> {
        let to = Handle::parse(&envelope.to)?;
        Ok(Outgoing {
            id: crate::secrets::random_id(),
            message_type: envelope.type_name().unwrap_or_default().to_owned(),
            to_handle: envelope.to.clone(),
            peer_host: to.domain().to_ascii_lowercase(),
            body: envelope.body(),
        })
    }

    /// The row to insert, sent by `user_id` (for `invitation_id`, if any) at `now`.
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

/// Backoff before attempt `attempts + 1`: doubling from 1 s up to 5 min, ±25 % jitter.
pub fn backoff_ms(attempts: i64) -> i64 {
    let base = FIRST_RETRY_MS
        .saturating_mul(1i64 << attempts.clamp(0, 20))
        .min(LONGEST_RETRY_MS);
    let jitter = (OsRng.next_u64() % 1000) as i64; // 0..1000 ‰ of half the base
    base * 3 / 4 + base / 2 * jitter / 1000
}

/// What a delivery attempt came to.
#[derive(Debug)]
pub enum Delivery {
    /// 200/202, or 409 `replay` (the receiver already has it).
    Delivered,
    /// The receiver refused the message for good (4xx other than 401/408/429).
    Refused(String),
    /// Try again later.
    Retry(String),
}

/// Who carries a claimed message: the service layer (local recipients processed directly,
/// remote ones posted to their server after the pin check).
pub trait Courier: Clone + Send + Sync + 'static {
    /// Attempts one delivery; `local` when the recipient's server is this one.
    fn deliver(&self, envelope: Envelope, local: bool) -> impl Future<Output = Delivery> + Send;
}

/// The queue's worker: claims due rows, hands each to its courier, records the outcome.
pub struct Worker<C> {
    /// The queue's rows.
    pub store: Store,
    /// Time of claims, leases and retries.
    pub clock: SharedClock,
    /// This server's federation domain: rows for it are local deliveries.
    pub our_domain: Option<String>,
    /// Retry horizon: a row older than this fails instead of retrying.
    pub max_age_ms: i64,
    /// Notified when a row is queued.
    pub wake: Arc<Notify>,
    /// Carries each message.
    pub courier: C,
}

impl<C: Courier> Worker<C> {
    /// Runs until the process ends.
    pub async fn run(self) {
        loop {
            let worked = match self.run_once().await {
                Ok(n) => n,
                Err(err) => {
                    tracing::warn!(error = %err, "outbox pass failed");
                    0
                }
            };
            if worked == 0 {
                let _ =
                    tokio::time::timeout(Duration::from_millis(500), self.wake.notified()).await;
            }
        }
    }

    /// Claims and attempts every due row once; returns how many were attempted.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let now = self.clock.now_ms();
        let rows = self.store.claim_outbox(now, now + LEASE_MS, BATCH).await?;
        let count = rows.len();
        let mut tasks = tokio::task::JoinSet::new();
        for row in rows {
            let attempt = Attempt {
                store: self.store.clone(),
                clock: self.clock.clone(),
                our_domain: self.our_domain.clone(),
                max_age_ms: self.max_age_ms,
                courier: self.courier.clone(),
            };
            tasks.spawn(async move { attempt.run(row).await });
        }
        while let Some(done) = tasks.join_next().await {
            if let Ok(Err(err)) = done {
                tracing::warn!(error = %err, "outbox attempt failed");
            }
        }
        Ok(count)
    }
}

/// One row's delivery, on its own task.
struct Attempt<C> {
    store: Store,
    clock: SharedClock,
    our_domain: Option<String>,
    max_age_ms: i64,
    courier: C,
}

impl<C: Courier> Attempt<C> {
    async fn run(self, row: OutboxRow) -> Result<(), StoreError> {
        let now = self.clock.now_ms();
        let outcome = match Envelope::parse(&row.body) {
            Err(e) => Delivery::Refused(format!("stored body: {e}")),
            Ok(envelope) => {
                let local = self
                    .our_domain
                    .as_deref()
                    .is_some_and(|ours| ours.eq_ignore_ascii_case(&row.peer_host));
                self.courier.deliver(envelope, local).await
            }
        };
        let attempts = row.attempts + 1;
        let store = &self.store;
        match outcome {
            Delivery::Delivered => {
                tracing::info!(id = %row.id, to = %row.to_handle, attempts, "delivered");
                store
                    .finish_outbox(&row.id, OutboxStatus::Delivered, None, attempts, now)
                    .await?;
            }
            Delivery::Refused(reason) => {
                crate::metrics::record_delivery_failure("refused");
                tracing::warn!(id = %row.id, to = %row.to_handle, %reason, "delivery refused");
                store
                    .finish_outbox(&row.id, OutboxStatus::Failed, Some(&reason), attempts, now)
                    .await?;
            }
            Delivery::Retry(reason) => {
                crate::metrics::record_delivery_failure("retry");
                if now - row.created_at >= self.max_age_ms {
                    tracing::warn!(id = %row.id, to = %row.to_handle, %reason, "delivery gave up");
                    store
                        .finish_outbox(&row.id, OutboxStatus::Failed, Some(&reason), attempts, now)
                        .await?;
                } else {
                    let next = now + backoff_ms(row.attempts);
                    tracing::info!(id = %row.id, to = %row.to_handle, %reason, attempts, "delivery will be retried");
                    store
                        .retry_outbox(&row.id, &reason, attempts, next, now)
                        .await?;
                }
            }
        }
        Ok(())
    }
}
