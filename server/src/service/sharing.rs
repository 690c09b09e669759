//! `/sharing/incoming*`: what friends shared with the caller (RESOURCE_SHARE). A share is
//! pending until the caller accepts it; declining deletes it, so it leaves no row. A friend
//! sharing the same resource again updates the share (it stays accepted if it was).

use super::roles;
use super::sessions::Principal;
use crate::error::AppError;
use crate::error_code::ErrorCode;
use crate::state::AppState;
use crate::store::IncomingShareRow;

/// Where a received share stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareStatus {
    /// Received, not answered yet.
    Pending,
    /// The caller accepted it.
    Accepted,
}

impl ShareStatus {
    /// The stored word (`pending` unless accepted: anything else is treated as pending).
    pub fn of(row: &IncomingShareRow) -> Self {
        if row.status == "accepted" {
            ShareStatus::Accepted
        } else {
            ShareStatus::Pending
        }
    }
}

/// `GET /sharing/incoming` (`pending_only`: `/sharing/incoming/pending`): newest first.
pub async fn incoming(
    state: &AppState,
    caller: &Principal,
    pending_only: bool,
) -> Result<Vec<IncomingShareRow>, AppError> {
    let user_id = caller.require(roles::SHARING_READ)?;
    let rows = state.store.incoming_shares(user_id).await?;
    Ok(rows
        .into_iter()
        .filter(|r| !pending_only || ShareStatus::of(r) == ShareStatus::Pending)
        .collect())
}

async fn share(state: &AppState, user_id: &str, id: &str) -> Result<IncomingShareRow, AppError> {
    state
        .store
        .incoming_share(user_id, id)
        .await?
        .ok_or_else(|| AppError::not_found("Share"))
}

/// `POST /sharing/incoming/{id}/accept`: accepts the share (again is fine).
pub async fn accept(
    state: &AppState,
    caller: &Principal,
    id: &str,
) -> Result<IncomingShareRow, AppError> {
    let user_id = caller.require(roles::SHARING_WRITE)?;
    if !state.store.accept_incoming_share(user_id, id).await? {
        return Err(AppError::not_found("Share"));
    }
    share(state, user_id, id).await
}

/// `POST /sharing/incoming/{id}/reject`: declines a pending share, which deletes it. An
/// accepted share is removed with `DELETE` (409 here).
pub async fn reject(state: &AppState, caller: &Principal, id: &str) -> Result<(), AppError> {
    let user_id = caller.require(roles::SHARING_WRITE)?;
    if state.store.decline_incoming_share(user_id, id).await? {
        return Ok(());
    }
    // Not pending: accepted (409) or not there (404).
    share(state, user_id, id).await?;
    Err(AppError::Conflict {
        code: ErrorCode::ShareAccepted,
        message: "This share was accepted; remove it with DELETE /sharing/incoming/{id}".into(),
    })
}

/// `DELETE /sharing/incoming/{id}`: removes a share, accepted or not.
pub async fn remove(state: &AppState, caller: &Principal, id: &str) -> Result<(), AppError> {
    let user_id = caller.require(roles::SHARING_WRITE)?;
    if state.store.remove_incoming_share(user_id, id).await? {
        Ok(())
    } else {
        Err(AppError::not_found("Share"))
    }
}
