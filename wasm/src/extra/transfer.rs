//! Device-to-device seed transfer (crypto.md §7): the ephemeral X25519 keys of both devices,
//! which live only inside the module. v1 is the original's exchange (`open`,
//! `Identity.sealDeviceTransfer`); v2 is commit-before-reveal with an 8-digit SAS
//! (`commitment`, `sasV2`, `openV2`, `DeviceTransferSender`, `Identity.sealDeviceTransferV2`).

use js_sys::Object;
use parchment_core::device_transfer::v2::{self, Commitment};
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

    /// v2, step 1: the commitment to this key (base64), published before the key itself.
    #[wasm_bindgen(getter)]
    pub fn commitment(&self) -> Result<String> {
        Ok(v2::commitment(&self.secret()?.public_key()).to_base64())
    }

    /// v2: the 8-digit SAS once the sending device's key (`senderEphemeralPub`) is known.
    #[wasm_bindgen(js_name = sasV2)]
    pub fn sas_v2(
        &self,
        #[wasm_bindgen(js_name = senderEphemeralPub, unchecked_param_type = "string")]
        sender: JsValue,
        #[wasm_bindgen(js_name = sessionId, unchecked_param_type = "string")] session_id: JsValue,
    ) -> Result<String> {
        Ok(v2::sas(
            &self.secret()?.public_key(),
            &x25519(&sender, "senderEphemeralPub")?,
            &string(&session_id, "sessionId")?,
        ))
    }

    /// v2, step 5: opens `{sealedSeed, senderSignature}`. The signature must verify under
    /// `accountSigningKey` (the key the server publishes for this account) and the seed must
    /// derive that same key; otherwise this throws and nothing is adopted.
    #[wasm_bindgen(js_name = openV2)]
    pub fn open_v2(
        &self,
        #[wasm_bindgen(js_name = sessionId, unchecked_param_type = "string")] session_id: JsValue,
        #[wasm_bindgen(js_name = senderEphemeralPub, unchecked_param_type = "string")]
        sender: JsValue,
        #[wasm_bindgen(unchecked_param_type = "SealedDeviceTransferV2")] sealed: JsValue,
        #[wasm_bindgen(js_name = accountSigningKey, unchecked_param_type = "string")]
        account: JsValue,
    ) -> Result<Identity> {
        let upload = object(&sealed, "sealed")?;
        let sealed = v2::Sealed {
            sealed_seed: string_field(upload, "sealedSeed", "sealed")?,
            sender_signature: string_field(upload, "senderSignature", "sealed")?,
        };
        let account = Ed25519PublicKey::from_base64(&string(&account, "accountSigningKey")?)
            .map_err(|e| error(format!("accountSigningKey: {e}")))?;
        let seed = v2::open(
            &sealed,
            self.secret()?,
            &x25519(&sender, "senderEphemeralPub")?,
            &string(&session_id, "sessionId")?,
            &account,
        )
        .map_err(error)?;
        Ok(Identity::from_seed_value(seed))
    }

    /// Zeroizes the ephemeral key; any later use throws.
    pub fn free(&mut self) {
        self.secret = None;
    }
}

fn x25519(value: &JsValue, what: &str) -> Result<X25519PublicKey> {
    X25519PublicKey::from_base64(&string(value, what)?).map_err(|e| error(format!("{what}: {e}")))
}

/// The commitment the sender was given and the key the receiver revealed, parsed.
pub(crate) fn revealed(
    committed: &JsValue,
    receiver: &JsValue,
) -> Result<(Commitment, X25519PublicKey)> {
    let committed = Commitment::from_base64(&string(committed, "receiverCommitment")?)
        .map_err(|e| error(format!("receiverCommitment: {e}")))?;
    Ok((committed, x25519(receiver, "receiverEphemeralPub")?))
}

const SENDER_FREED: &str = "this DeviceTransferSender has been freed; create a new one";

/// The sending device of a v2 transfer (the one that holds the identity): its ephemeral key,
/// published before the new device reveals its own. `Identity.sealDeviceTransferV2` seals with it.
#[wasm_bindgen]
pub struct DeviceTransferSender {
    secret: Option<X25519SecretKey>,
}

impl DeviceTransferSender {
    pub(crate) fn secret(&self) -> Result<&X25519SecretKey> {
        self.secret.as_ref().ok_or_else(|| error(SENDER_FREED))
    }
}

#[wasm_bindgen]
impl DeviceTransferSender {
    /// A fresh ephemeral key pair.
    pub fn generate() -> Result<DeviceTransferSender> {
        Ok(DeviceTransferSender {
            secret: Some(X25519SecretKey::generate(&mut rng()?)),
        })
    }

    /// The ephemeral public key (base64), sent as `senderEphemeralPub`.
    #[wasm_bindgen(getter, js_name = publicKey)]
    pub fn public_key(&self) -> Result<String> {
        Ok(self.secret()?.public_key().to_base64())
    }

    /// The 8-digit SAS once the new device revealed its key; throws when that key does not
    /// match `receiverCommitment` (someone swapped it: stop, and upload nothing).
    pub fn sas(
        &self,
        #[wasm_bindgen(js_name = receiverCommitment, unchecked_param_type = "string")]
        committed: JsValue,
        #[wasm_bindgen(js_name = receiverEphemeralPub, unchecked_param_type = "string")]
        receiver: JsValue,
        #[wasm_bindgen(js_name = sessionId, unchecked_param_type = "string")] session_id: JsValue,
    ) -> Result<String> {
        let (committed, receiver) = revealed(&committed, &receiver)?;
        v2::sas_for_sender(
            &committed,
            &receiver,
            &self.secret()?.public_key(),
            &string(&session_id, "sessionId")?,
        )
        .map_err(error)
    }

    /// Zeroizes the ephemeral key; any later use throws.
    pub fn free(&mut self) {
        self.secret = None;
    }
}
