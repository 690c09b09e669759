//! Free functions: everything that needs no secret.

use js_sys::Uint8Array;
use parchment_core::canonical;
use parchment_core::derive;
use parchment_core::federation::{Envelope, FederationError};
use parchment_core::keys::{Ed25519PublicKey, Ed25519Signature, KeyError};
use wasm_bindgen::prelude::*;

use crate::convert::{bytes, bytes_out, error, json_text, json_value, object, string, Result};

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

pub(crate) fn public_key(value: &JsValue, what: &str) -> Result<Ed25519PublicKey> {
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

/// The constant WebAuthn PRF salt (`prf.eval.first`), 32 bytes, identical for every user.
#[wasm_bindgen(js_name = prfSalt)]
pub fn prf_salt() -> Uint8Array {
    bytes_out(&derive::prf_salt())
}
