//! Device-to-device seed transfer (crypto.md §7), receiver side: an ephemeral X25519 key that
//! lives only inside the module. The sender side is `Identity.sealDeviceTransfer`.

use js_sys::Object;
use parchment_core::device_transfer::{self, SealedTransfer};
use parchment_core::keys::{Ed25519PublicKey, X25519PublicKey, X25519SecretKey};
use wasm_bindgen::prelude::*;

use crate::convert::{error, object, set, string, string_field, Result};
use crate::identity::Identity;
use crate::rng::rng;

const FREED: &str = "this DeviceTransferReceiver has been freed; create a new one";

/// The receiving device of a seed transfer: generates an ephemeral key, shows its public half
/// (and the SAS) and opens what the sending device uploads.
#[wasm_bindgen]
pub struct DeviceTransferReceiver {
    // `None` after `free()`; see `Identity` for why `free` is ours.
    secret: Option<X25519SecretKey>,
}

impl DeviceTransferReceiver {
    fn secret(&self) -> Result<&X25519SecretKey> {
        self.secret.as_ref().ok_or_else(|| error(FREED))
    }
}

/// `{senderEphemeralPub, sealedSeed, senderSignature}`, the upload of the sending device.
pub(crate) fn sealed_transfer(value: &JsValue) -> Result<SealedTransfer> {
    let upload = object(value, "upload")?;
    Ok(SealedTransfer {
        sender_ephemeral_public: X25519PublicKey::from_base64(&string_field(
            upload,
            "senderEphemeralPub",
            "upload",
        )?)
        .map_err(|e| error(format!("upload.senderEphemeralPub: {e}")))?,
        sealed_seed: string_field(upload, "sealedSeed", "upload")?,
        sender_signature: string_field(upload, "senderSignature", "upload")?,
    })
}

pub(crate) fn sealed_transfer_to_js(transfer: &SealedTransfer) -> Result<JsValue> {
    let out = Object::new();
    set(
        &out,
        "senderEphemeralPub",
        &transfer.sender_ephemeral_public.to_base64().into(),
    )?;
    set(&out, "sealedSeed", &transfer.sealed_seed.as_str().into())?;
    set(
        &out,
        "senderSignature",
        &transfer.sender_signature.as_str().into(),
    )?;
    Ok(out.into())
}

#[wasm_bindgen]
impl DeviceTransferReceiver {
    /// A fresh ephemeral key pair.
    pub fn generate() -> Result<DeviceTransferReceiver> {
        Ok(DeviceTransferReceiver {
            secret: Some(X25519SecretKey::generate(&mut rng()?)),
        })
    }

    /// The ephemeral public key (base64), sent to the server as `receiverEphemeralPub`.
    #[wasm_bindgen(getter, js_name = publicKey)]
    pub fn public_key(&self) -> Result<String> {
        Ok(self.secret()?.public_key().to_base64())
    }

    /// Opens the sender's upload, in the original's order: the sender's signature must verify
    /// under `senderSigningPublicKey` (the account key the server publishes) before the seed
    /// is unsealed. Compare the SAS (`deviceSas`) with the user first.
    pub fn open(
        &self,
        #[wasm_bindgen(js_name = sessionId, unchecked_param_type = "string")] session_id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "SealedDeviceTransfer")] upload: JsValue,
        #[wasm_bindgen(js_name = senderSigningPublicKey, unchecked_param_type = "string")]
        sender: JsValue,
    ) -> Result<Identity> {
        let secret = self.secret()?;
        let session_id = string(&session_id, "sessionId")?;
        let transfer = sealed_transfer(&upload)?;
        let sender = Ed25519PublicKey::from_base64(&string(&sender, "senderSigningPublicKey")?)
            .map_err(|e| error(format!("senderSigningPublicKey: {e}")))?;
        let seed = device_transfer::open(&transfer, secret, &session_id, &sender).map_err(error)?;
        Ok(Identity::from_seed_value(seed))
    }

    /// Zeroizes the ephemeral key; any later use throws.
    pub fn free(&mut self) {
        self.secret = None;
    }
}
