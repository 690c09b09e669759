//! `/library/collections*`: the caller's collections (encrypted metadata and content, key
//! version, revision) and who each is shared with. The km-version commit rewrites metadata.
//!
//! The server never sees a collection's key or places: the owner's client seals the content
//! under the collection key, wraps that key for each friend and sends the signed
//! RESOURCE_SHARE / RESOURCE_UNSHARE messages itself (`POST /friends/{handle}/messages`). What
//! the server decides is who may write, that writes do not race (the revision) and that a key
//! version only moves forward one step at a time.

use super::blobs::check_envelope;
use super::federation::messages::MAX_SHARE_CONTENT;
use super::friends;
use super::roles;
use super::sessions::Principal;
use crate::error::AppError;
use crate::error_code::ErrorCode;
use crate::secrets;
use crate::state::AppState;
use crate::store::{CollectionRow, CollectionShareRow, ContentWrite};

/// Collections per account (documented in the API).
pub const MAX_COLLECTIONS: i64 = 1000;
/// Friends one collection can be shared with (every change is one message to each).
pub const MAX_SHARES_PER_COLLECTION: i64 = 50;

/// What a friend may do with a shared collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareRole {
    /// Read.
    Viewer,
    /// Read and send changes to the owner.
    Editor,
}

impl ShareRole {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            ShareRole::Viewer => "viewer",
            ShareRole::Editor => "editor",
        }
    }

    /// The stored word read back (anything but `editor` is a viewer).
    pub fn of(word: &str) -> Self {
        if word == "editor" {
            ShareRole::Editor
        } else {
            ShareRole::Viewer
        }
    }
}

/// `POST /library/collections`: a new collection (at most [`MAX_COLLECTIONS`]); returns its id.
pub async fn create(
    state: &AppState,
    caller: &Principal,
    metadata: Option<&str>,
) -> Result<String, AppError> {
    let user_id = caller.require(roles::LIBRARY_WRITE)?;
    if let Some(metadata) = metadata {
        check_envelope("metadataEncrypted", metadata)?;
    }
    // Counted before the insert: racing creates can pass together, a soft cap by the
    // number in flight.
    if state.store.collection_count(user_id).await? >= MAX_COLLECTIONS {
        return Err(AppError::BadRequest {
            code: ErrorCode::TooManyCollections,
            message: format!("at most {MAX_COLLECTIONS} collections per account"),
        });
    }
    let id = secrets::random_id();
    state
        .store
        .insert_collection(&id, user_id, metadata, state.now_ms())
        .await?;
    Ok(id)
}

/// `GET /library/collections`: the caller's collections, oldest first, and who each is
/// shared with.
pub async fn list(
    state: &AppState,
    caller: &Principal,
) -> Result<(Vec<CollectionRow>, Vec<CollectionShareRow>), AppError> {
    let user_id = caller.require(roles::LIBRARY_READ)?;
    Ok((
        state.store.collections_of_user(user_id).await?,
        state.store.collection_shares_of_user(user_id).await?,
    ))
}

/// `DELETE /library/collections/{id}`: 404 when it is not the caller's.
pub async fn delete(state: &AppState, caller: &Principal, id: &str) -> Result<(), AppError> {
    let user_id = caller.require(roles::LIBRARY_WRITE)?;
    if state.store.delete_collection(user_id, id).await? {
        Ok(())
    } else {
        Err(AppError::not_found("Collection"))
    }
}

async fn owned(state: &AppState, user_id: &str, id: &str) -> Result<CollectionRow, AppError> {
    state
        .store
        .collection(user_id, id)
        .await?
        .ok_or_else(|| AppError::not_found("Collection"))
}

/// A content write as the client sent it.
pub struct NewContent<'a> {
    /// Content envelope under the collection key `key_version`.
    pub content: &'a str,
    /// The current key version or the next (a rotation).
    pub key_version: i64,
    /// The revision the client read.
    pub base_revision: i64,
    /// The owner's sealed state (`None`: unchanged).
    pub owner: Option<&'a str>,
}

/// `PUT /library/collections/{id}/content`: the content sealed under key version `key_version`
/// (the current one, or the next: a rotation), with the owner's sealed state, written only if
/// the collection is still at `base_revision`. Returns the new revision.
pub async fn write_content(
    state: &AppState,
    caller: &Principal,
    id: &str,
    new: NewContent<'_>,
) -> Result<i64, AppError> {
    let NewContent {
        content,
        key_version,
        base_revision,
        owner,
    } = new;
    let user_id = caller.require(roles::LIBRARY_WRITE)?;
    // Whose collection first: an unknown id is 404 whatever the body says.
    owned(state, user_id, id).await?;
    // It travels inside RESOURCE_SHARE messages: no larger than one may carry.
    if content.len() > MAX_SHARE_CONTENT {
        return Err(AppError::TooLarge(format!(
            "contentEncrypted: at most {MAX_SHARE_CONTENT} characters (it is sent to friends \
             inside one federation message)"
        )));
    }
    check_envelope("contentEncrypted", content)?;
    if let Some(owner) = owner {
        check_envelope("ownerEncrypted", owner)?;
    }
    let write = ContentWrite {
        id,
        user_id,
        content,
        key_version,
        owner,
        base_revision,
        now: state.now_ms(),
    };
    if let Some(revision) = state.store.write_collection_content(write).await? {
        return Ok(revision);
    }
    // Nothing written: say why.
    let row = owned(state, user_id, id).await?;
    if row.revision != base_revision {
        return Err(AppError::Conflict {
            code: ErrorCode::CollectionChanged,
            message: format!(
                "The collection changed (revision {} now, {base_revision} read): read it again",
                row.revision
            ),
        });
    }
    Err(AppError::validation(
        "keyVersion",
        format!(
            "must be the collection's key version {} or the next one",
            row.key_version
        ),
    ))
}

/// `PUT /library/collections/{id}/shares/{handle}`: shares the collection with a friend (or
/// changes their role). Returns the collection's new revision.
pub async fn share(
    state: &AppState,
    caller: &Principal,
    id: &str,
    handle: &str,
    role: ShareRole,
) -> Result<i64, AppError> {
    let user_id = caller.require(roles::LIBRARY_WRITE)?;
    let row = owned(state, user_id, id).await?;
    let friend = friends::friend(state, user_id, handle).await?;
    state
        .store
        .put_collection_share(
            user_id,
            &row.id,
            &friend.peer_key,
            &friend.friend_handle,
            role.as_str(),
            MAX_SHARES_PER_COLLECTION,
            state.now_ms(),
        )
        .await?
        .ok_or_else(|| AppError::BadRequest {
            code: ErrorCode::TooManyShares,
            message: format!(
                "a collection can be shared with at most {MAX_SHARES_PER_COLLECTION} friends"
            ),
        })
}

/// `DELETE /library/collections/{id}/shares/{handle}`: stops sharing with that friend (also
/// when they are no longer a friend). Returns the collection's new revision.
pub async fn unshare(
    state: &AppState,
    caller: &Principal,
    id: &str,
    handle: &str,
) -> Result<i64, AppError> {
    let user_id = caller.require(roles::LIBRARY_WRITE)?;
    let peer = friends::peer_key(handle)?;
    state
        .store
        .delete_collection_share(user_id, id, &peer, state.now_ms())
        .await?
        .ok_or_else(|| AppError::not_found("Share"))
}
