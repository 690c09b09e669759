//! Federated identity: alias (the local part of `alias@domain`) and the published public keys.

use parchment_core::keys::{Ed25519PublicKey, X25519PublicKey};

use crate::error::AppError;
use crate::state::AppState;
use crate::store::{StoreError, UserRow};

/// Refused as aliases: names that impersonate the operator or a role account.
const RESERVED_ALIASES: &[&str] = &[
    "admin",
    "administrator",
    "root",
    "support",
    "postmaster",
    "abuse",
    "hostmaster",
    "webmaster",
    "security",
    "system",
    "parchment",
    "noreply",
    "no_reply",
    "help",
    "info",
    "staff",
    "moderator",
    "official",
    "server",
    "federation",
];

pub struct Identity {
    pub user: UserRow,
    pub domain: String,
}

impl Identity {
    pub fn handle(&self) -> Option<String> {
        self.user
            .alias
            .as_ref()
            .map(|alias| format!("{alias}@{}", self.domain))
    }
}

fn domain(state: &AppState) -> Result<String, AppError> {
    state.settings.domain().ok_or_else(|| {
        AppError::Unavailable("Federation needs PARCHMENT_PUBLIC_URL (the server's domain)".into())
    })
}

pub async fn identity(state: &AppState, user_id: &str) -> Result<Identity, AppError> {
    let domain = domain(state)?;
    let user = super::users::get(state, user_id).await?;
    Ok(Identity { user, domain })
}

/// `^[A-Za-z0-9_]{3,30}$`, not reserved (compared case-insensitively).
pub fn check_alias(alias: &str) -> Result<String, AppError> {
    let well_formed = (3..=30).contains(&alias.len())
        && alias
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !well_formed {
        return Err(AppError::BadRequest {
            code: "invalid_alias",
            message: "alias: use 3-30 letters, digits or underscores".into(),
        });
    }
    let normalized = alias.to_ascii_lowercase();
    if RESERVED_ALIASES.contains(&normalized.as_str()) {
        return Err(AppError::BadRequest {
            code: "alias_reserved",
            message: format!("alias: '{alias}' is reserved"),
        });
    }
    Ok(normalized)
}

pub async fn set_alias(state: &AppState, user_id: &str, alias: &str) -> Result<Identity, AppError> {
    // No domain, no handle: refuse before writing anything.
    domain(state)?;
    let normalized = check_alias(alias)?;
    let updated = state
        .store
        .set_alias(user_id, alias, &normalized, state.now_ms())
        .await
        .map_err(|err| match err {
            StoreError::UniqueViolation => AppError::Conflict {
                code: "alias_taken",
                message: "Alias is already taken".into(),
            },
            other => other.into(),
        })?;
    if !updated {
        return Err(AppError::not_found("User"));
    }
    identity(state, user_id).await
}

/// Checks a base64 Ed25519 public key: 32 bytes, a curve point, not of small order.
pub fn check_signing_key(field: &str, text: &str) -> Result<Ed25519PublicKey, AppError> {
    let key = Ed25519PublicKey::from_base64(text).map_err(|e| bad_key(field, e))?;
    key.validate().map_err(|e| bad_key(field, e))?;
    Ok(key)
}

/// Checks a base64 X25519 public key: 32 bytes, not of low order.
pub fn check_encryption_key(field: &str, text: &str) -> Result<X25519PublicKey, AppError> {
    let key = X25519PublicKey::from_base64(text).map_err(|e| bad_key(field, e))?;
    key.validate().map_err(|e| bad_key(field, e))?;
    Ok(key)
}

fn bad_key(field: &str, err: impl std::fmt::Display) -> AppError {
    AppError::BadRequest {
        code: "invalid_key",
        message: format!("{field}: {err}"),
    }
}

/// First publication of the identity keys (after sign-up or an identity reset). Replacing
/// published keys is a master-key rotation and goes through the km-version commit, so a
/// stolen session cannot silently swap a user's identity here.
pub async fn set_keys(
    state: &AppState,
    user_id: &str,
    signing_key: &str,
    encryption_key: &str,
) -> Result<(), AppError> {
    let signing = check_signing_key("signingKey", signing_key)?;
    let encryption = check_encryption_key("encryptionKey", encryption_key)?;
    // Stored in canonical base64 so byte-equal keys compare equal as text.
    let stored = state
        .store
        .set_initial_keys(
            user_id,
            &signing.to_base64(),
            &encryption.to_base64(),
            state.now_ms(),
        )
        .await?;
    if stored {
        return Ok(());
    }
    super::users::get(state, user_id).await?;
    Err(AppError::Conflict {
        code: "keys_already_set",
        message: "Keys are already published; rotate them with POST /users/me/km-version/commit"
            .into(),
    })
}
