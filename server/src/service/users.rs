//! Accounts, profiles and preferences.

use std::collections::BTreeSet;

use super::roles::{self, Role};
use super::sessions::Principal;
use crate::error::AppError;
use crate::error_code::ErrorCode;
use crate::secrets;
use crate::state::AppState;
use crate::store::{NewUser, PreferencesRow, ProfileUpdate, Store, UserListRow, UserRow};

/// The languages a user can choose.
pub const LANGUAGES: &[&str] = &["en-US", "es-ES", "en", "es"];
/// The unit systems a user can choose.
pub const UNIT_SYSTEMS: &[&str] = &["metric", "imperial"];
/// The language until the user chooses one.
pub const DEFAULT_LANGUAGE: &str = "en-US";
/// The unit system until the user chooses one.
pub const DEFAULT_UNIT_SYSTEM: &str = "metric";
const NAME_MAX_CHARS: usize = 100;
const PICTURE_MAX_CHARS: usize = 2048;

/// Checks an email address and returns it trimmed, plus its lowercase form (the unique key).
pub fn normalize_email(email: &str) -> Result<(String, String), AppError> {
    let email = email.trim();
    let valid = email.len() <= 254
        && email.parse::<lettre::Address>().is_ok()
        && !email.chars().any(char::is_whitespace);
    if !valid {
        return Err(AppError::validation(
            "email",
            "must be a valid email address",
        ));
    }
    Ok((email.to_string(), email.to_lowercase()))
}

/// A name is 1–100 characters after trimming, without control characters.
pub fn normalize_name(field: &str, name: &str) -> Result<String, AppError> {
    let name = name.trim();
    let count = name.chars().count();
    if count == 0 || count > NAME_MAX_CHARS {
        return Err(AppError::validation(
            field,
            format!("must be 1 to {NAME_MAX_CHARS} characters after trimming"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(AppError::validation(
            field,
            "must not contain control characters",
        ));
    }
    Ok(name.to_string())
}

fn validate_picture(picture: &str) -> Result<String, AppError> {
    let ok = picture.chars().count() <= PICTURE_MAX_CHARS
        && url::Url::parse(picture).is_ok_and(|u| matches!(u.scheme(), "https" | "http"));
    if !ok {
        return Err(AppError::validation(
            "picture",
            format!("must be an http(s) URL of at most {PICTURE_MAX_CHARS} characters"),
        ));
    }
    Ok(picture.to_string())
}

/// A user to create, as given (validated by [`create`]).
pub struct CreateUser<'a> {
    /// Email address.
    pub email: &'a str,
    /// Given name.
    pub first_name: Option<&'a str>,
    /// Family name.
    pub last_name: Option<&'a str>,
    /// Picture URL (http or https).
    pub picture: Option<&'a str>,
    /// Role ids; `user` when empty.
    pub roles: Vec<String>,
}

/// Validates and creates a user with roles; a taken email (any case) is 409.
pub async fn create(
    store: &Store,
    input: CreateUser<'_>,
    now: i64,
) -> Result<(UserRow, Vec<&'static Role>), AppError> {
    let (email, email_normalized) = normalize_email(input.email)?;
    let first_name = input
        .first_name
        .map(|n| normalize_name("firstName", n))
        .transpose()?;
    let last_name = input
        .last_name
        .map(|n| normalize_name("lastName", n))
        .transpose()?;
    let picture = input.picture.map(validate_picture).transpose()?;
    let mut role_ids: BTreeSet<String> = input.roles.into_iter().collect();
    if role_ids.is_empty() {
        role_ids.insert(roles::USER.to_string());
    }
    let role_refs = role_ids
        .iter()
        .map(|id| {
            roles::role(id).ok_or_else(|| AppError::BadRequest {
                code: ErrorCode::InvalidRole,
                message: format!("roles: unknown role id '{id}'"),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let ids: Vec<&str> = role_refs.iter().map(|r| r.id).collect();
    let row = store
        .insert_user(&NewUser {
            id: &secrets::random_id(),
            email: &email,
            email_normalized: &email_normalized,
            first_name: first_name.as_deref(),
            last_name: last_name.as_deref(),
            picture: picture.as_deref(),
            roles: &ids,
            now,
        })
        .await
        .map_err(AppError::conflict_if_taken(
            ErrorCode::EmailTaken,
            "A user with this email already exists",
        ))?;
    Ok((row, role_refs))
}

/// `POST /users`: an inviter without `users:update` may only hand out `user` or roles they
/// hold themselves.
pub async fn invite(
    state: &AppState,
    inviter: &Principal,
    input: CreateUser<'_>,
) -> Result<(UserRow, Vec<&'static Role>), AppError> {
    inviter.require(roles::USERS_CREATE)?;
    let inviter_roles = &inviter.grants.roles;
    if !inviter.grants.permissions.contains(roles::USERS_UPDATE) {
        let allowed = |r: &String| r == roles::USER || inviter_roles.contains(r);
        if !input.roles.iter().all(allowed) {
            return Err(AppError::Forbidden(
                "You can only invite users with your own roles".into(),
            ));
        }
    }
    create(&state.store, input, state.now_ms()).await
}

/// One page of users with their roles.
pub struct UserPage {
    /// The page's users, oldest first.
    pub users: Vec<(UserListRow, Vec<&'static Role>)>,
    /// How many users exist.
    pub total: i64,
}

/// `GET /users`: page `page` (from 1) of `limit` (1–100) users.
pub async fn list(
    state: &AppState,
    caller: &Principal,
    page: u32,
    limit: u32,
) -> Result<UserPage, AppError> {
    caller.require(roles::USERS_READ)?;
    if page == 0 {
        return Err(AppError::validation("page", "must be at least 1"));
    }
    if !(1..=100).contains(&limit) {
        return Err(AppError::validation("limit", "must be between 1 and 100"));
    }
    let offset = (i64::from(page) - 1) * i64::from(limit);
    let (rows, role_rows, total) = state
        .store
        .list_users(i64::from(limit), offset, state.now_ms())
        .await?;
    let users = rows
        .into_iter()
        .map(|row| {
            let user_roles = role_rows
                .iter()
                .filter(|(user_id, _)| *user_id == row.id)
                .filter_map(|(_, role_id)| roles::role(role_id))
                .collect();
            (row, user_roles)
        })
        .collect();
    Ok(UserPage { users, total })
}

/// `GET /users/roles`.
pub fn all_roles(caller: &Principal) -> Result<&'static [Role], AppError> {
    caller.require(roles::ROLES_READ)?;
    Ok(roles::ROLES)
}

/// `GET /users/permissions`.
pub fn all_permissions(caller: &Principal) -> Result<&'static [roles::Permission], AppError> {
    caller.require(roles::PERMISSIONS_READ)?;
    Ok(roles::PERMISSIONS)
}

/// The user with this id (404 when gone).
pub async fn get(state: &AppState, user_id: &str) -> Result<UserRow, AppError> {
    state
        .store
        .user_by_id(user_id)
        .await?
        .ok_or_else(|| AppError::not_found("User"))
}

/// Each field: absent = unchanged, `None` = clear, `Some` = validated new value.
pub async fn update_profile(
    state: &AppState,
    user_id: &str,
    first_name: Option<Option<String>>,
    last_name: Option<Option<String>>,
    picture: Option<Option<String>>,
) -> Result<UserRow, AppError> {
    let update = ProfileUpdate {
        first_name: first_name
            .map(|v| v.map(|n| normalize_name("firstName", &n)).transpose())
            .transpose()?,
        last_name: last_name
            .map(|v| v.map(|n| normalize_name("lastName", &n)).transpose())
            .transpose()?,
        picture: picture
            .map(|v| v.map(|p| validate_picture(&p)).transpose())
            .transpose()?,
    };
    state
        .store
        .update_profile(user_id, &update, state.now_ms())
        .await?
        .ok_or_else(|| AppError::not_found("User"))
}

/// Stored preferences, or the defaults when none were saved (GET writes nothing).
pub async fn preferences(state: &AppState, user_id: &str) -> Result<PreferencesRow, AppError> {
    Ok(state
        .store
        .preferences(user_id)
        .await?
        .unwrap_or_else(|| PreferencesRow {
            language: DEFAULT_LANGUAGE.into(),
            unit_system: DEFAULT_UNIT_SYSTEM.into(),
        }))
}

/// Partial update: fields left out keep their current value; all are checked before writing.
pub async fn put_preferences(
    state: &AppState,
    user_id: &str,
    language: Option<String>,
    unit_system: Option<String>,
) -> Result<PreferencesRow, AppError> {
    if let Some(language) = &language {
        if !LANGUAGES.contains(&language.as_str()) {
            return Err(AppError::validation(
                "language",
                format!("must be one of {}", LANGUAGES.join(", ")),
            ));
        }
    }
    if let Some(unit) = &unit_system {
        if !UNIT_SYSTEMS.contains(&unit.as_str()) {
            return Err(AppError::validation(
                "unitSystem",
                format!("must be one of {}", UNIT_SYSTEMS.join(", ")),
            ));
        }
    }
    let current = preferences(state, user_id).await?;
    if language.is_none() && unit_system.is_none() {
        return Ok(current);
    }
    let next = PreferencesRow {
        language: language.unwrap_or(current.language),
        unit_system: unit_system.unwrap_or(current.unit_system),
    };
    state
        .store
        .put_preferences(user_id, &next, state.now_ms())
        .await?;
    Ok(next)
}
