//! Signed server-to-server requests: one POST of an envelope to a peer's inbox under this
//! server's key, with fresh transport headers (federation.md §7), and what the peer answered.

use parchment_core::federation::message::PROTOCOL_VERSION;
use parchment_core::federation::request::{body_hash, RequestSignable};
use parchment_core::federation::Envelope;
use parchment_core::keys::Ed25519SecretKey;
use parchment_core::timestamp::format_millis;

use super::{Client, PeerError, INBOX_PATH};

/// What one POST to a peer inbox came to.
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

/// POSTs `envelope` to `host`'s inbox, signed by `server_key` as server `our_id`, at `now`.
/// The caller has checked `host`'s pinned key.
pub async fn post_envelope(
    client: &Client,
    server_key: &Ed25519SecretKey,
    our_id: &str,
    host: &str,
    envelope: &Envelope,
    now: i64,
) -> Posted {
    let body = envelope.body();
    let hash = body_hash(&body);
    let nonce =
        parchment_core::federation::message::new_nonce(&mut parchment_core::rand_core::OsRng);
    let timestamp = format_millis(now);
    let headers = RequestSignable {
        method: "POST",
        path: INBOX_PATH,
        body_hash: &hash,
        nonce: &nonce,
        timestamp: &timestamp,
        peer_server_id: host,
        sender_server_id: our_id,
        protocol_version: PROTOCOL_VERSION,
    }
    .sign(server_key);
    let reply = match client.post(host, INBOX_PATH, &headers.pairs(), body).await {
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
