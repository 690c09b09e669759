//! What each federation message does once verified: the invitation, relationship and
//! friend-gated transitions (`FRIEND_*`, `RELATIONSHIP_REVOKE`, `LOCATION_*`,
//! `RESOURCE_SHARE`, `RESOURCE_UNSHARE`).

use parchment_core::canonical;
use parchment_core::federation::{Envelope, MessageType};
use parchment_core::timestamp;

use super::inbound::{bad, Sender, INVITATION_TTL_MS};
use crate::error::AppError;
use crate::error_code::ErrorCode;
use crate::service::library::ShareRole;
use crate::service::location::{MAX_SEALED_LOCATION, STOPPED};
use crate::store::{
    DeliveryEffect, FriendEffect, InboxTx, InvitationDirection, InvitationStatus, NewEvent,
    NewFriendship,
};

fn payload_string(envelope: &Envelope, name: &str) -> Option<String> {
    envelope
        .payload
        .as_ref()
        .and_then(|p| p.get(name))
        .and_then(canonical::Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Longest `resourceType` of a RESOURCE_SHARE (`collection`, `route`, `map`, `layer`).
const MAX_SHARE_KIND: usize = 32;
/// Longest `resourceId`.
const MAX_SHARE_ID: usize = 128;
/// Longest `encryptedData` (base64): a description or a wrapped key, a few hundred in practice.
const MAX_SHARE_DATA: usize = 8192;
/// Longest `nonce` (base64 of 12 bytes is 16).
const MAX_SHARE_NONCE: usize = 64;
/// Longest `keyWrap` (base64 of a wrapped 32-byte key in its base64 form, 60 bytes: 80).
const MAX_KEY_WRAP: usize = 128;
/// Longest `content`: the collection's sealed content, which must leave room in an inbox body
/// for the rest of the message.
pub const MAX_SHARE_CONTENT: usize = 48 * 1024;
/// Highest `keyVersion` and `revision` (exact in a JavaScript number).
const MAX_COUNTER: i64 = (1 << 53) - 1;

/// An optional integer member in `0..=MAX_COUNTER` (absent: `None`).
fn payload_counter(envelope: &Envelope, name: &str) -> Result<Option<i64>, AppError> {
    match envelope.payload.as_ref().and_then(|p| p.get(name)) {
        None | Some(canonical::Value::Null) => Ok(None),
        Some(canonical::Value::Number(n))
            if n.fract() == 0.0 && (0.0..=MAX_COUNTER as f64).contains(n) =>
        {
            Ok(Some(*n as i64))
        }
        Some(_) => Err({
            bad(
                ErrorCode::InvalidPayload,
                format!("{name}: must be an integer from 0 to 2^53-1"),
            )
        }),
    }
}

/// `resourceType` and `resourceId` of a RESOURCE_SHARE or RESOURCE_UNSHARE, bounded.
fn resource(envelope: &Envelope) -> Result<(String, String), AppError> {
    let field = |name: &str| {
        payload_string(envelope, name)
            .ok_or_else(|| bad(ErrorCode::InvalidPayload, "Missing resource data"))
    };
    let (resource_type, resource_id) = (field("resourceType")?, field("resourceId")?);
    if resource_type.len() > MAX_SHARE_KIND
        || !resource_type
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'-')
        || resource_id.len() > MAX_SHARE_ID
    {
        return Err(bad(
            ErrorCode::InvalidPayload,
            "Resource out of bounds (resourceType 1-32 of a-z and -, resourceId 1-128 characters)",
        ));
    }
    Ok((resource_type, resource_id))
}

/// What a message does.
pub(super) enum Transition {
    /// Friend-gated writes, invitations and revocations, group-committed
    /// ([`crate::federation::inbox`]): none can fail once verified, except as a refusal of
    /// its own (replay, not a friend, stale) that the batch reports.
    Batched(DeliveryEffect),
    /// Acceptances and rejections, refused unless an invitation is pending: each in a
    /// transaction of its own.
    Own(OwnTransition),
}

pub(super) enum OwnTransition {
    Accept,
    Reject,
}

/// Refuses a payload its recipient's server would refuse (the sender hears it at once, not
/// through a failed delivery).
pub fn check_payload(kind: MessageType, envelope: &Envelope) -> Result<(), AppError> {
    transition(kind, envelope).map(|_| ())
}

/// The transition of a message, its payload validated.
pub(super) fn transition(kind: MessageType, envelope: &Envelope) -> Result<Transition, AppError> {
    Ok(match kind {
        MessageType::FriendInvite => Transition::Batched(DeliveryEffect::Invite {
            id: crate::secrets::random_id(),
            to_handle: envelope.to.clone(),
            ttl_ms: INVITATION_TTL_MS,
        }),
        MessageType::FriendAccept => Transition::Own(OwnTransition::Accept),
        MessageType::FriendReject => Transition::Own(OwnTransition::Reject),
        MessageType::RelationshipRevoke => Transition::Batched(DeliveryEffect::Revoke),
        MessageType::LocationUpdate => {
            // `payload.nonce` is the sentAt ISO timestamp in the original; else the
            // envelope's own timestamp.
            let sent_at = payload_string(envelope, "nonce")
                .and_then(|t| timestamp::parse_millis(&t).ok())
                .map_or_else(|| timestamp::parse_millis(&envelope.timestamp), Ok)
                .map_err(|e| bad(ErrorCode::InvalidPayload, format!("sentAt: {e}")))?;
            let member = |name: &str| envelope.payload.as_ref().and_then(|p| p.get(name));
            let (encrypted_location, expires_at) = if member(STOPPED)
                == Some(&canonical::Value::Bool(true))
            {
                (None, None)
            } else {
                let sealed = payload_string(envelope, "encryptedLocation").ok_or_else(|| {
                    bad(ErrorCode::InvalidPayload, "Missing encrypted location data")
                })?;
                if sealed.len() > MAX_SEALED_LOCATION {
                    return Err(bad(
                        ErrorCode::InvalidPayload,
                        "encryptedLocation is larger than a location can be",
                    ));
                }
                let expires_at = match member("expiresAt") {
                    None | Some(canonical::Value::Null) => None,
                    Some(value) => Some(
                        value
                            .as_str()
                            .and_then(|t| timestamp::parse_millis(&t).ok())
                            .ok_or_else(|| {
                                bad(ErrorCode::InvalidPayload, "expiresAt: not an ISO time")
                            })?,
                    ),
                };
                (Some(sealed), expires_at)
            };
            Transition::Batched(DeliveryEffect::Friend(FriendEffect::Location {
                encrypted_location,
                sent_at,
                expires_at,
                envelope: envelope.body(),
            }))
        }
        MessageType::LocationRequest => {
            Transition::Batched(DeliveryEffect::Friend(FriendEffect::LocationRequest))
        }
        MessageType::ResourceShare => {
            let (resource_type, resource_id) = resource(envelope)?;
            let field = |name: &str| {
                payload_string(envelope, name)
                    .ok_or_else(|| bad(ErrorCode::InvalidPayload, "Missing resource data"))
            };
            let (encrypted_data, data_nonce) = (field("encryptedData")?, field("nonce")?);
            // Each share is a row at the recipient's: bounded fields (a description and a
            // wrapped key are a few hundred characters; a collection's content up to 48 KiB).
            let within = |name: &str, max: usize| {
                payload_string(envelope, name).is_none_or(|value| value.len() <= max)
            };
            if encrypted_data.len() > MAX_SHARE_DATA
                || data_nonce.len() > MAX_SHARE_NONCE
                || !within("keyWrap", MAX_KEY_WRAP)
                || !within("keyWrapNonce", MAX_SHARE_NONCE)
                || !within("content", MAX_SHARE_CONTENT)
            {
                return Err(bad(
                    ErrorCode::InvalidPayload,
                    "Resource data out of bounds (encryptedData 1-8192, nonce 1-64, keyWrap \
                     1-128, keyWrapNonce 1-64, content 1-49152 characters)",
                ));
            }
            payload_counter(envelope, "keyVersion")?;
            let revision = payload_counter(envelope, "revision")?.unwrap_or(0);
            let role = payload_string(envelope, "role").unwrap_or_default();
            let role = ShareRole::of(&role).as_str();
            Transition::Batched(DeliveryEffect::Friend(FriendEffect::Share {
                id: crate::secrets::random_id(),
                resource_type,
                resource_id,
                encrypted_data,
                data_nonce,
                role,
                revision,
                envelope: envelope.body(),
            }))
        }
        MessageType::ResourceUnshare => {
            let (resource_type, resource_id) = resource(envelope)?;
            let revision = payload_counter(envelope, "revision")?
                .ok_or_else(|| bad(ErrorCode::InvalidPayload, "Missing revision"))?;
            Transition::Batched(DeliveryEffect::Friend(FriendEffect::Unshare {
                id: crate::secrets::random_id(),
                resource_type,
                resource_id,
                revision,
                envelope: envelope.body(),
            }))
        }
    })
}

/// The push event a batched message makes for its recipient (appended only if it changed
/// something).
pub(super) fn delivery_event(user_id: &str, from: &str, effect: &DeliveryEffect) -> NewEvent {
    let effect = match effect {
        DeliveryEffect::Friend(effect) => effect,
        DeliveryEffect::Invite { .. } => {
            return event(
                user_id,
                "invitation",
                serde_json::json!({ "fromHandle": from }),
            )
        }
        DeliveryEffect::Revoke => {
            return event(
                user_id,
                "friend-removed",
                serde_json::json!({ "handle": from }),
            )
        }
    };
    let (kind, data) = match effect {
        FriendEffect::Location {
            encrypted_location: Some(sealed),
            sent_at,
            expires_at,
            ..
        } => (
            "location",
            serde_json::json!({
                "fromHandle": from,
                "encryptedLocation": sealed,
                "sentAt": timestamp::format_millis(*sent_at),
                "expiresAt": expires_at.map(timestamp::format_millis),
            }),
        ),
        FriendEffect::Location { .. } => (
            "location-stopped",
            serde_json::json!({ "fromHandle": from }),
        ),
        FriendEffect::LocationRequest => (
            "location-request",
            serde_json::json!({ "fromHandle": from }),
        ),
        FriendEffect::Share {
            resource_type,
            resource_id,
            ..
        } => (
            "share",
            serde_json::json!({
                "fromHandle": from,
                "resourceType": resource_type,
                "resourceId": resource_id,
            }),
        ),
        FriendEffect::Unshare {
            resource_type,
            resource_id,
            ..
        } => (
            "share-withdrawn",
            serde_json::json!({
                "fromHandle": from,
                "resourceType": resource_type,
                "resourceId": resource_id,
            }),
        ),
    };
    // Only a friend's newest position (or stop) and newest request matter: each replaces
    // the older ones in the log, which so keeps no trail of positions.
    let topic = match effect {
        FriendEffect::Location { .. } => Some(format!("location:{}", from.to_lowercase())),
        FriendEffect::LocationRequest => Some(format!("location-request:{}", from.to_lowercase())),
        FriendEffect::Share { .. } | FriendEffect::Unshare { .. } => None,
    };
    NewEvent {
        topic,
        ..event(user_id, kind, data)
    }
}

fn event(user_id: &str, kind: &'static str, data: serde_json::Value) -> NewEvent {
    NewEvent {
        user_id: user_id.to_owned(),
        kind,
        topic: None,
        data: data.to_string(),
    }
}

/// Acceptances and rejections, in the message's transaction; each is announced to the user
/// as one event.
pub(super) async fn dispatch(
    store: &mut InboxTx,
    user_id: &str,
    peer: &str,
    sender: &Sender,
    transition: OwnTransition,
    envelope: &Envelope,
    now: i64,
) -> Result<(), AppError> {
    let (kind, data) = match transition {
        OwnTransition::Accept => {
            if let Some(invitation) = store
                .pending_invitation(user_id, peer, InvitationDirection::Outgoing, now)
                .await?
            {
                store
                    .finish_invitation(&invitation.id, InvitationStatus::Accepted, now)
                    .await?;
            } else if store.friendship(user_id, peer).await?.is_none() {
                return Err(bad(
                    ErrorCode::InvitationNotFound,
                    "Original invitation not found",
                ));
            }
            let (id, friend_handle) = (crate::secrets::random_id(), sender.handle.to_string());
            let friendship = NewFriendship {
                id: &id,
                user_id,
                friend_handle: &friend_handle,
                peer_key: peer,
                signing_key: &sender.signing_key,
                encryption_key: sender.encryption_key.as_deref(),
                name: sender.name.as_deref(),
            };
            store.insert_friendship(&friendship, now).await?;
            (
                "friend-added",
                serde_json::json!({ "handle": friend_handle }),
            )
        }
        OwnTransition::Reject => {
            let invitation = store
                .pending_invitation(user_id, peer, InvitationDirection::Outgoing, now)
                .await?
                .ok_or_else(|| bad(ErrorCode::InvitationNotFound, "Invitation not found"))?;
            store
                .finish_invitation(&invitation.id, InvitationStatus::Rejected, now)
                .await?;
            (
                "invitation-rejected",
                serde_json::json!({ "handle": envelope.from }),
            )
        }
    };
    store
        .append_events(&[event(user_id, kind, data)], now)
        .await?;
    Ok(())
}
