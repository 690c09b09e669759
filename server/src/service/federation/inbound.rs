//! `POST /federation/inbox`: how a delivery is verified, transport first (the sending
//! server's signature, pinned key, window and nonce), then the user level (home server,
//! freshness, the user's signature, replay), before [`super::messages`] applies it.

use parchment_core::canonical;
use parchment_core::federation::request::{
    body_hash, RequestSignable, ServerHeaders, HEADER_NONCE, HEADER_PROTOCOL_VERSION,
    HEADER_SERVER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP,
};
use parchment_core::federation::{Envelope, FederationError, MessageType};
use parchment_core::handle::{is_valid_domain, Handle};
use parchment_core::keys::Ed25519PublicKey;
use parchment_core::timestamp;

use super::discovery::{domain, resolve_handle};
use super::messages::{delivery_event, dispatch, transition, Transition};
use crate::error::AppError;
use crate::error_code::ErrorCode;
use crate::federation;
use crate::service::rate_limit::FEDERATION_INBOX_PER_IP;
use crate::state::AppState;
use crate::store::{Delivery, DeliveryOutcome, FriendRow};

/// Largest canonical inbox body accepted (413 above).
pub const MAX_INBOX_BODY: usize = 64 * 1024;
/// Transport timestamps: ±300 s (federation.md §7).
pub const TRANSPORT_WINDOW_MS: i64 = 300 * 1000;
/// Transport nonces are remembered at least this long per sender (≥ 2 × the window).
pub const TRANSPORT_NONCE_TTL_MS: i64 = 600 * 1000;
/// How long an invitation stays pending.
pub const INVITATION_TTL_MS: i64 = 30 * 24 * 3600 * 1000;

/// The `X-Parchment-*` headers of an inbox request, as received.
#[derive(Debug, Default)]
pub struct InboundHeaders {
    /// `X-Parchment-Server-Id`.
    pub server_id: Option<String>,
    /// `X-Parchment-Protocol-Version`.
    pub protocol_version: Option<String>,
    /// `X-Parchment-Nonce`.
    pub nonce: Option<String>,
    /// `X-Parchment-Timestamp`.
    pub timestamp: Option<String>,
    /// `X-Parchment-Server-Signature`.
    pub signature: Option<String>,
}

fn auth_failed(reason: impl std::fmt::Display) -> AppError {
    AppError::FederationAuth(reason.to_string())
}

pub(super) fn bad(code: ErrorCode, message: impl Into<String>) -> AppError {
    AppError::BadRequest {
        code,
        message: message.into(),
    }
}

/// `POST /federation/inbox`, verified in the spec's order (federation.md §7): schema (422),
/// size (413), headers, protocol version, ±300 s window, peer key (pinned), signature over
/// method/path/body hash, transport nonce unique per sender (recorded only after the
/// signature verified) — each a 401; then the user level ([`process`]).
pub async fn receive(
    state: &AppState,
    client: &str,
    headers: InboundHeaders,
    body: &serde_json::Value,
) -> Result<(), AppError> {
    // Before anything is parsed or fetched: 120 requests a minute per client address.
    state
        .limiter
        .check(FEDERATION_INBOX_PER_IP, client, state.now_ms())
        .await?;
    let our_id = domain(state)?;
    let envelope = Envelope::from_value(&canonical::Value::from(body))
        .map_err(|e| AppError::validation("body", e))?;
    // The receiver hashes its re-serialization of the normalized body (federation.md §5).
    let canonical_body = envelope.body();
    if canonical_body.len() > MAX_INBOX_BODY {
        return Err(AppError::TooLarge(format!(
            "An inbox message may have at most {MAX_INBOX_BODY} bytes"
        )));
    }
    let missing = |name: &str| auth_failed(format!("missing header {name}"));
    let headers = ServerHeaders {
        server_id: headers.server_id.ok_or_else(|| missing(HEADER_SERVER_ID))?,
        protocol_version: headers
            .protocol_version
            .ok_or_else(|| missing(HEADER_PROTOCOL_VERSION))?,
        nonce: headers.nonce.ok_or_else(|| missing(HEADER_NONCE))?,
        timestamp: headers.timestamp.ok_or_else(|| missing(HEADER_TIMESTAMP))?,
        signature: headers.signature.ok_or_else(|| missing(HEADER_SIGNATURE))?,
    };
    let version = headers.parsed_protocol_version().map_err(auth_failed)?;
    let now = state.now_ms();
    match timestamp::within(&headers.timestamp, now, TRANSPORT_WINDOW_MS) {
        Ok(true) => {}
        Ok(false) => return Err(auth_failed("request timestamp outside the ±300 s window")),
        Err(e) => return Err(auth_failed(format!("request timestamp: {e}"))),
    }
    if headers.nonce.is_empty() || headers.nonce.len() > 128 {
        return Err(auth_failed("malformed nonce"));
    }
    if !is_valid_domain(&headers.server_id) {
        return Err(auth_failed("malformed server id"));
    }
    let sender = headers.server_id.to_ascii_lowercase();
    let hash = body_hash(&canonical_body);
    let signable = RequestSignable {
        method: "POST",
        path: federation::INBOX_PATH,
        body_hash: &hash,
        nonce: &headers.nonce,
        timestamp: &headers.timestamp,
        peer_server_id: &our_id,
        sender_server_id: &headers.server_id,
        protocol_version: version,
    };
    let sender_ref = sender.as_str();
    let peer_key = |refresh| async move {
        super::discovery::resolve_peer(state, sender_ref, refresh)
            .await
            .map_err(|e| auth_failed(format!("peer server key: {e}")))
    };
    let (key, cached) = peer_key(false).await?;
    if let Err(err) = signable.verify(&key, &headers.signature) {
        // A cached manifest may be stale: fetch it once more (a changed key is refused
        // and logged there), then the signature must verify with the current pin.
        if !cached {
            return Err(auth_failed(err));
        }
        let (key, _) = peer_key(true).await?;
        signable
            .verify(&key, &headers.signature)
            .map_err(auth_failed)?;
    }
    // Early replay check (a read); the nonce is recorded in the message's transaction.
    if state
        .store
        .transport_nonce_seen(&sender, &headers.nonce)
        .await?
    {
        return Err(auth_failed("replayed nonce"));
    }
    let transport = Transport {
        sender: &sender,
        nonce: &headers.nonce,
    };
    let result = process_message(state, &envelope, Some(transport)).await;
    if result.is_err() {
        // Nothing of a refused message was committed, but its transport nonce must still
        // be spent: a signature-verified request is never accepted twice. `false` (a
        // racing duplicate recorded it) changes nothing.
        state
            .store
            .record_transport_nonce(&sender, &headers.nonce, state.now_ms())
            .await?;
    }
    result
}

/// The authenticated server-to-server request a message came in.
#[derive(Clone, Copy)]
struct Transport<'a> {
    sender: &'a str,
    nonce: &'a str,
}

/// The sender as verified: its handle and the keys its signature was checked with.
pub(super) struct Sender {
    pub(super) handle: Handle,
    pub(super) signing_key: String,
    pub(super) encryption_key: Option<String>,
    pub(super) name: Option<String>,
}

/// The user level of a message, for the inbox (`relayed_by` = the authenticated sending
/// server) and for local delivery (`None`): the sending server must be the home server of
/// `from`, `to` must be local, timestamps fresh, the user signature valid (friendship key
/// first, else the validated user document, re-fetched once on failure), a v2 (from, nonce)
/// processed once (409 `replay` otherwise); then the message's state transition. A message
/// that fails leaves nothing stored. Used for local delivery; the inbox goes through
/// [`receive`].
pub async fn process(state: &AppState, envelope: &Envelope) -> Result<(), AppError> {
    process_message(state, envelope, None).await
}

/// [`process`], for the inbox with the request's transport nonce: the nonces and the state
/// transition are one transaction.
async fn process_message(
    state: &AppState,
    envelope: &Envelope,
    transport: Option<Transport<'_>>,
) -> Result<(), AppError> {
    let relayed_by = transport.map(|t| t.sender);
    let our_id = domain(state)?;
    let kind = envelope.kind().map_err(|e| match e {
        FederationError::UnsupportedType(t) => bad(
            ErrorCode::UnsupportedType,
            format!("Unsupported message type: {t}"),
        ),
        other => bad(ErrorCode::InvalidMessage, other.to_string()),
    })?;
    let from = Handle::parse(&envelope.from)
        .map_err(|e| bad(ErrorCode::InvalidMessage, format!("from: {e}")))?;
    let to = Handle::parse(&envelope.to)
        .map_err(|e| bad(ErrorCode::InvalidMessage, format!("to: {e}")))?;
    match relayed_by {
        Some(server) if !from.domain().eq_ignore_ascii_case(server) => {
            return Err(bad(
                ErrorCode::ForeignSender,
                "The sending server is not the home server of `from`",
            ))
        }
        None if !from.is_on(&our_id) => {
            return Err(bad(ErrorCode::ForeignSender, "`from` is not a local user"))
        }
        _ => {}
    }
    if !to.is_on(&our_id) {
        return Err(bad(ErrorCode::NotLocal, "Recipient is not on this server"));
    }
    if !envelope.is_v2() && !Envelope::legacy_allowed(kind) {
        // v1 has no nonce: a friend-gated v1 message could be replayed for its window.
        return Err(bad(
            ErrorCode::LegacyNotAllowed,
            format!("{kind} must be sent as protocol v2 (with a nonce)"),
        ));
    }
    check_message_time(state, envelope)?;
    if envelope.is_v2() && envelope.nonce.as_deref().is_none_or(str::is_empty) {
        return Err(bad(ErrorCode::InvalidMessage, "v2 message missing nonce"));
    }
    let peer = federation::handle_key(&from);
    let (user, friend) = state
        .store
        .recipient(to.alias(), &peer)
        .await?
        .filter(|(u, _)| u.signing_key.is_some())
        .ok_or_else(|| AppError::NotFound {
            code: ErrorCode::RecipientNotFound,
            message: "Recipient not found".into(),
        })?;
    let sender = verify_sender(state, friend, &from, kind, envelope).await?;
    let now = state.now_ms();
    // v2: (from, nonce) once. v1 has no nonce: (from, signature) once, so a v1 message
    // is accepted once even within its window (the signature is deterministic, so the
    // same message always carries the same signature).
    let once = match envelope.nonce.as_deref() {
        Some(nonce) if envelope.is_v2() => nonce.to_owned(),
        _ => format!("v1:{}", envelope.signature),
    };
    let transition = match transition(kind, envelope)? {
        Transition::Batched(effect) => {
            // The hot path: applied with its nonces as part of the next group commit.
            let delivery = Delivery {
                transport: transport.map(|t| (t.sender.to_owned(), t.nonce.to_owned())),
                message_nonce: Some((peer.clone(), once)),
                event: Some(delivery_event(&user.id, &envelope.from, &effect)),
                user_id: user.id,
                peer_key: peer,
                from_handle: envelope.from.clone(),
                effect,
            };
            return match state.inbox.apply(delivery).await? {
                DeliveryOutcome::Applied => Ok(()),
                DeliveryOutcome::TransportReplay => Err(auth_failed("replayed nonce")),
                DeliveryOutcome::MessageReplay => Err(replayed_message()),
                DeliveryOutcome::NotFriend => Err(not_friend()),
                DeliveryOutcome::StaleLocation => Err(bad(
                    ErrorCode::StaleLocation,
                    "A newer location is already stored",
                )),
            };
        }
        Transition::Own(transition) => transition,
    };
    let mut tx = state.store.begin_inbox().await?;
    if let Some(t) = transport {
        if !tx.record_transport_nonce(t.sender, t.nonce, now).await? {
            return Err(auth_failed("replayed nonce"));
        }
    }
    if !tx.record_message_nonce(&peer, &once, now).await? {
        return Err(replayed_message());
    }
    // An error drops `tx`: rolled back, nothing of the message stays.
    dispatch(&mut tx, &user.id, &peer, &sender, transition, envelope, now).await?;
    tx.commit().await?;
    Ok(())
}

/// v2 messages carry a nonce deduplicated for longer than the delivery queue retries, so an
/// old (queued) message is accepted up to the maximum age; legacy v1 has no nonce and keeps
/// the strict ±300 s window. Never more than 300 s in the future.
fn check_message_time(state: &AppState, envelope: &Envelope) -> Result<(), AppError> {
    let now = state.now_ms();
    let at = timestamp::parse_millis(&envelope.timestamp)
        .map_err(|e| bad(ErrorCode::InvalidMessage, format!("timestamp: {e}")))?;
    let oldest = if envelope.is_v2() {
        state.settings.federation_max_age_ms
    } else {
        TRANSPORT_WINDOW_MS
    };
    if at > now + TRANSPORT_WINDOW_MS || at < now - oldest {
        return Err(bad(
            ErrorCode::StaleMessage,
            "Message timestamp outside acceptable skew",
        ));
    }
    Ok(())
}

fn invalid_signature() -> AppError {
    bad(ErrorCode::InvalidSignature, "Invalid signature")
}

fn verify_with(envelope: &Envelope, key: &str) -> Result<(), AppError> {
    let key = Ed25519PublicKey::from_base64(key).map_err(|_| invalid_signature())?;
    envelope.verify(&key).map_err(|e| match e {
        FederationError::MalformedSignature(_) | FederationError::MissingV2Fields => {
            bad(ErrorCode::InvalidSignature, e.to_string())
        }
        FederationError::LegacyOverride(_) => bad(ErrorCode::InvalidMessage, e.to_string()),
        _ => invalid_signature(),
    })
}

/// `friend`: the recipient's friendship with `from`, if any.
async fn verify_sender(
    state: &AppState,
    friend: Option<FriendRow>,
    from: &Handle,
    kind: MessageType,
    envelope: &Envelope,
) -> Result<Sender, AppError> {
    // A friend's key as cached when the friendship began: the sender's home server
    // cannot substitute it (gap 5). A key change surfaces as a failure, never silently.
    // The one exception is RELATIONSHIP_REVOKE: after an identity reset the friend signs it
    // with a NEW key, so it may also verify under the current user document (a home server
    // could forge no more than ending the friendship, which it can deny anyway).
    if let Some(friend) = friend {
        match verify_with(envelope, &friend.signing_key) {
            Ok(()) => {
                return Ok(Sender {
                    handle: from.clone(),
                    signing_key: friend.signing_key,
                    encryption_key: friend.encryption_key,
                    name: friend.name,
                })
            }
            Err(_) if matches!(kind, MessageType::RelationshipRevoke) => {}
            Err(err) => return Err(err),
        }
    }
    let mut refreshed = false;
    loop {
        let doc = resolve_handle(state, from, refreshed).await?;
        let signing_key = doc.signing_key.to_base64();
        match verify_with(envelope, &signing_key) {
            Ok(()) => {
                return Ok(Sender {
                    handle: from.clone(),
                    signing_key,
                    encryption_key: doc.encryption_key.map(|k| k.to_base64()),
                    name: doc.name,
                })
            }
            Err(err) if refreshed || from.is_on(&domain(state)?) => return Err(err),
            Err(_) => refreshed = true,
        }
    }
}

fn replayed_message() -> AppError {
    AppError::Conflict {
        code: ErrorCode::Replay,
        message: "This message was already received".into(),
    }
}

fn not_friend() -> AppError {
    bad(ErrorCode::NotFriend, "Not a friend")
}
