//! `/library/collections*`: the caller's collections (ids and encrypted metadata).

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::{timestamp, ApiTags, Session};
use crate::error::ApiResult;
use crate::service::library as service;
use crate::state::AppState;
use crate::store::CollectionRow;

/// A collection to create.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewCollection {
    /// base64 v2 envelope of the name and description (the server cannot read it).
    pub metadata_encrypted: Option<String>,
}

/// The id of a created collection.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct CollectionId {
    /// Collection id.
    pub id: String,
}

/// Answer to `POST /library/collections`.
#[derive(ApiResponse)]
pub enum CollectionCreated {
    /// Created.
    #[oai(status = 201)]
    Created(Json<CollectionId>),
}

/// One of the caller's collections.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Collection {
    /// Collection id.
    pub id: String,
    /// base64 v2 envelope of the name and description; `null` when none was given.
    pub metadata_encrypted: Option<String>,
    /// Master-key generation the metadata is sealed under.
    pub metadata_key_version: i64,
    /// When the collection was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed (e.g. re-sealed by a master-key rotation).
    pub updated_at: DateTime<Utc>,
}

impl From<CollectionRow> for Collection {
    fn from(row: CollectionRow) -> Self {
        Collection {
            id: row.id,
            metadata_encrypted: row.metadata_encrypted,
            metadata_key_version: row.metadata_key_version,
            created_at: timestamp(row.created_at),
            updated_at: timestamp(row.updated_at),
        }
    }
}

/// The caller's collections.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct CollectionList {
    /// Oldest first.
    pub collections: Vec<Collection>,
}

/// Answer to `DELETE /library/collections/{id}`.
#[derive(ApiResponse)]
pub enum CollectionDeleted {
    /// Deleted.
    #[oai(status = 204)]
    Done,
}

/// Handlers of `/library/collections*`.
#[derive(Default)]
pub struct LibraryApi;

#[OpenApi(tag = "ApiTags::Users")]
impl LibraryApi {
    /// Create a collection of the caller.
    #[oai(path = "/library/collections", method = "post")]
    async fn create(
        &self,
        state: Data<&AppState>,
        session: Session,
        body: Json<NewCollection>,
    ) -> ApiResult<CollectionCreated> {
        let id = service::create(
            &state,
            session.principal(),
            body.metadata_encrypted.as_deref(),
        )
        .await?;
        Ok(CollectionCreated::Created(Json(CollectionId { id })))
    }

    /// The caller's collections, oldest first.
    #[oai(path = "/library/collections", method = "get")]
    async fn list(
        &self,
        state: Data<&AppState>,
        session: Session,
    ) -> ApiResult<Json<CollectionList>> {
        let rows = service::list(&state, session.principal()).await?;
        Ok(Json(CollectionList {
            collections: rows.into_iter().map(Collection::from).collect(),
        }))
    }

    /// Delete one of the caller's collections (404 when it is not theirs).
    #[oai(path = "/library/collections/:id", method = "delete")]
    async fn delete(
        &self,
        state: Data<&AppState>,
        session: Session,
        id: Path<String>,
    ) -> ApiResult<CollectionDeleted> {
        service::delete(&state, session.principal(), &id.0).await?;
        Ok(CollectionDeleted::Done)
    }
}
