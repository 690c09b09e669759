//! `/sharing/incoming`, `/sharing/incoming/pending`, `/sharing/incoming/{shareId}/accept`,
//! `/sharing/incoming/{shareId}/reject`, `/sharing/incoming/{shareId}`: what friends shared
//! with the caller (the original's paths and shapes).

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};

use super::identity::Success;
use super::{timestamp, ApiTags, Session};
use crate::error::ApiResult;
use crate::service::library;
use crate::service::sharing::{self as service, ShareStatus};
use crate::state::AppState;
use crate::store::IncomingShareRow;

/// What a friend may do with a shared collection: read, or read and send changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum ShareRole {
    /// Read.
    Viewer,
    /// Read and change.
    Editor,
}

impl From<library::ShareRole> for ShareRole {
    fn from(role: library::ShareRole) -> Self {
        match role {
            library::ShareRole::Viewer => ShareRole::Viewer,
            library::ShareRole::Editor => ShareRole::Editor,
        }
    }
}

impl From<ShareRole> for library::ShareRole {
    fn from(role: ShareRole) -> Self {
        match role {
            ShareRole::Viewer => library::ShareRole::Viewer,
            ShareRole::Editor => library::ShareRole::Editor,
        }
    }
}

/// Where a received share stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum IncomingShareStatus {
    /// Not answered yet.
    Pending,
    /// Accepted.
    Accepted,
}

/// A share a friend sent (RESOURCE_SHARE): ciphertext the caller's client opens.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct IncomingShare {
    /// Share id.
    pub id: String,
    /// The friend who shared it.
    pub from_handle: String,
    /// e.g. `collection`.
    pub resource_type: String,
    /// The resource's id on the friend's side.
    pub resource_id: String,
    /// base64 legacy ciphertext of the share's description (crypto.md §4), for the caller.
    pub encrypted_data: String,
    /// base64 12-byte nonce of `encryptedData`.
    pub nonce: String,
    /// What the friend lets the caller do.
    pub role: ShareRole,
    /// Pending or accepted.
    pub status: IncomingShareStatus,
    /// The signed RESOURCE_SHARE as received (the client verifies the friend's signature).
    pub envelope: String,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
}

impl From<IncomingShareRow> for IncomingShare {
    fn from(row: IncomingShareRow) -> Self {
        let status = match ShareStatus::of(&row) {
            ShareStatus::Pending => IncomingShareStatus::Pending,
            ShareStatus::Accepted => IncomingShareStatus::Accepted,
        };
        IncomingShare {
            role: library::ShareRole::of(&row.role).into(),
            status,
            id: row.id,
            from_handle: row.from_handle,
            resource_type: row.resource_type,
            resource_id: row.resource_id,
            encrypted_data: row.encrypted_data,
            nonce: row.data_nonce,
            envelope: row.envelope,
            received_at: timestamp(row.received_at),
        }
    }
}

/// Received shares.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct IncomingShareList {
    /// The newest share of each resource, newest first.
    pub shares: Vec<IncomingShare>,
}

fn list(rows: Vec<IncomingShareRow>) -> Json<IncomingShareList> {
    Json(IncomingShareList {
        shares: rows.into_iter().map(IncomingShare::from).collect(),
    })
}

/// Handlers of `/sharing/incoming*`.
#[derive(Default)]
pub struct SharingApi;

#[OpenApi(tag = "ApiTags::Users")]
impl SharingApi {
    /// What friends shared with the caller, pending and accepted.
    #[oai(path = "/sharing/incoming", method = "get")]
    async fn incoming(
        &self,
        state: Data<&AppState>,
        session: Session,
    ) -> ApiResult<Json<IncomingShareList>> {
        Ok(list(
            service::incoming(&state, session.principal(), false).await?,
        ))
    }

    /// What friends shared with the caller and the caller has not answered yet.
    #[oai(path = "/sharing/incoming/pending", method = "get")]
    async fn pending(
        &self,
        state: Data<&AppState>,
        session: Session,
    ) -> ApiResult<Json<IncomingShareList>> {
        Ok(list(
            service::incoming(&state, session.principal(), true).await?,
        ))
    }

    /// Accept a share (again is fine); older messages of the same resource are dropped.
    #[oai(path = "/sharing/incoming/:shareId/accept", method = "post")]
    async fn accept(
        &self,
        state: Data<&AppState>,
        session: Session,
        #[oai(name = "shareId")] share_id: Path<String>,
    ) -> ApiResult<Json<IncomingShare>> {
        let row = service::accept(&state, session.principal(), &share_id.0).await?;
        Ok(Json(row.into()))
    }

    /// Decline a pending share: it is deleted, with every message of that resource from that
    /// friend (409 `share_accepted` for an accepted one: remove it with `DELETE`).
    #[oai(path = "/sharing/incoming/:shareId/reject", method = "post")]
    async fn reject(
        &self,
        state: Data<&AppState>,
        session: Session,
        #[oai(name = "shareId")] share_id: Path<String>,
    ) -> ApiResult<Json<Success>> {
        service::reject(&state, session.principal(), &share_id.0).await?;
        Ok(Json(Success { success: true }))
    }

    /// Remove a share, accepted or not.
    #[oai(path = "/sharing/incoming/:shareId", method = "delete")]
    async fn remove(
        &self,
        state: Data<&AppState>,
        session: Session,
        #[oai(name = "shareId")] share_id: Path<String>,
    ) -> ApiResult<Json<Success>> {
        service::remove(&state, session.principal(), &share_id.0).await?;
        Ok(Json(Success { success: true }))
    }
}
