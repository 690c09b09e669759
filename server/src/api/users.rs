//! `/users`, `/users/roles`, `/users/permissions` (administration) and `/users/me/profile`,
//! `/users/me/preferences` (the caller's own account).

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use super::{timestamp, ApiTags, Session};
use crate::error::ApiResult;
use crate::service::roles::Role;
use crate::service::users::{self as service, CreateUser};
use crate::state::AppState;
use crate::store::{PreferencesRow, UserRow};

/// A user as the API shows it (internal columns never leave the server).
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct User {
    /// User id.
    pub id: String,
    /// Email address as entered at creation (sign-in compares it in any letter case).
    pub email: String,
    /// Given name; `null` when not set.
    pub first_name: Option<String>,
    /// Family name; `null` when not set.
    pub last_name: Option<String>,
    /// Picture URL (http or https); `null` when not set.
    pub picture: Option<String>,
    /// Federation alias (`alias@domain` is the handle); `null` until chosen.
    pub alias: Option<String>,
    /// Ed25519 public key, base64.
    pub signing_key: Option<String>,
    /// X25519 public key, base64.
    pub encryption_key: Option<String>,
    /// Master-key generation.
    pub km_version: i64,
    /// When the user finished onboarding; `null` until then (this server does not record it yet).
    pub onboarding_completed_at: Option<DateTime<Utc>>,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
    /// When the account was last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        User {
            id: row.id,
            email: row.email,
            first_name: row.first_name,
            last_name: row.last_name,
            picture: row.picture,
            alias: row.alias,
            signing_key: row.signing_key,
            encryption_key: row.encryption_key,
            km_version: row.km_version,
            onboarding_completed_at: row.onboarding_completed_at.map(timestamp),
            created_at: timestamp(row.created_at),
            updated_at: timestamp(row.updated_at),
        }
    }
}

/// A role as listed by `GET /users/roles`.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct RoleInfo {
    /// `admin`, `alpha`, `premium`, `basic` or `user`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// What the role is for.
    pub description: String,
    /// Built-in role (every role is, for now).
    pub is_default: bool,
}

impl From<&Role> for RoleInfo {
    fn from(role: &Role) -> Self {
        RoleInfo {
            id: role.id.into(),
            name: role.name.into(),
            description: role.description.into(),
            is_default: true,
        }
    }
}

/// A role a user holds.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct RoleRef {
    /// Role id, e.g. `user`.
    pub id: String,
    /// Display name.
    pub name: String,
}

/// A permission as listed by `GET /users/permissions`.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct PermissionInfo {
    /// e.g. `users:read`.
    pub id: String,
    /// Display name.
    pub name: String,
}

/// A user in the administration list.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct UserSummary {
    /// User id.
    pub id: String,
    /// Email address as entered at creation.
    pub email: String,
    /// Given name; `null` when not set.
    pub first_name: Option<String>,
    /// Family name; `null` when not set.
    pub last_name: Option<String>,
    /// Federation alias; `null` until chosen.
    pub alias: Option<String>,
    /// Picture URL; `null` when not set.
    pub picture: Option<String>,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
    /// When the user finished onboarding; `null` until then.
    pub onboarding_completed_at: Option<DateTime<Utc>>,
    /// The roles the user holds.
    pub roles: Vec<RoleRef>,
    /// Unexpired sessions.
    pub session_count: i64,
}

/// One page of users.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct UserPage {
    /// The users of this page, oldest first.
    pub data: Vec<UserSummary>,
    /// Number of users in total.
    pub total: i64,
    /// The page number asked for, from 1.
    pub page: u32,
    /// The page size asked for.
    pub limit: u32,
}

/// A user to create (invite).
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields, example)]
pub struct NewUser {
    /// Email address; unique in any letter case.
    pub email: String,
    /// 1–100 characters after trimming.
    #[oai(validator(pattern = r"\S", max_length = 100))]
    pub first_name: Option<String>,
    /// 1–100 characters after trimming.
    #[oai(validator(pattern = r"\S", max_length = 100))]
    pub last_name: Option<String>,
    /// http(s) URL.
    #[oai(validator(pattern = r"^https?://", max_length = 2048))]
    pub picture: Option<String>,
    /// Role ids; `["user"]` when absent or empty. Without `users:update` only `user` and
    /// roles the inviter holds are allowed.
    pub roles: Option<Vec<String>>,
    /// One role id, as the published API documents it (`"role": "user"`); joins `roles`.
    pub role: Option<String>,
}

impl poem_openapi::types::Example for NewUser {
    fn example() -> Self {
        NewUser {
            email: "ada@example.com".into(),
            first_name: Some("Ada".into()),
            last_name: Some("Lovelace".into()),
            picture: None,
            roles: Some(vec!["user".into()]),
            role: None,
        }
    }
}

/// The created user and the roles it was given.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct CreatedUser {
    /// The user.
    #[oai(flatten)]
    pub user: User,
    /// The roles it holds.
    pub roles: Vec<RoleInfo>,
}

/// Answer to `POST /users`.
#[derive(ApiResponse)]
pub enum CreateUserResponse {
    /// The user was created.
    #[oai(status = 201)]
    Created(Json<CreatedUser>),
}

/// Changes to the caller's profile; absent fields are kept.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfilePatch {
    /// A string sets the name (1–100 characters after trimming), `null` clears it, absent
    /// keeps it.
    #[oai(validator(pattern = r"\S", max_length = 100))]
    pub first_name: MaybeUndefined<String>,
    /// Like `firstName`.
    #[oai(validator(pattern = r"\S", max_length = 100))]
    pub last_name: MaybeUndefined<String>,
    /// http(s) URL, `null` clears.
    #[oai(validator(pattern = r"^https?://", max_length = 2048))]
    pub picture: MaybeUndefined<String>,
}

fn patch_field(value: MaybeUndefined<String>) -> Option<Option<String>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

/// Units the client shows distances in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum UnitSystem {
    /// Metres and kilometres.
    Metric,
    /// Feet and miles.
    Imperial,
}

impl UnitSystem {
    fn as_str(self) -> &'static str {
        match self {
            UnitSystem::Metric => "metric",
            UnitSystem::Imperial => "imperial",
        }
    }
}

/// The caller's display preferences.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct Preferences {
    /// One of `en-US`, `es-ES`, `en`, `es`.
    pub language: String,
    /// `metric` or `imperial`.
    pub unit_system: String,
}

impl poem_openapi::types::Example for Preferences {
    fn example() -> Self {
        Preferences {
            language: "en-US".into(),
            unit_system: "metric".into(),
        }
    }
}

impl From<PreferencesRow> for Preferences {
    fn from(row: PreferencesRow) -> Self {
        Preferences {
            language: row.language,
            unit_system: row.unit_system,
        }
    }
}

/// New preferences; absent fields keep their value.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreferencesUpdate {
    /// One of `en-US`, `es-ES`, `en`, `es`; absent keeps the current value.
    #[oai(validator(pattern = r"^(en-US|es-ES|en|es)$"))]
    pub language: Option<String>,
    /// Absent keeps the current value.
    pub unit_system: Option<UnitSystem>,
}

/// Handlers of `/users*` (administration and the caller's own account).
#[derive(Default)]
pub struct UsersApi;

#[OpenApi(tag = "ApiTags::Users")]
impl UsersApi {
    /// List users (requires `users:read`), oldest first.
    #[oai(path = "/users", method = "get")]
    async fn list(
        &self,
        state: Data<&AppState>,
        session: Session,
        /// Page number, from 1.
        #[oai(
            default = "default_page",
            validator(minimum(value = "1"), maximum(value = "1000000"))
        )]
        page: Query<u32>,
        /// Page size, 1–100.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<u32>,
    ) -> ApiResult<Json<UserPage>> {
        let result = service::list(&state, session.principal(), page.0, limit.0).await?;
        let data = result
            .users
            .into_iter()
            .map(|(row, user_roles)| UserSummary {
                id: row.id,
                email: row.email,
                first_name: row.first_name,
                last_name: row.last_name,
                alias: row.alias,
                picture: row.picture,
                created_at: timestamp(row.created_at),
                onboarding_completed_at: row.onboarding_completed_at.map(timestamp),
                roles: user_roles
                    .into_iter()
                    .map(|r| RoleRef {
                        id: r.id.into(),
                        name: r.name.into(),
                    })
                    .collect(),
                session_count: row.session_count,
            })
            .collect();
        Ok(Json(UserPage {
            data,
            total: result.total,
            page: page.0,
            limit: limit.0,
        }))
    }

    /// Create (invite) a user (requires `users:create`). A duplicate email, in any letter
    /// case, is 409.
    #[oai(path = "/users", method = "post")]
    async fn create(
        &self,
        state: Data<&AppState>,
        session: Session,
        body: Json<NewUser>,
    ) -> ApiResult<CreateUserResponse> {
        let body = body.0;
        let (row, user_roles) = service::invite(
            &state,
            session.principal(),
            CreateUser {
                email: &body.email,
                first_name: body.first_name.as_deref(),
                last_name: body.last_name.as_deref(),
                picture: body.picture.as_deref(),
                roles: body.roles.into_iter().flatten().chain(body.role).collect(),
            },
        )
        .await?;
        Ok(CreateUserResponse::Created(Json(CreatedUser {
            user: row.into(),
            roles: user_roles.into_iter().map(RoleInfo::from).collect(),
        })))
    }

    /// Every role (requires `roles:read`).
    #[oai(path = "/users/roles", method = "get")]
    async fn roles(&self, session: Session) -> ApiResult<Json<Vec<RoleInfo>>> {
        let all = service::all_roles(session.principal())?;
        Ok(Json(all.iter().map(RoleInfo::from).collect()))
    }

    /// Every permission (requires `permissions:read`).
    #[oai(path = "/users/permissions", method = "get")]
    async fn permissions(&self, session: Session) -> ApiResult<Json<Vec<PermissionInfo>>> {
        let all = service::all_permissions(session.principal())?;
        Ok(Json(
            all.iter()
                .map(|p| PermissionInfo {
                    id: p.id.into(),
                    name: p.name.into(),
                })
                .collect(),
        ))
    }

    /// Change the caller's names or picture; returns the updated user.
    #[oai(path = "/users/me/profile", method = "patch")]
    async fn update_profile(
        &self,
        state: Data<&AppState>,
        session: Session,
        body: Json<ProfilePatch>,
    ) -> ApiResult<Json<User>> {
        let body = body.0;
        let row = service::update_profile(
            &state,
            &session.principal().user_id,
            patch_field(body.first_name),
            patch_field(body.last_name),
            patch_field(body.picture),
        )
        .await?;
        Ok(Json(row.into()))
    }

    /// The caller's preferences (defaults until saved).
    #[oai(path = "/users/me/preferences", method = "get")]
    async fn preferences(
        &self,
        state: Data<&AppState>,
        session: Session,
    ) -> ApiResult<Json<Preferences>> {
        let prefs = service::preferences(&state, &session.principal().user_id).await?;
        Ok(Json(prefs.into()))
    }

    /// Save preferences; fields left out keep their value. Unknown values are 422 and
    /// nothing is stored.
    #[oai(path = "/users/me/preferences", method = "put")]
    async fn put_preferences(
        &self,
        state: Data<&AppState>,
        session: Session,
        body: Json<PreferencesUpdate>,
    ) -> ApiResult<Json<Preferences>> {
        let body = body.0;
        let prefs = service::put_preferences(
            &state,
            &session.principal().user_id,
            body.language,
            body.unit_system.map(|u| u.as_str().to_string()),
        )
        .await?;
        Ok(Json(prefs.into()))
    }
}

fn default_page() -> u32 {
    1
}

fn default_limit() -> u32 {
    25
}
