//! `/users/me/blobs*`: personal ciphertext blobs. The server checks shapes only: it has no
//! key to any of it.

use parchment_core::encoding::from_base64;
use parchment_core::envelope::check_shape;

use super::roles;
use super::sessions::Principal;
use crate::error::AppError;
use crate::error_code::ErrorCode;
use crate::state::AppState;
use crate::store::{BlobInfoRow, BlobRow};

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
            code: ErrorCode::InvalidBlobType,
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

pub(super) fn too_large(field: &str) -> AppError {
    AppError::BadRequest {
        code: ErrorCode::BlobTooLarge,
        message: format!("{field}: at most {MAX_BLOB_BYTES} bytes once decoded"),
    }
}

pub(super) fn invalid_envelope(field: &str, err: impl std::fmt::Display) -> AppError {
    AppError::BadRequest {
        code: ErrorCode::InvalidEnvelope,
        message: format!("{field}: {err}"),
    }
}

/// `GET /users/me/blobs`: the caller's blobs without ciphertext.
pub async fn list_blobs(
    state: &AppState,
    caller: &Principal,
) -> Result<Vec<BlobInfoRow>, AppError> {
    let user_id = caller.require(roles::LIBRARY_READ)?;
    Ok(state.store.blobs_of_user(user_id).await?)
}

/// `GET /users/me/blobs/{type}`: `None` when the caller has none of this type.
pub async fn get_blob(
    state: &AppState,
    caller: &Principal,
    blob_type: &str,
) -> Result<Option<BlobRow>, AppError> {
    let user_id = caller.require(roles::LIBRARY_READ)?;
    check_blob_type(blob_type)?;
    Ok(state.store.blob(user_id, blob_type).await?)
}

/// `PUT /users/me/blobs/{type}`: checks the type and envelope, then replaces the blob.
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

/// `DELETE /users/me/blobs/{type}`: 404 when absent.
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
