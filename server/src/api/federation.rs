//! Server-to-server endpoints: discovery documents and the inbox.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem::Request;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use parchment_core::federation::request::{
    HEADER_NONCE, HEADER_PROTOCOL_VERSION, HEADER_SERVER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP,
};
use poem_openapi::ApiResponse;

use super::identity::Success;
use super::{client_ip, timestamp, ApiTags, Session};
use crate::error::ApiResult;
use crate::service::federation as service;
use crate::state::AppState;
use parchment_core::federation::MessageType;

/// Answer to `POST /federation/inbox`.
#[derive(Debug, ApiResponse)]
pub enum InboxAccepted {
    /// Authenticated, verified and processed.
    #[oai(status = 202)]
    Accepted(Json<Success>),
}

/// This server's federation manifest (federation.md §3).
#[derive(Debug, Clone, Object)]
pub struct ServerManifestBody {
    /// Server id: host[:port] of the public URL; the domain of every local handle.
    pub server_id: String,
    /// Ed25519 server identity key, base64.
    pub public_key: String,
    /// Protocol versions this server speaks (today `[2]`).
    pub protocol_versions: Vec<u32>,
    /// Lowest protocol version it accepts.
    pub minimum_protocol_version: Option<u32>,
    /// Features it announces, e.g. `location-live`, `replay-protection`.
    pub capabilities: Vec<String>,
    /// Always `null`.
    pub key_transparency_anchor: Option<String>,
}

/// A local user's public document (federation.md §9).
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct UserDocumentBody {
    /// `alias@domain`.
    pub handle: String,
    /// Ed25519 identity key, base64.
    pub signing_key: String,
    /// X25519 key, base64, or `""` when none is published.
    pub encryption_key: String,
    /// Where peers deliver messages for this user.
    pub inbox: String,
    /// Display name; absent when the user shows none.
    #[oai(skip_serializing_if_is_none)]
    pub name: Option<String>,
    /// Picture URL; absent when the user shows none.
    #[oai(skip_serializing_if_is_none)]
    pub picture: Option<String>,
}

/// One message the caller sent to another server, with its delivery state.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct OutboxEntry {
    /// Outbox id (as returned when the message was queued).
    pub id: String,
    /// e.g. `FRIEND_INVITE`, `LOCATION_UPDATE`.
    pub message_type: String,
    /// The recipient's handle (`alias@domain`).
    pub to_handle: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// Delivery attempts made so far.
    pub attempts: i64,
    /// Why the last attempt failed; `null` when none did.
    pub last_error: Option<String>,
    /// When the next attempt is due (while `pending`).
    pub next_attempt_at: DateTime<Utc>,
    /// When the message was queued.
    pub created_at: DateTime<Utc>,
    /// When its state last changed.
    pub updated_at: DateTime<Utc>,
}

/// The caller's outbound messages.
#[derive(Debug, Clone, Object)]
pub struct Outbox {
    /// Newest first, at most 100.
    pub messages: Vec<OutboxEntry>,
}

/// Handlers of discovery (`/.well-known/*`), the inbox and the caller's outbox.
#[derive(Default)]
pub struct FederationApi;

#[OpenApi(tag = "ApiTags::Federation")]
impl FederationApi {
    /// This server's identity: server id, Ed25519 key, protocol versions, capabilities.
    /// No authentication; 60 requests per minute per client address (shared with user
    /// documents).
    #[oai(path = "/.well-known/parchment-server", method = "get")]
    async fn manifest(
        &self,
        state: Data<&AppState>,
        req: &Request,
    ) -> ApiResult<Json<ServerManifestBody>> {
        service::discovery::check_well_known_rate(&state, &client_ip(req)).await?;
        let doc = service::manifest(&state)?;
        Ok(Json(ServerManifestBody {
            server_id: doc.server_id,
            public_key: doc.public_key,
            protocol_versions: doc.protocol_versions,
            minimum_protocol_version: doc.minimum_protocol_version,
            capabilities: doc.capabilities,
            key_transparency_anchor: doc.key_transparency_anchor,
        }))
    }

    /// The public document of the local user `alias` (any letter case): handle, keys,
    /// inbox, display name. 404 when there is no such alias or no published signing key.
    #[oai(path = "/.well-known/user/:alias", method = "get")]
    async fn user_document(
        &self,
        state: Data<&AppState>,
        req: &Request,
        alias: Path<String>,
    ) -> ApiResult<Json<UserDocumentBody>> {
        service::discovery::check_well_known_rate(&state, &client_ip(req)).await?;
        let doc = service::user_document(&state, &alias).await?;
        Ok(Json(UserDocumentBody {
            handle: doc.handle,
            signing_key: doc.signing_key,
            encryption_key: doc.encryption_key,
            inbox: doc.inbox,
            name: doc.name,
            picture: doc.picture,
        }))
    }

    /// Server-to-server delivery of one user-signed envelope (v2, or legacy v1). Body:
    /// `{protocol_version?, message_type?, type?, message_version?, nonce?, from, to,
    /// timestamp, signature, payload?}`; other members are dropped before the body hash.
    /// Checked in order: schema (422), size (413), the five `X-Parchment-*` headers, protocol
    /// version, ±300 s, the sender server's pinned key, the signature over method, path and
    /// body hash, the transport nonce (each 401 `federation_auth_failed`); then the sending
    /// server must be `from`'s home server, `to` local, the user signature valid (400), a v2
    /// (from, nonce) new (409 `replay`), the type known (400 `unsupported_type`). 120
    /// requests per minute per client address.
    #[oai(path = "/federation/inbox", method = "post")]
    async fn inbox(
        &self,
        state: Data<&AppState>,
        req: &Request,
        body: Json<serde_json::Value>,
    ) -> ApiResult<InboxAccepted> {
        let header = |name: &str| req.header(name).map(str::to_owned);
        let headers = service::InboundHeaders {
            server_id: header(HEADER_SERVER_ID),
            protocol_version: header(HEADER_PROTOCOL_VERSION),
            nonce: header(HEADER_NONCE),
            timestamp: header(HEADER_TIMESTAMP),
            signature: header(HEADER_SIGNATURE),
        };
        let result = service::receive(&state, &client_ip(req), headers, &body).await;
        let claimed = ["message_type", "type"]
            .iter()
            .find_map(|k| body.get(k).and_then(|v| v.as_str()))
            .and_then(|t| t.parse::<MessageType>().ok())
            .map_or("unknown", MessageType::as_str);
        crate::metrics::record_inbox(
            claimed,
            result
                .as_ref()
                .map_or_else(|e| e.code().as_str(), |_| "accepted"),
        );
        result?;
        Ok(InboxAccepted::Accepted(Json(Success { success: true })))
    }

    /// The caller's outbound federation messages, newest first (at most 100), with their
    /// delivery state.
    #[oai(path = "/federation/outbox", method = "get")]
    async fn outbox(&self, state: Data<&AppState>, session: Session) -> ApiResult<Json<Outbox>> {
        let rows = service::delivery::outbox(&state, session.principal()).await?;
        Ok(Json(Outbox {
            messages: rows
                .into_iter()
                .map(|r| OutboxEntry {
                    id: r.id,
                    message_type: r.message_type,
                    to_handle: r.to_handle,
                    status: r.status.to_string(),
                    attempts: r.attempts,
                    last_error: r.last_error,
                    next_attempt_at: timestamp(r.next_attempt_at),
                    created_at: timestamp(r.created_at),
                    updated_at: timestamp(r.updated_at),
                })
                .collect(),
        }))
    }
}
