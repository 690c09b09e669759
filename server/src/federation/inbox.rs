//! Group commit for the inbox's hot path. Requests verify in parallel; their friend-gated
//! writes (live locations, location requests, shares) queue here, and one task applies
//! whatever has queued as ONE transaction. On SQLite, where one connection writes and each
//! statement is a hop to its thread, this turns ~6 round trips and a commit per message
//! into ~1 per message; on PostgreSQL it shares one commit (one WAL flush) among a batch.

use std::sync::OnceLock;

use tokio::sync::{mpsc, oneshot};

use crate::clock::SharedClock;
use crate::store::{DeliveryOutcome, FriendDelivery, Store, StoreError, StoreResult};

/// Largest batch (bounds the statements' parameter count: 3 per row and nonce).
const MAX_BATCH: usize = 64;

struct Job {
    delivery: FriendDelivery,
    reply: oneshot::Sender<StoreResult<DeliveryOutcome>>,
}

/// The batcher: a queue and the task that drains it (started on first use).
pub struct InboxBatcher {
    store: Store,
    clock: SharedClock,
    /// Started on first use, inside the runtime.
    queue: OnceLock<mpsc::Sender<Job>>,
}

impl InboxBatcher {
    /// A batcher writing to `store`, stamping rows with `clock`.
    pub fn new(store: Store, clock: SharedClock) -> Self {
        InboxBatcher {
            store,
            clock,
            queue: OnceLock::new(),
        }
    }

    /// Applies one delivery as part of the next batch.
    pub async fn apply(&self, delivery: FriendDelivery) -> StoreResult<DeliveryOutcome> {
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
            tokio::spawn(run(self.store.clone(), self.clock.clone(), rx));
            tx
        });
        let (reply, answer) = oneshot::channel();
        queue
            .send(Job { delivery, reply })
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?;
        answer
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?
    }
}

async fn run(store: Store, clock: SharedClock, mut queue: mpsc::Receiver<Job>) {
    while let Some(first) = queue.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        tracing::debug!(size = jobs.len(), "inbox batch");
        let batch: Vec<&FriendDelivery> = jobs.iter().map(|j| &j.delivery).collect();
        match store.apply_friend_deliveries(&batch, clock.now_ms()).await {
            Ok(outcomes) => {
                for (job, outcome) in jobs.into_iter().zip(outcomes) {
                    let _ = job.reply.send(Ok(outcome));
                }
            }
            Err(err) if jobs.len() == 1 => {
                if let Some(job) = jobs.pop() {
                    let _ = job.reply.send(Err(err));
                }
            }
            Err(err) => {
                // Nothing of the batch was written; one delivery's failure must not fail
                // the others, so each goes again alone.
                tracing::warn!(error = %err, size = jobs.len(), "inbox batch failed; applying one by one");
                for job in jobs {
                    let result = store
                        .apply_friend_deliveries(&[&job.delivery], clock.now_ms())
                        .await
                        .and_then(|outcomes| {
                            outcomes
                                .into_iter()
                                .next()
                                .ok_or_else(|| StoreError::Corrupt("empty batch outcome".into()))
                        });
                    let _ = job.reply.send(result);
                }
            }
        }
    }
}
