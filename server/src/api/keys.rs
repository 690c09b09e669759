use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::{timestamp, ApiTags, Session};
use crate::error::ApiResult;
use crate::service::{keys as service, AppState};
use crate::store::{BlobInfoRow, BlobRow};

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
    /// Deleted.
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
        let rows = service::list_blobs(&state, &session.principal().user_id).await?;
        Ok(Json(BlobList {
            blobs: rows.into_iter().map(BlobInfo::from).collect(),
        }))
    }

    /// One blob, or 204 when the caller has none of this type.
    #[oai(path = "/users/me/blobs/:blob_type", method = "get")]
    async fn get_blob(
        &self,
        state: Data<&AppState>,
        session: Session,
        /// `^[a-zA-Z0-9._:-]{1,64}$`
        #[oai(name = "type")]
        blob_type: Path<String>,
    ) -> ApiResult<BlobResponse> {
        let row = service::get_blob(&state, &session.principal().user_id, &blob_type.0).await?;
        Ok(match row {
            Some(row) => BlobResponse::Found(Json(row.into())),
            None => BlobResponse::Absent,
        })
    }

    /// Store (replace) one blob. A malformed envelope, bad type or oversized blob is 400 and
    /// nothing is written.
    #[oai(path = "/users/me/blobs/:blob_type", method = "put")]
    async fn put_blob(
        &self,
        state: Data<&AppState>,
        session: Session,
        #[oai(name = "type")] blob_type: Path<String>,
        body: Json<BlobPut>,
    ) -> ApiResult<Json<Blob>> {
        let row = service::put_blob(
            &state,
            &session.principal().user_id,
            &blob_type.0,
            &body.encrypted_blob,
            body.km_version,
        )
        .await?;
        Ok(Json(row.into()))
    }

    /// Delete one blob (404 when absent).
    #[oai(path = "/users/me/blobs/:blob_type", method = "delete")]
    async fn delete_blob(
        &self,
        state: Data<&AppState>,
        session: Session,
        #[oai(name = "type")] blob_type: Path<String>,
    ) -> ApiResult<BlobDeleted> {
        service::delete_blob(&state, &session.principal().user_id, &blob_type.0).await?;
        Ok(BlobDeleted::Done)
    }

    /// The wrap secret of one of the caller's devices, created on first use (the client
    /// derives the key that wraps its locally cached seed from it). 60 per minute per user.
    #[oai(path = "/users/me/devices/:device_id/wrap-secret", method = "get")]
    async fn wrap_secret(
        &self,
        state: Data<&AppState>,
        session: Session,
        /// 8–64 of `[a-zA-Z0-9-]`.
        #[oai(name = "deviceId")]
        device_id: Path<String>,
    ) -> ApiResult<Json<WrapSecret>> {
        let secret =
            service::device_secret(&state, &session.principal().user_id, &device_id.0).await?;
        Ok(Json(WrapSecret { secret }))
    }

    /// Replace every device wrap secret of the caller (cached seeds become unreadable).
    /// 10 per minute per user.
    #[oai(path = "/users/me/device-wrap-secrets/rotate", method = "post")]
    async fn rotate(&self, state: Data<&AppState>, session: Session) -> ApiResult<Json<Rotated>> {
        service::rotate_requested(&state, &session.principal().user_id).await?;
        Ok(Json(Rotated { ok: true }))
    }
}
