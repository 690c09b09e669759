//! Passkeys (WebAuthn, through webauthn-rs). Ceremony state lives in the database, keyed by
//! a random challenge id, so any replica can finish a ceremony another one started.
//!
//! PRF: webauthn-rs 0.5 has no PRF extension field, so the options it generates are edited
//! as JSON: `extensions.prf.eval.first` gets the constant salt of crypto.md §6.2 (D12). The
//! PRF output never reaches the server (the browser hands it to the client code), so nothing
//! needs verifying on the way back. Registration is also edited to require a resident key
//! (discoverable sign-in without typing an email).

use parchment_core::encoding::to_base64url;
use serde_json::{json, Value};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Uuid, Webauthn,
};

use super::auth::SignedIn;
use super::rate_limit::PASSKEY_PER_IP;
use super::sessions;
use super::users::normalize_name;
use crate::error::AppError;
use crate::error_code::ErrorCode;
use crate::secrets;
use crate::state::AppState;
use crate::store::{PasskeyRow, StoreError};

/// crypto.md D12, base64url without padding, as sent in WebAuthn options.
pub const PRF_SALT_B64URL: &str = "MeCGtrfvVLrwofC6pnJ60BGjMbNpBl-cDomzyalFoHY";
const CHALLENGE_TTL_MS: i64 = 5 * 60 * 1000;
const REGISTER: &str = "register";
const AUTHENTICATE: &str = "authenticate";

/// A started WebAuthn ceremony, for the client.
pub struct Ceremony {
    /// Send back with the verify call.
    pub challenge_id: String,
    /// `{"publicKey": {...}}` for `navigator.credentials.create/get`.
    pub options: Value,
}

fn webauthn(state: &AppState) -> Result<&Webauthn, AppError> {
    state.webauthn.as_ref().ok_or_else(|| {
        AppError::Unavailable(
            "Passkeys need PARCHMENT_PUBLIC_URL set to the origin users reach (a domain name)"
                .into(),
        )
    })
}

/// The WebAuthn user handle: derived from the user id, so nothing extra is stored.
fn user_handle(user_id: &str) -> Uuid {
    let hex = secrets::digest(&["webauthn-user", user_id]);
    // 32 hex digits always parse; the fallback only satisfies the type.
    Uuid::parse_str(&hex[..32]).unwrap_or_default()
}

fn rejected(err: impl std::fmt::Display) -> AppError {
    AppError::SignInFailed {
        code: ErrorCode::PasskeyRejected,
        message: format!("The passkey response was not accepted: {err}"),
    }
}

fn invalid_challenge() -> AppError {
    AppError::BadRequest {
        code: ErrorCode::InvalidChallenge,
        message: "Unknown, used or expired challenge; start again".into(),
    }
}

fn with_prf(mut options: Value) -> Value {
    if let Some(public_key) = options.get_mut("publicKey").and_then(Value::as_object_mut) {
        let extensions = public_key.entry("extensions").or_insert_with(|| json!({}));
        if !extensions.is_object() {
            *extensions = json!({});
        }
        if let Some(ext) = extensions.as_object_mut() {
            ext.insert(
                "prf".into(),
                json!({ "eval": { "first": PRF_SALT_B64URL } }),
            );
        }
    }
    options
}

fn corrupt(err: serde_json::Error) -> AppError {
    AppError::Store(StoreError::Corrupt(err.to_string()))
}

async fn start(
    state: &AppState,
    user_id: Option<&str>,
    kind: &str,
    ceremony_state: String,
    options: Value,
) -> Result<Ceremony, AppError> {
    let challenge_id = secrets::random_token();
    state
        .store
        .insert_challenge(
            &challenge_id,
            user_id,
            kind,
            &ceremony_state,
            state.now_ms() + CHALLENGE_TTL_MS,
        )
        .await?;
    Ok(Ceremony {
        challenge_id,
        options: with_prf(options),
    })
}

/// Takes the challenge (single use) and checks it belongs to this ceremony and caller.
async fn take(
    state: &AppState,
    challenge_id: &str,
    kind: &str,
    user_id: Option<&str>,
) -> Result<String, AppError> {
    let row = state
        .store
        .take_challenge(challenge_id)
        .await?
        .ok_or_else(invalid_challenge)?;
    if row.kind != kind || row.user_id.as_deref() != user_id || row.expires_at <= state.now_ms() {
        return Err(invalid_challenge());
    }
    Ok(row.state)
}

/// `POST /auth/passkeys/register/options`: starts registering a passkey for the user (their
/// registered passkeys are excluded).
pub async fn register_options(state: &AppState, user_id: &str) -> Result<Ceremony, AppError> {
    let webauthn = webauthn(state)?;
    let user = super::users::get(state, user_id).await?;
    let existing = state.store.passkeys_of_user(user_id).await?;
    let exclude = existing
        .iter()
        .filter_map(|row| serde_json::from_str::<Passkey>(&row.credential).ok())
        .map(|pk| pk.cred_id().clone())
        .collect::<Vec<_>>();
    let display = match (&user.first_name, &user.last_name) {
        (Some(f), Some(l)) => format!("{f} {l}"),
        (Some(n), None) | (None, Some(n)) => n.clone(),
        (None, None) => user.email.clone(),
    };
    let (ccr, registration) = webauthn
        .start_passkey_registration(user_handle(user_id), &user.email, &display, Some(exclude))
        .map_err(|e| AppError::Unavailable(format!("Passkey registration failed: {e}")))?;
    let mut options = serde_json::to_value(&ccr).map_err(corrupt)?;
    if let Some(selection) = options.pointer_mut("/publicKey/authenticatorSelection") {
        if let Some(selection) = selection.as_object_mut() {
            selection.insert("residentKey".into(), json!("required"));
            selection.insert("requireResidentKey".into(), json!(true));
        }
    }
    let ceremony_state = serde_json::to_string(&registration).map_err(corrupt)?;
    start(state, Some(user_id), REGISTER, ceremony_state, options).await
}

/// `POST /auth/passkeys/register/verify`: checks the new credential against the user's ceremony and
/// stores the passkey (409 when it is registered already).
pub async fn register_verify(
    state: &AppState,
    user_id: &str,
    challenge_id: &str,
    credential: Value,
    name: Option<&str>,
) -> Result<PasskeyRow, AppError> {
    let webauthn = webauthn(state)?;
    let name = normalize_name("name", name.unwrap_or("Passkey"))?;
    let credential: RegisterPublicKeyCredential =
        serde_json::from_value(credential).map_err(|e| {
            AppError::validation("credential", format!("not a registration response: {e}"))
        })?;
    let ceremony_state = take(state, challenge_id, REGISTER, Some(user_id)).await?;
    let registration: PasskeyRegistration =
        serde_json::from_str(&ceremony_state).map_err(corrupt)?;
    let passkey = webauthn
        .finish_passkey_registration(&credential, &registration)
        .map_err(|e| AppError::BadRequest {
            code: ErrorCode::PasskeyRejected,
            message: format!("The passkey response was not accepted: {e}"),
        })?;
    let row = PasskeyRow {
        id: to_base64url(passkey.cred_id().as_ref()),
        user_id: user_id.to_string(),
        name,
        credential: serde_json::to_string(&passkey).map_err(corrupt)?,
        created_at: state.now_ms(),
        last_used_at: None,
    };
    state
        .store
        .insert_passkey(&row)
        .await
        .map_err(AppError::conflict_if_taken(
            ErrorCode::PasskeyExists,
            "This passkey is already registered",
        ))?;
    Ok(row)
}

/// `POST /auth/passkeys/authenticate/options`: starts a discoverable-credential sign-in
/// (rate-limited per client address).
pub async fn authenticate_options(state: &AppState, client_ip: &str) -> Result<Ceremony, AppError> {
    let webauthn = webauthn(state)?;
    state
        .limiter
        .check(PASSKEY_PER_IP, client_ip, state.now_ms())
        .await?;
    let (rcr, authentication) = webauthn
        .start_discoverable_authentication()
        .map_err(|e| AppError::Unavailable(format!("Passkey sign-in failed: {e}")))?;
    let mut options = serde_json::to_value(&rcr).map_err(corrupt)?;
    // webauthn-rs forces conditional mediation; the client picks the UI it wants.
    if let Some(obj) = options.as_object_mut() {
        obj.remove("mediation");
    }
    let ceremony_state = serde_json::to_string(&authentication).map_err(corrupt)?;
    start(state, None, AUTHENTICATE, ceremony_state, options).await
}

/// `POST /auth/passkeys/authenticate/verify`: checks the assertion and signs its user in
/// (rate-limited per client address).
pub async fn authenticate_verify(
    state: &AppState,
    challenge_id: &str,
    credential: Value,
    user_agent: Option<&str>,
    client_ip: &str,
) -> Result<SignedIn, AppError> {
    let webauthn = webauthn(state)?;
    state
        .limiter
        .check(PASSKEY_PER_IP, client_ip, state.now_ms())
        .await?;
    let credential: PublicKeyCredential = serde_json::from_value(credential)
        .map_err(|e| AppError::validation("credential", format!("not an assertion: {e}")))?;
    let ceremony_state = take(state, challenge_id, AUTHENTICATE, None).await?;
    let authentication: DiscoverableAuthentication =
        serde_json::from_str(&ceremony_state).map_err(corrupt)?;
    let (handle, cred_id) = webauthn
        .identify_discoverable_authentication(&credential)
        .map_err(rejected)?;
    let row = state
        .store
        .passkey(&to_base64url(cred_id))
        .await?
        .ok_or_else(|| rejected("unknown credential"))?;
    if user_handle(&row.user_id) != handle {
        return Err(rejected("credential does not belong to this user handle"));
    }
    let mut passkey: Passkey = serde_json::from_str(&row.credential).map_err(corrupt)?;
    let result = webauthn
        .finish_discoverable_authentication(
            &credential,
            authentication,
            &[DiscoverableKey::from(&passkey)],
        )
        .map_err(rejected)?;
    passkey.update_credential(&result);
    let stored = serde_json::to_string(&passkey).map_err(corrupt)?;
    state
        .store
        .update_passkey_use(&row.id, &stored, state.now_ms())
        .await?;
    let user = super::users::get(state, &row.user_id).await?;
    sessions::sign_in(state, user, user_agent, client_ip).await
}

/// `GET /auth/passkeys`: the user's passkeys, oldest first.
pub async fn list(state: &AppState, user_id: &str) -> Result<Vec<PasskeyRow>, AppError> {
    Ok(state.store.passkeys_of_user(user_id).await?)
}

/// `DELETE /auth/passkeys/{id}`: 404 when it is not the user's.
pub async fn delete(state: &AppState, user_id: &str, id: &str) -> Result<(), AppError> {
    if state.store.delete_passkey(user_id, id).await? {
        Ok(())
    } else {
        Err(AppError::not_found("Passkey"))
    }
}

/// Builds the relying party from the public URL; `None` (passkeys off) when it has no domain.
pub fn build_webauthn(public_url: Option<&url::Url>) -> Option<Webauthn> {
    let url = public_url?;
    let host = url.host_str()?;
    let built =
        webauthn_rs::WebauthnBuilder::new(host, url).and_then(|b| b.rp_name("Parchment").build());
    match built {
        Ok(webauthn) => Some(webauthn),
        Err(err) => {
            tracing::warn!(error = %err, "passkeys disabled: the public URL is not a valid relying party");
            None
        }
    }
}
