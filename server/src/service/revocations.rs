//! `/users/me/revocations/*`: the revocations an identity reset queued for former peers on
//! other servers, flushed once the client signs them with its NEW identity key.

use std::collections::HashMap;

use parchment_core::canonical::Object;
use parchment_core::federation::MessageType;

use super::federation as fed;
use super::friends::{self, Signed};
use crate::error::AppError;
use crate::error_code::ErrorCode;
use crate::federation::{self, signing::Posted};
use crate::state::AppState;
use crate::store::RevocationRow;

/// Most items one flush call takes.
pub const MAX_FLUSH_ITEMS: usize = 100;

/// `GET /users/me/revocations/pending`: the user's queued revocations, oldest first.
pub async fn pending(state: &AppState, user_id: &str) -> Result<Vec<RevocationRow>, AppError> {
    Ok(state.store.pending_revocations(user_id).await?)
}

/// `DELETE /users/me/revocations/pending/{peerHandle}`: 404 when not queued.
pub async fn discard(state: &AppState, user_id: &str, handle: &str) -> Result<(), AppError> {
    let key = federation::handle_key(&friends::parse_handle(handle)?);
    if state.store.delete_revocation(user_id, &key).await? {
        Ok(())
    } else {
        Err(AppError::NotFound {
            code: ErrorCode::NotFound,
            message: "No pending revocation for this peer".into(),
        })
    }
}

/// One revocation the client signed, to deliver.
pub struct FlushItem {
    /// The queued peer's handle, used verbatim as the envelope's `to`.
    pub peer_handle: String,
    /// base64 Ed25519 signature by the caller's current identity key.
    pub signature: String,
    /// The envelope's nonce.
    pub nonce: String,
    /// The envelope's timestamp (ISO-8601).
    pub timestamp: String,
    /// The envelope's `message_version`; 1 when `None`.
    pub message_version: Option<u32>,
}

/// What became of one [`FlushItem`].
pub struct FlushResult {
    /// The item's peer handle.
    pub peer_handle: String,
    /// The peer's server accepted it (it left the queue).
    pub delivered: bool,
    /// Why it was not delivered.
    pub error: Option<String>,
}

/// `POST /users/me/revocations/flush`: per item, in order: queued for this peer, the
/// RELATIONSHIP_REVOKE envelope the client signed verifies under the caller's CURRENT key
/// (else nothing is sent), then one signed delivery now. Delivered rows are dropped;
/// failures stay queued with their reason.
pub async fn flush(
    state: &AppState,
    user_id: &str,
    items: &[FlushItem],
) -> Result<Vec<FlushResult>, AppError> {
    if items.len() > MAX_FLUSH_ITEMS {
        return Err(AppError::BadRequest {
            code: ErrorCode::TooManyItems,
            message: format!("items: at most {MAX_FLUSH_ITEMS} per call"),
        });
    }
    let failed = |item: &FlushItem, error: String| FlushResult {
        peer_handle: item.peer_handle.clone(),
        delivered: false,
        error: Some(error),
    };
    let (me, key) = match friends::me(state, user_id).await {
        Ok(me) => me,
        Err(err) => {
            return Ok(items
                .iter()
                .map(|item| failed(item, err.to_string()))
                .collect())
        }
    };
    let mut queued: HashMap<String, RevocationRow> = state
        .store
        .pending_revocations(user_id)
        .await?
        .into_iter()
        .map(|row| (row.peer_key.clone(), row))
        .collect();
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        let peer_key = match friends::parse_handle(&item.peer_handle) {
            Ok(handle) => federation::handle_key(&handle),
            Err(err) => {
                results.push(failed(item, err.to_string()));
                continue;
            }
        };
        if !queued.contains_key(&peer_key) {
            results.push(failed(item, "No pending revocation for this peer".into()));
            continue;
        }
        let envelope = match friends::signed_envelope(
            MessageType::RelationshipRevoke,
            item.message_version.unwrap_or(1),
            &me,
            &item.peer_handle,
            Object::new(),
            &Signed {
                signature: &item.signature,
                nonce: &item.nonce,
                timestamp: &item.timestamp,
            },
            &key,
            state.now_ms(),
        ) {
            Ok(envelope) => envelope,
            Err(err) => {
                results.push(failed(item, err.to_string()));
                continue;
            }
        };
        let error = match fed::delivery::post(state, &envelope).await {
            Posted::Accepted => {
                state.store.delete_revocation(user_id, &peer_key).await?;
                queued.remove(&peer_key);
                results.push(FlushResult {
                    peer_handle: item.peer_handle.clone(),
                    delivered: true,
                    error: None,
                });
                continue;
            }
            // We cannot tell that the earlier message with this nonce was this revocation.
            Posted::Replay => {
                "The peer already received a message with this nonce; sign again with a fresh nonce"
                    .to_owned()
            }
            Posted::Refused(reason) => format!("Peer server refused the message: {reason}"),
            Posted::Retry(reason) => format!("Delivery failed: {reason}"),
        };
        state
            .store
            .fail_revocation(user_id, &peer_key, &error, state.now_ms())
            .await?;
        results.push(failed(item, error));
    }
    Ok(results)
}
