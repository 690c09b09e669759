//! The periodic clean-up every table that grows with use relies on.

use std::time::Duration;

use crate::state::AppState;

/// The lease that makes one replica per round do the work.
pub const LEASE: &str = "housekeeping";
/// Held for a little less than a round, so the next round is anybody's again.
pub const LEASE_MS: i64 = 4 * 60 * 1000;

/// Deletes expired sessions, codes, challenges, old rate-limit windows and federation
/// replay memory past its window, and expires invitations, every 5 minutes (transport
/// nonces live 600 s, so a replay is caught for 600-900 s), and ends live-location shares
/// and push events past their time.
pub async fn run(state: AppState) {
    let period = Duration::from_secs(300);
    // The first round one period after start, not at once: start-up stays quick.
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    // Several replicas share one database: one of them cleans up per round.
    let me = crate::secrets::random_id();
    loop {
        tick.tick().await;
        let now = state.now_ms();
        match state
            .store
            .take_lease(LEASE, &me, now, now + LEASE_MS)
            .await
        {
            Ok(true) => {}
            Ok(false) => continue,
            Err(err) => {
                tracing::warn!(error = %err, "housekeeping: lease");
                continue;
            }
        }
        if let Err(err) = state
            .store
            .delete_expired(now, now - 24 * 3600 * 1000)
            .await
        {
            tracing::warn!(error = %err, "housekeeping failed");
        }
        let federation = async {
            state
                .store
                .prune_federation(
                    now - crate::service::federation::TRANSPORT_NONCE_TTL_MS,
                    now - state.settings.federation_max_age_ms
                        - crate::service::federation::TRANSPORT_NONCE_TTL_MS,
                    now - crate::federation::outbox::RETENTION_MS,
                )
                .await?;
            state.store.expire_invitations(now).await?;
            // Live location: shares past their end, received locations past theirs (and
            // tombstones of stopped shares a day on), push events clients can no longer
            // need to resume.
            state
                .store
                .prune_locations(now, now - 24 * 3600 * 1000)
                .await?;
            state
                .store
                .prune_events(now - crate::service::events::RETENTION_MS)
                .await
                .map(|_| ())
        };
        if let Err(err) = federation.await {
            tracing::warn!(error = %err, "federation housekeeping failed");
        }
    }
}
