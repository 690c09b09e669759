//! The minimal collection store: ids and encrypted metadata (the commit rewrites it).

use super::keys::check_envelope;
use super::{now_ms, secrets, AppState};
use crate::error::AppError;
use crate::store::CollectionRow;

pub async fn create(
    state: &AppState,
    user_id: &str,
    metadata: Option<&str>,
) -> Result<String, AppError> {
    if let Some(metadata) = metadata {
        check_envelope("metadataEncrypted", metadata)?;
    }
    let id = secrets::random_id();
    state
        .store
        .insert_collection(&id, user_id, metadata, now_ms())
        .await?;
    Ok(id)
}

pub async fn list(state: &AppState, user_id: &str) -> Result<Vec<CollectionRow>, AppError> {
    Ok(state.store.collections_of_user(user_id).await?)
}

pub async fn delete(state: &AppState, user_id: &str, id: &str) -> Result<(), AppError> {
    if state.store.delete_collection(user_id, id).await? {
        Ok(())
    } else {
        Err(AppError::not_found("Collection"))
    }
}
