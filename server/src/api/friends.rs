//! Friends across servers: invitations, friendships, messages to friends, and what friends
//! sent. Every message is signed by the client (a v2 envelope with `message_version` 1 and
//! `from` = the caller's handle); the server verifies it before queuing it.

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};

use super::federation::UserDocumentBody;
use super::identity::Success;
use super::{timestamp, ApiTags, Session};
use crate::error::ApiResult;
use crate::service::friends::{self as service, Answer, InvitationView, Signed};
use crate::state::AppState;
use crate::store::InvitationDirection;
use chrono::{DateTime, Utc};

/// Invite a user of this or another server to be friends.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct InviteRequest {
    /// `alias@domain` of the invitee, exactly as signed in `to`.
    pub handle: String,
    /// base64 Ed25519 signature by the caller's identity key over the v2 FRIEND_INVITE
    /// envelope `{from: <caller's handle>, to: handle, nonce, timestamp, payload: {},
    /// message_version: 1, protocol_version: 2}` (canonical JSON).
    pub signature: String,
    /// base64 of 16 random bytes.
    #[oai(validator(min_length = 8, max_length = 64))]
    pub nonce: String,
    /// ISO-8601, within 300 s of the server's clock.
    #[oai(validator(min_length = 1))]
    pub timestamp: String,
}

/// The caller's signature over a message the server builds from the request.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignedRequest {
    /// Signature over the v2 envelope the server sends (see `POST /friends/invite`).
    pub signature: String,
    /// The nonce as signed: 8–64 characters (base64 of 16 random bytes).
    #[oai(validator(min_length = 8, max_length = 64))]
    pub nonce: String,
    /// ISO-8601, as signed; within 300 s of the server's clock.
    #[oai(validator(min_length = 1))]
    pub timestamp: String,
}

/// A message to a friend, with the caller's signature over its v2 envelope.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct MessageRequest {
    /// `LOCATION_UPDATE` (payload `{encryptedLocation, nonce: <sentAt ISO>}`),
    /// `LOCATION_REQUEST` (`{}`), `RESOURCE_SHARE` (`{resourceType, resourceId,
    /// encryptedData, nonce, role}`, for a collection also `{keyVersion, keyWrap, keyWrapNonce,
    /// content, revision}`) or `RESOURCE_UNSHARE` (`{resourceType, resourceId, revision}`).
    #[oai(validator(
        pattern = "^(LOCATION_UPDATE|LOCATION_REQUEST|RESOURCE_SHARE|RESOURCE_UNSHARE)$"
    ))]
    pub message_type: String,
    /// The payload exactly as signed.
    pub payload: serde_json::Value,
    /// base64 Ed25519 signature by the caller's identity key over the v2 envelope `{from: <caller's
    /// handle>, to: <friend's handle>, nonce, timestamp, payload, message_type, message_version: 1,
    /// protocol_version: 2}` (canonical JSON).
    pub signature: String,
    /// The nonce as signed: 8–64 characters (base64 of 16 random bytes).
    #[oai(validator(min_length = 8, max_length = 64))]
    pub nonce: String,
    /// ISO-8601, as signed; within 300 s of the server's clock.
    #[oai(validator(min_length = 1))]
    pub timestamp: String,
}

/// Which invitations to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum Direction {
    /// Sent to the caller.
    Incoming,
    /// Sent by the caller.
    Outgoing,
}

/// A friend invitation, sent or received by the caller.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Invitation {
    /// Invitation id.
    pub id: String,
    /// Handle (`alias@domain`) of the inviter.
    pub from_handle: String,
    /// Handle of the invitee.
    pub to_handle: String,
    /// `incoming` or `outgoing`.
    pub direction: String,
    /// `pending`, `accepted`, `rejected`, `cancelled` or `expired`.
    pub status: String,
    /// Delivery of the message we sent for it: `pending`, `delivered` or `failed`.
    pub delivery: Option<String>,
    /// When it was sent or received.
    pub created_at: DateTime<Utc>,
    /// When it expires unless answered.
    pub expires_at: DateTime<Utc>,
}

impl From<InvitationView> for Invitation {
    fn from(v: InvitationView) -> Self {
        Invitation {
            id: v.row.id,
            from_handle: v.row.from_handle,
            to_handle: v.row.to_handle,
            direction: v.row.direction.to_string(),
            status: v.status.to_string(),
            delivery: v.delivery.map(|d| d.to_string()),
            created_at: timestamp(v.row.created_at),
            expires_at: timestamp(v.row.expires_at),
        }
    }
}

/// Answer to `POST /friends/invite`.
#[derive(Debug, Clone, Object)]
pub struct InvitationCreated {
    /// The new outgoing invitation.
    pub invitation: Invitation,
}

/// The caller's invitations.
#[derive(Debug, Clone, Object)]
pub struct Invitations {
    /// Newest first.
    pub invitations: Vec<Invitation>,
}

/// A friend of the caller.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Friend {
    /// The friend's handle (`alias@domain`).
    pub handle: String,
    /// The friend's Ed25519 key as of the friendship's start; their messages are verified
    /// with it.
    pub signing_key: String,
    /// The friend's X25519 key (base64) as of the friendship's start; `null` when they had
    /// published none.
    pub encryption_key: Option<String>,
    /// The friend's display name as of the friendship's start; `null` when they showed none.
    pub name: Option<String>,
    /// When the friendship started.
    pub established_at: DateTime<Utc>,
}

/// The caller's friends.
#[derive(Debug, Clone, Object)]
pub struct Friends {
    /// Oldest friendship first.
    pub friends: Vec<Friend>,
}

/// A message queued for delivery.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Queued {
    /// Outbox id; follow it at `GET /federation/outbox`.
    pub id: String,
}

pub(super) fn signed(body: &SignedRequest) -> Signed<'_> {
    Signed {
        signature: &body.signature,
        nonce: &body.nonce,
        timestamp: &body.timestamp,
    }
}

/// Handlers of `/friends*` (invitations, friendships, messages, look-ups).
#[derive(Default)]
pub struct FriendsApi;

#[OpenApi(tag = "ApiTags::Federation")]
impl FriendsApi {
    /// Invite `alias@domain`. The server builds the v2 FRIEND_INVITE envelope, verifies the
    /// caller's signature over it (400 `invalid_signature`, nothing sent), records the
    /// outgoing invitation and queues the message. 409 when already friends or already
    /// invited.
    #[oai(path = "/friends/invite", method = "post")]
    async fn invite(
        &self,
        state: Data<&AppState>,
        session: Session,
        body: Json<InviteRequest>,
    ) -> ApiResult<Json<InvitationCreated>> {
        let view = service::invite(
            &state,
            session.principal(),
            &body.handle,
            Signed {
                signature: &body.signature,
                nonce: &body.nonce,
                timestamp: &body.timestamp,
            },
        )
        .await?;
        Ok(Json(InvitationCreated {
            invitation: view.into(),
        }))
    }

    /// The caller's invitations, newest first, with their state and delivery.
    #[oai(path = "/friends/invitations", method = "get")]
    async fn invitations(
        &self,
        state: Data<&AppState>,
        session: Session,
        direction: Query<Option<Direction>>,
    ) -> ApiResult<Json<Invitations>> {
        let direction = direction.0.map(|d| match d {
            Direction::Incoming => InvitationDirection::Incoming,
            Direction::Outgoing => InvitationDirection::Outgoing,
        });
        let list = service::invitations(&state, session.principal(), direction).await?;
        Ok(Json(Invitations {
            invitations: list.into_iter().map(Invitation::from).collect(),
        }))
    }

    /// Accept a pending incoming invitation (signature over the v2 FRIEND_ACCEPT to the
    /// inviter). The friendship starts at once; the message is queued.
    #[oai(path = "/friends/invitations/:id/accept", method = "post")]
    async fn accept(
        &self,
        state: Data<&AppState>,
        session: Session,
        id: Path<String>,
        body: Json<SignedRequest>,
    ) -> ApiResult<Json<Success>> {
        service::answer(
            &state,
            session.principal(),
            &id,
            Answer::Accept,
            signed(&body),
        )
        .await?;
        Ok(Json(Success { success: true }))
    }

    /// Reject a pending incoming invitation (signature over the v2 FRIEND_REJECT).
    #[oai(path = "/friends/invitations/:id/reject", method = "post")]
    async fn reject(
        &self,
        state: Data<&AppState>,
        session: Session,
        id: Path<String>,
        body: Json<SignedRequest>,
    ) -> ApiResult<Json<Success>> {
        service::answer(
            &state,
            session.principal(),
            &id,
            Answer::Reject,
            signed(&body),
        )
        .await?;
        Ok(Json(Success { success: true }))
    }

    /// Cancel one's own pending outgoing invitation (no message is sent).
    #[oai(path = "/friends/invitations/:id", method = "delete")]
    async fn cancel(
        &self,
        state: Data<&AppState>,
        session: Session,
        id: Path<String>,
    ) -> ApiResult<Json<Success>> {
        service::cancel(&state, session.principal(), &id).await?;
        Ok(Json(Success { success: true }))
    }

    /// The caller's friends.
    #[oai(path = "/friends", method = "get")]
    async fn friends(&self, state: Data<&AppState>, session: Session) -> ApiResult<Json<Friends>> {
        let rows = service::friends(&state, session.principal()).await?;
        Ok(Json(Friends {
            friends: rows
                .into_iter()
                .map(|f| Friend {
                    handle: f.friend_handle,
                    signing_key: f.signing_key,
                    encryption_key: f.encryption_key,
                    name: f.name,
                    established_at: timestamp(f.established_at),
                })
                .collect(),
        }))
    }

    /// End a friendship (signature over the v2 RELATIONSHIP_REVOKE to the friend): the
    /// friendship and everything the friend shared are deleted here; the peer is notified.
    #[oai(path = "/friends/:handle", method = "delete")]
    async fn remove(
        &self,
        state: Data<&AppState>,
        session: Session,
        handle: Path<String>,
        body: Json<SignedRequest>,
    ) -> ApiResult<Json<Success>> {
        service::remove(&state, session.principal(), &handle, signed(&body)).await?;
        Ok(Json(Success { success: true }))
    }

    /// Send a friend a LOCATION_UPDATE, LOCATION_REQUEST, RESOURCE_SHARE or RESOURCE_UNSHARE
    /// with the payload the caller signed; queued for delivery.
    #[oai(path = "/friends/:handle/messages", method = "post")]
    async fn send(
        &self,
        state: Data<&AppState>,
        session: Session,
        handle: Path<String>,
        body: Json<MessageRequest>,
    ) -> ApiResult<Json<Queued>> {
        let id = service::send(
            &state,
            session.principal(),
            &handle,
            &body.message_type,
            &body.payload,
            Signed {
                signature: &body.signature,
                nonce: &body.nonce,
                timestamp: &body.timestamp,
            },
        )
        .await?;
        Ok(Json(Queued { id }))
    }

    /// A user's validated document (local, or fetched from their server and cached).
    /// At most 60 look-ups per user and minute (429 with `Retry-After` beyond).
    #[oai(path = "/friends/resolve/:handle", method = "get")]
    async fn resolve(
        &self,
        state: Data<&AppState>,
        session: Session,
        handle: Path<String>,
    ) -> ApiResult<Json<UserDocumentBody>> {
        let doc = service::resolve(&state, session.principal(), &handle).await?;
        Ok(Json(UserDocumentBody {
            handle: doc.handle.to_string(),
            signing_key: doc.signing_key.to_base64(),
            encryption_key: doc
                .encryption_key
                .map(|k| k.to_base64())
                .unwrap_or_default(),
            inbox: doc.inbox,
            name: doc.name,
            picture: doc.picture,
        }))
    }
}
