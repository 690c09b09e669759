//! `/users/me/wrapped-keys*`: passkey key slots, checked against the signing key they name.

use parchment_core::key_slot::{KeySlot, WRAP_ALGO};
use parchment_core::keys::Ed25519PublicKey;

use super::blobs::check_envelope;
use super::keys::check_signing_key;
use crate::error::AppError;
use crate::error_code::ErrorCode;
use crate::state::AppState;
use crate::store::{NewSlot, SlotRow};

/// Key slots per account; commits carry at most this many blobs and collections.
pub const MAX_SLOTS: usize = 100;

/// A key slot as the client sent it.
pub struct SlotInput {
    /// WebAuthn credential id (base64url) of one of the user's passkeys.
    pub credential_id: String,
    /// base64 v2 envelope of the master key under the PRF-derived key.
    pub wrapped_km: String,
    /// `aes-256-gcm-prf-v1` (the default when `None`).
    pub wrap_algo: Option<String>,
    /// base64 Ed25519 signature by the identity key over the slot signable.
    pub slot_signature: String,
}

impl SlotInput {
    fn as_core(&self) -> KeySlot {
        KeySlot {
            credential_id: self.credential_id.clone(),
            wrapped_km: self.wrapped_km.clone(),
            wrap_algo: self.wrap_algo.clone().unwrap_or_else(|| WRAP_ALGO.into()),
            slot_signature: self.slot_signature.clone(),
        }
    }
}

/// Shape, algorithm and signature of a slot under `signing_key` (crypto.md §6.2).
pub(super) fn check_slot(
    index: usize,
    user_id: &str,
    slot: &SlotInput,
    signing_key: &Ed25519PublicKey,
) -> Result<KeySlot, AppError> {
    let field = format!("slots[{index}]");
    let core = slot.as_core();
    if core.wrap_algo != WRAP_ALGO {
        return Err(AppError::BadRequest {
            code: ErrorCode::InvalidSlot,
            message: format!("{field}.wrapAlgo: only {WRAP_ALGO} is accepted"),
        });
    }
    if core.credential_id.is_empty() || core.credential_id.len() > 1024 {
        return Err(AppError::validation(
            &format!("{field}.credentialId"),
            "must be 1-1024 characters",
        ));
    }
    check_envelope(&format!("{field}.wrappedKm"), &core.wrapped_km)?;
    core.verify(user_id, signing_key)
        .map_err(|e| AppError::BadRequest {
            code: ErrorCode::InvalidSlotSignature,
            message: format!("{field}.slotSignature: {e}"),
        })?;
    Ok(core)
}

/// `GET /users/me/wrapped-keys`: the user's slots, oldest first.
pub async fn list_slots(state: &AppState, user_id: &str) -> Result<Vec<SlotRow>, AppError> {
    Ok(state.store.slots_of_user(user_id).await?)
}

/// Stores a slot after checking it is signed by the caller's current signing key and that
/// the credential is one of the caller's passkeys.
pub async fn put_slot(state: &AppState, user_id: &str, slot: SlotInput) -> Result<(), AppError> {
    let user = super::users::get(state, user_id).await?;
    let Some(signing_key) = user.signing_key.as_deref() else {
        return Err(AppError::Conflict {
            code: ErrorCode::NoSigningKey,
            message: "Publish identity keys (PUT /users/me/keys) before adding key slots".into(),
        });
    };
    let signing_key = check_signing_key("signingKey", signing_key)?;
    let core = check_slot(0, user_id, &slot, &signing_key)?;
    if !state
        .store
        .owns_passkey(user_id, &core.credential_id)
        .await?
    {
        return Err(unknown_credential());
    }
    if state.store.slots_of_user(user_id).await?.len() >= MAX_SLOTS {
        return Err(AppError::BadRequest {
            code: ErrorCode::TooManySlots,
            message: format!("at most {MAX_SLOTS} key slots per account"),
        });
    }
    state
        .store
        .put_slot(
            user_id,
            &NewSlot {
                credential_id: &core.credential_id,
                wrapped_km: &core.wrapped_km,
                wrap_algo: &core.wrap_algo,
                slot_signature: &core.slot_signature,
            },
            state.now_ms(),
        )
        .await?;
    Ok(())
}

pub(super) fn unknown_credential() -> AppError {
    AppError::NotFound {
        code: ErrorCode::UnknownCredential,
        message: "credentialId: not one of your passkeys".into(),
    }
}

/// `DELETE /users/me/wrapped-keys/{credentialId}`: 404 when absent.
pub async fn delete_slot(
    state: &AppState,
    user_id: &str,
    credential_id: &str,
) -> Result<(), AppError> {
    if state.store.delete_slot(user_id, credential_id).await? {
        Ok(())
    } else {
        Err(AppError::not_found("Key slot"))
    }
}

/// `POST /users/me/wrapped-keys/{credentialId}/used`: 404 when absent.
pub async fn mark_slot_used(
    state: &AppState,
    user_id: &str,
    credential_id: &str,
) -> Result<(), AppError> {
    if state
        .store
        .mark_slot_used(user_id, credential_id, state.now_ms())
        .await?
    {
        Ok(())
    } else {
        Err(AppError::not_found("Key slot"))
    }
}
