//! `GET /users/me/identity`, `PATCH /users/me/alias`, `POST /users/me/identity/reset`: the
//! federated identity and its reset.

use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::{ApiTags, Session};
use crate::error::ApiResult;
use crate::service::identity as service;
use crate::state::AppState;

/// The caller's federated identity.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct IdentityInfo {
    /// `alias@domain`; `null` until an alias is chosen.
    pub handle: Option<String>,
    /// The chosen alias; `null` until chosen.
    pub alias: Option<String>,
    /// This server's federation domain (host[:port] of its public URL).
    pub domain: String,
    /// Ed25519 public key, base64; `null` until published.
    pub signing_key: Option<String>,
    /// X25519 public key, base64; `null` until published.
    pub encryption_key: Option<String>,
    /// Master-key generation (starts at 1; each committed rotation adds one).
    pub km_version: i64,
}

impl From<service::Identity> for IdentityInfo {
    fn from(identity: service::Identity) -> Self {
        IdentityInfo {
            handle: identity.handle(),
            alias: identity.user.alias,
            domain: identity.domain,
            signing_key: identity.user.signing_key,
            encryption_key: identity.user.encryption_key,
            km_version: identity.user.km_version,
        }
    }
}

/// A new alias for the caller.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct AliasChange {
    /// 3–30 of `[A-Za-z0-9_]`; unique regardless of letter case; reserved names refused.
    pub alias: String,
}

/// The caller's alias after the change.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct AliasChanged {
    /// The alias as stored (letter case as given).
    pub alias: String,
    /// `alias@domain`.
    pub handle: String,
}

/// The operation succeeded.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Success {
    /// Always `true`.
    pub success: bool,
}

/// Confirmation of an identity reset.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResetRequest {
    /// Must be exactly `erase-all-my-data`; anything else (or nothing) → 400 and nothing
    /// is touched.
    pub confirm: Option<String>,
}

/// Answer to `POST /users/me/identity/reset`.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ResetDone {
    /// Always `true`.
    pub success: bool,
    /// Revocations newly queued by this call (former peers on other servers).
    pub queued_revocations: u64,
}

/// Handlers of the caller's federated identity (`/users/me/identity*`, `/users/me/alias`).
#[derive(Default)]
pub struct IdentityApi;

#[OpenApi(tag = "ApiTags::Federation")]
impl IdentityApi {
    /// The caller's federated identity: handle, domain, published keys.
    #[oai(path = "/users/me/identity", method = "get")]
    async fn identity(
        &self,
        state: Data<&AppState>,
        session: Session,
    ) -> ApiResult<Json<IdentityInfo>> {
        let identity = service::identity(&state, &session.principal().user_id).await?;
        Ok(Json(identity.into()))
    }

    /// Choose or change the alias. Invalid or reserved → 400; taken (any letter case) → 409.
    #[oai(path = "/users/me/alias", method = "patch")]
    async fn set_alias(
        &self,
        state: Data<&AppState>,
        session: Session,
        body: Json<AliasChange>,
    ) -> ApiResult<Json<AliasChanged>> {
        let identity =
            service::set_alias(&state, &session.principal().user_id, &body.alias).await?;
        let handle = identity.handle().unwrap_or_default();
        Ok(Json(AliasChanged {
            alias: identity.user.alias.unwrap_or_default(),
            handle,
        }))
    }

    /// Start over after losing every copy of the seed: in one transaction, wipe everything
    /// encrypted under it (personal blobs, collections, key slots, device wrap secrets,
    /// public keys, friendships, invitations, what friends shared, queued outbound
    /// messages), set kmVersion to 1, and queue one revocation per former peer on another
    /// server (local peers see the friendship end at once). The account, alias, sessions,
    /// passkeys, roles and preferences stay. Irreversible; repeating it is harmless.
    #[oai(path = "/users/me/identity/reset", method = "post")]
    async fn reset(
        &self,
        state: Data<&AppState>,
        session: Session,
        body: Json<ResetRequest>,
    ) -> ApiResult<Json<ResetDone>> {
        let queued = service::reset(
            &state,
            &session.principal().user_id,
            body.confirm.as_deref(),
        )
        .await?;
        Ok(Json(ResetDone {
            success: true,
            queued_revocations: queued as u64,
        }))
    }
}
