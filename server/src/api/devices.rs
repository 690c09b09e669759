//! `/users/me/devices/{deviceId}/wrap-secret`, `/users/me/device-wrap-secrets/rotate`: the
//! per-device secrets that wrap a browser's cached seed.

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::{ApiTags, NoContent, Session};
use crate::error::ApiResult;
use crate::service::devices as service;
use crate::state::AppState;

/// A device's wrap secret.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct WrapSecret {
    /// base64 of 32 random bytes; the same until rotated.
    pub secret: String,
}

/// Answer to a rotation.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Rotated {
    /// Always `true`.
    pub ok: bool,
}

/// Handlers of the device wrap secrets.
#[derive(Default)]
pub struct DevicesApi;

#[OpenApi(tag = "ApiTags::Users")]
impl DevicesApi {
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
    ) -> ApiResult<NoContent> {
        service::forget_device_secret(&state, &session.principal().user_id, &device_id.0).await?;
        Ok(NoContent::Done)
    }

    /// Replace every device wrap secret of the caller (cached seeds become unreadable).
    /// 10 per minute per user.
    #[oai(path = "/users/me/device-wrap-secrets/rotate", method = "post")]
    async fn rotate(&self, state: Data<&AppState>, session: Session) -> ApiResult<Json<Rotated>> {
        service::rotate_requested(&state, &session.principal().user_id).await?;
        Ok(Json(Rotated { ok: true }))
    }
}
