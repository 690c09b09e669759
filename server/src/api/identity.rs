use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::{ApiTags, Session};
use crate::error::ApiResult;
use crate::service::identity as service;
use crate::state::AppState;

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct IdentityInfo {
    /// `alias@domain`; `null` until an alias is chosen.
    pub handle: Option<String>,
    pub alias: Option<String>,
    /// This server's federation domain (host[:port] of its public URL).
    pub domain: String,
    /// Ed25519 public key, base64; `null` until published.
    pub signing_key: Option<String>,
    /// X25519 public key, base64; `null` until published.
    pub encryption_key: Option<String>,
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

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct AliasChange {
    /// 3–30 of `[A-Za-z0-9_]`; unique regardless of letter case; reserved names refused.
    pub alias: String,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct AliasChanged {
    pub alias: String,
    pub handle: String,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct PublicKeys {
    /// Ed25519 public key, standard base64 of 32 bytes (a valid point, not of small order).
    pub signing_key: String,
    /// X25519 public key, standard base64 of 32 bytes (not of low order).
    pub encryption_key: String,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Success {
    pub success: bool,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct KmVersion {
    /// Master-key generation, from 1.
    pub km_version: i64,
}

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

    /// Publish the identity keys (first time, or again after an identity reset). Keys
    /// that are already published are replaced only by the km-version commit (409 here);
    /// sending the same keys again is a no-op. Malformed keys → 400, nothing stored.
    #[oai(path = "/users/me/keys", method = "put")]
    async fn set_keys(
        &self,
        state: Data<&AppState>,
        session: Session,
        body: Json<PublicKeys>,
    ) -> ApiResult<Json<Success>> {
        service::set_keys(
            &state,
            &session.principal().user_id,
            &body.signing_key,
            &body.encryption_key,
        )
        .await?;
        Ok(Json(Success { success: true }))
    }

    /// The caller's master-key generation.
    #[oai(path = "/users/me/km-version", method = "get")]
    async fn km_version(
        &self,
        state: Data<&AppState>,
        session: Session,
    ) -> ApiResult<Json<KmVersion>> {
        let user = crate::service::users::get(&state, &session.principal().user_id).await?;
        Ok(Json(KmVersion {
            km_version: user.km_version,
        }))
    }
}
