//! `/device-transfer`, `/device-transfer/{id}`, `/device-transfer/{id}/sender`,
//! `/device-transfer/{id}/reveal`, `/device-transfer/{id}/upload`: moving an identity to a
//! new device of the same user, commit-before-reveal (crypto.md §7 v2).

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use super::{timestamp, ApiTags, NoContent, Session};
use crate::error::ApiResult;
use crate::service::device_transfer::{self as service, TransferState, TransferView};
use crate::state::AppState;

/// Where a transfer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum TransferStep {
    /// Waiting for the device that has the keys to join.
    #[oai(rename = "awaiting-sender")]
    AwaitingSender,
    /// Waiting for the new device to reveal the key it committed to.
    #[oai(rename = "awaiting-reveal")]
    AwaitingReveal,
    /// Both keys are known: both screens show the code, and the sending device uploads
    /// once its user confirms the codes match.
    #[oai(rename = "awaiting-confirmation")]
    AwaitingConfirmation,
    /// The sealed seed is there for the new device.
    #[oai(rename = "sealed")]
    Sealed,
}

impl From<TransferState> for TransferStep {
    fn from(state: TransferState) -> Self {
        match state {
            TransferState::AwaitingSender => TransferStep::AwaitingSender,
            TransferState::AwaitingReveal => TransferStep::AwaitingReveal,
            TransferState::AwaitingConfirmation => TransferStep::AwaitingConfirmation,
            TransferState::Sealed => TransferStep::Sealed,
        }
    }
}

/// A device transfer.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct DeviceTransfer {
    /// The transfer's id; both devices bind their keys and signatures to it.
    pub session_id: String,
    /// Where it stands.
    pub state: TransferStep,
    /// base64 SHA-256 commitment to the new device's ephemeral key.
    pub receiver_commitment: String,
    /// base64 X25519 ephemeral key of the sending device, once it joined.
    pub sender_ephemeral_pub: Option<String>,
    /// base64 X25519 ephemeral key of the new device, once revealed.
    pub receiver_ephemeral_pub: Option<String>,
    /// base64 envelope of the seed; only to the new device, once uploaded.
    pub sealed_seed: Option<String>,
    /// base64 Ed25519 signature by the account's identity key over the exchange; only to
    /// the new device, once uploaded.
    pub sender_signature: Option<String>,
    /// Whether the caller is the device that started the transfer (the new device).
    pub is_receiver: bool,
    /// The `User-Agent` the new device signed in with: the old device shows it, so the user
    /// sees which device the keys would go to.
    pub receiver_user_agent: Option<String>,
    /// When the new device signed in.
    pub receiver_signed_in_at: DateTime<Utc>,
    /// When it is deleted whatever happened.
    pub expires_at: DateTime<Utc>,
}

fn transfer(view: TransferView, caller_session: &str) -> DeviceTransfer {
    let row = view.row;
    DeviceTransfer {
        is_receiver: row.receiver_session == caller_session,
        session_id: row.id,
        state: view.state.into(),
        receiver_commitment: row.receiver_commitment,
        sender_ephemeral_pub: row.sender_public,
        receiver_ephemeral_pub: row.receiver_public,
        sealed_seed: row.sealed_seed,
        sender_signature: row.sender_signature,
        expires_at: timestamp(row.expires_at),
        receiver_user_agent: row.receiver_user_agent,
        receiver_signed_in_at: timestamp(row.receiver_signed_in_at),
    }
}

/// Body of `POST /device-transfer`.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewTransfer {
    /// base64 of `SHA-256("parchment-device-transfer-commit-v2" ‖ receiverEphemeralPub)`:
    /// the new device commits to its key before it sees the other device's.
    #[oai(validator(pattern = r"^[A-Za-z0-9+/]{43}=$"))]
    pub receiver_commitment: String,
}

/// Body of `POST /device-transfer/{id}/sender`.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct SenderKey {
    /// base64 X25519 ephemeral key of the sending device.
    #[oai(validator(pattern = r"^[A-Za-z0-9+/]{43}=$"))]
    pub sender_ephemeral_pub: String,
}

/// Body of `POST /device-transfer/{id}/reveal`.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReceiverKey {
    /// base64 X25519 ephemeral key of the new device; must match the commitment.
    #[oai(validator(pattern = r"^[A-Za-z0-9+/]{43}=$"))]
    pub receiver_ephemeral_pub: String,
}

/// Body of `POST /device-transfer/{id}/upload`.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct SealedSeed {
    /// base64 envelope of the seed under the key both ephemeral keys agree on.
    #[oai(validator(min_length = 1, max_length = 512))]
    pub sealed_seed: String,
    /// base64 Ed25519 signature by the account's identity key over the exchange.
    #[oai(validator(pattern = r"^[A-Za-z0-9+/]{86}==$"))]
    pub sender_signature: String,
}

/// Answer to `POST /device-transfer`.
#[derive(ApiResponse)]
pub enum TransferCreated {
    /// Created; show `sessionId` and the commitment to the other device.
    #[oai(status = 201)]
    Created(Json<DeviceTransfer>),
}

/// Handlers of `/device-transfer*`.
#[derive(Default)]
pub struct DeviceTransferApi;

#[OpenApi(tag = "ApiTags::Users")]
impl DeviceTransferApi {
    /// The new device (signed in, without the keys yet) starts a transfer with a
    /// commitment to its ephemeral key. At most 3 unfinished per user (409) and 10 per hour
    /// (429); each lives 10 minutes.
    #[oai(path = "/device-transfer", method = "post")]
    async fn create_transfer(
        &self,
        state: Data<&AppState>,
        session: Session,
        body: Json<NewTransfer>,
    ) -> ApiResult<TransferCreated> {
        let caller = session.principal();
        let view = service::create(&state, caller, &body.0.receiver_commitment).await?;
        Ok(TransferCreated::Created(Json(transfer(
            view,
            &caller.session_id,
        ))))
    }

    /// Where a transfer stands (both devices poll this). The sealed seed is shown only to
    /// the new device. 404 `transfer_expired` once past its time.
    #[oai(path = "/device-transfer/:id", method = "get")]
    async fn get_transfer(
        &self,
        state: Data<&AppState>,
        session: Session,
        id: Path<String>,
    ) -> ApiResult<Json<DeviceTransfer>> {
        let caller = session.principal();
        let view = service::view(&state, caller, &id.0).await?;
        Ok(Json(transfer(view, &caller.session_id)))
    }

    /// The device that has the keys joins with its ephemeral key (once; not from the
    /// session that started the transfer).
    #[oai(path = "/device-transfer/:id/sender", method = "post")]
    async fn join_transfer(
        &self,
        state: Data<&AppState>,
        session: Session,
        id: Path<String>,
        body: Json<SenderKey>,
    ) -> ApiResult<Json<DeviceTransfer>> {
        let caller = session.principal();
        let view = service::join(&state, caller, &id.0, &body.0.sender_ephemeral_pub).await?;
        Ok(Json(transfer(view, &caller.session_id)))
    }

    /// The new device reveals the key it committed to (400 `commitment_mismatch` otherwise).
    #[oai(path = "/device-transfer/:id/reveal", method = "post")]
    async fn reveal_transfer(
        &self,
        state: Data<&AppState>,
        session: Session,
        id: Path<String>,
        body: Json<ReceiverKey>,
    ) -> ApiResult<Json<DeviceTransfer>> {
        let caller = session.principal();
        let view = service::reveal(&state, caller, &id.0, &body.0.receiver_ephemeral_pub).await?;
        Ok(Json(transfer(view, &caller.session_id)))
    }

    /// The sending device uploads the sealed seed after its user confirmed the codes match
    /// (once; the signature must verify under the account's signing key).
    #[oai(path = "/device-transfer/:id/upload", method = "post")]
    async fn upload_transfer(
        &self,
        state: Data<&AppState>,
        session: Session,
        id: Path<String>,
        body: Json<SealedSeed>,
    ) -> ApiResult<Json<DeviceTransfer>> {
        let caller = session.principal();
        let view = service::upload(
            &state,
            caller,
            &id.0,
            &body.0.sealed_seed,
            &body.0.sender_signature,
        )
        .await?;
        Ok(Json(transfer(view, &caller.session_id)))
    }

    /// Ends a transfer: the new device after opening the seed, either device to cancel.
    #[oai(path = "/device-transfer/:id", method = "delete")]
    async fn delete_transfer(
        &self,
        state: Data<&AppState>,
        session: Session,
        id: Path<String>,
    ) -> ApiResult<NoContent> {
        service::delete(&state, session.principal(), &id.0).await?;
        Ok(NoContent::Done)
    }
}
