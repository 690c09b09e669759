//! `/sharing/incoming*`: what friends shared with the caller (RESOURCE_SHARE). A share is
//! pending until the caller accepts it; declining deletes it, so it leaves no row. When a
//! friend shared the same resource several times, the newest message is the share.

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

/// `GET /sharing/incoming` (`pending_only`: `/sharing/incoming/pending`): the newest message
/// of each shared resource, newest first.
pub async fn incoming(
    state: &AppState,
    caller: &Principal,
    pending_only: bool,
) -> Result<Vec<IncomingShareRow>, AppError> {
    let user_id = caller.require(roles::SHARING_READ)?;
    let rows = state.store.incoming_shares(user_id).await?;
    let mut seen = std::collections::HashSet::new();
    Ok(rows
        .into_iter()
        .filter(|r| {
            seen.insert((
                r.peer_key.clone(),
                r.resource_type.clone(),
                r.resource_id.clone(),
            ))
        })
        .filter(|r| !pending_only || ShareStatus::of(r) == ShareStatus::Pending)
        .collect())
}

async fn newest(state: &AppState, user_id: &str, id: &str) -> Result<IncomingShareRow, AppError> {
    state
        .store
        .incoming_share(user_id, id)
        .await?
        .ok_or_else(|| AppError::not_found("Share"))
}

/// `POST /sharing/incoming/{id}/accept`: accepts the share (again is fine); older messages of
/// the same resource go.
pub async fn accept(
    state: &AppState,
    caller: &Principal,
    id: &str,
) -> Result<IncomingShareRow, AppError> {
    let user_id = caller.require(roles::SHARING_WRITE)?;
    let share = newest(state, user_id, id).await?;
    if !state.store.accept_incoming_share(user_id, &share).await? {
        return Err(AppError::not_found("Share"));
    }
    newest(state, user_id, id).await
}

/// `POST /sharing/incoming/{id}/reject`: declines a pending share; every message of that
/// resource from that friend is deleted. An accepted share is removed with `DELETE`.
pub async fn reject(state: &AppState, caller: &Principal, id: &str) -> Result<(), AppError> {
    let user_id = caller.require(roles::SHARING_WRITE)?;
    let share = newest(state, user_id, id).await?;
    if ShareStatus::of(&share) == ShareStatus::Accepted {
        return Err(AppError::Conflict {
            code: ErrorCode::ShareAccepted,
            message: "This share was accepted; remove it with DELETE /sharing/incoming/{id}".into(),
        });
    }
    Ok(state.store.drop_incoming_share(user_id, &share).await?)
}

/// `DELETE /sharing/incoming/{id}`: removes a share, accepted or not (every message of that
/// resource from that friend).
pub async fn remove(state: &AppState, caller: &Principal, id: &str) -> Result<(), AppError> {
    let user_id = caller.require(roles::SHARING_WRITE)?;
    let share = newest(state, user_id, id).await?;
    Ok(state.store.drop_incoming_share(user_id, &share).await?)
}
