//! The `Identity` methods of the second module (key slots, friend shares, legacy static-DH
//! encryption, sealed boxes, device transfer): rarely used, so the start module leaves them
//! out (see `extra`).

use js_sys::{Object, Uint8Array};
use parchment_core::derive::{self, ShareContext};
use parchment_core::device_transfer;
use parchment_core::ecies::{self, friend_share, ShareBinding};
use parchment_core::envelope::{self, Algorithm, LegacyCiphertext};
use parchment_core::key_slot::{self, slot_signable, KeySlot};
use parchment_core::keys::{Ed25519PublicKey, X25519PublicKey};
use parchment_core::share;
use wasm_bindgen::prelude::*;

use crate::convert::{
    bytes, bytes_out, error, object, secret_bytes, set, string, string_field, Result,
};
use crate::identity::{collection_key, Identity, RecordContext};
use crate::record::RecordKey;
use crate::rng::rng;

/// A friend-share binding `{senderId, recipientId, timestamp}` (the relationship id is
/// computed from the two handles, as the original does).
fn share_binding(value: &JsValue) -> Result<ShareBinding> {
    let binding = object(value, "binding")?;
    Ok(ShareBinding::new(
        &string_field(binding, "senderId", "binding")?,
        &string_field(binding, "recipientId", "binding")?,
        &string_field(binding, "timestamp", "binding")?,
    ))
}

pub(crate) fn key_slot(value: &JsValue) -> Result<KeySlot> {
    let slot = object(value, "slot")?;
    Ok(KeySlot {
        credential_id: string_field(slot, "credentialId", "slot")?,
        wrapped_km: string_field(slot, "wrappedKm", "slot")?,
        wrap_algo: string_field(slot, "wrapAlgo", "slot")?,
        slot_signature: string_field(slot, "slotSignature", "slot")?,
    })
}

fn friend_key(value: &JsValue) -> Result<X25519PublicKey> {
    X25519PublicKey::from_base64(&string(value, "friendEncryptionPublicKey")?)
        .map_err(|e| error(format!("friendEncryptionPublicKey: {e}")))
}

/// The D6 label as the original spells it.
fn share_context(label: &str) -> Result<ShareContext<'_>> {
    match label {
        derive::info::SHARE_V1 => Ok(ShareContext::Default),
        derive::info::SHARE_COLLECTION_V1 => Ok(ShareContext::Collection),
        _ => match label.strip_prefix(derive::info::COLLECTION_KEY_WRAP_PREFIX) {
            Some(id) => Ok(ShareContext::CollectionKeyWrap(id)),
            None => Err(error(format!(
                "unknown friend-share context {label:?}: expected \"parchment-share-v1\", \
                 \"parchment-share-collection-v1\" or \"parchment-collection-key-wrap:<id>\""
            ))),
        },
    }
}

fn legacy_ciphertext(value: &JsValue, name: &str) -> Result<LegacyCiphertext> {
    let sealed = object(value, name)?;
    Ok(LegacyCiphertext {
        ciphertext: string_field(sealed, "ciphertext", name)?,
        nonce: string_field(sealed, "nonce", name)?,
    })
}

fn legacy_to_js(sealed: &LegacyCiphertext) -> Result<JsValue> {
    let out = Object::new();
    set(&out, "ciphertext", &sealed.ciphertext.as_str().into())?;
    set(&out, "nonce", &sealed.nonce.as_str().into())?;
    Ok(out.into())
}

/// A collection id as `wrapCollectionKey` and the shared-record calls take it (the D5 rules:
/// letters, digits, `-`, `_`, so a wrap label can never name another collection).
fn collection_id(value: &JsValue) -> Result<String> {
    let id = string(value, "collectionId")?;
    RecordKey::collection("collection", &id, 1).map_err(error)?;
    Ok(id)
}

impl Identity {
    /// Unwraps a friend's collection key inside wasm and runs `f` with it.
    fn with_shared_key<T>(
        &self,
        wrap: &JsValue,
        friend: &JsValue,
        id: &JsValue,
        f: impl FnOnce(&derive::SymmetricKey) -> Result<T>,
    ) -> Result<T> {
        let keys = self.keys()?;
        let wrap = legacy_ciphertext(wrap, "wrap")?;
        let friend = friend_key(friend)?;
        let id = collection_id(id)?;
        let key = share::unwrap_collection_key(&wrap, &id, &keys.encryption, &friend)
            .map_err(|e| error(format!("key wrap: {e}")))?;
        f(&key)
    }
}

fn slot_to_js(slot: &KeySlot) -> Result<JsValue> {
    let out = Object::new();
    set(&out, "credentialId", &slot.credential_id.as_str().into())?;
    set(&out, "wrappedKm", &slot.wrapped_km.as_str().into())?;
    set(&out, "wrapAlgo", &slot.wrap_algo.as_str().into())?;
    set(&out, "slotSignature", &slot.slot_signature.as_str().into())?;
    Ok(out.into())
}

#[wasm_bindgen]
impl Identity {
    /// A passkey-PRF key slot for `credentialId`: the seed sealed under the PRF output (as the
    /// original writes it, AES-256-GCM) and signed with this identity.
    /// Returns `{credentialId, wrappedKm, wrapAlgo, slotSignature}`.
    #[wasm_bindgen(js_name = createKeySlot, unchecked_return_type = "KeySlot")]
    pub fn create_key_slot(
        &self,
        #[wasm_bindgen(js_name = userId, unchecked_param_type = "string")] user_id: JsValue,
        #[wasm_bindgen(js_name = credentialId, unchecked_param_type = "string")]
        credential_id: JsValue,
        #[wasm_bindgen(js_name = prfOutput, unchecked_param_type = "Uint8Array")]
        prf_output: JsValue,
    ) -> Result<JsValue> {
        let keys = self.keys()?;
        let user_id = string(&user_id, "userId")?;
        let credential_id = string(&credential_id, "credentialId")?;
        let prf_output = secret_bytes(&prf_output, "prfOutput")?;
        let slot = key_slot::create_slot(
            &keys.seed,
            &user_id,
            &credential_id,
            &prf_output,
            &mut rng()?,
        )
        .map_err(error)?;
        slot_to_js(&slot)
    }

    /// The slot signature (base64) over `{credentialId, wrappedKm, wrapAlgo}` for `userId`:
    /// for re-signing slots, e.g. after a K_m rotation re-seals them.
    #[wasm_bindgen(js_name = signKeySlot)]
    pub fn sign_key_slot(
        &self,
        #[wasm_bindgen(js_name = userId, unchecked_param_type = "string")] user_id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "UnsignedKeySlot")] slot: JsValue,
    ) -> Result<String> {
        let keys = self.keys()?;
        let user_id = string(&user_id, "userId")?;
        let slot = object(&slot, "slot")?;
        let signable = slot_signable(
            &user_id,
            &string_field(slot, "credentialId", "slot")?,
            &string_field(slot, "wrapAlgo", "slot")?,
            &string_field(slot, "wrappedKm", "slot")?,
        );
        Ok(keys.signing.sign(signable.as_bytes()).to_base64())
    }

    /// Opens a key slot with the passkey's PRF output, in the original's order: the slot
    /// signature must verify under `signingPublicKey` (the key the server publishes for the
    /// account), and the recovered seed must derive that same key.
    #[wasm_bindgen(js_name = fromKeySlot)]
    pub fn from_key_slot(
        #[wasm_bindgen(unchecked_param_type = "KeySlot")] slot: JsValue,
        #[wasm_bindgen(js_name = userId, unchecked_param_type = "string")] user_id: JsValue,
        #[wasm_bindgen(js_name = prfOutput, unchecked_param_type = "Uint8Array")]
        prf_output: JsValue,
        #[wasm_bindgen(js_name = signingPublicKey, unchecked_param_type = "string")]
        signing_public_key: JsValue,
    ) -> Result<Identity> {
        let slot = key_slot(&slot)?;
        let user_id = string(&user_id, "userId")?;
        let prf_output = secret_bytes(&prf_output, "prfOutput")?;
        let signing_key =
            Ed25519PublicKey::from_base64(&string(&signing_public_key, "signingPublicKey")?)
                .map_err(error)?;
        let seed = slot
            .open(&user_id, &prf_output, &signing_key)
            .map_err(error)?;
        Ok(Identity::from_seed_value(seed))
    }

    /// Opens a box made by `sealTo(thisIdentity.encryptionPublicKey, …)`.
    #[wasm_bindgen(js_name = openSealed)]
    pub fn open_sealed(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] sealed: JsValue,
    ) -> Result<Uint8Array> {
        let keys = self.keys()?;
        let sealed = bytes(&sealed, "sealed")?;
        let plaintext = ecies::open(&keys.encryption, &sealed).map_err(error)?;
        Ok(bytes_out(&plaintext))
    }

    /// Seals a friend share (the original's ECIES v2, e.g. a live location) for the friend
    /// whose encryption key is given, signed by this identity and bound to `{senderId,
    /// recipientId, timestamp}`. Returns the blob bytes (the wire carries their base64).
    #[wasm_bindgen(js_name = sealFriendShare)]
    pub fn seal_friend_share(
        &self,
        #[wasm_bindgen(js_name = recipientEncryptionPublicKey, unchecked_param_type = "string")]
        recipient: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] plaintext: JsValue,
        #[wasm_bindgen(unchecked_param_type = "ShareBinding")] binding: JsValue,
    ) -> Result<Uint8Array> {
        let keys = self.keys()?;
        let recipient =
            X25519PublicKey::from_base64(&string(&recipient, "recipientEncryptionPublicKey")?)
                .map_err(error)?;
        let plaintext = secret_bytes(&plaintext, "plaintext")?;
        let binding = share_binding(&binding)?;
        let blob = friend_share::seal(&plaintext, &keys.signing, &recipient, &binding, &mut rng()?)
            .map_err(error)?;
        Ok(bytes_out(&blob))
    }

    /// Opens a friend share sent to this identity: verifies the sender's signature (with
    /// their signing key) before decrypting, with the same binding the sender used.
    #[wasm_bindgen(js_name = openFriendShare)]
    pub fn open_friend_share(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] blob: JsValue,
        #[wasm_bindgen(js_name = senderSigningPublicKey, unchecked_param_type = "string")]
        sender: JsValue,
        #[wasm_bindgen(unchecked_param_type = "ShareBinding")] binding: JsValue,
    ) -> Result<Uint8Array> {
        let keys = self.keys()?;
        let blob = bytes(&blob, "blob")?;
        let sender = Ed25519PublicKey::from_base64(&string(&sender, "senderSigningPublicKey")?)
            .map_err(error)?;
        let binding = share_binding(&binding)?;
        let plaintext =
            friend_share::open(&blob, &keys.encryption, &sender, &binding).map_err(error)?;
        Ok(bytes_out(&plaintext))
    }

    /// Seals this identity's seed for a new device (crypto.md §7): to the receiver's
    /// ephemeral key, bound to the session, signed with this identity. Returns the upload
    /// `{senderEphemeralPub, sealedSeed, senderSignature}` (AES-256-GCM, so the original's
    /// receiver opens it too).
    #[wasm_bindgen(js_name = sealDeviceTransfer, unchecked_return_type = "SealedDeviceTransfer")]
    pub fn seal_device_transfer(
        &self,
        #[wasm_bindgen(js_name = receiverEphemeralPub, unchecked_param_type = "string")]
        receiver: JsValue,
        #[wasm_bindgen(js_name = sessionId, unchecked_param_type = "string")] session_id: JsValue,
    ) -> Result<JsValue> {
        let keys = self.keys()?;
        let receiver = X25519PublicKey::from_base64(&string(&receiver, "receiverEphemeralPub")?)
            .map_err(|e| error(format!("receiverEphemeralPub: {e}")))?;
        let session_id = string(&session_id, "sessionId")?;
        let transfer = device_transfer::seal(
            &keys.seed,
            &keys.signing,
            &receiver,
            &session_id,
            &mut rng()?,
        )
        .map_err(error)?;
        super::transfer::sealed_transfer_to_js(&transfer)
    }

    /// Device transfer v2, sending side, step 4: seals this identity's seed to the new
    /// device's revealed key once the user confirmed the SAS. Throws when that key does not
    /// match `receiverCommitment` (the value scanned or pasted from the new device). Returns
    /// `{sealedSeed, senderSignature}`.
    #[wasm_bindgen(
        js_name = sealDeviceTransferV2,
        unchecked_return_type = "SealedDeviceTransferV2"
    )]
    pub fn seal_device_transfer_v2(
        &self,
        sender: &super::transfer::DeviceTransferSender,
        #[wasm_bindgen(js_name = receiverCommitment, unchecked_param_type = "string")]
        committed: JsValue,
        #[wasm_bindgen(js_name = receiverEphemeralPub, unchecked_param_type = "string")]
        receiver: JsValue,
        #[wasm_bindgen(js_name = sessionId, unchecked_param_type = "string")] session_id: JsValue,
    ) -> Result<JsValue> {
        let keys = self.keys()?;
        let (committed, receiver) = super::transfer::revealed(&committed, &receiver)?;
        let sealed = device_transfer::v2::seal(
            &keys.seed,
            &keys.signing,
            sender.secret()?,
            &committed,
            &receiver,
            &string(&session_id, "sessionId")?,
            &mut rng()?,
        )
        .map_err(error)?;
        let out = Object::new();
        set(&out, "sealedSeed", &sealed.sealed_seed.as_str().into())?;
        set(
            &out,
            "senderSignature",
            &sealed.sender_signature.as_str().into(),
        )?;
        Ok(out.into())
    }

    /// Wraps this identity's collection key (`collectionId`, key `version`) for a friend, as
    /// the original writes it (D6 under `parchment-collection-key-wrap:<collectionId>`, the
    /// key's base64 inside). Returns `{ciphertext, nonce}`; the key itself never reaches JS.
    #[wasm_bindgen(js_name = wrapCollectionKey, unchecked_return_type = "LegacyCiphertext")]
    pub fn wrap_collection_key(
        &self,
        #[wasm_bindgen(js_name = collectionId, unchecked_param_type = "string")] id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] version: JsValue,
        #[wasm_bindgen(js_name = friendEncryptionPublicKey, unchecked_param_type = "string")]
        friend: JsValue,
    ) -> Result<JsValue> {
        let keys = self.keys()?;
        let RecordKey::Collection { label_id, version } =
            collection_key(&"collection".into(), &id, &version)?
        else {
            return Err(error("not a collection key"));
        };
        let key = derive::collection_key(&keys.seed, &label_id, version).map_err(error)?;
        let wrap = share::wrap_collection_key(
            &key,
            &label_id,
            &keys.encryption,
            &friend_key(&friend)?,
            &mut rng()?,
        )
        .map_err(error)?;
        legacy_to_js(&wrap)
    }

    /// Opens a record of a friend's collection with the key they wrapped for this identity
    /// (`wrap` from their RESOURCE_SHARE, their long-term encryption key): the key is unwrapped
    /// and used inside wasm only.
    #[wasm_bindgen(js_name = decryptSharedCollectionRecord)]
    pub fn decrypt_shared_collection_record(
        &self,
        #[wasm_bindgen(unchecked_param_type = "LegacyCiphertext")] wrap: JsValue,
        #[wasm_bindgen(js_name = friendEncryptionPublicKey, unchecked_param_type = "string")]
        friend: JsValue,
        #[wasm_bindgen(js_name = collectionId, unchecked_param_type = "string")] id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "RecordContext")] ctx: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] sealed: JsValue,
    ) -> Result<Uint8Array> {
        let ctx = RecordContext::from_js(&ctx)?;
        let sealed = bytes(&sealed, "envelope")?;
        self.with_shared_key(&wrap, &friend, &id, |key| {
            let plaintext = envelope::open(key, &ctx.aad(), &sealed).map_err(error)?;
            Ok(bytes_out(&plaintext))
        })
    }

    /// Seals an editor's change to a friend's collection (`ctx.recordType` must be
    /// `"collection-edit"`) with the key they wrapped for this identity; see
    /// `decryptSharedCollectionRecord`. Only edits: a friend holding the key must not be able to
    /// produce what reads as the owner's own content.
    #[wasm_bindgen(js_name = encryptSharedCollectionRecord)]
    pub fn encrypt_shared_collection_record(
        &self,
        #[wasm_bindgen(unchecked_param_type = "LegacyCiphertext")] wrap: JsValue,
        #[wasm_bindgen(js_name = friendEncryptionPublicKey, unchecked_param_type = "string")]
        friend: JsValue,
        #[wasm_bindgen(js_name = collectionId, unchecked_param_type = "string")] id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "RecordContext")] ctx: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] plaintext: JsValue,
    ) -> Result<Uint8Array> {
        let ctx = RecordContext::from_js(&ctx)?;
        if ctx.record_type != "collection-edit" {
            return Err(error(
                "ctx.recordType must be \"collection-edit\": a friend's collection takes only \
                 edits from this identity",
            ));
        }
        let plaintext = secret_bytes(&plaintext, "plaintext")?;
        let mut rng = rng()?;
        self.with_shared_key(&wrap, &friend, &id, |key| {
            let sealed = envelope::seal(key, Algorithm::DEFAULT, &ctx.aad(), &plaintext, &mut rng)
                .map_err(error)?;
            Ok(bytes_out(&sealed))
        })
    }

    /// The legacy static-DH friend encryption (crypto.md §4, D6) that RESOURCE_SHARE still
    /// carries: `{ciphertext, nonce}` under `HKDF(X25519(mine, friend's), context)`, no AAD.
    /// `context` is the HKDF label: `"parchment-share-v1"`, `"parchment-share-collection-v1"`
    /// or `"parchment-collection-key-wrap:<collectionId>"`.
    #[wasm_bindgen(js_name = encryptForFriend, unchecked_return_type = "LegacyCiphertext")]
    pub fn encrypt_for_friend(
        &self,
        #[wasm_bindgen(js_name = friendEncryptionPublicKey, unchecked_param_type = "string")]
        friend: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] plaintext: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] context: JsValue,
    ) -> Result<JsValue> {
        let keys = self.keys()?;
        let friend = friend_key(&friend)?;
        let context = string(&context, "context")?;
        let plaintext = secret_bytes(&plaintext, "plaintext")?;
        let sealed = share::encrypt_for_friend(
            &plaintext,
            &keys.encryption,
            &friend,
            share_context(&context)?,
            &mut rng()?,
        )
        .map_err(error)?;
        let out = Object::new();
        set(&out, "ciphertext", &sealed.ciphertext.as_str().into())?;
        set(&out, "nonce", &sealed.nonce.as_str().into())?;
        Ok(out.into())
    }

    /// Opens a legacy `{ciphertext, nonce}` from a friend (the sender's long-term encryption
    /// key), with the same `context` label the sender used.
    #[wasm_bindgen(js_name = decryptFromFriend)]
    pub fn decrypt_from_friend(
        &self,
        #[wasm_bindgen(unchecked_param_type = "LegacyCiphertext")] sealed: JsValue,
        #[wasm_bindgen(js_name = friendEncryptionPublicKey, unchecked_param_type = "string")]
        friend: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] context: JsValue,
    ) -> Result<Uint8Array> {
        let keys = self.keys()?;
        let sealed_object = object(&sealed, "sealed")?;
        let sealed = LegacyCiphertext {
            ciphertext: string_field(sealed_object, "ciphertext", "sealed")?,
            nonce: string_field(sealed_object, "nonce", "sealed")?,
        };
        let friend = friend_key(&friend)?;
        let context = string(&context, "context")?;
        let plaintext = share::decrypt_from_friend(
            &sealed,
            &keys.encryption,
            &friend,
            share_context(&context)?,
        )
        .map_err(error)?;
        Ok(bytes_out(&plaintext))
    }
}
