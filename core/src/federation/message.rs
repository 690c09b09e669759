//! User-level federation envelopes (federation.md §6).
//!
//! v2 signable: canonical JSON of exactly `{protocol_version, message_type, message_version,
//! from, to, nonce, timestamp, payload}`. Legacy v1 signable: `{type, ...sorted({from, to,
//! timestamp, ...payload})}`. A body is v2 iff `protocol_version` is present and ≥ 2.

use std::fmt;
use std::str::FromStr;

use rand_core::CryptoRngCore;

use crate::canonical::{self, legacy_signable, Object, Value};
use crate::encoding::to_base64;
use crate::keys::{Ed25519PublicKey, Ed25519SecretKey, Ed25519Signature, KeyError};

/// The protocol version we speak.
pub const PROTOCOL_VERSION: u32 = 2;

/// Errors of envelope handling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FederationError {
    /// The body is not JSON.
    #[error("malformed JSON: {0}")]
    Json(#[from] canonical::CanonicalError),
    /// The body does not have the envelope's schema.
    #[error("invalid envelope: {0}")]
    Schema(String),
    /// A v2 message without nonce or message type.
    #[error("v2 message missing nonce or message_type")]
    MissingV2Fields,
    /// Neither `message_type` nor `type`.
    #[error("Invalid message structure")]
    MissingType,
    /// A message type we do not know.
    #[error("Unsupported message type: {0}")]
    UnsupportedType(String),
    /// The signature does not decode.
    #[error("Malformed signature input: {0}")]
    MalformedSignature(KeyError),
    /// The signature does not verify.
    #[error("Invalid signature")]
    InvalidSignature,
    /// A draft to sign ([`UnsignedMessage::from_draft`]) that is not a v2 envelope.
    #[error("{0}")]
    Draft(String),
    /// A legacy v1 payload member that would override a signed envelope field.
    #[error("a v1 payload may not carry `{0}`")]
    LegacyOverride(String),
}

/// The envelope fields a legacy v1 signable covers beside the payload.
pub const LEGACY_SIGNED_FIELDS: [&str; 4] = ["type", "from", "to", "timestamp"];

/// Every message type of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MessageType {
    /// Ask to become friends.
    FriendInvite,
    /// Accept an invitation.
    FriendAccept,
    /// Decline an invitation.
    FriendReject,
    /// An encrypted location update.
    LocationUpdate,
    /// Ask a friend for their location.
    LocationRequest,
    /// Share a resource (collection, route, …).
    ResourceShare,
    /// Stop sharing a resource (ours; the original has no such message).
    ResourceUnshare,
    /// End the relationship.
    RelationshipRevoke,
}

impl MessageType {
    /// Every type.
    pub const ALL: [MessageType; 8] = [
        MessageType::FriendInvite,
        MessageType::FriendAccept,
        MessageType::FriendReject,
        MessageType::LocationUpdate,
        MessageType::LocationRequest,
        MessageType::ResourceShare,
        MessageType::ResourceUnshare,
        MessageType::RelationshipRevoke,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::FriendInvite => "FRIEND_INVITE",
            MessageType::FriendAccept => "FRIEND_ACCEPT",
            MessageType::FriendReject => "FRIEND_REJECT",
            MessageType::LocationUpdate => "LOCATION_UPDATE",
            MessageType::LocationRequest => "LOCATION_REQUEST",
            MessageType::ResourceShare => "RESOURCE_SHARE",
            MessageType::ResourceUnshare => "RESOURCE_UNSHARE",
            MessageType::RelationshipRevoke => "RELATIONSHIP_REVOKE",
        }
    }
}

impl FromStr for MessageType {
    type Err = FederationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MessageType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| FederationError::UnsupportedType(s.to_owned()))
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A fresh user-level nonce: base64 of 16 random bytes.
pub fn new_nonce(rng: &mut impl CryptoRngCore) -> String {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    to_base64(&bytes)
}

/// A v2 message before signing.
#[derive(Debug, Clone, PartialEq)]
pub struct UnsignedMessage {
    /// Type.
    pub message_type: MessageType,
    /// Always 1 today.
    pub message_version: u32,
    /// Sender handle.
    pub from: String,
    /// Recipient handle.
    pub to: String,
    /// base64 of 16 random bytes.
    pub nonce: String,
    /// ISO timestamp, signed as an opaque string.
    pub timestamp: String,
    /// Type-specific payload (`{}` for most types).
    pub payload: Object,
}

/// The members a draft may carry: those of a v2 envelope.
const DRAFT_MEMBERS: [&str; 9] = [
    "protocol_version",
    "message_type",
    "message_version",
    "from",
    "to",
    "nonce",
    "timestamp",
    "payload",
    "signature",
];

impl UnsignedMessage {
    /// Reads a message a client asks to have signed: a v2 envelope's members only (`type`, the
    /// v1 form, is refused), `protocol_version` 2 if present, `message_version` a positive
    /// integer (default 1), `payload` an object (default `{}`). A missing `nonce` or
    /// `timestamp` comes from `fresh_nonce` / `now` (the caller's randomness and clock; the
    /// protocol signs the timestamp as an opaque string). A `signature` member is ignored.
    pub fn from_draft(
        value: &Value,
        fresh_nonce: impl FnOnce() -> String,
        now: impl FnOnce() -> String,
    ) -> Result<Self, FederationError> {
        let draft = |m: String| FederationError::Draft(m);
        let Value::Object(members) = value else {
            return Err(draft("envelope must be an object".into()));
        };
        for (name, _) in members.iter() {
            if !DRAFT_MEMBERS.iter().any(|m| name.eq_str(m)) {
                let name = String::from_utf16_lossy(name.units());
                return Err(draft(if name == "type" {
                    "envelope.type is the legacy v1 form; a draft is signed as protocol v2 \
                     (use message_type)"
                        .to_owned()
                } else {
                    format!("envelope.{name} is not a member of a federation envelope")
                }));
            }
        }
        let text = |name: &str| -> Result<Option<String>, FederationError> {
            match members.get(name) {
                None => Ok(None),
                Some(v) => v
                    .as_str()
                    .map(Some)
                    .ok_or_else(|| draft(format!("envelope.{name} must be a string"))),
            }
        };
        let required = |name: &str| -> Result<String, FederationError> {
            text(name)?.ok_or_else(|| draft(format!("envelope.{name} is required")))
        };
        match members.get("protocol_version") {
            None => {}
            Some(Value::Number(v)) if *v == 2.0 => {}
            Some(_) => {
                return Err(draft(
                    "envelope.protocol_version must be 2 (a draft is signed as protocol v2)".into(),
                ))
            }
        }
        let message_type: MessageType = required("message_type")?.parse()?;
        let message_version = match members.get("message_version") {
            None => 1,
            Some(Value::Number(v))
                if v.fract() == 0.0 && *v >= 1.0 && *v <= f64::from(u32::MAX) =>
            {
                *v as u32
            }
            Some(_) => {
                return Err(draft(
                    "envelope.message_version must be a positive integer".into(),
                ))
            }
        };
        let payload = match members.get("payload") {
            None => Object::new(),
            Some(Value::Object(p)) => p.clone(),
            Some(_) => return Err(draft("envelope.payload must be an object".into())),
        };
        let nonce = match text("nonce")? {
            Some(nonce) => nonce,
            None => fresh_nonce(),
        };
        let timestamp = match text("timestamp")? {
            Some(timestamp) => timestamp,
            None => now(),
        };
        Ok(UnsignedMessage {
            message_type,
            message_version,
            from: required("from")?,
            to: required("to")?,
            nonce,
            timestamp,
            payload,
        })
    }

    fn to_object(&self) -> Object {
        [
            (
                "protocol_version",
                Value::Number(f64::from(PROTOCOL_VERSION)),
            ),
            ("message_type", Value::string(self.message_type.as_str())),
            (
                "message_version",
                Value::Number(f64::from(self.message_version)),
            ),
            ("from", Value::string(&self.from)),
            ("to", Value::string(&self.to)),
            ("nonce", Value::string(&self.nonce)),
            ("timestamp", Value::string(&self.timestamp)),
            ("payload", Value::Object(self.payload.clone())),
        ]
        .into_iter()
        .collect()
    }

    /// The exact text the sender signs.
    pub fn signable(&self) -> String {
        Value::Object(self.to_object()).canonical()
    }

    /// Signs with the sender's identity key.
    pub fn sign(&self, key: &Ed25519SecretKey) -> Envelope {
        self.with_signature(&key.sign(self.signable().as_bytes()).to_base64())
    }

    /// The envelope carrying a signature made elsewhere (the client signs; the server builds
    /// the same envelope and checks it before sending).
    pub fn with_signature(&self, signature: &str) -> Envelope {
        Envelope {
            protocol_version: Some(f64::from(PROTOCOL_VERSION)),
            message_type: Some(self.message_type.as_str().to_owned()),
            legacy_type: None,
            message_version: Some(f64::from(self.message_version)),
            nonce: Some(self.nonce.clone()),
            from: self.from.clone(),
            to: self.to.clone(),
            timestamp: self.timestamp.clone(),
            signature: signature.to_owned(),
            payload: Some(self.payload.clone()),
        }
    }
}

/// An inbox body, normalized to the members the protocol defines (others are dropped, as the
/// original's schema layer drops them before hashing).
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// ≥ 2 selects v2; absent or lower is legacy v1.
    pub protocol_version: Option<f64>,
    /// v2 type.
    pub message_type: Option<String>,
    /// v1 `type`.
    pub legacy_type: Option<String>,
    /// Defaults to 1 when verifying.
    pub message_version: Option<f64>,
    /// v2 user-level nonce.
    pub nonce: Option<String>,
    /// Sender handle.
    pub from: String,
    /// Recipient handle.
    pub to: String,
    /// ISO timestamp.
    pub timestamp: String,
    /// base64 user signature.
    pub signature: String,
    /// Payload object.
    pub payload: Option<Object>,
}

fn schema(message: &str) -> FederationError {
    FederationError::Schema(message.to_owned())
}

impl Envelope {
    /// Parses an inbox body (JSON text).
    pub fn parse(body: &str) -> Result<Self, FederationError> {
        Self::from_value(&canonical::parse(body)?)
    }

    /// Reads an inbox body, checking the schema: strings `from`, `to`, `timestamp`,
    /// `signature`; optional number `protocol_version`, `message_version`; optional string
    /// `message_type`, `nonce`, `type`; optional object `payload`.
    pub fn from_value(value: &Value) -> Result<Self, FederationError> {
        let object = value
            .as_object()
            .ok_or_else(|| schema("body must be a JSON object"))?;
        let string = |name: &'static str| -> Result<Option<String>, FederationError> {
            match object.get(name) {
                None => Ok(None),
                Some(v) => v
                    .as_str()
                    .map(Some)
                    .ok_or_else(|| FederationError::Schema(format!("{name} must be a string"))),
            }
        };
        let required = |name: &'static str| -> Result<String, FederationError> {
            string(name)?.ok_or_else(|| FederationError::Schema(format!("{name} is required")))
        };
        let number = |name: &'static str| -> Result<Option<f64>, FederationError> {
            match object.get(name) {
                None => Ok(None),
                Some(Value::Number(n)) => Ok(Some(*n)),
                Some(_) => Err(FederationError::Schema(format!("{name} must be a number"))),
            }
        };
        let payload = match object.get("payload") {
            None => None,
            Some(Value::Object(o)) => Some(o.clone()),
            Some(_) => return Err(schema("payload must be an object")),
        };
        Ok(Self {
            protocol_version: number("protocol_version")?,
            message_type: string("message_type")?,
            legacy_type: string("type")?,
            message_version: number("message_version")?,
            nonce: string("nonce")?,
            from: required("from")?,
            to: required("to")?,
            timestamp: required("timestamp")?,
            signature: required("signature")?,
            payload,
        })
    }

    /// The normalized body as a value.
    pub fn to_value(&self) -> Value {
        let mut object = Object::new();
        let mut put_str = |name: &str, v: &Option<String>| {
            if let Some(v) = v {
                object.insert(name, Value::string(v));
            }
        };
        put_str("type", &self.legacy_type);
        put_str("message_type", &self.message_type);
        put_str("nonce", &self.nonce);
        if let Some(v) = self.protocol_version {
            object.insert("protocol_version", Value::Number(v));
        }
        if let Some(v) = self.message_version {
            object.insert("message_version", Value::Number(v));
        }
        object.insert("from", Value::string(&self.from));
        object.insert("to", Value::string(&self.to));
        object.insert("timestamp", Value::string(&self.timestamp));
        object.insert("signature", Value::string(&self.signature));
        if let Some(payload) = &self.payload {
            object.insert("payload", Value::Object(payload.clone()));
        }
        Value::Object(object)
    }

    /// The HTTP body: canonical JSON of the normalized envelope.
    pub fn body(&self) -> String {
        self.to_value().canonical()
    }

    /// True for protocol v2.
    pub fn is_v2(&self) -> bool {
        self.protocol_version.is_some_and(|v| v >= 2.0)
    }

    /// `message_type ?? type`, required and non-empty.
    pub fn type_name(&self) -> Result<&str, FederationError> {
        self.message_type
            .as_deref()
            .or(self.legacy_type.as_deref())
            .filter(|t| !t.is_empty())
            .ok_or(FederationError::MissingType)
    }

    /// The known message type.
    pub fn kind(&self) -> Result<MessageType, FederationError> {
        self.type_name()?.parse()
    }

    /// True for the types the original still sends as legacy v1 (the friend handshake:
    /// federation.md §6). Every other type must be v2, with its nonce.
    pub fn legacy_allowed(kind: MessageType) -> bool {
        matches!(
            kind,
            MessageType::FriendInvite | MessageType::FriendAccept | MessageType::FriendReject
        )
    }

    /// `payload[name]`, falling back to the top-level member as the original's `pick` does.
    pub fn pick(&self, name: &str) -> Option<Value> {
        let in_payload = self
            .payload
            .as_ref()
            .and_then(|p| p.get(name))
            .filter(|v| !matches!(v, Value::Null));
        match in_payload {
            Some(v) => Some(v.clone()),
            None => self
                .to_value()
                .as_object()
                .and_then(|o| o.get(name).cloned()),
        }
    }

    /// The exact text the sender signed.
    pub fn signable(&self) -> Result<String, FederationError> {
        let empty = Object::new();
        let payload = self.payload.as_ref().unwrap_or(&empty);
        if self.is_v2() {
            let (Some(nonce), Some(message_type)) = (&self.nonce, &self.message_type) else {
                return Err(FederationError::MissingV2Fields);
            };
            let object: Object = [
                (
                    "protocol_version",
                    Value::Number(self.protocol_version.unwrap_or(2.0)),
                ),
                ("message_type", Value::string(message_type)),
                (
                    "message_version",
                    Value::Number(self.message_version.unwrap_or(1.0)),
                ),
                ("from", Value::string(&self.from)),
                ("to", Value::string(&self.to)),
                ("nonce", Value::string(nonce)),
                ("timestamp", Value::string(&self.timestamp)),
                ("payload", Value::Object(payload.clone())),
            ]
            .into_iter()
            .collect();
            Ok(Value::Object(object).canonical())
        } else {
            let mut fields: Object = [
                ("from", Value::string(&self.from)),
                ("to", Value::string(&self.to)),
                ("timestamp", Value::string(&self.timestamp)),
            ]
            .into_iter()
            .collect();
            // In the original a payload member overrides the same-named signed field, so one
            // signature could be replayed under another type, sender, recipient or time
            // (federation.md gap 13). Such a payload is refused: what is signed is what the
            // envelope says.
            for (k, v) in payload.iter() {
                if let Some(field) = LEGACY_SIGNED_FIELDS.iter().find(|f| k.eq_str(f)) {
                    return Err(FederationError::LegacyOverride((*field).to_owned()));
                }
                fields.insert(k.clone(), v.clone());
            }
            Ok(legacy_signable(self.type_name()?, &fields))
        }
    }

    /// Verifies the user signature against the sender's signing key.
    pub fn verify(&self, key: &Ed25519PublicKey) -> Result<(), FederationError> {
        let signature = Ed25519Signature::from_base64(&self.signature)
            .map_err(FederationError::MalformedSignature)?;
        key.verify(self.signable()?.as_bytes(), &signature)
            .map_err(|_| FederationError::InvalidSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;

    fn legacy(kind: &str, from: &str, to: &str, at: &str, payload: Option<Object>) -> Envelope {
        Envelope {
            protocol_version: None,
            message_type: None,
            legacy_type: Some(kind.into()),
            message_version: None,
            nonce: None,
            from: from.into(),
            to: to.into(),
            timestamp: at.into(),
            signature: String::new(),
            payload,
        }
    }

    #[test]
    fn a_v1_signature_cannot_be_moved_into_the_payload() {
        let key = Ed25519SecretKey::generate(&mut OsRng);
        let mut honest = legacy(
            "FRIEND_INVITE",
            "a@a.example",
            "b@b.example",
            "2026-01-01T00:00:00.000Z",
            None,
        );
        honest.signature = key
            .sign(honest.signable().expect("signable").as_bytes())
            .to_base64();
        honest
            .verify(&key.public_key())
            .expect("honest v1 verifies");
        // The original signed text of the invite, carried in the payload, under another
        // type, recipient and time.
        let moved: Object = [
            ("type", Value::string("FRIEND_INVITE")),
            ("to", Value::string("b@b.example")),
            ("timestamp", Value::string("2026-01-01T00:00:00.000Z")),
        ]
        .into_iter()
        .collect();
        for kind in ["RELATIONSHIP_REVOKE", "LOCATION_REQUEST", "FRIEND_INVITE"] {
            let mut forged = legacy(
                kind,
                "a@a.example",
                "c@b.example",
                "2026-12-01T00:00:00.000Z",
                Some(moved.clone()),
            );
            forged.signature = honest.signature.clone();
            assert!(matches!(
                forged.signable(),
                Err(FederationError::LegacyOverride(_))
            ));
            assert!(forged.verify(&key.public_key()).is_err());
        }
    }

    #[test]
    fn only_the_friend_handshake_may_be_legacy() {
        let legacy: Vec<_> = MessageType::ALL
            .into_iter()
            .filter(|k| Envelope::legacy_allowed(*k))
            .collect();
        assert_eq!(
            legacy,
            [
                MessageType::FriendInvite,
                MessageType::FriendAccept,
                MessageType::FriendReject
            ]
        );
    }

    #[test]
    fn in_v2_the_signed_message_type_wins_over_type() {
        let body = |legacy: &str| {
            crate::canonical::parse(&format!(
                r#"{{"protocol_version":2,"message_type":"FRIEND_INVITE","message_version":1,"nonce":"n","type":"{legacy}","from":"a@a","to":"b@b","timestamp":"t","signature":"s","payload":{{}}}}"#
            ))
            .expect("json")
        };
        for legacy in ["FRIEND_INVITE", "RELATIONSHIP_REVOKE"] {
            let envelope = Envelope::from_value(&body(legacy)).expect("envelope");
            assert_eq!(
                envelope.kind(),
                Ok(MessageType::FriendInvite),
                "type {legacy}"
            );
        }
    }

    #[test]
    fn a_draft_is_a_v2_envelope_with_defaults_from_the_caller() {
        let parse = |text: &str| crate::canonical::parse(text).expect("json");
        let draft = UnsignedMessage::from_draft(
            &parse(r#"{"message_type":"FRIEND_INVITE","from":"a@a","to":"b@b"}"#),
            || "nonce-1".into(),
            || "2026-12-03T00:00:00.000Z".into(),
        )
        .expect("draft");
        assert_eq!(
            (
                draft.message_version,
                draft.nonce.as_str(),
                draft.timestamp.as_str()
            ),
            (1, "nonce-1", "2026-12-03T00:00:00.000Z")
        );
        let refused = |text: &str| {
            UnsignedMessage::from_draft(&parse(text), String::new, String::new)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(
            refused(r#"{"type":"FRIEND_INVITE","from":"a","to":"b"}"#).contains("legacy v1 form")
        );
        assert!(
            refused(r#"{"message_type":"FRIEND_INVITE","from":"a","to":"b","extra":1}"#)
                .contains("envelope.extra is not a member")
        );
        assert!(refused(
            r#"{"message_type":"FRIEND_INVITE","from":"a","to":"b","protocol_version":1}"#
        )
        .contains("protocol_version must be 2"));
        assert!(refused(r#"{"from":"a","to":"b"}"#).contains("envelope.message_type is required"));
        assert!(refused("[]").contains("must be an object"));
    }
}
