//! `PUT /users/me/keys`, `GET /users/me/km-version`, `POST /users/me/km-version/commit`: the
//! identity's public keys and the master-key generation they belong to.

use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::identity::Success;
use super::key_slots::Slot;
use super::{ApiTags, Session};
use crate::error::ApiResult;
use crate::service::key_slots::SlotInput;
use crate::service::keys as service;
use crate::service::keys::{CollectionInput, CommitInput};
use crate::state::AppState;

/// The identity's public keys to publish.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct PublicKeys {
    /// Ed25519 public key, standard base64 of 32 bytes (a valid point, not of small order).
    pub signing_key: String,
    /// X25519 public key, standard base64 of 32 bytes (not of low order).
    pub encryption_key: String,
}

/// The caller's master-key generation.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct KmVersion {
    /// Master-key generation, from 1.
    pub km_version: i64,
}

/// One blob re-sealed under the new master key.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct CommitBlob {
    /// The type of one of the caller's blobs.
    pub blob_type: String,
    /// base64 v2 envelope under the new master key.
    pub encrypted_blob: String,
}

/// One collection re-sealed under the new master key: its metadata, its content, or both.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct CommitCollection {
    /// One of the caller's collection ids.
    pub id: String,
    /// base64 v2 envelope of the metadata under the new master key (absent: unchanged).
    pub metadata_encrypted: Option<String>,
    /// base64 v2 envelope of the content under the new seed's collection key of the same key
    /// version (absent: unchanged). Collection keys derive from the seed, so a rotation must
    /// carry every collection that has content, or it could no longer be opened.
    pub content_encrypted: Option<String>,
    /// base64 v2 envelope of the owner's sealed state under the new personal key (absent:
    /// unchanged).
    pub owner_encrypted: Option<String>,
    /// The collection's `revision` the client re-sealed: when given, the commit is refused (409
    /// `collection_changed`, nothing written) if the collection changed since.
    #[oai(validator(minimum(value = "0"), maximum(value = "9007199254740991")))]
    pub revision: Option<i64>,
}

/// A master-key rotation, committed all at once.
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

/// Answer to a committed rotation.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Committed {
    /// The new master-key generation.
    pub km_version: i64,
}

/// Handlers of the identity keys and the master-key generation (`/users/me/keys`,
/// `/users/me/km-version*`).
#[derive(Default)]
pub struct KeysApi;

#[OpenApi(tag = "ApiTags::Users")]
impl KeysApi {
    /// Publish the identity keys (first time, or again after an identity reset). Keys
    /// that are already published are replaced only by the km-version commit (409 here);
    /// sending the same keys again is a no-op. Malformed keys → 400, nothing stored.
    #[oai(path = "/users/me/keys", method = "put")]
    async fn set_keys(
        &self,
        state: Data<&AppState>,
        session: Session,
        body: Json<PublicKeys>,
    ) -> ApiResult<Json<Success>> {
        service::set_keys(
            &state,
            &session.principal().user_id,
            &body.signing_key,
            &body.encryption_key,
        )
        .await?;
        Ok(Json(Success { success: true }))
    }

    /// The caller's master-key generation.
    #[oai(path = "/users/me/km-version", method = "get")]
    async fn km_version(
        &self,
        state: Data<&AppState>,
        session: Session,
    ) -> ApiResult<Json<KmVersion>> {
        let user = crate::service::users::get(&state, &session.principal().user_id).await?;
        Ok(Json(KmVersion {
            km_version: user.km_version,
        }))
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
                    .map(|c| CollectionInput {
                        id: c.id,
                        metadata: c.metadata_encrypted,
                        content: c.content_encrypted,
                        owner: c.owner_encrypted,
                        revision: c.revision,
                    })
                    .collect(),
                slots: body.slots.into_iter().map(SlotInput::from).collect(),
            },
        )
        .await?;
        Ok(Json(Committed { km_version }))
    }
}
