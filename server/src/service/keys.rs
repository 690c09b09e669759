//! Personal ciphertext blobs and device wrap secrets. The server checks shapes only: it has
//! no key to any of it.

use parchment_core::encoding::{from_base64, to_base64};
use parchment_core::envelope::check_shape;
use parchment_core::key_change::KeyChange;
use parchment_core::key_slot::{KeySlot, WRAP_ALGO};
use parchment_core::keys::{Ed25519PublicKey, Ed25519Signature, X25519PublicKey};
use parchment_core::rand_core::{OsRng, RngCore};

use super::identity::check_signing_key;
use super::rate_limit::{Limit, WRAP_SECRET_READ, WRAP_SECRET_ROTATE};
use super::roles;
use super::sessions::Principal;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::{BlobInfoRow, BlobRow, Commit, CommitRefused, NewSlot, SlotRow};

/// Largest accepted blob envelope, decoded (documented in the API).
pub const MAX_BLOB_BYTES: usize = 1024 * 1024;

/// `^[a-zA-Z0-9._:-]{1,64}$`, as the blob routes of the original.
pub fn check_blob_type(blob_type: &str) -> Result<(), AppError> {
    let ok = (1..=64).contains(&blob_type.len())
        && blob_type
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(AppError::BadRequest {
            code: "invalid_blob_type",
            message: "blobType: use 1-64 of letters, digits and . _ : -".into(),
        })
    }
}

/// A well-formed base64 envelope (known version and algorithm, long enough) within the limit.
pub fn check_envelope(field: &str, text: &str) -> Result<(), AppError> {
    // base64 expands 3 bytes to 4: refuse oversized text before decoding it.
    if text.len() > MAX_BLOB_BYTES.div_ceil(3) * 4 {
        return Err(too_large(field));
    }
    let bytes = from_base64(text).map_err(|e| invalid_envelope(field, e))?;
    if bytes.len() > MAX_BLOB_BYTES {
        return Err(too_large(field));
    }
    check_shape(&bytes).map_err(|e| invalid_envelope(field, e))?;
    Ok(())
}

fn too_large(field: &str) -> AppError {
    AppError::BadRequest {
        code: "blob_too_large",
        message: format!("{field}: at most {MAX_BLOB_BYTES} bytes once decoded"),
    }
}

fn invalid_envelope(field: &str, err: impl std::fmt::Display) -> AppError {
    AppError::BadRequest {
        code: "invalid_envelope",
        message: format!("{field}: {err}"),
    }
}

pub async fn list_blobs(
    state: &AppState,
    caller: &Principal,
) -> Result<Vec<BlobInfoRow>, AppError> {
    let user_id = caller.require(roles::LIBRARY_READ)?;
    Ok(state.store.blobs_of_user(user_id).await?)
}

pub async fn get_blob(
    state: &AppState,
    caller: &Principal,
    blob_type: &str,
) -> Result<Option<BlobRow>, AppError> {
    let user_id = caller.require(roles::LIBRARY_READ)?;
    check_blob_type(blob_type)?;
    Ok(state.store.blob(user_id, blob_type).await?)
}

pub async fn put_blob(
    state: &AppState,
    caller: &Principal,
    blob_type: &str,
    encrypted_blob: &str,
    km_version: Option<i64>,
) -> Result<BlobRow, AppError> {
    let user_id = caller.require(roles::LIBRARY_WRITE)?;
    check_blob_type(blob_type)?;
    check_envelope("encryptedBlob", encrypted_blob)?;
    if km_version.is_some_and(|v| v < 1) {
        return Err(AppError::validation("kmVersion", "must be at least 1"));
    }
    state
        .store
        .put_blob(
            user_id,
            blob_type,
            encrypted_blob,
            km_version,
            state.now_ms(),
        )
        .await?
        .ok_or_else(|| AppError::not_found("User"))
}

pub async fn delete_blob(
    state: &AppState,
    caller: &Principal,
    blob_type: &str,
) -> Result<(), AppError> {
    let user_id = caller.require(roles::LIBRARY_WRITE)?;
    check_blob_type(blob_type)?;
    if state.store.delete_blob(user_id, blob_type).await? {
        Ok(())
    } else {
        Err(AppError::not_found("Blob"))
    }
}

/// 8–64 of `[a-zA-Z0-9-]`.
pub fn check_device_id(device_id: &str) -> Result<(), AppError> {
    let ok = (8..=64).contains(&device_id.len())
        && device_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(AppError::validation(
            "deviceId",
            "must be 8-64 of letters, digits and -",
        ))
    }
}

fn fresh_secret() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    to_base64(&bytes)
}

async fn limit(state: &AppState, limit: Limit, user_id: &str) -> Result<(), AppError> {
    state.limiter.check(limit, user_id, state.now_ms()).await
}

/// The device's wrap secret, created on first use (the same secret for racing first calls).
pub async fn device_secret(
    state: &AppState,
    user_id: &str,
    device_id: &str,
) -> Result<String, AppError> {
    check_device_id(device_id)?;
    limit(state, WRAP_SECRET_READ, user_id).await?;
    // Known devices read their secret; a new one may join only below the cap (a table a
    // session could otherwise grow without bound, one device id at a time). Racing first
    // reads can pass the count together: the cap is soft by the number in flight.
    if state.store.device_count(user_id).await? >= MAX_DEVICES {
        let known = state.store.device_secret_exists(user_id, device_id).await?;
        if !known {
            return Err(AppError::BadRequest {
                code: "too_many_devices",
                message: format!(
                    "at most {MAX_DEVICES} devices per account hold a wrap secret; sign out on \
                     one you no longer use"
                ),
            });
        }
    }
    Ok(state
        .store
        .device_secret(user_id, device_id, &fresh_secret(), state.now_ms())
        .await?)
}

/// Devices per account with a wrap secret (documented in the API).
pub const MAX_DEVICES: i64 = 100;

/// `DELETE /users/me/devices/{deviceId}/wrap-secret` (sign-out): the seed this device
/// cached can no longer be unwrapped by any later session in that browser.
pub async fn forget_device_secret(
    state: &AppState,
    user_id: &str,
    device_id: &str,
) -> Result<(), AppError> {
    check_device_id(device_id)?;
    limit(state, WRAP_SECRET_ROTATE, user_id).await?;
    state.store.delete_device_secret(user_id, device_id).await?;
    Ok(())
}

/// Replaces every device secret of the user (but `keep`'s): seeds cached under the old
/// secrets can no longer be unwrapped.
pub async fn rotate_device_secrets(
    state: &AppState,
    user_id: &str,
    keep: Option<&str>,
) -> Result<u64, AppError> {
    Ok(state
        .store
        .rotate_device_secrets(user_id, keep, fresh_secret, state.now_ms())
        .await?)
}

/// `POST /users/me/device-wrap-secrets/rotate` (rate-limited per user).
pub async fn rotate_requested(state: &AppState, user_id: &str) -> Result<u64, AppError> {
    limit(state, WRAP_SECRET_ROTATE, user_id).await?;
    rotate_device_secrets(state, user_id, None).await
}

/// Key slots per account; commits carry at most this many blobs and collections.
pub const MAX_SLOTS: usize = 100;
pub const MAX_COMMIT_ITEMS: usize = 10_000;

pub struct SlotInput {
    pub credential_id: String,
    pub wrapped_km: String,
    pub wrap_algo: Option<String>,
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
fn check_slot(
    index: usize,
    user_id: &str,
    slot: &SlotInput,
    signing_key: &Ed25519PublicKey,
) -> Result<KeySlot, AppError> {
    let field = format!("slots[{index}]");
    let core = slot.as_core();
    if core.wrap_algo != WRAP_ALGO {
        return Err(AppError::BadRequest {
            code: "invalid_slot",
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
            code: "invalid_slot_signature",
            message: format!("{field}.slotSignature: {e}"),
        })?;
    Ok(core)
}

pub async fn list_slots(state: &AppState, user_id: &str) -> Result<Vec<SlotRow>, AppError> {
    Ok(state.store.slots_of_user(user_id).await?)
}

/// Stores a slot after checking it is signed by the caller's current signing key and that
/// the credential is one of the caller's passkeys.
pub async fn put_slot(state: &AppState, user_id: &str, slot: SlotInput) -> Result<(), AppError> {
    let user = super::users::get(state, user_id).await?;
    let Some(signing_key) = user.signing_key.as_deref() else {
        return Err(AppError::Conflict {
            code: "no_signing_key",
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
            code: "too_many_slots",
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

fn unknown_credential() -> AppError {
    AppError::NotFound {
        code: "unknown_credential",
        message: "credentialId: not one of your passkeys".into(),
    }
}

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

pub struct CommitInput {
    pub expected_current: i64,
    /// base64 signature by the CURRENT signing key over the key-change statement; required
    /// once the account has keys.
    pub current_key_signature: Option<String>,
    pub signing_key: String,
    pub encryption_key: String,
    pub blobs: Vec<(String, String)>,
    pub collections: Vec<(String, String)>,
    pub slots: Vec<SlotInput>,
}

fn no_duplicates<'a>(field: &str, ids: impl Iterator<Item = &'a str>) -> Result<(), AppError> {
    let mut seen = std::collections::HashSet::new();
    for id in ids {
        if !seen.insert(id) {
            return Err(AppError::BadRequest {
                code: "duplicate_item",
                message: format!("{field}: '{id}' appears twice"),
            });
        }
    }
    Ok(())
}

fn version_mismatch(current: i64) -> AppError {
    AppError::Conflict {
        code: "km_version_mismatch",
        message: format!(
            "kmVersion is {current}: another device rotated first. Nothing was written."
        ),
    }
}

fn identity_changed() -> AppError {
    AppError::Conflict {
        code: "identity_changed",
        message: "The identity keys changed since this commit was signed (an identity reset?). \
                  Nothing was written."
            .into(),
    }
}

/// Once the account has keys, a commit must prove the current signing key: its signature
/// over the key-change statement (user, expectedCurrent, both new keys). Returns the key it
/// was checked against, for the compare-and-swap. A stolen session alone cannot swap keys.
async fn check_key_change(
    state: &AppState,
    user_id: &str,
    input: &CommitInput,
    signing: &Ed25519PublicKey,
    encryption: &X25519PublicKey,
) -> Result<Option<String>, AppError> {
    let user = super::users::get(state, user_id).await?;
    // A stale generation is the client's conflict to resolve, whatever it signed.
    if user.km_version != input.expected_current {
        return Err(version_mismatch(user.km_version));
    }
    let Some(current) = user.signing_key.as_deref() else {
        // A proof for keys the account no longer has (an identity reset came first).
        return match input.current_key_signature {
            Some(_) => Err(identity_changed()),
            None => Ok(None),
        };
    };
    let Some(signature) = input.current_key_signature.as_deref() else {
        return Err(AppError::BadRequest {
            code: "current_key_signature_required",
            message: "currentKeySignature: required once the account has keys (sign the key \
                      change with the current identity; a lost key is replaced by \
                      POST /users/me/identity/reset). Nothing was written."
                .into(),
        });
    };
    let current_key = check_signing_key("signingKey", current)?;
    let change = KeyChange {
        user_id,
        // Checked ≥ 1 above.
        expected_current: input.expected_current.unsigned_abs(),
        signing_key: signing,
        encryption_key: encryption,
    };
    Ed25519Signature::from_base64(signature)
        .and_then(|signature| change.verify(&current_key, &signature))
        .map_err(|e| AppError::Denied {
            code: "invalid_current_key_signature",
            message: format!(
                "currentKeySignature: {e} (it must be the current signing key's signature over \
                 the key-change statement). Nothing was written."
            ),
        })?;
    Ok(Some(current.to_owned()))
}

/// The atomic master-key rotation: everything is validated (keys, every envelope, every
/// slot signature under the NEW signing key) before one transaction gated by
/// compare-and-swap on kmVersion writes it all, or nothing.
pub async fn commit(state: &AppState, user_id: &str, input: CommitInput) -> Result<i64, AppError> {
    if input.expected_current < 1 {
        return Err(AppError::validation(
            "expectedCurrent",
            "must be at least 1",
        ));
    }
    let signing = check_signing_key("signingKey", &input.signing_key)?;
    let encryption = super::identity::check_encryption_key("encryptionKey", &input.encryption_key)?;
    if input.blobs.len() > MAX_COMMIT_ITEMS || input.collections.len() > MAX_COMMIT_ITEMS {
        return Err(AppError::BadRequest {
            code: "too_many_items",
            message: format!(
                "at most {MAX_COMMIT_ITEMS} blobs and {MAX_COMMIT_ITEMS} collections per commit"
            ),
        });
    }
    if input.slots.len() > MAX_SLOTS {
        return Err(AppError::BadRequest {
            code: "too_many_slots",
            message: format!("at most {MAX_SLOTS} key slots per account"),
        });
    }
    for (i, (blob_type, blob)) in input.blobs.iter().enumerate() {
        check_blob_type(blob_type)?;
        check_envelope(&format!("blobs[{i}].encryptedBlob"), blob)?;
    }
    no_duplicates("blobs", input.blobs.iter().map(|(t, _)| t.as_str()))?;
    for (i, (_, metadata)) in input.collections.iter().enumerate() {
        check_envelope(&format!("collections[{i}].metadataEncrypted"), metadata)?;
    }
    no_duplicates(
        "collections",
        input.collections.iter().map(|(id, _)| id.as_str()),
    )?;
    let slots = input
        .slots
        .iter()
        .enumerate()
        .map(|(i, slot)| check_slot(i, user_id, slot, &signing))
        .collect::<Result<Vec<_>, _>>()?;
    no_duplicates("slots", slots.iter().map(|s| s.credential_id.as_str()))?;
    let current_signing_key =
        check_key_change(state, user_id, &input, &signing, &encryption).await?;

    let blobs: Vec<(&str, &str)> = input
        .blobs
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let collections: Vec<(&str, &str)> = input
        .collections
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let new_slots: Vec<NewSlot> = slots
        .iter()
        .map(|s| NewSlot {
            credential_id: &s.credential_id,
            wrapped_km: &s.wrapped_km,
            wrap_algo: &s.wrap_algo,
            slot_signature: &s.slot_signature,
        })
        .collect();
    let outcome = state
        .store
        .commit_rotation(&Commit {
            user_id,
            expected_current: input.expected_current,
            current_signing_key: current_signing_key.as_deref(),
            signing_key: &signing.to_base64(),
            encryption_key: &encryption.to_base64(),
            blobs: &blobs,
            collections: &collections,
            slots: &new_slots,
            now: state.now_ms(),
        })
        .await?;
    match outcome {
        Ok(next) => Ok(next),
        Err(CommitRefused::VersionMismatch(current)) => Err(version_mismatch(current)),
        Err(CommitRefused::KeyChanged) => Err(identity_changed()),
        Err(CommitRefused::NoSuchUser) => Err(AppError::not_found("User")),
        Err(CommitRefused::ForeignCollection) => Err(AppError::NotFound {
            code: "unknown_collection",
            message: "collections: an id is not one of your collections. Nothing was written."
                .into(),
        }),
        Err(CommitRefused::ForeignCredential) => Err(unknown_credential()),
    }
}
