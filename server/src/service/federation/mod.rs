//! Federation decisions, by concern: `discovery` (what we publish; who a peer is: pinned
//! server keys, remote user documents), `inbound` (how an inbox delivery is verified),
//! `messages` (what each message does) and `delivery` (queueing and sending).

pub mod delivery;
pub mod discovery;
pub mod inbound;
pub mod messages;

pub use discovery::{domain, inbox_url, manifest, resolve_handle, user_document};
pub use inbound::{
    process, receive, InboundHeaders, INVITATION_TTL_MS, MAX_INBOX_BODY, TRANSPORT_NONCE_TTL_MS,
    TRANSPORT_WINDOW_MS,
};
