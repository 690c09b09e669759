//! Outbound federation: the HTTP client, peer manifests (pinned by the host fetched, cached
//! with a TTL), remote user documents (validated, cached with a TTL) and signed delivery.

pub mod address_policy;
pub mod client;
pub mod inbox;
pub mod outbox;

pub use client::Client;
use client::PIN_MEMO_MS;

use parchment_core::federation::discovery::{ServerManifest, UserDocument};
use parchment_core::federation::message::PROTOCOL_VERSION;
use parchment_core::federation::request::{body_hash, RequestSignable};
use parchment_core::federation::Envelope;
use parchment_core::handle::Handle;
use parchment_core::keys::Ed25519PublicKey;
use parchment_core::timestamp::format_millis;

use crate::service::{now_ms, secrets, AppState};

/// How long a fetched manifest is trusted before it is fetched again.
pub const MANIFEST_TTL_MS: i64 = 3600 * 1000;
/// How long a fetched user document is trusted before it is fetched again.
pub const USER_DOCUMENT_TTL_MS: i64 = 3600 * 1000;
/// The inbox path (the receiver verifies signatures over this literal path).
pub const INBOX_PATH: &str = "/federation/inbox";

#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("peer {0} unreachable: {1}")]
    Unreachable(String, String),
    #[error("peer {0} answered {1}")]
    Status(String, u16),
    #[error("peer {host}: {reason}")]
    Invalid { host: String, reason: String },
    /// The peer presents another key than the pinned one: refused until an operator
    /// runs `admin federation unpin`.
    #[error("peer {0} presented a different identity key than the pinned one")]
    KeyChanged(String),
    /// The host is an address we do not connect to (internal, or an IP literal).
    #[error("peer {0} refused: {1}")]
    Forbidden(String, String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

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
    let now = now_ms();
    // A forced refresh (after a signature failure) re-fetches at most once per interval:
    // otherwise each forged signature claiming a pinned peer would cost a fetch there.
    let refresh = refresh && state.federation.allow_forced_refresh(&host, now);
    if let Some(key) = state.federation.memo(&host, now, refresh) {
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
            state.store.refresh_peer(&host, &key, &json, now).await?;
            Ok((manifest.public_key, false))
        }
        None => {
            if !state.store.pin_peer(&host, &key, &json, now).await? {
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

/// The lowercase form of a handle, used as the key of everything stored about a peer user.
pub fn handle_key(handle: &Handle) -> String {
    handle.to_string().to_ascii_lowercase()
}

/// A remote user's validated document: from the cache while fresh (unless `refresh`),
/// otherwise fetched from the user's own server (after its pin check).
pub async fn remote_user(
    state: &AppState,
    handle: &Handle,
    refresh: bool,
) -> Result<UserDocument, PeerError> {
    let key = handle_key(handle);
    let now = now_ms();
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
    if !refresh {
        if let Some((doc, fetched_at)) = state.store.remote_user(&key).await? {
            if now - fetched_at < USER_DOCUMENT_TTL_MS {
                if let Ok(doc) = UserDocument::parse(&doc, handle) {
                    return Ok(doc);
                }
            }
        }
    }
    let host = handle.domain().to_ascii_lowercase();
    peer_key(state, &host).await?;
    let json = state
        .federation
        .get_document(&host, &format!("/.well-known/user/{}", handle.alias()), now)
        .await?;
    let doc = UserDocument::parse(&json, handle).map_err(|e| invalid(e.to_string()))?;
    state.store.put_remote_user(&key, &json, now).await?;
    Ok(doc)
}

/// What a delivery attempt came to.
#[derive(Debug)]
pub enum Delivery {
    /// 200/202, or 409 `replay` (the receiver already has it).
    Delivered,
    /// The receiver refused the message for good (4xx other than 401/408/429).
    Refused(String),
    /// Try again later.
    Retry(String),
}

/// What one POST to a peer inbox came to, before [`deliver`] folds a replay into success.
#[derive(Debug)]
pub enum Posted {
    /// 200/202.
    Accepted,
    /// 409 `replay`: the receiver already processed a message with this (from, nonce).
    Replay,
    /// The receiver refused the message for good (4xx other than 401/408/429).
    Refused(String),
    /// Try again later.
    Retry(String),
}

/// Posts a signed envelope to the inbox of the server of `to`. Each attempt carries fresh
/// transport headers (nonce, timestamp), so retries outlive the receiver's ±300 s window.
pub async fn deliver(state: &AppState, envelope: &Envelope) -> Delivery {
    match post(state, envelope).await {
        Posted::Accepted | Posted::Replay => Delivery::Delivered,
        Posted::Refused(reason) => Delivery::Refused(reason),
        Posted::Retry(reason) => Delivery::Retry(reason),
    }
}

/// One signed server-to-server POST of `envelope` to the inbox of the server of `to`.
pub async fn post(state: &AppState, envelope: &Envelope) -> Posted {
    let to = match Handle::parse(&envelope.to) {
        Ok(to) => to,
        Err(e) => return Posted::Refused(format!("recipient: {e}")),
    };
    let Some(our_id) = state.settings.domain() else {
        return Posted::Refused("no public URL configured".into());
    };
    let host = to.domain().to_ascii_lowercase();
    match peer_key(state, &host).await {
        Ok(_) => {}
        Err(err @ PeerError::Forbidden(..)) => return Posted::Refused(err.to_string()),
        Err(err) => return Posted::Retry(err.to_string()),
    }
    let body = envelope.body();
    let hash = body_hash(&body);
    let nonce =
        parchment_core::federation::message::new_nonce(&mut parchment_core::rand_core::OsRng);
    let timestamp = format_millis(now_ms());
    let headers = RequestSignable {
        method: "POST",
        path: INBOX_PATH,
        body_hash: &hash,
        nonce: &nonce,
        timestamp: &timestamp,
        peer_server_id: &host,
        sender_server_id: &our_id,
        protocol_version: PROTOCOL_VERSION,
    }
    .sign(&state.server_key);
    let reply = match state
        .federation
        .post(&host, INBOX_PATH, &headers.pairs(), body)
        .await
    {
        Ok(reply) => reply,
        Err(e @ PeerError::Forbidden(..)) => return Posted::Refused(e.to_string()),
        Err(e) => return Posted::Retry(e.to_string()),
    };
    let (status, text) = (reply.status, reply.body);
    let code = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["code"].as_str().map(String::from))
        .unwrap_or_default();
    match status {
        200 | 202 => Posted::Accepted,
        409 if code == "replay" => Posted::Replay,
        401 | 408 | 429 => Posted::Retry(format!("{host} answered {status}: {text}")),
        s if s >= 500 => Posted::Retry(format!("{host} answered {status}: {text}")),
        _ => Posted::Refused(format!("{host} answered {status}: {text}")),
    }
}

/// A fresh id for rows we create.
pub fn new_id() -> String {
    secrets::random_id()
}
