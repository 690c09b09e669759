//! Server-to-server request signatures (federation.md §7).
//!
//! The sender signs the canonical JSON of `{method, path, body_hash, nonce, timestamp,
//! peer_server_id, sender_server_id, protocol_version}` with its server key and sends it in
//! `X-Parchment-*` headers; `body_hash` is base64(SHA-256(body)).

use sha2::{Digest, Sha256};

use crate::canonical::{Object, Value};
use crate::encoding::to_base64;
use crate::keys::{Ed25519PublicKey, Ed25519SecretKey, Ed25519Signature, KeyError};

/// `X-Parchment-Server-Id`.
pub const HEADER_SERVER_ID: &str = "X-Parchment-Server-Id";
/// `X-Parchment-Protocol-Version`.
pub const HEADER_PROTOCOL_VERSION: &str = "X-Parchment-Protocol-Version";
/// `X-Parchment-Nonce`.
pub const HEADER_NONCE: &str = "X-Parchment-Nonce";
/// `X-Parchment-Timestamp`.
pub const HEADER_TIMESTAMP: &str = "X-Parchment-Timestamp";
/// `X-Parchment-Server-Signature`.
pub const HEADER_SIGNATURE: &str = "X-Parchment-Server-Signature";

/// Errors of request verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The protocol version header is not a supported version.
    #[error("unsupported protocol version {0:?}")]
    ProtocolVersion(String),
    /// Signature or key malformed.
    #[error("malformed signature: {0}")]
    Malformed(KeyError),
    /// The signature does not verify.
    #[error("invalid server signature")]
    InvalidSignature,
}

/// base64(SHA-256(UTF-8 body)).
pub fn body_hash(body: &str) -> String {
    to_base64(&Sha256::digest(body.as_bytes()))
}

/// The server id of an origin: the origin without its `scheme://` (host[:port]).
pub fn server_id_from_origin(origin: &str) -> &str {
    match origin.find("//") {
        Some(at) if origin[..at].ends_with(':') || at == 0 => &origin[at + 2..],
        _ => origin,
    }
}

/// What the server signature covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSignable<'a> {
    /// HTTP method (upper-cased when signing).
    pub method: &'a str,
    /// URL path of the inbox, no query.
    pub path: &'a str,
    /// [`body_hash`] of the body.
    pub body_hash: &'a str,
    /// Transport nonce.
    pub nonce: &'a str,
    /// ISO timestamp.
    pub timestamp: &'a str,
    /// Recipient server id.
    pub peer_server_id: &'a str,
    /// Sender server id.
    pub sender_server_id: &'a str,
    /// Protocol version.
    pub protocol_version: u32,
}

impl RequestSignable<'_> {
    /// The exact signed text.
    pub fn to_canonical(&self) -> String {
        let object: Object = [
            ("method", Value::string(&self.method.to_ascii_uppercase())),
            ("path", Value::string(self.path)),
            ("body_hash", Value::string(self.body_hash)),
            ("nonce", Value::string(self.nonce)),
            ("timestamp", Value::string(self.timestamp)),
            ("peer_server_id", Value::string(self.peer_server_id)),
            ("sender_server_id", Value::string(self.sender_server_id)),
            (
                "protocol_version",
                Value::Number(f64::from(self.protocol_version)),
            ),
        ]
        .into_iter()
        .collect();
        Value::Object(object).canonical()
    }

    /// Signs with the server key, returning the headers to send.
    pub fn sign(&self, key: &Ed25519SecretKey) -> ServerHeaders {
        ServerHeaders {
            server_id: self.sender_server_id.to_owned(),
            protocol_version: self.protocol_version.to_string(),
            nonce: self.nonce.to_owned(),
            timestamp: self.timestamp.to_owned(),
            signature: key.sign(self.to_canonical().as_bytes()).to_base64(),
        }
    }

    /// Verifies a server signature (base64) against the sender server's key.
    pub fn verify(&self, key: &Ed25519PublicKey, signature: &str) -> Result<(), RequestError> {
        let signature =
            Ed25519Signature::from_base64(signature).map_err(RequestError::Malformed)?;
        key.verify(self.to_canonical().as_bytes(), &signature)
            .map_err(|_| RequestError::InvalidSignature)
    }
}

/// The `X-Parchment-*` header values of a signed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHeaders {
    /// Sender server id.
    pub server_id: String,
    /// Decimal protocol version.
    pub protocol_version: String,
    /// Transport nonce.
    pub nonce: String,
    /// ISO timestamp.
    pub timestamp: String,
    /// base64 server signature.
    pub signature: String,
}

impl ServerHeaders {
    /// `(name, value)` pairs in the order the original sends them.
    pub fn pairs(&self) -> [(&'static str, &str); 5] {
        [
            (HEADER_SERVER_ID, &self.server_id),
            (HEADER_PROTOCOL_VERSION, &self.protocol_version),
            (HEADER_NONCE, &self.nonce),
            (HEADER_TIMESTAMP, &self.timestamp),
            (HEADER_SIGNATURE, &self.signature),
        ]
    }

    /// The protocol version as `parseInt` reads it, if we support it.
    pub fn parsed_protocol_version(&self) -> Result<u32, RequestError> {
        let digits: String = self
            .protocol_version
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        match digits.parse::<u32>() {
            Ok(v) if v == super::message::PROTOCOL_VERSION => Ok(v),
            _ => Err(RequestError::ProtocolVersion(self.protocol_version.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_body_hash() {
        assert_eq!(
            body_hash("{}"),
            "RBNvo1WzZ4oRRq0W9+hknpT7T8If536DEMBg9hyq/4o="
        );
    }

    #[test]
    fn server_ids() {
        assert_eq!(
            server_id_from_origin("https://parchment.example.com"),
            "parchment.example.com"
        );
        assert_eq!(
            server_id_from_origin("http://localhost:5099"),
            "localhost:5099"
        );
        assert_eq!(server_id_from_origin("a.example"), "a.example");
    }
}
