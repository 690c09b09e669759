//! Discovery, both ways: what we publish (`GET /.well-known/parchment-server`,
//! `GET /.well-known/user/{alias}`) and who a peer is (trust on first use): a peer server's
//! key from its manifest, pinned by the host fetched and refused when it changes; a remote
//! user's validated document. Fetches go through the outbound client
//! ([`crate::federation::Client`]); pins live in the store.

use parchment_core::federation::discovery::{
    ManifestDocument, ServerManifest, UserDocument, UserDocumentWire,
};
use parchment_core::handle::{is_valid_alias, Handle};
use parchment_core::keys::Ed25519PublicKey;

use crate::error::AppError;
use crate::error_code::ErrorCode;
use crate::federation::client::PIN_MEMO_MS;
use crate::federation::{handle_key, PeerError};
use crate::service::rate_limit::FEDERATION_WELL_KNOWN_PER_IP;
use crate::state::AppState;
use crate::store::PeerManifest;

/// How long a fetched manifest is trusted before it is fetched again.
pub const MANIFEST_TTL_MS: i64 = 3600 * 1000;
/// How long a fetched user document is trusted before it is fetched again.
pub const USER_DOCUMENT_TTL_MS: i64 = 3600 * 1000;
/// The pinned key of the peer server at `host` (host[:port]). Uses the cached manifest
/// while fresh; otherwise fetches it, checks it names `host`, and pins on first use. A key
/// different from the pin is refused hard and logged. When the peer cannot be reached, a
/// pinned key is still used.
pub async fn peer_key(state: &AppState, host: &str) -> Result<Ed25519PublicKey, PeerError> {
    resolve_peer(state, host, false).await.map(|(key, _)| key)
}

/// Like [`peer_key`]; `refresh` fetches the manifest even when the cache is fresh (after a
/// signature failure, so a changed key is detected and logged at once). Also says whether
/// the key came from the cache.
pub async fn resolve_peer(
    state: &AppState,
    host: &str,
    refresh: bool,
) -> Result<(Ed25519PublicKey, bool), PeerError> {
    let host = host.to_ascii_lowercase();
    let now = state.now_ms();
    // A forced refresh (after a signature failure) re-fetches at most once per interval:
    // otherwise each forged signature claiming a pinned peer would cost a fetch there.
    let refresh = refresh && state.federation.allow_forced_refresh(&host, now);
    if let Some(key) = state.federation.memo(&host, now, refresh) {
        return Ok((key, true));
    }
    let _turn = state.federation.turn(&host).await;
    // Whoever had the turn before may have stored (and memoized) what this one would fetch.
    if let Some(key) = state
        .federation
        .memo(&host, now, false)
        .filter(|_| !refresh)
    {
        return Ok((key, true));
    }
    let pinned = state.store.peer(&host).await?;
    let pinned_key = |key: &str| {
        Ed25519PublicKey::from_base64(key).map_err(|e| PeerError::Invalid {
            host: host.clone(),
            reason: format!("stored pin: {e}"),
        })
    };
    if let Some(pin) = &pinned {
        if !refresh && now - pin.fetched_at < MANIFEST_TTL_MS {
            let key = pinned_key(&pin.public_key)?;
            let until = (now + PIN_MEMO_MS).min(pin.fetched_at + MANIFEST_TTL_MS);
            state.federation.remember(&host, &key, until);
            return Ok((key, true));
        }
    }
    let fetched = async {
        state.federation.spend_manifest_fetch(&host, now)?;
        state
            .federation
            .get_document(&host, "/.well-known/parchment-server", now)
            .await
    };
    let json = match fetched.await {
        Ok(json) => json,
        Err(err) => {
            return match &pinned {
                Some(pin) => {
                    tracing::warn!(peer = %host, error = %err, "manifest refresh failed; using the pin");
                    pinned_key(&pin.public_key).map(|key| (key, true))
                }
                None => Err(err),
            }
        }
    };
    let manifest = ServerManifest::parse(&json, &host).map_err(|e| PeerError::Invalid {
        host: host.clone(),
        reason: e.to_string(),
    })?;
    let key = manifest.public_key.to_base64();
    let record = PeerManifest {
        host: &host,
        public_key: &key,
        manifest: &json,
    };
    match &pinned {
        Some(pin) if pin.public_key != key => {
            tracing::error!(
                peer = %host,
                pinned = %pin.public_key,
                presented = %key,
                "peer server key changed; refusing it (accept a legitimate rotation with \
                 `admin federation unpin --domain {host}`)"
            );
            Err(PeerError::KeyChanged(host))
        }
        Some(_) => {
            state.store.refresh_peer(&record, now).await?;
            Ok((manifest.public_key, false))
        }
        None => {
            if !state.store.pin_peer(&record, now).await? {
                // Another request pinned first: that pin decides.
                let pin = state
                    .store
                    .peer(&host)
                    .await?
                    .ok_or_else(|| PeerError::Invalid {
                        host: host.clone(),
                        reason: "pin vanished".into(),
                    })?;
                if pin.public_key != key {
                    return Err(PeerError::KeyChanged(host));
                }
            } else {
                tracing::info!(peer = %host, key = %key, "pinned new peer server key");
            }
            Ok((manifest.public_key, false))
        }
    }
}

/// A remote user's validated document: from the cache while fresh (unless `refresh`),
/// otherwise fetched from the user's own server (after its pin check).
pub async fn remote_user(
    state: &AppState,
    handle: &Handle,
    refresh: bool,
) -> Result<UserDocument, PeerError> {
    let key = handle_key(handle);
    let now = state.now_ms();
    let invalid = |reason: String| PeerError::Invalid {
        host: handle.domain().to_owned(),
        reason,
    };
    // As for manifests: a signature failure re-fetches the document at most once per
    // interval.
    let refresh = refresh
        && state
            .federation
            .allow_forced_refresh(&format!("user:{key}"), now);
    if let Some(doc) = state.federation.memo_document(&key, now, refresh) {
        return Ok(doc);
    }
    if !refresh {
        if let Some(doc) = stored_document(state, &key, handle, now).await? {
            return Ok(doc);
        }
    }
    let _turn = state.federation.turn(&format!("user:{key}")).await;
    // Whoever had the turn before in this process remembered what this one would fetch (a
    // memo read, not a second database read for every new sender; another replica's fetch,
    // stored meanwhile, costs at most one more fetch here).
    if let Some(doc) = state.federation.memo_document(&key, now, refresh) {
        return Ok(doc);
    }
    let host = handle.domain().to_ascii_lowercase();
    peer_key(state, &host).await?;
    let json = state
        .federation
        .get_document(&host, &format!("/.well-known/user/{}", handle.alias()), now)
        .await?;
    let doc = UserDocument::parse(&json, handle).map_err(|e| invalid(e.to_string()))?;
    state.store.put_remote_user(&key, &json, now).await?;
    state
        .federation
        .remember_document(&key, &doc, now + PIN_MEMO_MS);
    Ok(doc)
}

/// `handle`'s document as this server stored it, while fresh and valid (then memoized too).
async fn stored_document(
    state: &AppState,
    key: &str,
    handle: &Handle,
    now: i64,
) -> Result<Option<UserDocument>, PeerError> {
    let Some((json, fetched_at)) = state.store.remote_user(key).await? else {
        return Ok(None);
    };
    if now - fetched_at >= USER_DOCUMENT_TTL_MS {
        return Ok(None);
    }
    let Ok(doc) = UserDocument::parse(&json, handle) else {
        return Ok(None);
    };
    let until = (now + PIN_MEMO_MS).min(fetched_at + USER_DOCUMENT_TTL_MS);
    state.federation.remember_document(key, &doc, until);
    Ok(Some(doc))
}

/// The `/.well-known/*` documents answer unauthenticated callers: 60 a minute per client
/// address, shared between the manifest and user documents.
pub async fn check_well_known_rate(state: &AppState, client: &str) -> Result<(), AppError> {
    state
        .limiter
        .check(FEDERATION_WELL_KNOWN_PER_IP, client, state.now_ms())
        .await
}

/// Our federation domain (server id), or 503 when no public URL is configured.
pub fn domain(state: &AppState) -> Result<String, AppError> {
    state.settings.domain().ok_or_else(|| {
        AppError::Unavailable("Federation needs PARCHMENT_PUBLIC_URL (the server's domain)".into())
    })
}

/// `GET /.well-known/parchment-server`.
pub fn manifest(state: &AppState) -> Result<ManifestDocument, AppError> {
    Ok(ManifestDocument::ours(
        &domain(state)?,
        &state.server_key.public_key(),
    ))
}

/// Our inbox URL: the public origin plus `/federation/inbox`.
pub fn inbox_url(state: &AppState) -> Result<String, AppError> {
    domain(state)?;
    let origin = state.settings.public_origin().unwrap_or_default();
    Ok(format!("{origin}/federation/inbox"))
}

fn no_such_user() -> AppError {
    AppError::NotFound {
        code: ErrorCode::UserNotFound,
        message: "No user with this alias has published keys here".into(),
    }
}

/// `GET /.well-known/user/{alias}`: the local user's document, only when the user has an
/// alias and published keys. The handle carries the alias as the user spelled it.
pub async fn user_document(state: &AppState, alias: &str) -> Result<UserDocumentWire, AppError> {
    let domain = domain(state)?;
    if !is_valid_alias(alias) {
        return Err(no_such_user());
    }
    let user = state
        .store
        .user_by_alias(alias)
        .await?
        .ok_or_else(no_such_user)?;
    let (Some(alias), Some(signing_key)) = (user.alias.clone(), user.signing_key.clone()) else {
        return Err(no_such_user());
    };
    let name = [user.first_name.as_deref(), user.last_name.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    Ok(UserDocumentWire {
        handle: format!("{alias}@{domain}"),
        signing_key,
        encryption_key: user.encryption_key.unwrap_or_default(),
        inbox: inbox_url(state)?,
        name: (!name.is_empty()).then_some(name),
        picture: user.picture.filter(|p| !p.is_empty()),
    })
}

/// A handle's validated document: local users from the database, remote ones from their
/// server (cached with a TTL; `refresh` skips the cache).
pub async fn resolve_handle(
    state: &AppState,
    handle: &Handle,
    refresh: bool,
) -> Result<UserDocument, AppError> {
    if handle.is_on(&domain(state)?) {
        let wire = user_document(state, handle.alias()).await?;
        let json = serde_json::to_string(&wire).map_err(|e| {
            AppError::Unavailable(format!("serializing a user document failed: {e}"))
        })?;
        return UserDocument::parse(&json, handle).map_err(|e| AppError::BadRequest {
            code: ErrorCode::Unresolvable,
            message: format!("{handle}: {e}"),
        });
    }
    remote_user(state, handle, refresh)
        .await
        .map_err(|e| AppError::BadRequest {
            code: ErrorCode::Unresolvable,
            message: format!("Could not resolve {handle}: {e}"),
        })
}
