//! What servers publish about themselves and their users (federation.md §3, §9), parsed and
//! validated before anything is trusted.
//!
//! Improvements over the original (its gaps 6 and 10): a manifest must name the very host it
//! was fetched from (so host X cannot plant a pin for "victim.example"), and a user document
//! must carry the handle that was asked for, well-formed keys, and an inbox on the same host
//! (so a peer cannot point our POSTs at arbitrary hosts).

use serde::{Deserialize, Serialize};

use crate::handle::Handle;
use crate::keys::{Ed25519PublicKey, KeyError, X25519PublicKey};

use super::message::PROTOCOL_VERSION;

/// Capabilities we announce.
pub const CAPABILITIES: [&str; 6] = [
    "location-live",
    "metadata-encryption-v1",
    "ecies-friend-v2",
    "signed-server-messages",
    "replay-protection",
    "revocation-propagation",
];

/// Errors of discovery documents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    /// Not the expected JSON shape.
    #[error("malformed document: {0}")]
    Malformed(String),
    /// No protocol version in common.
    #[error("peer supports none of our protocol versions ({0:?})")]
    NoCommonVersion(Vec<u32>),
    /// The manifest names another server than the host it came from.
    #[error("manifest server_id {claimed:?} does not match the host fetched ({fetched:?})")]
    ServerIdMismatch {
        /// What the document says.
        claimed: String,
        /// Where it came from.
        fetched: String,
    },
    /// A key is malformed or weak.
    #[error("invalid key: {0}")]
    Key(#[from] KeyError),
    /// The user document is for someone else.
    #[error("user document is for {claimed:?}, expected {expected:?}")]
    HandleMismatch {
        /// What the document says.
        claimed: String,
        /// What was asked for.
        expected: String,
    },
    /// The inbox URL is not on the user's own server.
    #[error("inbox {0:?} is not an http(s) URL on the user's own server")]
    ForeignInbox(String),
}

/// `GET /.well-known/parchment-server`, as sent on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestDocument {
    /// Server id (host[:port]).
    pub server_id: String,
    /// base64 Ed25519 server key.
    pub public_key: String,
    /// Supported protocol versions.
    pub protocol_versions: Vec<u32>,
    /// Lowest version accepted.
    #[serde(default)]
    pub minimum_protocol_version: Option<u32>,
    /// Feature flags.
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Always null today.
    #[serde(default)]
    pub key_transparency_anchor: Option<String>,
}

impl ManifestDocument {
    /// Our own manifest.
    pub fn ours(server_id: &str, public_key: &Ed25519PublicKey) -> Self {
        Self {
            server_id: server_id.to_owned(),
            public_key: public_key.to_base64(),
            protocol_versions: vec![PROTOCOL_VERSION],
            minimum_protocol_version: Some(PROTOCOL_VERSION),
            capabilities: CAPABILITIES.iter().map(|c| c.to_string()).collect(),
            key_transparency_anchor: None,
        }
    }
}

/// A peer manifest that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerManifest {
    /// Server id, equal (ignoring ASCII case) to the host it was fetched from.
    pub server_id: String,
    /// Server key.
    pub public_key: Ed25519PublicKey,
    /// Supported versions.
    pub protocol_versions: Vec<u32>,
}

impl ServerManifest {
    /// Parses and validates a manifest fetched from `fetched_host` (host[:port]).
    pub fn parse(json: &str, fetched_host: &str) -> Result<Self, DiscoveryError> {
        let doc: ManifestDocument =
            serde_json::from_str(json).map_err(|e| DiscoveryError::Malformed(e.to_string()))?;
        if doc.server_id.is_empty() {
            return Err(DiscoveryError::Malformed("empty server_id".into()));
        }
        if !doc.server_id.eq_ignore_ascii_case(fetched_host) {
            return Err(DiscoveryError::ServerIdMismatch {
                claimed: doc.server_id,
                fetched: fetched_host.to_owned(),
            });
        }
        if !doc.protocol_versions.contains(&PROTOCOL_VERSION) {
            return Err(DiscoveryError::NoCommonVersion(doc.protocol_versions));
        }
        let public_key = Ed25519PublicKey::from_base64(&doc.public_key)?;
        public_key.validate()?;
        Ok(Self {
            server_id: doc.server_id,
            public_key,
            protocol_versions: doc.protocol_versions,
        })
    }
}

/// `GET /.well-known/user/{alias}`, as sent on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserDocumentWire {
    /// `alias@domain`.
    pub handle: String,
    /// base64 Ed25519 key.
    pub signing_key: String,
    /// base64 X25519 key, or `""` when the user has none.
    #[serde(default)]
    pub encryption_key: String,
    /// Inbox URL.
    pub inbox: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Picture URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
}

/// A validated remote user document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDocument {
    /// The handle asked for.
    pub handle: Handle,
    /// Identity key.
    pub signing_key: Ed25519PublicKey,
    /// Encryption key, if published.
    pub encryption_key: Option<X25519PublicKey>,
    /// Inbox URL on the user's own server.
    pub inbox: String,
    /// Display name.
    pub name: Option<String>,
    /// Picture URL.
    pub picture: Option<String>,
}

/// The `host[:port]` of an `http(s)://` URL, if it is one.
pub fn url_host(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = &rest[..end];
    (!host.is_empty() && !host.contains('@')).then_some(host)
}

impl UserDocument {
    /// Parses and validates the document served for `expected`.
    pub fn parse(json: &str, expected: &Handle) -> Result<Self, DiscoveryError> {
        let doc: UserDocumentWire =
            serde_json::from_str(json).map_err(|e| DiscoveryError::Malformed(e.to_string()))?;
        let handle = Handle::parse(&doc.handle)
            .map_err(|e| DiscoveryError::Malformed(format!("handle: {e}")))?;
        if handle.alias() != expected.alias() || !handle.is_on(expected.domain()) {
            return Err(DiscoveryError::HandleMismatch {
                claimed: doc.handle,
                expected: expected.to_string(),
            });
        }
        let signing_key = Ed25519PublicKey::from_base64(&doc.signing_key)?;
        signing_key.validate()?;
        let encryption_key = if doc.encryption_key.is_empty() {
            None
        } else {
            let key = X25519PublicKey::from_base64(&doc.encryption_key)?;
            key.validate()?;
            Some(key)
        };
        match url_host(&doc.inbox) {
            Some(host) if host.eq_ignore_ascii_case(expected.domain()) => {}
            _ => return Err(DiscoveryError::ForeignInbox(doc.inbox)),
        }
        Ok(Self {
            handle: expected.clone(),
            signing_key,
            encryption_key,
            inbox: doc.inbox,
            name: doc.name,
            picture: doc.picture,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Ed25519SecretKey;

    fn key() -> String {
        Ed25519SecretKey::from_bytes(&[7; 32])
            .public_key()
            .to_base64()
    }

    #[test]
    fn manifest_must_name_the_host_it_came_from() {
        let doc = ManifestDocument::ours(
            "b.example",
            &Ed25519SecretKey::from_bytes(&[7; 32]).public_key(),
        );
        let json = serde_json::to_string(&doc).unwrap();
        assert!(ServerManifest::parse(&json, "b.example").is_ok());
        assert!(ServerManifest::parse(&json, "B.Example").is_ok());
        assert!(matches!(
            ServerManifest::parse(&json, "evil.example"),
            Err(DiscoveryError::ServerIdMismatch { .. })
        ));
        let v3 = json.replace("\"protocol_versions\":[2]", "\"protocol_versions\":[3]");
        assert!(matches!(
            ServerManifest::parse(&v3, "b.example"),
            Err(DiscoveryError::NoCommonVersion(_))
        ));
    }

    #[test]
    fn user_documents_are_validated() {
        let expected = Handle::parse("bob@b.example").unwrap();
        let doc = |handle: &str, inbox: &str| {
            format!(
                r#"{{"handle":"{handle}","signingKey":"{}","encryptionKey":"","inbox":"{inbox}"}}"#,
                key()
            )
        };
        let ok = UserDocument::parse(
            &doc("bob@b.example", "https://b.example/federation/inbox"),
            &expected,
        )
        .unwrap();
        assert_eq!(ok.encryption_key, None);
        assert!(matches!(
            UserDocument::parse(
                &doc("eve@b.example", "https://b.example/federation/inbox"),
                &expected
            ),
            Err(DiscoveryError::HandleMismatch { .. })
        ));
        for inbox in [
            "https://evil.example/federation/inbox",
            "ftp://b.example/x",
            "https://b.example@evil.example/",
        ] {
            assert!(
                matches!(
                    UserDocument::parse(&doc("bob@b.example", inbox), &expected),
                    Err(DiscoveryError::ForeignInbox(_))
                ),
                "{inbox}"
            );
        }
    }
}
