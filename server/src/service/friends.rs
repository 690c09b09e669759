//! The client side of federation: invitations, friendships and messages to friends. The
//! client signs each v2 envelope; the server builds the exact envelope (`payload` as given,
//! `message_version` 1, `from` = the caller's handle), verifies the signature against the
//! caller's published key (400 and nothing sent when it fails) and queues it.

use parchment_core::canonical::{self, Object};
use parchment_core::federation::{Envelope, MessageType, UnsignedMessage};
use parchment_core::handle::Handle;
use parchment_core::keys::Ed25519PublicKey;
use parchment_core::timestamp;

use parchment_core::federation::discovery::UserDocument;

use super::federation::{self as fed, INVITATION_TTL_MS, TRANSPORT_WINDOW_MS};
use super::rate_limit::{FRIEND_LOOKUP_PER_USER, FRIEND_MESSAGES_PER_USER, FRIEND_SHARES_PER_USER};
use super::roles;
use super::sessions::Principal;
use crate::error::AppError;
use crate::error_code::ErrorCode;
use crate::federation;
use crate::state::AppState;
use crate::store::{
    FriendRow, InvitationDirection, InvitationRow, InvitationStatus, NewFriendship, OutboxStatus,
};

/// The client's signature over the envelope the server will send.
pub struct Signed<'a> {
    /// base64 Ed25519 signature over the envelope.
    pub signature: &'a str,
    /// The envelope's nonce.
    pub nonce: &'a str,
    /// The envelope's timestamp (ISO-8601).
    pub timestamp: &'a str,
}

fn bad(code: ErrorCode, message: impl Into<String>) -> AppError {
    AppError::BadRequest {
        code,
        message: message.into(),
    }
}

/// The caller's handle and signing key; 409 (the account's state, not the request, is
/// wrong) until an alias and keys are published.
pub(super) async fn me(
    state: &AppState,
    user_id: &str,
) -> Result<(Handle, Ed25519PublicKey), AppError> {
    let domain = fed::domain(state)?;
    let user = super::users::get(state, user_id).await?;
    let (Some(alias), Some(key)) = (user.alias, user.signing_key) else {
        return Err(AppError::Conflict {
            code: ErrorCode::NoIdentity,
            message: "Choose an alias and publish your keys first".into(),
        });
    };
    let handle = Handle::parse(&format!("{alias}@{domain}"))
        .map_err(|e| bad(ErrorCode::NoIdentity, e.to_string()))?;
    let key = Ed25519PublicKey::from_base64(&key)
        .map_err(|e| bad(ErrorCode::NoIdentity, e.to_string()))?;
    Ok((handle, key))
}

/// 409: the invitation was answered, cancelled or expired meanwhile.
fn invitation_closed() -> AppError {
    AppError::Conflict {
        code: ErrorCode::InvitationClosed,
        message: "The invitation is no longer pending".into(),
    }
}

pub(super) fn parse_handle(text: &str) -> Result<Handle, AppError> {
    Handle::parse(text).map_err(|e| bad(ErrorCode::InvalidHandle, format!("handle: {e}")))
}

/// Builds the envelope the client signed (`message_version` 1 unless a message says
/// otherwise) and checks the signature: nonce of 8–64 characters, timestamp within ±300 s
/// of now. (The envelope's members and what it is checked against, each its own argument:
/// a struct would only rename them.)
#[allow(clippy::too_many_arguments)]
pub(super) fn signed_envelope(
    kind: MessageType,
    message_version: u32,
    from: &Handle,
    to: &str,
    payload: Object,
    signed: &Signed<'_>,
    key: &Ed25519PublicKey,
    now: i64,
) -> Result<Envelope, AppError> {
    if !(8..=64).contains(&signed.nonce.len()) {
        return Err(AppError::validation("nonce", "must have 8-64 characters"));
    }
    match timestamp::within(signed.timestamp, now, TRANSPORT_WINDOW_MS) {
        Ok(true) => {}
        _ => {
            return Err(AppError::validation(
                "timestamp",
                "must be an ISO-8601 time within 300 s of now",
            ))
        }
    }
    let envelope = UnsignedMessage {
        message_type: kind,
        message_version,
        from: from.to_string(),
        to: to.to_owned(),
        nonce: signed.nonce.to_owned(),
        timestamp: signed.timestamp.to_owned(),
        payload,
    }
    .with_signature(signed.signature);
    envelope.verify(key).map_err(|_| {
        bad(
            ErrorCode::InvalidSignature,
            "The signature does not verify for this message under your published key",
        )
    })?;
    Ok(envelope)
}

/// An invitation as the caller sees it.
pub struct InvitationView {
    /// As stored.
    pub row: InvitationRow,
    /// As stored, or `Expired` once past its expiry (before housekeeping marks it).
    pub status: InvitationStatus,
    /// Delivery of the message we sent for it.
    pub delivery: Option<OutboxStatus>,
}

async fn view(state: &AppState, row: InvitationRow) -> Result<InvitationView, AppError> {
    let status = if row.status == InvitationStatus::Pending && row.expires_at <= state.now_ms() {
        InvitationStatus::Expired
    } else {
        row.status
    };
    let delivery = state.store.invitation_delivery(&row.id).await?;
    Ok(InvitationView {
        row,
        status,
        delivery,
    })
}

/// `POST /friends/invite`.
pub async fn invite(
    state: &AppState,
    caller: &Principal,
    handle: &str,
    signed: Signed<'_>,
) -> Result<InvitationView, AppError> {
    let user_id = caller.require(roles::SOCIAL_WRITE)?;
    let (me, key) = me(state, user_id).await?;
    let target = parse_handle(handle)?;
    state
        .limiter
        .check(FRIEND_LOOKUP_PER_USER, user_id, state.now_ms())
        .await?;
    let peer = federation::handle_key(&target);
    if peer == federation::handle_key(&me) {
        return Err(bad(ErrorCode::InvalidHandle, "You cannot invite yourself"));
    }
    let envelope = signed_envelope(
        MessageType::FriendInvite,
        1,
        &me,
        handle,
        Object::new(),
        &signed,
        &key,
        state.now_ms(),
    )?;
    if state.store.friendship(user_id, &peer).await?.is_some() {
        return Err(AppError::Conflict {
            code: ErrorCode::AlreadyFriends,
            message: "You are already friends".into(),
        });
    }
    // The invitee must exist (and its server be reachable and consistent).
    fed::resolve_handle(state, &target, false).await?;
    let now = state.now_ms();
    let row = InvitationRow {
        id: crate::secrets::random_id(),
        user_id: user_id.to_owned(),
        direction: InvitationDirection::Outgoing,
        from_handle: me.to_string(),
        to_handle: handle.to_owned(),
        peer_key: peer,
        status: InvitationStatus::Pending,
        created_at: now,
        updated_at: now,
        expires_at: now + INVITATION_TTL_MS,
    };
    state
        .store
        .insert_invitation(&row)
        .await
        .map_err(AppError::conflict_if_taken(
            ErrorCode::InvitationExists,
            "An invitation to this user is already pending",
        ))?;
    fed::delivery::enqueue(state, user_id, &envelope, Some(&row.id)).await?;
    view(state, row).await
}

/// `GET /friends/resolve/{handle}`: a user's validated document (local, or fetched from
/// their server and cached). Rate-limited per user: a remote handle makes us fetch.
pub async fn resolve(
    state: &AppState,
    caller: &Principal,
    handle: &str,
) -> Result<UserDocument, AppError> {
    let user_id = caller.require(roles::SOCIAL_READ)?;
    let handle = parse_handle(handle)?;
    state
        .limiter
        .check(FRIEND_LOOKUP_PER_USER, user_id, state.now_ms())
        .await?;
    fed::resolve_handle(state, &handle, false).await
}

/// `GET /friends/invitations`: the caller's invitations, newest first, optionally of one direction.
pub async fn invitations(
    state: &AppState,
    caller: &Principal,
    direction: Option<InvitationDirection>,
) -> Result<Vec<InvitationView>, AppError> {
    let user_id = caller.require(roles::SOCIAL_READ)?;
    let mut out = Vec::new();
    for row in state.store.list_invitations(user_id, direction).await? {
        out.push(view(state, row).await?);
    }
    Ok(out)
}

/// The user's invitation `id` in `direction` (404 if none).
async fn invitation(
    state: &AppState,
    user_id: &str,
    id: &str,
    direction: InvitationDirection,
) -> Result<InvitationRow, AppError> {
    state
        .store
        .invitation(user_id, id)
        .await?
        .filter(|r| r.direction == direction)
        .ok_or_else(|| AppError::not_found("Invitation"))
}

async fn pending_incoming(
    state: &AppState,
    user_id: &str,
    id: &str,
) -> Result<InvitationRow, AppError> {
    let row = invitation(state, user_id, id, InvitationDirection::Incoming).await?;
    if row.status != InvitationStatus::Pending || row.expires_at <= state.now_ms() {
        return Err(invitation_closed());
    }
    Ok(row)
}

/// The caller's answer to an incoming invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Become friends (FRIEND_ACCEPT).
    Accept,
    /// Decline (FRIEND_REJECT).
    Reject,
}

/// `POST /friends/invitations/{id}/accept` and `…/reject`: the caller's signed answer to
/// their pending incoming invitation `id`. On accepting, the friendship starts here at once
/// (with the inviter's keys from its validated document); the answer is queued.
pub async fn answer(
    state: &AppState,
    caller: &Principal,
    id: &str,
    answer: Answer,
    signed: Signed<'_>,
) -> Result<(), AppError> {
    let user_id = caller.require(roles::SOCIAL_WRITE)?;
    let (me, key) = me(state, user_id).await?;
    let row = pending_incoming(state, user_id, id).await?;
    let kind = match answer {
        Answer::Accept => MessageType::FriendAccept,
        Answer::Reject => MessageType::FriendReject,
    };
    let envelope = signed_envelope(
        kind,
        1,
        &me,
        &row.from_handle,
        Object::new(),
        &signed,
        &key,
        state.now_ms(),
    )?;
    if answer == Answer::Reject {
        return record_answer(
            state,
            user_id,
            &row.id,
            InvitationStatus::Rejected,
            None,
            &envelope,
        )
        .await;
    }
    let inviter = parse_handle(&row.from_handle)?;
    let doc = fed::resolve_handle(state, &inviter, false).await?;
    let signing_key = doc.signing_key.to_base64();
    let encryption_key = doc.encryption_key.map(|k| k.to_base64());
    let friendship_id = crate::secrets::random_id();
    let friendship = NewFriendship {
        id: &friendship_id,
        user_id,
        friend_handle: &row.from_handle,
        peer_key: &row.peer_key,
        signing_key: &signing_key,
        encryption_key: encryption_key.as_deref(),
        name: doc.name.as_deref(),
    };
    record_answer(
        state,
        user_id,
        &row.id,
        InvitationStatus::Accepted,
        Some(&friendship),
        &envelope,
    )
    .await
}

/// Moves the invitation, creates the friendship (when accepting) and queues the signed
/// answer in one transaction, so a failure leaves the invitation pending and nothing sent.
async fn record_answer(
    state: &AppState,
    user_id: &str,
    invitation_id: &str,
    status: InvitationStatus,
    friendship: Option<&NewFriendship<'_>>,
    envelope: &Envelope,
) -> Result<(), AppError> {
    let outgoing = fed::delivery::outgoing(envelope)?;
    let queued = state
        .store
        .answer_invitation(
            invitation_id,
            status,
            friendship,
            &outgoing.row(user_id, Some(invitation_id), state.now_ms()),
        )
        .await?;
    if !queued {
        return Err(invitation_closed());
    }
    state.outbox_wake.notify_one();
    Ok(())
}

/// `DELETE /friends/invitations/{id}`: cancels one's own pending outgoing invitation.
pub async fn cancel(state: &AppState, caller: &Principal, id: &str) -> Result<(), AppError> {
    let user_id = caller.require(roles::SOCIAL_WRITE)?;
    let row = invitation(state, user_id, id, InvitationDirection::Outgoing).await?;
    if !state
        .store
        .finish_invitation(&row.id, InvitationStatus::Cancelled, state.now_ms())
        .await?
    {
        return Err(invitation_closed());
    }
    Ok(())
}

/// `GET /friends`: the caller's friends, oldest friendship first.
pub async fn friends(state: &AppState, caller: &Principal) -> Result<Vec<FriendRow>, AppError> {
    let user_id = caller.require(roles::SOCIAL_READ)?;
    Ok(state.store.list_friends(user_id).await?)
}

/// The caller's friendship with `handle` (404 if none).
/// The lowercase key of a handle (how friendships and shares are keyed).
pub(super) fn peer_key(handle: &str) -> Result<String, AppError> {
    Ok(federation::handle_key(&parse_handle(handle)?))
}

pub(super) async fn friend(
    state: &AppState,
    user_id: &str,
    handle: &str,
) -> Result<FriendRow, AppError> {
    let peer = peer_key(handle)?;
    state
        .store
        .friendship(user_id, &peer)
        .await?
        .ok_or_else(|| AppError::not_found("Friend"))
}

/// `DELETE /friends/{handle}`: ends the friendship here and queues RELATIONSHIP_REVOKE.
pub async fn remove(
    state: &AppState,
    caller: &Principal,
    handle: &str,
    signed: Signed<'_>,
) -> Result<(), AppError> {
    let user_id = caller.require(roles::SOCIAL_WRITE)?;
    let (me, key) = me(state, user_id).await?;
    let friend = friend(state, user_id, handle).await?;
    let envelope = signed_envelope(
        MessageType::RelationshipRevoke,
        1,
        &me,
        &friend.friend_handle,
        Object::new(),
        &signed,
        &key,
        state.now_ms(),
    )?;
    state
        .store
        .end_relationship(user_id, &friend.peer_key, state.now_ms())
        .await?;
    fed::delivery::enqueue(state, user_id, &envelope, None).await?;
    Ok(())
}

/// `POST /friends/{handle}/messages`: LOCATION_UPDATE, LOCATION_REQUEST, RESOURCE_SHARE or
/// RESOURCE_UNSHARE to a friend, with the payload the client signed. Returns the outbox id.
pub async fn send(
    state: &AppState,
    caller: &Principal,
    handle: &str,
    message_type: &str,
    payload: &serde_json::Value,
    signed: Signed<'_>,
) -> Result<String, AppError> {
    let user_id = caller.require(roles::SOCIAL_WRITE)?;
    let kind: MessageType = message_type
        .parse()
        .map_err(|_| AppError::validation("messageType", "unknown message type"))?;
    if !matches!(
        kind,
        MessageType::LocationUpdate
            | MessageType::LocationRequest
            | MessageType::ResourceShare
            | MessageType::ResourceUnshare
    ) {
        return Err(AppError::validation(
            "messageType",
            "must be LOCATION_UPDATE, LOCATION_REQUEST, RESOURCE_SHARE or RESOURCE_UNSHARE",
        ));
    }
    let now = state.now_ms();
    state
        .limiter
        .check(FRIEND_MESSAGES_PER_USER, user_id, now)
        .await?;
    if matches!(
        kind,
        MessageType::ResourceShare | MessageType::ResourceUnshare
    ) {
        state
            .limiter
            .check(FRIEND_SHARES_PER_USER, user_id, now)
            .await?;
    }
    let payload = match canonical::Value::from(payload) {
        canonical::Value::Object(o) => o,
        _ => return Err(AppError::validation("payload", "must be an object")),
    };
    let friend = friend(state, user_id, handle).await?;
    let envelope = signed_message(state, user_id, kind, &friend, payload, &signed).await?;
    if matches!(
        kind,
        MessageType::ResourceShare | MessageType::ResourceUnshare
    ) {
        fed::messages::check_payload(kind, &envelope)?;
    }
    if kind == MessageType::LocationUpdate {
        return super::location::send_update(state, caller, &friend, &envelope).await;
    }
    fed::delivery::enqueue(state, user_id, &envelope, None).await
}

/// The caller's message of `kind` to a friend, as they signed it (verified; at most an
/// inbox body's size).
pub(super) async fn signed_message(
    state: &AppState,
    user_id: &str,
    kind: MessageType,
    friend: &FriendRow,
    payload: Object,
    signed: &Signed<'_>,
) -> Result<Envelope, AppError> {
    let (me, key) = me(state, user_id).await?;
    let envelope = signed_envelope(
        kind,
        1,
        &me,
        &friend.friend_handle,
        payload,
        signed,
        &key,
        state.now_ms(),
    )?;
    if envelope.body().len() > fed::MAX_INBOX_BODY {
        return Err(AppError::TooLarge(format!(
            "A message may have at most {} bytes",
            fed::MAX_INBOX_BODY
        )));
    }
    Ok(envelope)
}
