//! Free functions: everything that needs no secret.

use js_sys::Uint8Array;
use parchment_core::canonical;
use parchment_core::derive;
use parchment_core::ecies;
use parchment_core::federation::{Envelope, FederationError};
use parchment_core::key_slot::KeySlotError;
use parchment_core::keys::{Ed25519PublicKey, Ed25519Signature, KeyError, X25519PublicKey};
use parchment_core::safety;
use wasm_bindgen::prelude::*;

use crate::convert::{
    bytes, bytes_out, error, json_text, json_value, object, string, string_field, Result,
};
use crate::identity::key_slot;
use crate::rng::rng;

/// TypeScript shapes of the object arguments and results.
#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Binds a record envelope to its owner and purpose (the AAD). Every field is required; "" is allowed. */
export interface RecordContext {
  userId: string;
  recordType: string;
  recordId: string;
  keyContext: string;
}

/** A passkey-PRF wrapped master-key slot, as the server stores it. */
export interface KeySlot {
  credentialId: string;
  wrappedKm: string;
  wrapAlgo: string;
  slotSignature: string;
}

/** The signed members of a key slot. */
export interface UnsignedKeySlot {
  credentialId: string;
  wrappedKm: string;
  wrapAlgo: string;
}

/** Who a friend share is from and for, and when (ISO timestamp, sent as the location `nonce`). */
export interface ShareBinding {
  senderId: string;
  recipientId: string;
  timestamp: string;
}

/** What the sending device uploads in a device transfer. */
export interface SealedDeviceTransfer {
  senderEphemeralPub: string;
  sealedSeed: string;
  senderSignature: string;
}

/** What the sending device uploads in a v2 device transfer, after the user confirmed the SAS. */
export interface SealedDeviceTransferV2 {
  sealedSeed: string;
  senderSignature: string;
}

/** The legacy `{ciphertext, nonce}` pair (AES-256-GCM without AAD), both base64. */
export interface LegacyCiphertext {
  ciphertext: string;
  nonce: string;
}

/** What `signFederationEnvelope` takes: absent members are filled in. */
export interface UnsignedFederationEnvelope {
  message_type: string;
  from: string;
  to: string;
  payload?: Record<string, unknown>;
  message_version?: number;
  protocol_version?: 2;
  nonce?: string;
  timestamp?: string;
}

/**
 * One user as a version 2 safety number covers them: the handle (`alias@domain`, compared
 * case-insensitively) and both public keys (standard base64).
 */
export interface SafetyParty {
  handle: string;
  signingKey: string;
  encryptionKey: string;
}

/** A signed federation envelope (v2 as we sign it; v1 carries `type` instead of `message_type`). */
export interface FederationEnvelope {
  from: string;
  to: string;
  timestamp: string;
  signature: string;
  message_type?: string;
  type?: string;
  message_version?: number;
  protocol_version?: number;
  nonce?: string;
  payload?: Record<string, unknown>;
}
"#;

fn public_key(value: &JsValue, what: &str) -> Result<Ed25519PublicKey> {
    Ed25519PublicKey::from_base64(&string(value, what)?).map_err(|e| error(format!("{what}: {e}")))
}

/// Verifies an Ed25519 signature (strict RFC 8032 rules). Returns false when the signature
/// does not match; throws when the key or signature is malformed.
#[wasm_bindgen]
pub fn verify(
    #[wasm_bindgen(js_name = publicKey, unchecked_param_type = "string")] public_key_b64: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Uint8Array")] message: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] signature: JsValue,
) -> Result<bool> {
    let key = public_key(&public_key_b64, "publicKey")?;
    let message = bytes(&message, "message")?;
    let signature = Ed25519Signature::from_base64(&string(&signature, "signature")?)
        .map_err(|e| error(format!("signature: {e}")))?;
    match key.verify(&message, &signature) {
        Ok(()) => Ok(true),
        Err(KeyError::BadSignature) => Ok(false),
        Err(e) => Err(error(e)),
    }
}

/// Verifies a federation envelope (v2, or legacy v1) against the sender's signing key.
/// Returns false when the signature does not match; throws when the envelope or key is
/// malformed.
#[wasm_bindgen(js_name = verifyFederationEnvelope)]
pub fn verify_federation_envelope(
    #[wasm_bindgen(unchecked_param_type = "FederationEnvelope")] envelope: JsValue,
    #[wasm_bindgen(js_name = signingPublicKey, unchecked_param_type = "string")]
    signing_public_key: JsValue,
) -> Result<bool> {
    object(&envelope, "envelope")?;
    let key = public_key(&signing_public_key, "signingPublicKey")?;
    let envelope = Envelope::from_value(&json_value(&envelope, "envelope")?).map_err(error)?;
    match envelope.verify(&key) {
        Ok(()) => Ok(true),
        Err(FederationError::InvalidSignature) => Ok(false),
        Err(e) => Err(error(e)),
    }
}

/// Canonical JSON of a value: `JSON.stringify(sortObjectKeys(value))` as the federation
/// protocol signs it (keys in UTF-16 order, array-index keys first, JS number formatting).
/// The value goes through `JSON.stringify` first, so `toJSON` is honoured and `undefined`
/// members are dropped.
#[wasm_bindgen(js_name = canonicalJson)]
pub fn canonical_json(value: JsValue) -> Result<String> {
    canonical::canonicalize(&json_text(&value, "value")?).map_err(|e| error(format!("value: {e}")))
}

/// The version 1 safety number (the original's): 12 digits (`ddd ddd ddd ddd`) over two
/// signing public keys only. Commutative. Kept for interop; the app shows `safetyNumberV2`.
#[wasm_bindgen(js_name = safetyNumber)]
pub fn safety_number(
    #[wasm_bindgen(js_name = pubA, unchecked_param_type = "string")] pub_a: JsValue,
    #[wasm_bindgen(js_name = pubB, unchecked_param_type = "string")] pub_b: JsValue,
) -> Result<String> {
    Ok(safety::safety_number(
        &public_key(&pub_a, "pubA")?,
        &public_key(&pub_b, "pubB")?,
    ))
}

/// A `SafetyParty` argument: handle and both public keys, parsed.
struct SafetyParty {
    handle: String,
    signing_key: Ed25519PublicKey,
    encryption_key: X25519PublicKey,
}

impl SafetyParty {
    fn from_js(value: &JsValue, what: &str) -> Result<Self> {
        let o = object(value, what)?;
        let handle = string_field(o, "handle", what)?;
        let signing_key = Ed25519PublicKey::from_base64(&string_field(o, "signingKey", what)?)
            .map_err(|e| error(format!("{what}.signingKey: {e}")))?;
        let encryption_key = X25519PublicKey::from_base64(&string_field(o, "encryptionKey", what)?)
            .map_err(|e| error(format!("{what}.encryptionKey: {e}")))?;
        Ok(Self {
            handle,
            signing_key,
            encryption_key,
        })
    }

    fn identity(&self) -> safety::SafetyIdentity<'_> {
        safety::SafetyIdentity {
            handle: &self.handle,
            signing_key: &self.signing_key,
            encryption_key: &self.encryption_key,
        }
    }
}

fn safety_v2(me: &JsValue, friend: &JsValue) -> Result<safety::SafetyNumberV2> {
    let me = SafetyParty::from_js(me, "me")?;
    let friend = SafetyParty::from_js(friend, "friend")?;
    safety::SafetyNumberV2::new(&me.identity(), &friend.identity()).map_err(error)
}

/// The version 2 safety number of me and a friend: 60 digits in twelve groups of five
/// (`ddddd ddddd …`), over both handles, signing keys and encryption keys; both users see the
/// same text. Throws on a malformed handle or key.
#[wasm_bindgen(js_name = safetyNumberV2)]
pub fn safety_number_v2(
    #[wasm_bindgen(unchecked_param_type = "SafetyParty")] me: JsValue,
    #[wasm_bindgen(unchecked_param_type = "SafetyParty")] friend: JsValue,
) -> Result<String> {
    Ok(safety_v2(&me, &friend)?.digits())
}

/// What my screen shows as a QR code for a friend: `0x02 ‖ fingerprint(me) ‖
/// fingerprint(friend)`, 65 bytes.
#[wasm_bindgen(js_name = safetyQrPayload)]
pub fn safety_qr_payload(
    #[wasm_bindgen(unchecked_param_type = "SafetyParty")] me: JsValue,
    #[wasm_bindgen(unchecked_param_type = "SafetyParty")] friend: JsValue,
) -> Result<Uint8Array> {
    Ok(bytes_out(&safety_v2(&me, &friend)?.qr_payload()))
}

/// Whether a payload scanned from the friend's screen (their `safetyQrPayload(friend, me)`)
/// shows the same keys as mine, compared in constant time. False: the keys differ (or it is
/// my own code). Throws when it is not a version 2 payload (length, version byte).
#[wasm_bindgen(js_name = compareSafetyQr)]
pub fn compare_safety_qr(
    #[wasm_bindgen(unchecked_param_type = "SafetyParty")] me: JsValue,
    #[wasm_bindgen(unchecked_param_type = "SafetyParty")] friend: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Uint8Array")] scanned: JsValue,
) -> Result<bool> {
    let number = safety_v2(&me, &friend)?;
    let scanned = bytes(&scanned, "scanned")?;
    number.matches_qr(&scanned).map_err(error)
}

/// The 6-digit short authentication string of a device-to-device transfer, over both
/// ephemeral X25519 public keys (base64, either order) and the session id.
#[wasm_bindgen(js_name = deviceSas)]
pub fn device_sas(
    #[wasm_bindgen(js_name = receiverPublicKey, unchecked_param_type = "string")] receiver: JsValue,
    #[wasm_bindgen(js_name = senderPublicKey, unchecked_param_type = "string")] sender: JsValue,
    #[wasm_bindgen(js_name = sessionId, unchecked_param_type = "string")] session_id: JsValue,
) -> Result<String> {
    let key = |value: &JsValue, what: &str| -> Result<X25519PublicKey> {
        X25519PublicKey::from_base64(&string(value, what)?)
            .map_err(|e| error(format!("{what}: {e}")))
    };
    Ok(safety::device_sas(
        key(&receiver, "receiverPublicKey")?.as_bytes(),
        key(&sender, "senderPublicKey")?.as_bytes(),
        &string(&session_id, "sessionId")?,
    ))
}

/// Seals `plaintext` to an X25519 public key (anonymous sealed box); the holder of that
/// identity opens it with `identity.openSealed`.
#[wasm_bindgen(js_name = sealTo)]
pub fn seal_to(
    #[wasm_bindgen(js_name = recipientEncryptionPublicKey, unchecked_param_type = "string")]
    recipient: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Uint8Array")] plaintext: JsValue,
) -> Result<Uint8Array> {
    let recipient =
        X25519PublicKey::from_base64(&string(&recipient, "recipientEncryptionPublicKey")?)
            .map_err(|e| error(format!("recipientEncryptionPublicKey: {e}")))?;
    let plaintext = bytes(&plaintext, "plaintext")?;
    let sealed = ecies::seal(&recipient, &plaintext, &mut rng()?).map_err(error)?;
    Ok(bytes_out(&sealed))
}

/// The constant WebAuthn PRF salt (`prf.eval.first`), 32 bytes, identical for every user.
#[wasm_bindgen(js_name = prfSalt)]
pub fn prf_salt() -> Uint8Array {
    bytes_out(&derive::prf_salt())
}

/// Checks a key slot's signature against the account's signing key (as the server does before
/// storing it). Returns false when it does not match; throws when malformed.
#[wasm_bindgen(js_name = verifyKeySlot)]
pub fn verify_key_slot(
    #[wasm_bindgen(unchecked_param_type = "KeySlot")] slot: JsValue,
    #[wasm_bindgen(js_name = userId, unchecked_param_type = "string")] user_id: JsValue,
    #[wasm_bindgen(js_name = signingPublicKey, unchecked_param_type = "string")]
    signing_public_key: JsValue,
) -> Result<bool> {
    let slot = key_slot(&slot)?;
    let user_id = string(&user_id, "userId")?;
    let key = public_key(&signing_public_key, "signingPublicKey")?;
    match slot.verify(&user_id, &key) {
        Ok(()) => Ok(true),
        Err(KeySlotError::Signature(KeyError::BadSignature)) => Ok(false),
        Err(e) => Err(error(e)),
    }
}
