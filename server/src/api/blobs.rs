//! `/users/me/blobs*`: the caller's personal ciphertext blobs, one per type.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::{timestamp, ApiTags, NoContent, Session};
use crate::error::ApiResult;
use crate::service::blobs as service;
use crate::state::AppState;
use crate::store::{BlobInfoRow, BlobRow};

/// A blob without its ciphertext.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct BlobInfo {
    /// The blob's type, e.g. `places` (`^[a-zA-Z0-9._:-]{1,64}$`).
    pub blob_type: String,
    /// Master-key generation the blob is sealed under.
    pub km_version: i64,
    /// When it was last stored.
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

/// The caller's blobs.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct BlobList {
    /// Ordered by type.
    pub blobs: Vec<BlobInfo>,
}

/// One blob with its ciphertext.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Blob {
    /// The blob's type.
    pub blob_type: String,
    /// base64 v2 envelope, returned byte-exact.
    pub encrypted_blob: String,
    /// Master-key generation the blob is sealed under.
    pub km_version: i64,
    /// When it was last stored.
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

/// Answer to `GET /users/me/blobs/{type}`.
#[derive(ApiResponse)]
pub enum BlobResponse {
    /// The blob.
    #[oai(status = 200)]
    Found(Json<Blob>),
    /// No blob of this type.
    #[oai(status = 204)]
    Absent,
}

/// A blob to store in place of the current one.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct BlobPut {
    /// base64 v2 envelope (version 0x02, a known algorithm, ≥ 30 bytes), at most 1 MiB
    /// decoded.
    pub encrypted_blob: String,
    /// Master-key generation it is sealed under; default: the caller's current one.
    pub km_version: Option<i64>,
}

/// Handlers of `/users/me/blobs*`.
#[derive(Default)]
pub struct BlobsApi;

#[OpenApi(tag = "ApiTags::Users")]
impl BlobsApi {
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
    ) -> ApiResult<NoContent> {
        service::delete_blob(&state, session.principal(), &blob_type.0).await?;
        Ok(NoContent::Done)
    }
}
