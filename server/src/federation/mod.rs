//! Outbound federation infrastructure: the one HTTP client (address policy, byte caps,
//! deadlines, the pin memo), signed inbox POSTs, the durable delivery queue's worker and the
//! inbox's group commit. It takes the store, clock and settings it needs and imports nothing
//! from `service/` or `api/`: what to trust and what a message does is decided in
//! `service::federation`.

pub mod address_policy;
pub mod client;
pub mod inbox;
pub mod outbox;
pub mod signing;

pub use client::Client;

use parchment_core::handle::Handle;

/// The inbox path (the receiver verifies signatures over this literal path).
pub const INBOX_PATH: &str = "/federation/inbox";

/// Why talking to a peer server failed.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// No answer: (host, what went wrong).
    #[error("peer {0} unreachable: {1}")]
    Unreachable(String, String),
    /// An unexpected HTTP status: (host, status).
    #[error("peer {0} answered {1}")]
    Status(String, u16),
    /// The peer answered with something unusable.
    #[error("peer {host}: {reason}")]
    Invalid {
        /// The peer.
        host: String,
        /// What is wrong with its answer.
        reason: String,
    },
    /// The peer presents another key than the pinned one: refused until an operator
    /// runs `admin federation unpin`.
    #[error("peer {0} presented a different identity key than the pinned one")]
    KeyChanged(String),
    /// The host is an address we do not connect to (internal, or an IP literal).
    #[error("peer {0} refused: {1}")]
    Forbidden(String, String),
    /// Reading or writing the pin failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// The lowercase form of a handle, used as the key of everything stored about a peer user.
pub fn handle_key(handle: &Handle) -> String {
    handle.to_string().to_ascii_lowercase()
}
