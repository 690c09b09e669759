//! Group commit for the inbox's hot path. Requests verify in parallel; their writes
//! (friend-gated live locations, location requests and shares; invitations; revocations)
//! queue here, and one task applies whatever has queued as ONE transaction of a fixed
//! number of statements. On SQLite, where one connection writes and each statement is a hop
//! to its thread, this turns 6 to 10 round trips and a commit per message into a few per
//! batch; on PostgreSQL it shares one commit (one WAL flush) among a batch. Each request is
//! answered after the transaction holding its message committed.

use std::collections::{HashMap, VecDeque};
use std::sync::OnceLock;

use tokio::sync::{mpsc, oneshot};

use crate::clock::SharedClock;
use crate::store::{Delivery, DeliveryEffect, DeliveryOutcome, Store, StoreError, StoreResult};

/// Largest batch (bounds the statements' parameter count: at most 11 per delivery).
const MAX_BATCH: usize = 64;

struct Job {
    delivery: Delivery,
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
    pub async fn apply(&self, delivery: Delivery) -> StoreResult<DeliveryOutcome> {
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

/// The (user, peer) pairs of a batch being collected, with what their deliveries do: the
/// deliveries of one pair must be alike (all friend-gated, all invitations or all
/// revocations), because applied together their order would be lost; alike ones commute
/// (the store orders friend-gated ones and counts repeated invitations and revocations once).
#[derive(Default)]
struct Pairs(HashMap<(String, String), Kind>);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    FriendGated,
    Invite,
    Revoke,
}

impl Pairs {
    /// Adds `delivery`'s pair; `false` (nothing added) when it must wait for the next batch.
    fn admit(&mut self, delivery: &Delivery) -> bool {
        let kind = match delivery.effect {
            DeliveryEffect::Friend(_) => Kind::FriendGated,
            DeliveryEffect::Invite { .. } => Kind::Invite,
            DeliveryEffect::Revoke => Kind::Revoke,
        };
        let pair = (delivery.user_id.clone(), delivery.peer_key.clone());
        *self.0.entry(pair).or_insert(kind) == kind
    }
}

async fn run(store: Store, clock: SharedClock, mut queue: mpsc::Receiver<Job>) {
    // Jobs taken from the queue but left for the next batch, oldest first: the tail past a
    // power of two, then a job that could not join.
    let mut carried: VecDeque<Job> = VecDeque::new();
    loop {
        let first = match carried.pop_front() {
            Some(job) => job,
            None => match queue.recv().await {
                Some(job) => job,
                None => return,
            },
        };
        let mut pairs = Pairs::default();
        let mut jobs = gather(
            first,
            &mut carried,
            || queue.try_recv().ok(),
            |job| pairs.admit(&job.delivery),
        );
        tracing::debug!(size = jobs.len(), "inbox batch");
        let batch: Vec<&Delivery> = jobs.iter().map(|j| &j.delivery).collect();
        match store.apply_deliveries(&batch, clock.now_ms()).await {
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
                        .apply_deliveries(&[&job.delivery], clock.now_ms())
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

/// The batch that starts with `first`: then the jobs of `carried` (oldest first) and those
/// `queued` gives, while each can join (`admit`, which also sees `first`) and the batch is
/// under [`MAX_BATCH`]. A job that cannot join goes back first into `carried` and ends the
/// batch. Of the batch a power of two is kept: each statement of a batch has one text per row
/// count, and the connection's statement cache (100) held far fewer texts than the batch sizes
/// times the statements made, so most batches prepared their statements again (on PostgreSQL
/// the parse and plan cost its backends ~15 % of the inbox's throughput). The rest goes first
/// into the next batch, so the order of each pair is kept.
fn gather<T>(
    first: T,
    carried: &mut VecDeque<T>,
    mut queued: impl FnMut() -> Option<T>,
    mut admit: impl FnMut(&T) -> bool,
) -> Vec<T> {
    admit(&first);
    let mut jobs = vec![first];
    while jobs.len() < MAX_BATCH {
        let Some(next) = carried.pop_front().or_else(&mut queued) else {
            break;
        };
        if admit(&next) {
            jobs.push(next);
        } else {
            carried.push_front(next);
            break;
        }
    }
    carry_past_power_of_two(&mut jobs, carried);
    jobs
}

/// Keeps the largest power of two of `jobs` (at least one) and puts the rest back at the
/// front of `carried`, in their order and before what was carried already.
fn carry_past_power_of_two<T>(jobs: &mut Vec<T>, carried: &mut VecDeque<T>) {
    let Some(keep) = jobs.len().checked_ilog2().map(|bits| 1 << bits) else {
        return;
    };
    for job in jobs.drain(keep..).rev() {
        carried.push_front(job);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the batcher's gathering over `queue` (pair, kind) until it is empty, admitting as
    /// `Pairs` does: one kind per pair within a batch.
    fn batches(queue: &[(u8, char)]) -> Vec<Vec<(usize, u8, char)>> {
        let mut queue: VecDeque<(usize, u8, char)> = queue
            .iter()
            .enumerate()
            .map(|(i, &(pair, kind))| (i, pair, kind))
            .collect();
        let mut carried = VecDeque::new();
        let mut out = Vec::new();
        while let Some(first) = carried.pop_front().or_else(|| queue.pop_front()) {
            let mut kinds: HashMap<u8, char> = HashMap::new();
            out.push(gather(
                first,
                &mut carried,
                || queue.pop_front(),
                |&(_, pair, kind)| *kinds.entry(pair).or_insert(kind) == kind,
            ));
        }
        out
    }

    #[test]
    fn a_carried_job_that_cannot_join_again_keeps_its_place() {
        // An invitation batch meets carried jobs of the same pair: another invitation joins,
        // the revocations after it wait, in their order, ahead of anything queued later.
        let mut carried = VecDeque::from([(1, 'i'), (1, 'r'), (1, 'r'), (2, 'f')]);
        let mut queue = VecDeque::from([(3, 'f')]);
        let mut kinds: HashMap<u8, char> = HashMap::new();
        let batch = gather(
            (1u8, 'i'),
            &mut carried,
            || queue.pop_front(),
            |&(pair, kind)| *kinds.entry(pair).or_insert(kind) == kind,
        );
        assert_eq!(batch, [(1, 'i'), (1, 'i')]);
        assert_eq!(carried, [(1, 'r'), (1, 'r'), (2, 'f')]);
        assert_eq!(
            queue,
            [(3, 'f')],
            "the queue is read only once the carried jobs are in"
        );
    }

    #[test]
    fn gathering_keeps_every_delivery_once_and_each_pairs_order() {
        // Pair 1 changes kind twice; pairs 2 and 3 fill the batches around it.
        let mut queue = Vec::new();
        for i in 0..40u8 {
            queue.push((2 + i % 2, 'f'));
            if i == 5 {
                queue.push((1, 'i'));
            }
            if i == 6 {
                queue.push((1, 'r'));
            }
            if i == 30 {
                queue.push((1, 'f'));
            }
        }
        let batches = batches(&queue);
        for batch in &batches {
            assert!(batch.len().is_power_of_two() && batch.len() <= MAX_BATCH);
            let mut kinds = HashMap::new();
            for &(_, pair, kind) in batch {
                assert_eq!(
                    *kinds.entry(pair).or_insert(kind),
                    kind,
                    "one kind per pair"
                );
            }
        }
        let applied: Vec<usize> = batches.iter().flatten().map(|&(i, _, _)| i).collect();
        let mut once = applied.clone();
        once.sort_unstable();
        assert_eq!(
            once,
            (0..queue.len()).collect::<Vec<_>>(),
            "each exactly once"
        );
        for pair in 1..=3 {
            let order: Vec<usize> = applied
                .iter()
                .copied()
                .filter(|&i| queue[i].0 == pair)
                .collect();
            assert!(
                order.windows(2).all(|w| w[0] < w[1]),
                "pair {pair} in order"
            );
        }
        // The invitation and the revocation of pair 1 were not in one batch.
        let batch_of = |i: usize| batches.iter().position(|b| b.iter().any(|j| j.0 == i));
        let invite = queue.iter().position(|j| *j == (1, 'i'));
        let revoke = queue.iter().position(|j| *j == (1, 'r'));
        assert_ne!(invite.map(batch_of), revoke.map(batch_of));
    }

    #[test]
    fn a_batch_keeps_a_power_of_two_and_carries_the_rest_in_order() {
        let mut jobs: Vec<u32> = (1..=7).collect();
        let mut carried = VecDeque::from([8]);
        carry_past_power_of_two(&mut jobs, &mut carried);
        assert_eq!(jobs, [1, 2, 3, 4]);
        assert_eq!(carried, [5, 6, 7, 8]);

        let mut jobs: Vec<u32> = (1..=16).collect();
        let mut carried = VecDeque::new();
        carry_past_power_of_two(&mut jobs, &mut carried);
        assert_eq!(jobs.len(), 16);
        assert!(carried.is_empty());

        let mut jobs: Vec<u32> = vec![1];
        carry_past_power_of_two(&mut jobs, &mut carried);
        assert_eq!(jobs, [1]);
        let mut none: Vec<u32> = Vec::new();
        carry_past_power_of_two(&mut none, &mut carried);
        assert!(none.is_empty() && carried.is_empty());
    }
}
