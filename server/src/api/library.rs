//! `/library/collections`, `/library/collections/{id}`, `/library/collections/{id}/content`,
//! `/library/collections/{id}/shares/{handle}`: the caller's collections (ids, encrypted
//! metadata and content) and who each is shared with.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::sharing::ShareRole;
use super::{timestamp, ApiTags, Session};
use crate::error::ApiResult;
use crate::service::library::{self as service, NewContent};
use crate::state::AppState;
use crate::store::{CollectionRow, CollectionShareRow};

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
    /// base64 v2 envelope of the content (name and places), sealed under the collection key
    /// `keyVersion` (crypto.md D5); `null` until the owner writes it.
    pub content_encrypted: Option<String>,
    /// Collection key version, 1 or more.
    pub key_version: i64,
    /// Bumped by every change of content or of who it is shared with; RESOURCE_SHARE and
    /// RESOURCE_UNSHARE carry it.
    pub revision: i64,
    /// base64 v2 envelope only the owner's client opens (sealed under their personal key): the
    /// friends it is shared with and the keys pinned for them, the key version and a digest of
    /// the content. `null` until the owner writes it.
    pub owner_encrypted: Option<String>,
    /// The friends it is shared with, oldest first (the server's copy; the owner's client
    /// trusts its sealed list).
    pub shares: Vec<CollectionShare>,
    /// When the collection was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed (e.g. re-sealed by a master-key rotation).
    pub updated_at: DateTime<Utc>,
}

/// A friend a collection is shared with.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct CollectionShare {
    /// The friend's handle.
    pub handle: String,
    /// What they may do.
    pub role: ShareRole,
    /// When it was first shared with them.
    pub shared_at: DateTime<Utc>,
}

impl Collection {
    fn new(row: CollectionRow, shares: &[CollectionShareRow]) -> Self {
        Collection {
            shares: shares
                .iter()
                .filter(|s| s.collection_id == row.id)
                .map(|s| CollectionShare {
                    handle: s.recipient_handle.clone(),
                    role: service::ShareRole::of(&s.role).into(),
                    shared_at: timestamp(s.created_at),
                })
                .collect(),
            id: row.id,
            metadata_encrypted: row.metadata_encrypted,
            metadata_key_version: row.metadata_key_version,
            content_encrypted: row.content_encrypted,
            owner_encrypted: row.owner_encrypted,
            key_version: row.key_version,
            revision: row.revision,
            created_at: timestamp(row.created_at),
            updated_at: timestamp(row.updated_at),
        }
    }
}

/// New content of a collection.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContentUpdate {
    /// base64 v2 envelope of the content, sealed under the collection key `keyVersion`; at most
    /// 49,152 characters (it travels to friends inside one federation message).
    #[oai(validator(
        min_length = 40,
        max_length = 49152,
        pattern = r"^[A-Za-z0-9+/]+={0,2}$"
    ))]
    pub content_encrypted: String,
    /// The collection's key version, or the next one (a rotation, after a friend was removed).
    #[oai(validator(minimum(value = "1"), maximum(value = "9007199254740991")))]
    pub key_version: i64,
    /// The `revision` the client read: the write is refused (409 `collection_changed`) when the
    /// collection changed since.
    #[oai(validator(minimum(value = "0"), maximum(value = "9007199254740991")))]
    pub revision: i64,
    /// base64 v2 envelope of the owner's own state (who it is shared with, pinned keys, a
    /// digest of the content), sealed under their personal key; absent: unchanged.
    #[oai(validator(
        min_length = 40,
        max_length = 262144,
        pattern = r"^[A-Za-z0-9+/]+={0,2}$"
    ))]
    pub owner_encrypted: Option<String>,
}

/// A friend to share a collection with.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct ShareUpdate {
    /// What they may do.
    pub role: ShareRole,
}

/// The collection's revision after a change.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Revision {
    /// The new revision: what the messages about this change carry.
    pub revision: i64,
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
        let (rows, shares) = service::list(&state, session.principal()).await?;
        Ok(Json(CollectionList {
            collections: rows
                .into_iter()
                .map(|row| Collection::new(row, &shares))
                .collect(),
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

    /// Replace a collection's content (sealed by the client under the collection key).
    #[oai(path = "/library/collections/:id/content", method = "put")]
    async fn write_content(
        &self,
        state: Data<&AppState>,
        session: Session,
        id: Path<String>,
        body: Json<ContentUpdate>,
    ) -> ApiResult<Json<Revision>> {
        let revision = service::write_content(
            &state,
            session.principal(),
            &id.0,
            NewContent {
                content: &body.content_encrypted,
                key_version: body.key_version,
                base_revision: body.revision,
                owner: body.owner_encrypted.as_deref(),
            },
        )
        .await?;
        Ok(Json(Revision { revision }))
    }

    /// Share a collection with a friend, or change their role. The caller's client then sends
    /// them the signed RESOURCE_SHARE (`POST /friends/{handle}/messages`).
    #[oai(path = "/library/collections/:id/shares/:handle", method = "put")]
    async fn share(
        &self,
        state: Data<&AppState>,
        session: Session,
        id: Path<String>,
        handle: Path<String>,
        body: Json<ShareUpdate>,
    ) -> ApiResult<Json<Revision>> {
        let revision = service::share(
            &state,
            session.principal(),
            &id.0,
            &handle.0,
            body.role.into(),
        )
        .await?;
        Ok(Json(Revision { revision }))
    }

    /// Stop sharing a collection with a friend. The caller's client then rotates the key,
    /// sends the others their new key and this friend a signed RESOURCE_UNSHARE.
    #[oai(path = "/library/collections/:id/shares/:handle", method = "delete")]
    async fn unshare(
        &self,
        state: Data<&AppState>,
        session: Session,
        id: Path<String>,
        handle: Path<String>,
    ) -> ApiResult<Json<Revision>> {
        let revision = service::unshare(&state, session.principal(), &id.0, &handle.0).await?;
        Ok(Json(Revision { revision }))
    }
}
