//! `/users/me/wrapped-keys*`: passkey key slots (the seed sealed under a passkey's PRF).

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::identity::Success;
use super::{timestamp, ApiTags, NoContent, Session};
use crate::error::ApiResult;
use crate::service::key_slots as service;
use crate::service::key_slots::SlotInput;
use crate::state::AppState;
use crate::store::SlotRow;

/// A key slot to store: the master key sealed under one passkey's PRF.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct Slot {
    /// WebAuthn credential id (base64url) of one of the caller's passkeys.
    pub credential_id: String,
    /// base64 v2 envelope of the master key under the PRF-derived key.
    pub wrapped_km: String,
    /// Only `aes-256-gcm-prf-v1` (the default).
    pub wrap_algo: Option<String>,
    /// base64 Ed25519 signature by the identity key over the slot signable (crypto.md §6.2).
    pub slot_signature: String,
}

impl From<Slot> for SlotInput {
    fn from(slot: Slot) -> Self {
        SlotInput {
            credential_id: slot.credential_id,
            wrapped_km: slot.wrapped_km,
            wrap_algo: slot.wrap_algo,
            slot_signature: slot.slot_signature,
        }
    }
}

/// A stored key slot.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct StoredSlot {
    /// WebAuthn credential id (base64url) of the passkey it belongs to.
    pub credential_id: String,
    /// base64 v2 envelope of the master key under the PRF-derived key.
    pub wrapped_km: String,
    /// The wrapping algorithm, `aes-256-gcm-prf-v1`.
    pub wrap_algo: String,
    /// base64 Ed25519 signature by the identity key over the slot signable (crypto.md §6.2).
    pub slot_signature: String,
    /// When the slot was first stored.
    pub created_at: DateTime<Utc>,
    /// When it last unlocked the master key (`POST …/used`); `null` if never.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<SlotRow> for StoredSlot {
    fn from(row: SlotRow) -> Self {
        StoredSlot {
            credential_id: row.credential_id,
            wrapped_km: row.wrapped_km,
            wrap_algo: row.wrap_algo,
            slot_signature: row.slot_signature,
            created_at: timestamp(row.created_at),
            last_used_at: row.last_used_at.map(timestamp),
        }
    }
}

/// The caller's key slots.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct SlotList {
    /// Oldest first.
    pub slots: Vec<StoredSlot>,
}

/// Answer to `POST /users/me/wrapped-keys`.
#[derive(ApiResponse)]
pub enum SlotStored {
    /// Stored (created or replaced).
    #[oai(status = 201)]
    Stored(Json<Success>),
}

/// Handlers of `/users/me/wrapped-keys*`.
#[derive(Default)]
pub struct KeySlotsApi;

#[OpenApi(tag = "ApiTags::Users")]
impl KeySlotsApi {
    /// The caller's wrapped master-key slots.
    #[oai(path = "/users/me/wrapped-keys", method = "get")]
    async fn list_slots(
        &self,
        state: Data<&AppState>,
        session: Session,
    ) -> ApiResult<Json<SlotList>> {
        let rows = service::list_slots(&state, &session.principal().user_id).await?;
        Ok(Json(SlotList {
            slots: rows.into_iter().map(StoredSlot::from).collect(),
        }))
    }

    /// Store a slot: the signature must verify under the caller's current signing key and
    /// the credential must be one of the caller's passkeys.
    #[oai(path = "/users/me/wrapped-keys", method = "post")]
    async fn put_slot(
        &self,
        state: Data<&AppState>,
        session: Session,
        body: Json<Slot>,
    ) -> ApiResult<SlotStored> {
        service::put_slot(&state, &session.principal().user_id, body.0.into()).await?;
        Ok(SlotStored::Stored(Json(Success { success: true })))
    }

    /// Delete a slot (404 when absent).
    #[oai(path = "/users/me/wrapped-keys/:credentialId", method = "delete")]
    async fn delete_slot(
        &self,
        state: Data<&AppState>,
        session: Session,
        #[oai(name = "credentialId")] credential_id: Path<String>,
    ) -> ApiResult<NoContent> {
        service::delete_slot(&state, &session.principal().user_id, &credential_id.0).await?;
        Ok(NoContent::Done)
    }

    /// Record that a slot was used to unlock (404 when absent).
    #[oai(path = "/users/me/wrapped-keys/:credentialId/used", method = "post")]
    async fn slot_used(
        &self,
        state: Data<&AppState>,
        session: Session,
        #[oai(name = "credentialId")] credential_id: Path<String>,
    ) -> ApiResult<NoContent> {
        service::mark_slot_used(&state, &session.principal().user_id, &credential_id.0).await?;
        Ok(NoContent::Done)
    }
}
