//! Sending, and `GET /federation/outbox` (what was sent): queueing a message in the durable
//! outbox, and delivering one to a peer's inbox after checking the peer's pinned key (the
//! outbox worker calls back here through [`StateCourier`]).

use parchment_core::federation::Envelope;
use parchment_core::handle::Handle;

use super::{discovery, inbound};
use crate::error::AppError;
use crate::error_code::ErrorCode;
use crate::federation::outbox::{Courier, Delivery, Outgoing, Worker};
use crate::federation::signing::{self, Posted};
use crate::federation::PeerError;
use crate::service::roles;
use crate::service::sessions::Principal;
use crate::state::AppState;
use crate::store::OutboxRow;

/// Posts a signed envelope to the inbox of the server of `to`. Each attempt carries fresh
/// transport headers (nonce, timestamp), so retries outlive the receiver's ±300 s window.
pub async fn deliver(state: &AppState, envelope: &Envelope) -> Delivery {
    match post(state, envelope).await {
        Posted::Accepted | Posted::Replay => Delivery::Delivered,
        Posted::Refused(reason) => Delivery::Refused(reason),
        Posted::Retry(reason) => Delivery::Retry(reason),
    }
}

/// One signed server-to-server POST of `envelope` to the inbox of the server of `to`, once
/// that server's key is pinned.
pub async fn post(state: &AppState, envelope: &Envelope) -> Posted {
    let to = match Handle::parse(&envelope.to) {
        Ok(to) => to,
        Err(e) => return Posted::Refused(format!("recipient: {e}")),
    };
    let Some(our_id) = state.settings.domain() else {
        return Posted::Refused("no public URL configured".into());
    };
    let host = to.domain().to_ascii_lowercase();
    match discovery::peer_key(state, &host).await {
        Ok(_) => {}
        Err(err @ PeerError::Forbidden(..)) => return Posted::Refused(err.to_string()),
        Err(err) => return Posted::Retry(err.to_string()),
    }
    signing::post_envelope(
        &state.federation,
        &state.server_key,
        &our_id,
        &host,
        envelope,
        state.now_ms(),
    )
    .await
}

/// Queues a verified envelope and wakes the worker. Returns the outbox id.
pub async fn enqueue(
    state: &AppState,
    user_id: &str,
    envelope: &Envelope,
    invitation_id: Option<&str>,
) -> Result<String, AppError> {
    let outgoing = outgoing(envelope)?;
    state
        .store
        .enqueue_outbox(&outgoing.row(user_id, invitation_id, state.now_ms()))
        .await?;
    state.outbox_wake.notify_one();
    Ok(outgoing.id)
}

/// The outbox row of `envelope` (its recipient must be a handle).
pub fn outgoing(envelope: &Envelope) -> Result<Outgoing, AppError> {
    Outgoing::new(envelope).map_err(|e| AppError::BadRequest {
        code: ErrorCode::InvalidHandle,
        message: format!("to: {e}"),
    })
}

/// What the outbox worker delivers through: local recipients are processed here directly,
/// remote ones posted to their server.
#[derive(Clone)]
pub struct StateCourier(pub AppState);

impl Courier for StateCourier {
    async fn deliver(&self, envelope: Envelope, local: bool) -> Delivery {
        let state = &self.0;
        if !local {
            return deliver(state, &envelope).await;
        }
        match inbound::process(state, &envelope).await {
            Ok(()) => Delivery::Delivered,
            Err(AppError::Conflict {
                code: ErrorCode::Replay,
                ..
            }) => Delivery::Delivered,
            Err(AppError::Store(e)) => Delivery::Retry(e.to_string()),
            Err(e) => Delivery::Refused(e.to_string()),
        }
    }
}

/// The outbox worker of this state (runs until the process ends).
pub fn worker(state: &AppState) -> Worker<StateCourier> {
    Worker {
        store: state.store.clone(),
        clock: state.clock.clone(),
        our_domain: state.settings.domain(),
        max_age_ms: state.settings.federation_max_age_ms,
        wake: state.outbox_wake.clone(),
        courier: StateCourier(state.clone()),
    }
}

/// Outbox entries shown to their sender.
pub const OUTBOX_PAGE: i64 = 100;

/// `GET /federation/outbox`: the caller's outbound messages, newest first.
pub async fn outbox(state: &AppState, caller: &Principal) -> Result<Vec<OutboxRow>, AppError> {
    let user_id = caller.require(roles::SOCIAL_READ)?;
    Ok(state.store.list_outbox(user_id, OUTBOX_PAGE).await?)
}
