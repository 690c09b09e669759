//! `/device-transfer*`: moving an identity to a new device of the same user (crypto.md §7,
//! v2 commit-before-reveal; see `parchment_core::device_transfer::v2`).
//!
//! The server only relays public keys, a commitment and ciphertext, but it checks what it
//! can so a confused or hostile client gets a clear refusal and not a dead end: every key is
//! a valid X25519 key, the revealed key matches the commitment, the upload is an envelope
//! signed by the account's identity key over this very exchange. Each step belongs to one
//! device: the new device (the sign-in session that created the transfer) reveals and
//! downloads, the old one (the first other session to join) uploads. A transfer lives 10
//! minutes at most and is deleted after the download is acknowledged.

use parchment_core::device_transfer::v2::{self, Commitment};
use parchment_core::encoding::from_base64;
use parchment_core::envelope::check_shape;
use parchment_core::keys::{Ed25519PublicKey, Ed25519Signature, X25519PublicKey};

use super::devices::limit;
use super::rate_limit::DEVICE_TRANSFER_CREATE;
use super::sessions::Principal;
use crate::error::AppError;
use crate::error_code::ErrorCode;
use crate::secrets::random_id;
use crate::state::AppState;
use crate::store::{NewTransfer, TransferRow};

/// How long a transfer lives from creation.
pub const TTL_MS: i64 = 10 * 60 * 1000;
/// Unfinished transfers a user may have at once.
pub const MAX_LIVE: i64 = 3;
/// The largest sealed seed accepted (base64 characters); a sealed 32-byte seed is 100.
pub const MAX_SEALED_SEED: usize = 512;

/// Where a transfer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferState {
    /// Created by the new device; waiting for the old one to join with its key.
    AwaitingSender,
    /// The old device joined; the new one must reveal the key it committed to.
    AwaitingReveal,
    /// Both keys known: both screens show the code; the old device uploads once the user
    /// confirms they match.
    AwaitingConfirmation,
    /// The sealed seed is there for the new device.
    Sealed,
}

impl TransferState {
    /// The word the API shows.
    pub fn as_str(self) -> &'static str {
        match self {
            TransferState::AwaitingSender => "awaiting-sender",
            TransferState::AwaitingReveal => "awaiting-reveal",
            TransferState::AwaitingConfirmation => "awaiting-confirmation",
            TransferState::Sealed => "sealed",
        }
    }

    /// Every state's word, for the API document.
    pub const ALL: [&'static str; 4] = [
        "awaiting-sender",
        "awaiting-reveal",
        "awaiting-confirmation",
        "sealed",
    ];

    fn of(row: &TransferRow) -> Self {
        if row.sender_public.is_none() {
            TransferState::AwaitingSender
        } else if row.receiver_public.is_none() {
            TransferState::AwaitingReveal
        } else if row.sealed_seed.is_none() {
            TransferState::AwaitingConfirmation
        } else {
            TransferState::Sealed
        }
    }
}

/// A transfer as the caller may see it.
pub struct TransferView {
    /// The stored row; `sealed_seed` and `sender_signature` are `None` unless the caller is
    /// the receiving device.
    pub row: TransferRow,
    /// Where it stands.
    pub state: TransferState,
}

/// `POST /device-transfer`: the new device opens a transfer with its commitment.
pub async fn create(
    state: &AppState,
    caller: &Principal,
    commitment: &str,
) -> Result<TransferView, AppError> {
    Commitment::from_base64(commitment)
        .map_err(|_| AppError::validation("receiverCommitment", "must be 32 bytes of base64"))?;
    limit(state, DEVICE_TRANSFER_CREATE, &caller.user_id).await?;
    let now = state.now_ms();
    let id = random_id();
    let created = state
        .store
        .create_transfer(
            NewTransfer {
                id: &id,
                user_id: &caller.user_id,
                receiver_session: &caller.session_id,
                receiver_commitment: commitment,
                created_at: now,
                expires_at: now + TTL_MS,
            },
            MAX_LIVE,
        )
        .await?;
    if !created {
        return Err(AppError::Conflict {
            code: ErrorCode::TooManyTransfers,
            message: format!(
                "You already have {MAX_LIVE} unfinished device transfers; cancel one or wait \
                 for it to expire"
            ),
        });
    }
    view(state, caller, &id).await
}

/// `GET /device-transfer/{id}`: where it stands (the sealed seed only for the new device).
pub async fn view(
    state: &AppState,
    caller: &Principal,
    id: &str,
) -> Result<TransferView, AppError> {
    let mut row = live(state, caller, id).await?;
    taking_part(&row, caller)?;
    let state_now = TransferState::of(&row);
    if row.receiver_session != caller.session_id {
        row.sealed_seed = None;
        row.sender_signature = None;
    }
    Ok(TransferView {
        row,
        state: state_now,
    })
}

/// `POST /device-transfer/{id}/sender`: the old device joins with its ephemeral key.
pub async fn join(
    state: &AppState,
    caller: &Principal,
    id: &str,
    sender_public: &str,
) -> Result<TransferView, AppError> {
    // Which transfer first (404), then what is asked of it.
    let row = live(state, caller, id).await?;
    let key = x25519("senderEphemeralPub", sender_public)?;
    if row.receiver_session == caller.session_id {
        return Err(other_device(
            "The device that started the transfer cannot also send; open it on the device that \
             already has your keys",
        ));
    }
    expect(&row, TransferState::AwaitingSender)?;
    let joined = state
        .store
        .join_transfer(id, &caller.session_id, &key.to_base64(), state.now_ms())
        .await?;
    moved_on_unless(joined)?;
    view(state, caller, id).await
}

/// `POST /device-transfer/{id}/reveal`: the new device reveals the key it committed to.
pub async fn reveal(
    state: &AppState,
    caller: &Principal,
    id: &str,
    receiver_public: &str,
) -> Result<TransferView, AppError> {
    let row = live(state, caller, id).await?;
    let key = x25519("receiverEphemeralPub", receiver_public)?;
    receiver_only(&row, caller)?;
    expect(&row, TransferState::AwaitingReveal)?;
    let committed = Commitment::from_base64(&row.receiver_commitment)
        .map_err(|_| AppError::validation("receiverCommitment", "stored value is malformed"))?;
    if !committed.opens_to(&key) {
        return Err(AppError::BadRequest {
            code: ErrorCode::CommitmentMismatch,
            message: "receiverEphemeralPub: is not the key this transfer committed to".into(),
        });
    }
    let revealed = state
        .store
        .reveal_transfer(id, &caller.session_id, &key.to_base64(), state.now_ms())
        .await?;
    moved_on_unless(revealed)?;
    view(state, caller, id).await
}

/// `POST /device-transfer/{id}/upload`: the old device uploads the sealed seed after the
/// user confirmed the codes match.
pub async fn upload(
    state: &AppState,
    caller: &Principal,
    id: &str,
    sealed_seed: &str,
    sender_signature: &str,
) -> Result<TransferView, AppError> {
    let row = live(state, caller, id).await?;
    if sealed_seed.len() > MAX_SEALED_SEED {
        return Err(AppError::validation(
            "sealedSeed",
            format!("must be at most {MAX_SEALED_SEED} characters"),
        ));
    }
    let envelope = from_base64(sealed_seed)
        .map_err(|e| AppError::validation("sealedSeed", format!("not base64: {e}")))?;
    check_shape(&envelope)
        .map_err(|e| AppError::validation("sealedSeed", format!("not an envelope: {e}")))?;
    let signature = Ed25519Signature::from_base64(sender_signature)
        .map_err(|e| AppError::validation("senderSignature", e))?;
    if row.sender_session.as_deref() != Some(caller.session_id.as_str()) {
        return Err(other_device(
            "Only the device that joined this transfer as the sender can upload",
        ));
    }
    expect(&row, TransferState::AwaitingConfirmation)?;
    // The account's identity key must have signed this exchange: a stolen session alone
    // cannot plant a seed on the new device (which checks this again before opening).
    let user = super::users::get(state, &caller.user_id).await?;
    let account = user
        .signing_key
        .as_deref()
        .and_then(|k| Ed25519PublicKey::from_base64(k).ok())
        .ok_or_else(|| AppError::Conflict {
            code: ErrorCode::NoSigningKey,
            message: "This account has no identity key to transfer yet".into(),
        })?;
    let (Some(receiver), Some(sender)) = (&row.receiver_public, &row.sender_public) else {
        return Err(moved_on());
    };
    let signable = v2::sender_signable(
        &x25519("receiverEphemeralPub", receiver)?,
        &x25519("senderEphemeralPub", sender)?,
        id,
    );
    account
        .verify(signable.as_bytes(), &signature)
        .map_err(|_| AppError::Denied {
            code: ErrorCode::InvalidSignature,
            message: "senderSignature: does not verify under the account's signing key for \
                      this transfer"
                .into(),
        })?;
    let sealed = state
        .store
        .seal_transfer(
            id,
            &caller.session_id,
            (sealed_seed, sender_signature),
            state.now_ms(),
        )
        .await?;
    moved_on_unless(sealed)?;
    view(state, caller, id).await
}

/// `DELETE /device-transfer/{id}`: either device ends it (after the download, or to cancel).
pub async fn delete(state: &AppState, caller: &Principal, id: &str) -> Result<(), AppError> {
    // Expired or not: either device may end it.
    let row = state
        .store
        .transfer(&caller.user_id, id)
        .await?
        .ok_or_else(|| AppError::not_found("Device transfer"))?;
    taking_part(&row, caller)?;
    if state.store.delete_transfer(&caller.user_id, id).await? {
        Ok(())
    } else {
        Err(AppError::not_found("Device transfer"))
    }
}

/// The caller's transfer `id`, refused once expired.
async fn live(state: &AppState, caller: &Principal, id: &str) -> Result<TransferRow, AppError> {
    let row = state
        .store
        .transfer(&caller.user_id, id)
        .await?
        .ok_or_else(|| AppError::not_found("Device transfer"))?;
    if row.expires_at <= state.now_ms() {
        // Both devices keep hearing "expired" (not "unknown") until housekeeping deletes the
        // row; whatever ciphertext it held goes now.
        if row.sealed_seed.is_some() {
            state.store.scrub_transfer(id).await?;
        }
        return Err(AppError::NotFound {
            code: ErrorCode::TransferExpired,
            message: "This device transfer has expired; start a new one on the new device".into(),
        });
    }
    Ok(row)
}

/// Once the old device joined, only the two devices taking part see or end the transfer;
/// before that, any session of the user may (that is how the old device finds it).
fn taking_part(row: &TransferRow, caller: &Principal) -> Result<(), AppError> {
    let me = caller.session_id.as_str();
    match row.sender_session.as_deref() {
        Some(sender) if sender != me && row.receiver_session != me => Err(other_device(
            "Another device already joined this transfer; if that was not you, sign out your \
             other sessions",
        )),
        _ => Ok(()),
    }
}

fn receiver_only(row: &TransferRow, caller: &Principal) -> Result<(), AppError> {
    if row.receiver_session == caller.session_id {
        Ok(())
    } else {
        Err(other_device(
            "Only the device that started this transfer can do this",
        ))
    }
}

fn other_device(message: &str) -> AppError {
    AppError::Denied {
        code: ErrorCode::TransferOtherDevice,
        message: message.into(),
    }
}

fn expect(row: &TransferRow, wanted: TransferState) -> Result<(), AppError> {
    let now = TransferState::of(row);
    if now == wanted {
        Ok(())
    } else {
        Err(AppError::Conflict {
            code: ErrorCode::TransferState,
            message: format!(
                "This device transfer is {}, not {}",
                now.as_str(),
                wanted.as_str()
            ),
        })
    }
}

fn moved_on() -> AppError {
    AppError::Conflict {
        code: ErrorCode::TransferState,
        message: "This device transfer moved on meanwhile (another request, or it expired)".into(),
    }
}

fn moved_on_unless(done: bool) -> Result<(), AppError> {
    if done {
        Ok(())
    } else {
        Err(moved_on())
    }
}

fn x25519(field: &str, text: &str) -> Result<X25519PublicKey, AppError> {
    let key = X25519PublicKey::from_base64(text).map_err(|e| AppError::validation(field, e))?;
    key.validate().map_err(|e| AppError::validation(field, e))?;
    Ok(key)
}
