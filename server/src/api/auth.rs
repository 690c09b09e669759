//! `/auth/*`: sign-in by emailed code (`/auth/verify`, `POST /auth/sessions`) or passkey
//! (`/auth/passkeys/*`), and the caller's sessions (`/auth/sessions*`).

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use serde_json::Value;

use super::users::User;
use super::{client_ip, timestamp, user_agent, ApiTags, Session};
use crate::error::{ApiResult, AppError};
use crate::error_code::ErrorCode;
use crate::service::sessions::{self, Principal};
use crate::service::{auth, passkeys};
use crate::state::AppState;
use crate::store::PasskeyRow;

/// Where to mail a sign-in code.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields, example)]
pub struct CodeRequest {
    /// The account's email address (any letter case).
    #[oai(validator(pattern = r"^[^@\s]+@[^@\s]+$", max_length = 254))]
    pub email: String,
}

impl poem_openapi::types::Example for CodeRequest {
    fn example() -> Self {
        CodeRequest {
            email: "ada@example.com".into(),
        }
    }
}

/// Answer to `POST /auth/verify`.
#[derive(ApiResponse)]
pub enum CodeSent {
    /// A code was mailed (valid 15 minutes, single use, 5 tries).
    #[oai(status = 201)]
    Sent,
}

/// How `POST /auth/sessions` signs in; only `otp` is accepted there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum SignInMethod {
    /// An emailed code.
    Otp,
    /// Not accepted here: passkeys sign in at `/auth/passkeys/authenticate/verify`.
    Passkey,
}

/// Sign in with an emailed code.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields, example)]
pub struct CodeSignIn {
    /// Must be `otp`.
    pub method: SignInMethod,
    /// The email address the code was sent to.
    #[oai(validator(pattern = r"^[^@\s]+@[^@\s]+$", max_length = 254))]
    pub email: String,
    /// The 8-digit code from the mail.
    pub token: String,
}

impl poem_openapi::types::Example for CodeSignIn {
    fn example() -> Self {
        CodeSignIn {
            method: SignInMethod::Otp,
            email: "ada@example.com".into(),
            token: "12345678".into(),
        }
    }
}

/// A new session and its user.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct SignedIn {
    /// Session token for `Authorization: Bearer`; shown only here.
    pub token: String,
    /// The signed-in user.
    pub user: User,
}

/// Answer to a successful sign-in.
#[derive(ApiResponse)]
pub enum SignInResponse {
    /// Signed in. The session cookie is set unless the request carried an `Authorization`
    /// header.
    #[oai(status = 201)]
    Created(Json<SignedIn>, #[oai(header = "Set-Cookie")] Option<String>),
}

/// The caller's plan (fixed on a self-hosted server).
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Subscription {
    /// Always `true`.
    pub is_premium: bool,
    /// Always `false`.
    pub is_basic: bool,
    /// Always `false`: there is no billing.
    pub has_subscription: bool,
    /// `free`, `basic` or `premium`.
    pub tier: String,
}

/// The signed-in user and their plan.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct CurrentSession {
    /// The signed-in user.
    pub user: User,
    /// Billing is not part of a self-hosted server: everyone is `premium`.
    pub subscription: Subscription,
}

/// Answer to `GET /auth/sessions/current`.
#[derive(ApiResponse)]
pub enum CurrentSessionResponse {
    /// Signed in.
    #[oai(status = 200)]
    SignedIn(Json<Box<CurrentSession>>),
    /// Not signed in (no, unknown or expired session).
    #[oai(status = 204)]
    SignedOut,
}

/// What the caller may do.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Permissions {
    /// The caller's role ids (e.g. `user`, `admin`).
    pub roles: Vec<String>,
    /// Every permission those roles grant (e.g. `users:read`).
    pub permissions: Vec<String>,
}

/// One of the caller's sessions.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct SessionInfo {
    /// Session id (not the token).
    pub id: String,
    /// When the session was created (signed in).
    pub created_at: DateTime<Utc>,
    /// When the session ends unless used again.
    pub expires_at: DateTime<Utc>,
    /// The `User-Agent` of the request that signed in; `null` when it sent none.
    pub user_agent: Option<String>,
    /// The session of this request.
    pub current: bool,
}

/// Answer to a sign-out.
#[derive(ApiResponse)]
pub enum SignedOut {
    /// Done; the session cookie is cleared.
    #[oai(status = 204)]
    Done(#[oai(header = "Set-Cookie")] String),
}

/// Answer to a deletion.
#[derive(ApiResponse)]
pub enum Deleted {
    /// Deleted.
    #[oai(status = 204)]
    Done,
}

/// A WebAuthn ceremony started by the server.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Ceremony {
    /// Send back with the verify call.
    pub challenge_id: String,
    /// WebAuthn options for `navigator.credentials.create/get` (`prf.eval.first` carries
    /// the PRF salt).
    pub public_key: Value,
}

impl From<passkeys::Ceremony> for Ceremony {
    fn from(c: passkeys::Ceremony) -> Self {
        let public_key = c.options.get("publicKey").cloned().unwrap_or(Value::Null);
        Ceremony {
            challenge_id: c.challenge_id,
            public_key,
        }
    }
}

/// The answer to a passkey registration ceremony.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct PasskeyRegistration {
    /// `challengeId` from `POST /auth/passkeys/register/options`.
    #[oai(validator(min_length = 1, max_length = 128))]
    pub challenge_id: String,
    /// The `PublicKeyCredential` from `navigator.credentials.create`, JSON-encoded
    /// (binary fields base64url).
    pub credential: Value,
    /// Label shown in the passkey list (1–100 characters); default "Passkey".
    #[oai(validator(min_length = 1, max_length = 100, pattern = r"\S"))]
    pub name: Option<String>,
}

/// The answer to a passkey sign-in ceremony.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct PasskeyAssertion {
    /// `challengeId` from `POST /auth/passkeys/authenticate/options`.
    #[oai(validator(min_length = 1, max_length = 128))]
    pub challenge_id: String,
    /// The `PublicKeyCredential` from `navigator.credentials.get`, JSON-encoded.
    pub credential: Value,
}

/// A registered passkey.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct PasskeyInfo {
    /// Credential id, base64url.
    pub id: String,
    /// Label shown in the passkey list.
    pub name: String,
    /// When the passkey was registered.
    pub created_at: DateTime<Utc>,
    /// When it last signed in; `null` if never.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<PasskeyRow> for PasskeyInfo {
    fn from(row: PasskeyRow) -> Self {
        PasskeyInfo {
            id: row.id,
            name: row.name,
            created_at: timestamp(row.created_at),
            last_used_at: row.last_used_at.map(timestamp),
        }
    }
}

/// Answer to `POST /auth/passkeys/register/verify`.
#[derive(ApiResponse)]
pub enum PasskeyCreated {
    /// Registered.
    #[oai(status = 201)]
    Created(Json<PasskeyInfo>),
}

fn signed_in(state: &AppState, req: &Request, done: auth::SignedIn) -> SignInResponse {
    // A client that authenticates with a header wants the token, not a cookie.
    let cookie = (!req
        .headers()
        .contains_key(poem::http::header::AUTHORIZATION))
    .then(|| sessions::cookie_header(state, &done.session.token, done.session.max_age_secs));
    SignInResponse::Created(
        Json(SignedIn {
            token: done.session.token,
            user: done.user.into(),
        }),
        cookie,
    )
}

/// Handlers of `/auth/*`.
#[derive(Default)]
pub struct AuthApi;

#[OpenApi(tag = "ApiTags::Auth")]
impl AuthApi {
    /// Mail a sign-in code. Unknown emails are 404 unless registration is open (or no user
    /// exists yet: the first one becomes admin). Rate-limited per email and per address.
    #[oai(path = "/auth/verify", method = "post")]
    async fn send_code(
        &self,
        state: Data<&AppState>,
        req: &Request,
        body: Json<CodeRequest>,
    ) -> ApiResult<CodeSent> {
        auth::send_code(&state, &body.email, &client_ip(req)).await?;
        Ok(CodeSent::Sent)
    }

    /// Exchange an emailed code for a session. A wrong code is 401; the fifth wrong try
    /// burns the code; an expired code is 401 `code_expired`.
    #[oai(path = "/auth/sessions", method = "post")]
    async fn sign_in(
        &self,
        state: Data<&AppState>,
        req: &Request,
        body: Json<CodeSignIn>,
    ) -> ApiResult<SignInResponse> {
        if body.method != SignInMethod::Otp {
            return Err(AppError::BadRequest {
                code: ErrorCode::UnsupportedMethod,
                message: "method: passkeys sign in at /auth/passkeys/authenticate/verify".into(),
            }
            .into());
        }
        let done = auth::sign_in_with_code(
            &state,
            &body.email,
            &body.token,
            user_agent(req),
            &client_ip(req),
        )
        .await?;
        Ok(signed_in(&state, req, done))
    }

    /// The signed-in user, or 204 when signed out (the client polls this). The token is not
    /// echoed.
    #[oai(path = "/auth/sessions/current", method = "get")]
    async fn current(
        &self,
        state: Data<&AppState>,
        req: &Request,
    ) -> ApiResult<CurrentSessionResponse> {
        let Some(principal) = req.extensions().get::<Principal>() else {
            return Ok(CurrentSessionResponse::SignedOut);
        };
        let Some(user) = sessions::current_user(&state, principal).await? else {
            return Ok(CurrentSessionResponse::SignedOut);
        };
        Ok(CurrentSessionResponse::SignedIn(Json(Box::new(
            CurrentSession {
                user: user.into(),
                subscription: Subscription {
                    is_premium: true,
                    is_basic: false,
                    has_subscription: false,
                    tier: "premium".into(),
                },
            },
        ))))
    }

    /// The caller's roles and the permissions they grant.
    #[oai(path = "/auth/sessions/current/permissions", method = "get")]
    async fn current_permissions(&self, session: Session) -> ApiResult<Json<Permissions>> {
        let grants = &session.principal().grants;
        Ok(Json(Permissions {
            roles: grants.roles.clone(),
            permissions: grants.permissions.iter().map(|p| p.to_string()).collect(),
        }))
    }

    /// The caller's unexpired sessions, newest first.
    #[oai(path = "/auth/sessions", method = "get")]
    async fn list_sessions(
        &self,
        state: Data<&AppState>,
        session: Session,
    ) -> ApiResult<Json<Vec<SessionInfo>>> {
        let principal = session.principal();
        let rows = sessions::list(&state, &principal.user_id).await?;
        Ok(Json(
            rows.into_iter()
                .map(|row| SessionInfo {
                    current: row.id == principal.session_id,
                    id: row.id,
                    created_at: timestamp(row.created_at),
                    expires_at: timestamp(row.expires_at),
                    user_agent: row.user_agent,
                })
                .collect(),
        ))
    }

    /// Sign out (this session), by cookie or bearer token.
    #[oai(path = "/auth/sessions", method = "delete")]
    async fn sign_out(&self, state: Data<&AppState>, session: Session) -> ApiResult<SignedOut> {
        sessions::sign_out(&state, session.principal()).await?;
        Ok(SignedOut::Done(sessions::clear_cookie_header(&state)))
    }

    /// Sign out everywhere (every session of the caller, this one included) and rotate
    /// every device wrap secret.
    #[oai(path = "/auth/sessions/all", method = "delete")]
    async fn sign_out_all(&self, state: Data<&AppState>, session: Session) -> ApiResult<SignedOut> {
        sessions::sign_out_all(&state, session.principal()).await?;
        Ok(SignedOut::Done(sessions::clear_cookie_header(&state)))
    }

    /// Sign out every other session of the caller and rotate the wrap secrets of every
    /// device except `deviceId` (the caller's own device; all of them when absent).
    #[oai(path = "/auth/sessions/others", method = "delete")]
    async fn sign_out_others(
        &self,
        state: Data<&AppState>,
        session: Session,
        /// The calling device, whose wrap secret is kept.
        #[oai(name = "deviceId", validator(pattern = r"^[a-zA-Z0-9-]{8,64}$"))]
        device_id: Query<Option<String>>,
    ) -> ApiResult<Deleted> {
        sessions::sign_out_others(&state, session.principal(), device_id.0.as_deref()).await?;
        Ok(Deleted::Done)
    }

    /// End one of the caller's sessions (404 when it is not theirs).
    #[oai(path = "/auth/sessions/:sessionId", method = "delete")]
    async fn delete_session(
        &self,
        state: Data<&AppState>,
        session: Session,
        #[oai(name = "sessionId")] session_id: Path<String>,
    ) -> ApiResult<Deleted> {
        sessions::delete_one(&state, &session.principal().user_id, &session_id.0).await?;
        Ok(Deleted::Done)
    }

    /// Start registering a passkey for the caller.
    #[oai(path = "/auth/passkeys/register/options", method = "post")]
    async fn register_options(
        &self,
        state: Data<&AppState>,
        session: Session,
    ) -> ApiResult<Json<Ceremony>> {
        let ceremony = passkeys::register_options(&state, &session.principal().user_id).await?;
        Ok(Json(ceremony.into()))
    }

    /// Finish registering a passkey.
    #[oai(path = "/auth/passkeys/register/verify", method = "post")]
    async fn register_verify(
        &self,
        state: Data<&AppState>,
        session: Session,
        body: Json<PasskeyRegistration>,
    ) -> ApiResult<PasskeyCreated> {
        let body = body.0;
        let row = passkeys::register_verify(
            &state,
            &session.principal().user_id,
            &body.challenge_id,
            body.credential,
            body.name.as_deref(),
        )
        .await?;
        Ok(PasskeyCreated::Created(Json(row.into())))
    }

    /// Start a passkey sign-in (discoverable credentials: no email needed).
    #[oai(path = "/auth/passkeys/authenticate/options", method = "post")]
    async fn authenticate_options(
        &self,
        state: Data<&AppState>,
        req: &Request,
    ) -> ApiResult<Json<Ceremony>> {
        let ceremony = passkeys::authenticate_options(&state, &client_ip(req)).await?;
        Ok(Json(ceremony.into()))
    }

    /// Finish a passkey sign-in; answers like `POST /auth/sessions`.
    #[oai(path = "/auth/passkeys/authenticate/verify", method = "post")]
    async fn authenticate_verify(
        &self,
        state: Data<&AppState>,
        req: &Request,
        body: Json<PasskeyAssertion>,
    ) -> ApiResult<SignInResponse> {
        let body = body.0;
        let done = passkeys::authenticate_verify(
            &state,
            &body.challenge_id,
            body.credential,
            user_agent(req),
            &client_ip(req),
        )
        .await?;
        Ok(signed_in(&state, req, done))
    }

    /// The caller's passkeys.
    #[oai(path = "/auth/passkeys", method = "get")]
    async fn list_passkeys(
        &self,
        state: Data<&AppState>,
        session: Session,
    ) -> ApiResult<Json<Vec<PasskeyInfo>>> {
        let rows = passkeys::list(&state, &session.principal().user_id).await?;
        Ok(Json(rows.into_iter().map(PasskeyInfo::from).collect()))
    }

    /// Remove one of the caller's passkeys (404 when it is not theirs).
    #[oai(path = "/auth/passkeys/:id", method = "delete")]
    async fn delete_passkey(
        &self,
        state: Data<&AppState>,
        session: Session,
        /// Credential id, base64url.
        id: Path<String>,
    ) -> ApiResult<Deleted> {
        passkeys::delete(&state, &session.principal().user_id, &id.0).await?;
        Ok(Deleted::Done)
    }
}
