use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::identity::Success;
use super::{timestamp, ApiTags, Session};
use crate::error::ApiResult;
use crate::service::keys as service;
use crate::service::keys::{CommitInput, SlotInput};
use crate::state::AppState;
use crate::store::{BlobInfoRow, BlobRow, SlotRow};

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct BlobInfo {
    pub blob_type: String,
    /// Master-key generation the blob is sealed under.
    pub km_version: i64,
    pub updated_at: DateTime<Utc>,
}

impl From<BlobInfoRow> for BlobInfo {
    fn from(row: BlobInfoRow) -> Self {
        BlobInfo {
            blob_type: row.blob_type,
            km_version: row.km_version,
            updated_at: timestamp(row.updated_at),
        }
    }
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct BlobList {
    pub blobs: Vec<BlobInfo>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Blob {
    pub blob_type: String,
    /// base64 v2 envelope, returned byte-exact.
    pub encrypted_blob: String,
    pub km_version: i64,
    pub updated_at: DateTime<Utc>,
}

impl From<BlobRow> for Blob {
    fn from(row: BlobRow) -> Self {
        Blob {
            blob_type: row.blob_type,
            encrypted_blob: row.encrypted_blob,
            km_version: row.km_version,
            updated_at: timestamp(row.updated_at),
        }
    }
}

#[derive(ApiResponse)]
pub enum BlobResponse {
    /// The blob.
    #[oai(status = 200)]
    Found(Json<Blob>),
    /// No blob of this type.
    #[oai(status = 204)]
    Absent,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct BlobPut {
    /// base64 v2 envelope (version 0x02, a known algorithm, ≥ 30 bytes), at most 1 MiB
    /// decoded.
    pub encrypted_blob: String,
    /// Master-key generation it is sealed under; default: the caller's current one.
    pub km_version: Option<i64>,
}

#[derive(ApiResponse)]
pub enum BlobDeleted {
    /// Done.
    #[oai(status = 204)]
    Done,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct WrapSecret {
    /// base64 of 32 random bytes; the same until rotated.
    pub secret: String,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Rotated {
    pub ok: bool,
}

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

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct StoredSlot {
    pub credential_id: String,
    pub wrapped_km: String,
    pub wrap_algo: String,
    pub slot_signature: String,
    pub created_at: DateTime<Utc>,
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

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct SlotList {
    pub slots: Vec<StoredSlot>,
}

#[derive(ApiResponse)]
pub enum SlotStored {
    /// Stored (created or replaced).
    #[oai(status = 201)]
    Stored(Json<Success>),
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct CommitBlob {
    pub blob_type: String,
    /// base64 v2 envelope under the new master key.
    pub encrypted_blob: String,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct CommitCollection {
    /// One of the caller's collection ids.
    pub id: String,
    /// base64 v2 envelope of the metadata under the new master key.
    pub metadata_encrypted: String,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct KmCommit {
    /// The kmVersion the client rotated from; anything else is 409 and nothing is written.
    #[oai(validator(minimum(value = "1")))]
    pub expected_current: i64,
    /// Required once the account has keys: base64 Ed25519 signature by the CURRENT signing
    /// key over the canonical JSON `{encryptionKey, expectedCurrent, signingKey,
    /// type: "parchment-key-change-v1", userId}` (`Identity.signKeyChange` of
    /// `@parchment/core`). Missing → 400, wrong → 403; nothing is written.
    pub current_key_signature: Option<String>,
    /// New Ed25519 public key, base64.
    pub signing_key: String,
    /// New X25519 public key, base64.
    pub encryption_key: String,
    /// At most 10,000.
    #[oai(default)]
    pub blobs: Vec<CommitBlob>,
    /// At most 10,000.
    #[oai(default)]
    pub collections: Vec<CommitCollection>,
    /// Every slot re-sealed and signed by the NEW signing key; at most 100.
    #[oai(default)]
    pub slots: Vec<Slot>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Committed {
    /// The new master-key generation.
    pub km_version: i64,
}

pub struct KeysApi;

#[OpenApi(tag = "ApiTags::Users")]
impl KeysApi {
    /// The caller's personal blobs (types and versions, no ciphertext).
    #[oai(path = "/users/me/blobs", method = "get")]
    async fn list_blobs(
        &self,
        state: Data<&AppState>,
        session: Session,
    ) -> ApiResult<Json<BlobList>> {
        let rows = service::list_blobs(&state, session.principal()).await?;
        Ok(Json(BlobList {
            blobs: rows.into_iter().map(BlobInfo::from).collect(),
        }))
    }

    /// One blob, or 204 when the caller has none of this type.
    #[oai(path = "/users/me/blobs/:type", method = "get")]
    async fn get_blob(
        &self,
        state: Data<&AppState>,
        session: Session,
        /// `^[a-zA-Z0-9._:-]{1,64}$`
        #[oai(name = "type")]
        blob_type: Path<String>,
    ) -> ApiResult<BlobResponse> {
        let row = service::get_blob(&state, session.principal(), &blob_type.0).await?;
        Ok(match row {
            Some(row) => BlobResponse::Found(Json(row.into())),
            None => BlobResponse::Absent,
        })
    }

    /// Store (replace) one blob. A malformed envelope, bad type or oversized blob is 400 and
    /// nothing is written.
    #[oai(path = "/users/me/blobs/:type", method = "put")]
    async fn put_blob(
        &self,
        state: Data<&AppState>,
        session: Session,
        #[oai(name = "type")] blob_type: Path<String>,
        body: Json<BlobPut>,
    ) -> ApiResult<Json<Blob>> {
        let row = service::put_blob(
            &state,
            session.principal(),
            &blob_type.0,
            &body.encrypted_blob,
            body.km_version,
        )
        .await?;
        Ok(Json(row.into()))
    }

    /// Delete one blob (404 when absent).
    #[oai(path = "/users/me/blobs/:type", method = "delete")]
    async fn delete_blob(
        &self,
        state: Data<&AppState>,
        session: Session,
        #[oai(name = "type")] blob_type: Path<String>,
    ) -> ApiResult<BlobDeleted> {
        service::delete_blob(&state, session.principal(), &blob_type.0).await?;
        Ok(BlobDeleted::Done)
    }

    /// The wrap secret of one of the caller's devices, created on first use (the client
    /// derives the key that wraps its locally cached seed from it). 60 per minute per user.
    #[oai(path = "/users/me/devices/:deviceId/wrap-secret", method = "get")]
    async fn wrap_secret(
        &self,
        state: Data<&AppState>,
        session: Session,
        /// 8–64 of `[a-zA-Z0-9-]`.
        #[oai(name = "deviceId", validator(pattern = r"^[a-zA-Z0-9-]{8,64}$"))]
        device_id: Path<String>,
    ) -> ApiResult<Json<WrapSecret>> {
        let secret =
            service::device_secret(&state, &session.principal().user_id, &device_id.0).await?;
        Ok(Json(WrapSecret { secret }))
    }

    /// Forget this device's wrap secret (sign-out): the seed it cached can no longer be
    /// unwrapped, also by a later session in the same browser. 204 whether or not it
    /// existed. 10 per minute per user.
    #[oai(path = "/users/me/devices/:deviceId/wrap-secret", method = "delete")]
    async fn forget_wrap_secret(
        &self,
        state: Data<&AppState>,
        session: Session,
        /// 8–64 of `[a-zA-Z0-9-]`.
        #[oai(name = "deviceId", validator(pattern = r"^[a-zA-Z0-9-]{8,64}$"))]
        device_id: Path<String>,
    ) -> ApiResult<BlobDeleted> {
        service::forget_device_secret(&state, &session.principal().user_id, &device_id.0).await?;
        Ok(BlobDeleted::Done)
    }

    /// Replace every device wrap secret of the caller (cached seeds become unreadable).
    /// 10 per minute per user.
    #[oai(path = "/users/me/device-wrap-secrets/rotate", method = "post")]
    async fn rotate(&self, state: Data<&AppState>, session: Session) -> ApiResult<Json<Rotated>> {
        service::rotate_requested(&state, &session.principal().user_id).await?;
        Ok(Json(Rotated { ok: true }))
    }

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
    ) -> ApiResult<BlobDeleted> {
        service::delete_slot(&state, &session.principal().user_id, &credential_id.0).await?;
        Ok(BlobDeleted::Done)
    }

    /// Record that a slot was used to unlock (404 when absent).
    #[oai(path = "/users/me/wrapped-keys/:credentialId/used", method = "post")]
    async fn slot_used(
        &self,
        state: Data<&AppState>,
        session: Session,
        #[oai(name = "credentialId")] credential_id: Path<String>,
    ) -> ApiResult<BlobDeleted> {
        service::mark_slot_used(&state, &session.principal().user_id, &credential_id.0).await?;
        Ok(BlobDeleted::Done)
    }

    /// Rotate the master key atomically: new keys, re-sealed blobs, collection metadata and
    /// slots in one transaction gated by `expectedCurrent`. Racing commits: exactly one
    /// wins, the others get 409 and write nothing. Any invalid item → 4xx, nothing written.
    #[oai(path = "/users/me/km-version/commit", method = "post")]
    async fn commit(
        &self,
        state: Data<&AppState>,
        session: Session,
        body: Json<KmCommit>,
    ) -> ApiResult<Json<Committed>> {
        let body = body.0;
        let km_version = service::commit(
            &state,
            &session.principal().user_id,
            CommitInput {
                expected_current: body.expected_current,
                current_key_signature: body.current_key_signature,
                signing_key: body.signing_key,
                encryption_key: body.encryption_key,
                blobs: body
                    .blobs
                    .into_iter()
                    .map(|b| (b.blob_type, b.encrypted_blob))
                    .collect(),
                collections: body
                    .collections
                    .into_iter()
                    .map(|c| (c.id, c.metadata_encrypted))
                    .collect(),
                slots: body.slots.into_iter().map(SlotInput::from).collect(),
            },
        )
        .await?;
        Ok(Json(Committed { km_version }))
    }
}
