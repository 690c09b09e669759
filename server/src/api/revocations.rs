//! `/users/me/revocations/*`: the revocations an identity reset queued for former peers.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::identity::Success;
use super::{timestamp, ApiTags, Session};
use crate::error::ApiResult;
use crate::service::revocations as service;
use crate::service::revocations::FlushItem;
use crate::state::AppState;

/// A revocation queued by an identity reset for a former peer on another server.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct PendingRevocation {
    /// Revocation id.
    pub id: String,
    /// The former peer's handle (`alias@domain`).
    pub peer_handle: String,
    /// When the reset queued it.
    pub created_at: DateTime<Utc>,
    /// Why the last flush of this revocation failed, if one did.
    pub last_error: Option<String>,
}

/// The caller's queued revocations.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct PendingRevocations {
    /// Oldest first.
    pub revocations: Vec<PendingRevocation>,
}

/// One queued revocation to deliver, signed by the client.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct FlushRequestItem {
    /// A queued peer handle, used verbatim as the envelope's `to`.
    pub peer_handle: String,
    /// base64 Ed25519 signature by the caller's CURRENT identity key over the v2
    /// RELATIONSHIP_REVOKE envelope `{from: <caller's handle>, to: peerHandle, nonce,
    /// timestamp, payload: {}, message_version, protocol_version: 2}` (canonical JSON).
    pub signature: String,
    /// 8–64 characters (base64 of 16 random bytes).
    #[oai(validator(min_length = 8, max_length = 64))]
    pub nonce: String,
    /// ISO-8601, within 300 s of the server's clock.
    pub timestamp: String,
    /// Default 1.
    #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
    pub message_version: Option<u32>,
}

/// Revocations to deliver now.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct FlushRequest {
    /// At most 100 items.
    pub items: Vec<FlushRequestItem>,
}

/// What became of one item.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct FlushResultItem {
    /// The item's `peerHandle`.
    pub peer_handle: String,
    /// `true` when the peer's server accepted the revocation (it left the queue).
    pub delivered: bool,
    /// Why it was not delivered; `null` when it was.
    pub error: Option<String>,
}

/// Answer to `POST /users/me/revocations/flush`.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct FlushResponse {
    /// One per item, in order.
    pub results: Vec<FlushResultItem>,
}

/// Handlers of `/users/me/revocations/*`.
#[derive(Default)]
pub struct RevocationsApi;

#[OpenApi(tag = "ApiTags::Federation")]
impl RevocationsApi {
    /// The revocations queued by an identity reset and not yet delivered or discarded.
    #[oai(path = "/users/me/revocations/pending", method = "get")]
    async fn pending(
        &self,
        state: Data<&AppState>,
        session: Session,
    ) -> ApiResult<Json<PendingRevocations>> {
        let rows = service::pending(&state, &session.principal().user_id).await?;
        Ok(Json(PendingRevocations {
            revocations: rows
                .into_iter()
                .map(|r| PendingRevocation {
                    id: r.id,
                    peer_handle: r.peer_handle,
                    created_at: timestamp(r.created_at),
                    last_error: r.last_error,
                })
                .collect(),
        }))
    }

    /// Deliver queued revocations now, each signed by the client with its NEW identity key.
    /// Per item: not queued, malformed or a signature that does not verify under the
    /// caller's current key → error and nothing sent; otherwise one signed delivery to the
    /// peer's inbox. Delivered items leave the queue; failed ones stay with their reason.
    /// Always 200 (more than 100 items → 400).
    #[oai(path = "/users/me/revocations/flush", method = "post")]
    async fn flush(
        &self,
        state: Data<&AppState>,
        session: Session,
        body: Json<FlushRequest>,
    ) -> ApiResult<Json<FlushResponse>> {
        let items: Vec<FlushItem> = body
            .0
            .items
            .into_iter()
            .map(|i| FlushItem {
                peer_handle: i.peer_handle,
                signature: i.signature,
                nonce: i.nonce,
                timestamp: i.timestamp,
                message_version: i.message_version,
            })
            .collect();
        let results = service::flush(&state, &session.principal().user_id, &items).await?;
        Ok(Json(FlushResponse {
            results: results
                .into_iter()
                .map(|r| FlushResultItem {
                    peer_handle: r.peer_handle,
                    delivered: r.delivered,
                    error: r.error,
                })
                .collect(),
        }))
    }

    /// Drop one queued revocation without delivering it (404 when not queued). The handle
    /// is URL-decoded once, e.g. `bob%40other.example`.
    #[oai(path = "/users/me/revocations/pending/:peerHandle", method = "delete")]
    async fn discard(
        &self,
        state: Data<&AppState>,
        session: Session,
        #[oai(name = "peerHandle")] peer_handle: Path<String>,
    ) -> ApiResult<Json<Success>> {
        service::discard(&state, &session.principal().user_id, &peer_handle).await?;
        Ok(Json(Success { success: true }))
    }
}
