//! Live location (`/friends/location-sharing`, `/friends/{handle}/location-sharing`,
//! `GET /friends/locations`, and LOCATION_UPDATE through `POST /friends/{handle}/messages`):
//! with whom a user shares and until when, what may be sent, and what friends sent.
//!
//! The server sees settings and ciphertext only: a position is sealed in the browser for
//! each friend (`sealFriendShare`). Sharing is off by default; while it is off (or expired)
//! no update to that friend is queued. Turning it off sends the friend a signed
//! LOCATION_UPDATE `{"stopped": true}`, which their server keeps as a tombstone.

use parchment_core::canonical::{self, Object};
use parchment_core::federation::{Envelope, MessageType};
use parchment_core::timestamp;

use super::federation as fed;
use super::friends::{self, Signed};
use super::roles;
use super::sessions::Principal;
use crate::error::AppError;
use crate::error_code::ErrorCode;
use crate::state::AppState;
use crate::store::{FriendRow, LocationRow, Queued, SharingRow};

/// The longest a timed share may last (longer is "always").
pub const MAX_SHARE_MS: i64 = 366 * 24 * 3600 * 1000;

/// The longest an answer to a location request (sent while sharing is off) stays visible.
pub const MAX_ANSWER_MS: i64 = 3600 * 1000;

/// The largest sealed location accepted (base64 characters): the original's friend share
/// of a position with its extras is a few hundred; more is not a position.
pub const MAX_SEALED_LOCATION: usize = 4096;

/// The payload member that marks the end of sharing.
pub const STOPPED: &str = "stopped";

/// `GET /friends/location-sharing`: the friends the caller shares with now.
pub async fn sharing(state: &AppState, caller: &Principal) -> Result<Vec<SharingRow>, AppError> {
    let user_id = caller.require(roles::LOCATION_SHARING)?;
    Ok(state
        .store
        .location_sharing(user_id, state.now_ms())
        .await?)
}

/// `PUT /friends/{handle}/location-sharing`: share with a friend until `expires_at` (or
/// until turned off).
pub async fn share(
    state: &AppState,
    caller: &Principal,
    handle: &str,
    expires_at: Option<i64>,
) -> Result<SharingRow, AppError> {
    let user_id = caller.require(roles::LOCATION_SHARING)?;
    // Which friend first (404), then what is asked of the share.
    let friend = friends::friend(state, user_id, handle).await?;
    let now = state.now_ms();
    if let Some(at) = expires_at {
        if at <= now {
            return Err(AppError::validation("expiresAt", "must be in the future"));
        }
        if at > now + MAX_SHARE_MS {
            return Err(AppError::validation(
                "expiresAt",
                "may be at most a year ahead (leave it out to share until turned off)",
            ));
        }
    }
    state
        .store
        .share_location(
            user_id,
            &friend.peer_key,
            &friend.friend_handle,
            expires_at,
            now,
        )
        .await?;
    Ok(SharingRow {
        friend_handle: friend.friend_handle,
        peer_key: friend.peer_key,
        expires_at,
    })
}

/// `DELETE /friends/{handle}/location-sharing`: stop sharing with a friend, and tell their
/// server with the caller's signature over LOCATION_UPDATE `{"stopped": true}` (queued in
/// the same transaction, replacing any position still queued for them).
pub async fn stop(
    state: &AppState,
    caller: &Principal,
    handle: &str,
    signed: Signed<'_>,
) -> Result<(), AppError> {
    let user_id = caller.require(roles::LOCATION_SHARING)?;
    let friend = friends::friend(state, user_id, handle).await?;
    let mut payload = Object::new();
    payload.insert(STOPPED, canonical::Value::Bool(true));
    let envelope = friends::signed_message(
        state,
        user_id,
        MessageType::LocationUpdate,
        &friend,
        payload,
        &signed,
    )
    .await?;
    queue_stop(state, user_id, &envelope, &friend).await
}

/// A LOCATION_UPDATE the caller signed for a friend (`POST /friends/{handle}/messages`):
/// queued while sharing with that friend is on, its `expiresAt` then being the sharing's end
/// (so the friend's server stops showing it then, with no message); or, with sharing off,
/// once as the answer to the friend's pending LOCATION_REQUEST.
pub(super) async fn send_update(
    state: &AppState,
    caller: &Principal,
    friend: &FriendRow,
    envelope: &Envelope,
) -> Result<String, AppError> {
    let user_id = caller.require(roles::LOCATION_SHARING)?;
    let payload = envelope.payload.as_ref();
    let member = |name: &str| payload.and_then(|p| p.get(name));
    if member(STOPPED).is_some() {
        return Err(AppError::validation(
            "payload.stopped",
            "stop sharing with DELETE /friends/{handle}/location-sharing",
        ));
    }
    if member("encryptedLocation")
        .and_then(canonical::Value::as_str)
        .is_none_or(|s| s.is_empty() || s.len() > MAX_SEALED_LOCATION)
    {
        return Err(AppError::validation(
            "payload.encryptedLocation",
            format!(
                "must be the sealed location (base64, at most {MAX_SEALED_LOCATION} characters)"
            ),
        ));
    }
    let now = state.now_ms();
    let claimed = match member("expiresAt") {
        None => None,
        Some(value) => Some(
            value
                .as_str()
                .and_then(|t| timestamp::parse_millis(&t).ok())
                .ok_or_else(|| {
                    AppError::validation("payload.expiresAt", "must be an ISO-8601 time")
                })?,
        ),
    };
    let outgoing = fed::delivery::outgoing(envelope)?;
    let row = outgoing.row(user_id, None, now);
    match state
        .store
        .enqueue_location(&row, &friend.peer_key, claimed)
        .await?
    {
        Queued::Queued => {
            state.outbox_wake.notify_one();
            Ok(outgoing.id)
        }
        Queued::NotSharing => answer_request(state, user_id, friend, envelope, claimed, now).await,
        Queued::OtherExpiry => Err(AppError::validation(
            "payload.expiresAt",
            "must be the end of sharing with this friend (GET /friends/location-sharing), \
             or absent when it has none",
        )),
    }
}

/// With sharing off, one update may still answer the friend's LOCATION_REQUEST ("share
/// once"): it uses the request up, and must end within [`MAX_ANSWER_MS`] so the friend's
/// server stops showing it by itself.
async fn answer_request(
    state: &AppState,
    user_id: &str,
    friend: &FriendRow,
    envelope: &Envelope,
    expires_at: Option<i64>,
    now: i64,
) -> Result<String, AppError> {
    let off = || AppError::Conflict {
        code: ErrorCode::LocationSharingOff,
        message: format!(
            "You do not share your location with {}, and they have not asked for it",
            friend.friend_handle
        ),
    };
    let fits = expires_at.is_some_and(|at| at > now && at <= now + MAX_ANSWER_MS);
    if !fits {
        // Off wins: only a caller who was asked learns what an answer needs.
        return Err(
            if state
                .store
                .location_requested(user_id, &friend.peer_key)
                .await?
            {
                AppError::validation(
                    "payload.expiresAt",
                    "an answer to a location request must end within an hour",
                )
            } else {
                off()
            },
        );
    }
    let outgoing = fed::delivery::outgoing(envelope)?;
    if !state
        .store
        .enqueue_location_answer(&outgoing.row(user_id, None, now), &friend.peer_key)
        .await?
    {
        return Err(off());
    }
    state.outbox_wake.notify_one();
    Ok(outgoing.id)
}

async fn queue_stop(
    state: &AppState,
    user_id: &str,
    envelope: &Envelope,
    friend: &FriendRow,
) -> Result<(), AppError> {
    let outgoing = fed::delivery::outgoing(envelope)?;
    state
        .store
        .enqueue_location_stop(
            &outgoing.row(user_id, None, state.now_ms()),
            &friend.peer_key,
        )
        .await?;
    state.outbox_wake.notify_one();
    Ok(())
}

/// `GET /friends/locations`: the newest sealed location of each friend who shares now.
pub async fn locations(state: &AppState, caller: &Principal) -> Result<Vec<LocationRow>, AppError> {
    let user_id = caller.require(roles::LOCATION_SHARING)?;
    Ok(state.store.locations(user_id, state.now_ms()).await?)
}
