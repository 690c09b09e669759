//! The message level of federation (federation.md): user-signed envelopes (v2 and legacy v1)
//! and server-to-server request signatures. No transport here; the server sends the bytes.

pub mod discovery;
pub mod message;
pub mod request;

pub use message::{Envelope, FederationError, MessageType, UnsignedMessage};
pub use request::{RequestError, RequestSignable, ServerHeaders};
