//! `/users/me/identity`, `/users/me/alias`, `POST /users/me/identity/reset`: the federated
//! identity (alias, the local part of `alias@domain`, and the published keys) and its reset for
//! a user who lost every copy of their seed (which queues revocations for former peers).

use super::federation as fed;
use crate::error::AppError;
use crate::error_code::ErrorCode;
use crate::state::AppState;
use crate::store::UserRow;

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

/// A user's federated identity.
pub struct Identity {
    /// The user.
    pub user: UserRow,
    /// This server's federation domain.
    pub domain: String,
}

impl Identity {
    /// `alias@domain`; `None` until an alias is chosen.
    pub fn handle(&self) -> Option<String> {
        self.user
            .alias
            .as_ref()
            .map(|alias| format!("{alias}@{}", self.domain))
    }
}

/// `GET /users/me/identity`.
pub async fn identity(state: &AppState, user_id: &str) -> Result<Identity, AppError> {
    let domain = fed::domain(state)?;
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
            code: ErrorCode::InvalidAlias,
            message: "alias: use 3-30 letters, digits or underscores".into(),
        });
    }
    let normalized = alias.to_ascii_lowercase();
    if RESERVED_ALIASES.contains(&normalized.as_str()) {
        return Err(AppError::BadRequest {
            code: ErrorCode::AliasReserved,
            message: format!("alias: '{alias}' is reserved"),
        });
    }
    Ok(normalized)
}

/// `PATCH /users/me/alias`: validates and sets the alias (409 when taken in any letter case).
pub async fn set_alias(state: &AppState, user_id: &str, alias: &str) -> Result<Identity, AppError> {
    // No domain, no handle: refuse before writing anything.
    fed::domain(state)?;
    let normalized = check_alias(alias)?;
    let updated = state
        .store
        .set_alias(user_id, alias, &normalized, state.now_ms())
        .await
        .map_err(AppError::conflict_if_taken(
            ErrorCode::AliasTaken,
            "Alias is already taken",
        ))?;
    if !updated {
        return Err(AppError::not_found("User"));
    }
    identity(state, user_id).await
}

/// The literal the client must send to confirm a reset.
pub const RESET_CONFIRMATION: &str = "erase-all-my-data";

/// `POST /users/me/identity/reset`: one transaction (see `Store::reset_identity`). Returns
/// the number of revocations newly queued.
pub async fn reset(
    state: &AppState,
    user_id: &str,
    confirm: Option<&str>,
) -> Result<usize, AppError> {
    if confirm != Some(RESET_CONFIRMATION) {
        return Err(AppError::BadRequest {
            code: ErrorCode::ConfirmationRequired,
            message: format!("confirm: must be \"{RESET_CONFIRMATION}\""),
        });
    }
    let domain = fed::domain(state)?.to_ascii_lowercase();
    let user = super::users::get(state, user_id).await?;
    let own_key = user
        .alias
        .as_ref()
        .map(|alias| format!("{alias}@{domain}").to_ascii_lowercase());
    let queued = state
        .store
        .reset_identity(
            user_id,
            own_key.as_deref(),
            &domain,
            crate::secrets::random_id,
            state.now_ms(),
        )
        .await?;
    tracing::info!(user = %user_id, queued, "identity reset");
    Ok(queued)
}
