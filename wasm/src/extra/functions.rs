//! The free functions of the second module: safety numbers, the device-transfer code, sealed
//! boxes and key-slot checks.

use js_sys::Uint8Array;
use parchment_core::ecies;
use parchment_core::key_slot::KeySlotError;
use parchment_core::keys::{Ed25519PublicKey, KeyError, X25519PublicKey};
use parchment_core::safety;
use wasm_bindgen::prelude::*;

use super::identity::key_slot;
use crate::convert::{bytes, bytes_out, error, object, string, string_field, Result};
use crate::functions::public_key;
use crate::rng::rng;

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
