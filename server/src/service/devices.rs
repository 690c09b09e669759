//! `/users/me/devices/{deviceId}/wrap-secret`, `/users/me/device-wrap-secrets/rotate`: the
//! per-device secrets that wrap a browser's cached seed.

use parchment_core::encoding::to_base64;
use parchment_core::rand_core::{OsRng, RngCore};

use super::rate_limit::{Limit, WRAP_SECRET_READ, WRAP_SECRET_ROTATE};
use crate::error::AppError;
use crate::error_code::ErrorCode;
use crate::state::AppState;

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

pub(super) fn fresh_secret() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    to_base64(&bytes)
}

pub(super) async fn limit(state: &AppState, limit: Limit, user_id: &str) -> Result<(), AppError> {
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
                code: ErrorCode::TooManyDevices,
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
