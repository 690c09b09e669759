//! `PUT /users/me/keys`, `GET /users/me/km-version`, `POST /users/me/km-version/commit`: the
//! identity's public keys, first published, then replaced (with the current key's signature)
//! together with everything re-encrypted under the new ones.

use parchment_core::key_change::KeyChange;
use parchment_core::keys::{Ed25519PublicKey, Ed25519Signature, X25519PublicKey};

use super::blobs::{check_blob_type, check_envelope};
use super::federation::messages::MAX_SHARE_CONTENT;
use super::key_slots::{check_slot, unknown_credential, SlotInput, MAX_SLOTS};
use crate::error::AppError;
use crate::error_code::ErrorCode;
use crate::state::AppState;
use crate::store::{Commit, CommitCollection, CommitRefused, NewSlot};

/// Blobs, and collections, one commit may carry.
pub const MAX_COMMIT_ITEMS: usize = 10_000;

/// A master-key rotation as the client sent it.
pub struct CommitInput {
    /// The kmVersion the client rotated from.
    pub expected_current: i64,
    /// base64 signature by the CURRENT signing key over the key-change statement; required
    /// once the account has keys.
    pub current_key_signature: Option<String>,
    /// New Ed25519 public key, base64.
    pub signing_key: String,
    /// New X25519 public key, base64.
    pub encryption_key: String,
    /// (blob type, envelope under the new master key).
    pub blobs: Vec<(String, String)>,
    /// Collections re-sealed under the new master key.
    pub collections: Vec<CollectionInput>,
    /// Every key slot, re-sealed and signed by the new signing key.
    pub slots: Vec<SlotInput>,
}

/// One collection of a commit: its metadata and/or content re-sealed (`None`: unchanged).
#[derive(Debug, Clone)]
pub struct CollectionInput {
    /// The collection.
    pub id: String,
    /// Metadata envelope under the new master key.
    pub metadata: Option<String>,
    /// Content envelope under the new seed's collection key.
    pub content: Option<String>,
    /// The owner's sealed state under the new personal key.
    pub owner: Option<String>,
    /// The revision that was re-sealed (`None`: not checked).
    pub revision: Option<i64>,
}

pub(super) fn no_duplicates<'a>(
    field: &str,
    ids: impl Iterator<Item = &'a str>,
) -> Result<(), AppError> {
    let mut seen = std::collections::HashSet::new();
    for id in ids {
        if !seen.insert(id) {
            return Err(AppError::BadRequest {
                code: ErrorCode::DuplicateItem,
                message: format!("{field}: '{id}' appears twice"),
            });
        }
    }
    Ok(())
}

pub(super) fn version_mismatch(current: i64) -> AppError {
    AppError::Conflict {
        code: ErrorCode::KmVersionMismatch,
        message: format!(
            "kmVersion is {current}: another device rotated first. Nothing was written."
        ),
    }
}

pub(super) fn identity_changed() -> AppError {
    AppError::Conflict {
        code: ErrorCode::IdentityChanged,
        message: "The identity keys changed since this commit was signed (an identity reset?). \
                  Nothing was written."
            .into(),
    }
}

/// Once the account has keys, a commit must prove the current signing key: its signature
/// over the key-change statement (user, expectedCurrent, both new keys). Returns the key it
/// was checked against, for the compare-and-swap. A stolen session alone cannot swap keys.
pub(super) async fn check_key_change(
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
            code: ErrorCode::CurrentKeySignatureRequired,
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
            code: ErrorCode::InvalidCurrentKeySignature,
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
    let encryption = check_encryption_key("encryptionKey", &input.encryption_key)?;
    if input.blobs.len() > MAX_COMMIT_ITEMS || input.collections.len() > MAX_COMMIT_ITEMS {
        return Err(AppError::BadRequest {
            code: ErrorCode::TooManyItems,
            message: format!(
                "at most {MAX_COMMIT_ITEMS} blobs and {MAX_COMMIT_ITEMS} collections per commit"
            ),
        });
    }
    if input.slots.len() > MAX_SLOTS {
        return Err(AppError::BadRequest {
            code: ErrorCode::TooManySlots,
            message: format!("at most {MAX_SLOTS} key slots per account"),
        });
    }
    for (i, (blob_type, blob)) in input.blobs.iter().enumerate() {
        check_blob_type(blob_type)?;
        check_envelope(&format!("blobs[{i}].encryptedBlob"), blob)?;
    }
    no_duplicates("blobs", input.blobs.iter().map(|(t, _)| t.as_str()))?;
    for (i, c) in input.collections.iter().enumerate() {
        if let Some(metadata) = &c.metadata {
            check_envelope(&format!("collections[{i}].metadataEncrypted"), metadata)?;
        }
        if let Some(content) = &c.content {
            if content.len() > MAX_SHARE_CONTENT {
                return Err(AppError::TooLarge(format!(
                    "collections[{i}].contentEncrypted: at most {MAX_SHARE_CONTENT} characters"
                )));
            }
            check_envelope(&format!("collections[{i}].contentEncrypted"), content)?;
        }
        if let Some(owner) = &c.owner {
            check_envelope(&format!("collections[{i}].ownerEncrypted"), owner)?;
        }
    }
    no_duplicates(
        "collections",
        input.collections.iter().map(|c| c.id.as_str()),
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
    let collections: Vec<CommitCollection> = input
        .collections
        .iter()
        .map(|c| CommitCollection {
            id: &c.id,
            metadata: c.metadata.as_deref(),
            content: c.content.as_deref(),
            owner: c.owner.as_deref(),
            revision: c.revision,
        })
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
            code: ErrorCode::UnknownCollection,
            message: "collections: an id is not one of your collections. Nothing was written."
                .into(),
        }),
        Err(CommitRefused::ForeignCredential) => Err(unknown_credential()),
        Err(CommitRefused::CollectionChanged) => Err(AppError::Conflict {
            code: ErrorCode::CollectionChanged,
            message: "A collection changed while the rotation was prepared: read it again and \
                      retry. Nothing was written."
                .into(),
        }),
    }
}

/// Checks a base64 Ed25519 public key: 32 bytes, a curve point, not of small order.
pub fn check_signing_key(field: &str, text: &str) -> Result<Ed25519PublicKey, AppError> {
    let key = Ed25519PublicKey::from_base64(text).map_err(|e| bad_key(field, e))?;
    key.validate().map_err(|e| bad_key(field, e))?;
    Ok(key)
}

/// Checks a base64 X25519 public key: 32 bytes, not of low order.
pub fn check_encryption_key(field: &str, text: &str) -> Result<X25519PublicKey, AppError> {
    let key = X25519PublicKey::from_base64(text).map_err(|e| bad_key(field, e))?;
    key.validate().map_err(|e| bad_key(field, e))?;
    Ok(key)
}

pub(super) fn bad_key(field: &str, err: impl std::fmt::Display) -> AppError {
    AppError::BadRequest {
        code: ErrorCode::InvalidKey,
        message: format!("{field}: {err}"),
    }
}

/// First publication of the identity keys (after sign-up or an identity reset). Replacing
/// published keys is a master-key rotation and goes through the km-version commit, so a
/// stolen session cannot silently swap a user's identity here.
pub async fn set_keys(
    state: &AppState,
    user_id: &str,
    signing_key: &str,
    encryption_key: &str,
) -> Result<(), AppError> {
    let signing = check_signing_key("signingKey", signing_key)?;
    let encryption = check_encryption_key("encryptionKey", encryption_key)?;
    // Stored in canonical base64 so byte-equal keys compare equal as text.
    let stored = state
        .store
        .set_initial_keys(
            user_id,
            &signing.to_base64(),
            &encryption.to_base64(),
            state.now_ms(),
        )
        .await?;
    if stored {
        return Ok(());
    }
    super::users::get(state, user_id).await?;
    Err(AppError::Conflict {
        code: ErrorCode::KeysAlreadySet,
        message: "Keys are already published; rotate them with POST /users/me/km-version/commit"
            .into(),
    })
}
