//! Personal ciphertext blobs and device wrap secrets. The server checks shapes only: it has
//! no key to any of it.

use parchment_core::encoding::{from_base64, to_base64};
use parchment_core::envelope::check_shape;
use parchment_core::rand_core::{OsRng, RngCore};

use super::rate_limit::{Limit, WRAP_SECRET_READ, WRAP_SECRET_ROTATE};
use super::{now_ms, AppState};
use crate::error::AppError;
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

pub async fn list_blobs(state: &AppState, user_id: &str) -> Result<Vec<BlobInfoRow>, AppError> {
    Ok(state.store.blobs_of_user(user_id).await?)
}

pub async fn get_blob(
    state: &AppState,
    user_id: &str,
    blob_type: &str,
) -> Result<Option<BlobRow>, AppError> {
    check_blob_type(blob_type)?;
    Ok(state.store.blob(user_id, blob_type).await?)
}

pub async fn put_blob(
    state: &AppState,
    user_id: &str,
    blob_type: &str,
    encrypted_blob: &str,
    km_version: Option<i64>,
) -> Result<BlobRow, AppError> {
    check_blob_type(blob_type)?;
    check_envelope("encryptedBlob", encrypted_blob)?;
    if km_version.is_some_and(|v| v < 1) {
        return Err(AppError::validation("kmVersion", "must be at least 1"));
    }
    state
        .store
        .put_blob(user_id, blob_type, encrypted_blob, km_version, now_ms())
        .await?
        .ok_or_else(|| AppError::not_found("User"))
}

pub async fn delete_blob(state: &AppState, user_id: &str, blob_type: &str) -> Result<(), AppError> {
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
    state.limiter.check(limit, user_id, now_ms()).await
}

/// The device's wrap secret, created on first use (the same secret for racing first calls).
pub async fn device_secret(
    state: &AppState,
    user_id: &str,
    device_id: &str,
) -> Result<String, AppError> {
    check_device_id(device_id)?;
    limit(state, WRAP_SECRET_READ, user_id).await?;
    Ok(state
        .store
        .device_secret(user_id, device_id, &fresh_secret(), now_ms())
        .await?)
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
        .rotate_device_secrets(user_id, keep, fresh_secret, now_ms())
        .await?)
}

/// `POST /users/me/device-wrap-secrets/rotate` (rate-limited per user).
pub async fn rotate_requested(state: &AppState, user_id: &str) -> Result<u64, AppError> {
    limit(state, WRAP_SECRET_ROTATE, user_id).await?;
    rotate_device_secrets(state, user_id, None).await
}
