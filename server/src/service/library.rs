//! `/library/collections*`, the minimal collection store: ids and encrypted metadata (the
//! km-version commit rewrites it).

use super::blobs::check_envelope;
use super::roles;
use super::sessions::Principal;
use crate::error::AppError;
use crate::error_code::ErrorCode;
use crate::secrets;
use crate::state::AppState;
use crate::store::CollectionRow;

/// Collections per account (documented in the API).
pub const MAX_COLLECTIONS: i64 = 1000;

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

/// `GET /library/collections`: the caller's collections, oldest first.
pub async fn list(state: &AppState, caller: &Principal) -> Result<Vec<CollectionRow>, AppError> {
    let user_id = caller.require(roles::LIBRARY_READ)?;
    Ok(state.store.collections_of_user(user_id).await?)
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
