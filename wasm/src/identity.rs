//! `Identity`: the opaque handle that owns a seed and everything derived from it.
//!
//! The seed, the Ed25519 signing key (held with its public key, so a signature costs one
//! base-point multiplication, where noble's `sign(message, secretKey)` does two), the X25519
//! key and the lazily derived personal and metadata keys live in wasm memory and are zeroized
//! when the handle is freed.
//! No method returns them; `exportRecoveryKey` is the one deliberate exit for the seed.

use std::cell::OnceCell;

use js_sys::{JsString, Uint8Array};
use parchment_core::canonical::Value;
use parchment_core::derive::{self, IdentityKeys, SymmetricKey, WrapSecret};
use parchment_core::envelope::{self, Aad, Algorithm};
use parchment_core::federation::{message::new_nonce, UnsignedMessage};
use parchment_core::key_change::KeyChange;
use parchment_core::keys::{Ed25519PublicKey, Ed25519SecretKey, X25519PublicKey, X25519SecretKey};
use parchment_core::{seed_wrap, Seed};
use wasm_bindgen::prelude::*;

use crate::convert::{
    bytes, bytes_out, error, json_value, object, parse_json, positive_integer, secret_bytes,
    secret_string, string, string_field, Result,
};
use crate::record::RecordKey;
use crate::rng::rng;

/// Everything secret an identity holds. Boxed once so it never moves; every member zeroizes
/// itself on drop (core's secret types and `SymmetricKey` are `ZeroizeOnDrop`).
pub(crate) struct Keys {
    pub(crate) seed: Seed,
    pub(crate) signing: Ed25519SecretKey,
    signing_public: Ed25519PublicKey,
    // Read by the second module's parts only (friend shares, sealed boxes).
    #[cfg_attr(not(feature = "extra"), allow(dead_code))]
    pub(crate) encryption: X25519SecretKey,
    encryption_public: X25519PublicKey,
    // Derived on first use: most sessions touch one or two record keys, and deriving all of
    // them up front would slow down every `fromSeed`.
    personal: OnceCell<SymmetricKey>,
    metadata: OnceCell<SymmetricKey>,
}

impl Keys {
    fn new(seed: Seed) -> Box<Self> {
        let IdentityKeys {
            signing,
            encryption,
        } = IdentityKeys::derive(&seed);
        Box::new(Keys {
            signing_public: signing.public_key(),
            encryption_public: encryption.public_key(),
            seed,
            signing,
            encryption,
            personal: OnceCell::new(),
            metadata: OnceCell::new(),
        })
    }

    /// Runs `f` with the record key (cached for personal and metadata, derived per call for
    /// collections, whose ids are unbounded).
    fn with_record_key<T>(
        &self,
        key: RecordKey,
        f: impl FnOnce(&SymmetricKey) -> Result<T>,
    ) -> Result<T> {
        match key {
            RecordKey::Personal => f(self
                .personal
                .get_or_init(|| derive::personal_key(&self.seed))),
            RecordKey::Metadata => f(self
                .metadata
                .get_or_init(|| derive::metadata_key(&self.seed))),
            RecordKey::Collection { label_id, version } => {
                f(&derive::collection_key(&self.seed, &label_id, version).map_err(error)?)
            }
        }
    }
}

/// `(kind, id, version)` of `encryptCollectionRecord` / `decryptCollectionRecord`.
pub(crate) fn collection_key(kind: &JsValue, id: &JsValue, version: &JsValue) -> Result<RecordKey> {
    let version = u32::try_from(positive_integer(version, "version")?)
        .map_err(|_| error("version: out of range"))?;
    RecordKey::collection(&string(kind, "kind")?, &string(id, "id")?, version).map_err(error)
}

/// An identity: a master seed and the keys derived from it, held inside WebAssembly.
///
/// Create one with `Identity.generate()`, `Identity.fromSeed(bytes)`,
/// `Identity.fromRecoveryKey(text)`, `Identity.unwrapSeed(...)` or `Identity.fromKeySlot(...)`.
/// Call `free()` when done: it zeroizes the secrets, and any later use throws.
#[wasm_bindgen]
pub struct Identity {
    // `None` after `free()`: every method checks it and throws a clear error, instead of the
    // "null pointer passed to rust" that wasm-bindgen reports for a destroyed handle.
    keys: Option<Box<Keys>>,
}

const FREED: &str = "this Identity has been freed; create a new one";

/// The AAD of a record context `{userId, recordType, recordId, keyContext}`.
pub(crate) struct RecordContext {
    user_id: String,
    pub(crate) record_type: String,
    record_id: String,
    key_context: String,
}

impl RecordContext {
    pub(crate) fn from_js(value: &JsValue) -> Result<Self> {
        let ctx = object(value, "ctx")?;
        Ok(Self {
            user_id: string_field(ctx, "userId", "ctx")?,
            record_type: string_field(ctx, "recordType", "ctx")?,
            record_id: string_field(ctx, "recordId", "ctx")?,
            key_context: string_field(ctx, "keyContext", "ctx")?,
        })
    }

    pub(crate) fn aad(&self) -> Aad<'_> {
        Aad {
            user_id: &self.user_id,
            record_type: &self.record_type,
            record_id: &self.record_id,
            key_context: &self.key_context,
        }
    }
}

/// The members `signFederationEnvelope` reads; anything else would go out unsigned, so it is
/// refused rather than silently dropped.
/// A draft to sign, read by `core` (the rules a v2 envelope has); the nonce and timestamp a
/// draft may leave out come from the page's randomness and clock.
fn unsigned_message(value: &Value) -> Result<UnsignedMessage> {
    let mut rng = rng()?;
    UnsignedMessage::from_draft(
        value,
        || new_nonce(&mut rng),
        // The protocol signs `Date.prototype.toISOString()` as an opaque string.
        || String::from(js_sys::Date::new_0().to_iso_string()),
    )
    .map_err(error)
}

impl Identity {
    pub(crate) fn from_seed_value(seed: Seed) -> Identity {
        Identity {
            keys: Some(Keys::new(seed)),
        }
    }

    pub(crate) fn keys(&self) -> Result<&Keys> {
        self.keys.as_deref().ok_or_else(|| error(FREED))
    }
}

#[wasm_bindgen]
impl Identity {
    /// A new identity from 32 bytes of the platform CSPRNG.
    pub fn generate() -> Result<Identity> {
        Ok(Identity::from_seed_value(Seed::generate(&mut rng()?)))
    }

    /// The identity of a 32-byte seed.
    #[wasm_bindgen(js_name = fromSeed)]
    pub fn from_seed(
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] seed: JsValue,
    ) -> Result<Identity> {
        let bytes = secret_bytes(&seed, "seed")?;
        Ok(Identity::from_seed_value(
            Seed::from_slice(&bytes).map_err(error)?,
        ))
    }

    /// The identity of a recovery key (base64 of the seed; whitespace tolerated) or of a
    /// recovery code (`P1-…`, checksummed: a typo is refused instead of yielding another
    /// identity).
    #[wasm_bindgen(js_name = fromRecoveryKey)]
    pub fn from_recovery_key(
        #[wasm_bindgen(unchecked_param_type = "string")] text: JsValue,
    ) -> Result<Identity> {
        let text = secret_string(&text, "recovery key")?;
        Ok(Identity::from_seed_value(
            Seed::from_recovery_text(&text).map_err(error)?,
        ))
    }

    /// The recovery key: base64 of the seed (44 characters). The only way the seed leaves.
    #[wasm_bindgen(js_name = exportRecoveryKey)]
    pub fn export_recovery_key(&self) -> Result<JsString> {
        // Built from the zeroizing string, so no unzeroized copy is left in wasm memory.
        Ok(JsString::from(self.keys()?.seed.to_recovery_key().as_str()))
    }

    /// The recovery code: the seed as `P1-` and 14 groups of four Crockford base32
    /// characters with a checksum, for writing down; `fromRecoveryKey` reads it. The
    /// original app reads only `exportRecoveryKey`'s form.
    #[wasm_bindgen(js_name = exportRecoveryCode)]
    pub fn export_recovery_code(&self) -> Result<JsString> {
        Ok(JsString::from(
            self.keys()?.seed.to_recovery_code().as_str(),
        ))
    }

    /// The Ed25519 signing public key, base64.
    #[wasm_bindgen(getter, js_name = signingPublicKey)]
    pub fn signing_public_key(&self) -> Result<String> {
        Ok(self.keys()?.signing_public.to_base64())
    }

    /// The X25519 encryption public key, base64.
    #[wasm_bindgen(getter, js_name = encryptionPublicKey)]
    pub fn encryption_public_key(&self) -> Result<String> {
        Ok(self.keys()?.encryption_public.to_base64())
    }

    /// Ed25519 signature (base64) of `message`.
    pub fn sign(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] message: JsValue,
    ) -> Result<String> {
        let keys = self.keys()?;
        Ok(keys.signing.sign(&bytes(&message, "message")?).to_base64())
    }

    /// Signs a protocol-v2 federation envelope. Takes `{message_type, from, to, payload?,
    /// message_version?, nonce?, timestamp?}`; fills `protocol_version: 2`,
    /// `message_version: 1`, `payload: {}`, a fresh nonce and the current time where absent,
    /// and returns the envelope with its `signature`, members in canonical order (so
    /// `JSON.stringify` of it is the exact wire body).
    #[wasm_bindgen(js_name = signFederationEnvelope, unchecked_return_type = "FederationEnvelope")]
    pub fn sign_federation_envelope(
        &self,
        #[wasm_bindgen(unchecked_param_type = "UnsignedFederationEnvelope")] envelope: JsValue,
    ) -> Result<JsValue> {
        let keys = self.keys()?;
        object(&envelope, "envelope")?;
        let message = unsigned_message(&json_value(&envelope, "envelope")?)?;
        parse_json(&message.sign(&keys.signing).body())
    }

    /// Encrypts a record under `"personal"` (D3) or `"metadata"` (D4), bound to `ctx`. Writes
    /// our default algorithm (XChaCha20-Poly1305).
    #[wasm_bindgen(js_name = encryptRecord)]
    pub fn encrypt_record(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
        #[wasm_bindgen(unchecked_param_type = "RecordContext")] ctx: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] plaintext: JsValue,
    ) -> Result<Uint8Array> {
        let key = RecordKey::named(&string(&key, "key")?).map_err(error)?;
        self.seal_record(key, &ctx, &plaintext)
    }

    /// Decrypts a `"personal"` or `"metadata"` record envelope of any algorithm (including the
    /// original's AES-256-GCM).
    #[wasm_bindgen(js_name = decryptRecord)]
    pub fn decrypt_record(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
        #[wasm_bindgen(unchecked_param_type = "RecordContext")] ctx: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] envelope: JsValue,
    ) -> Result<Uint8Array> {
        let key = RecordKey::named(&string(&key, "key")?).map_err(error)?;
        self.open_record(key, &ctx, &envelope)
    }

    /// Encrypts a record under a collection-family key (D5): `kind` is `"collection"`,
    /// `"canvas"`, `"route"` or `"route-body"`; `id` is 1-128 letters, digits, `-` or `_`;
    /// `version` is the key version (1 or more; always 1 except for collections).
    #[wasm_bindgen(js_name = encryptCollectionRecord)]
    pub fn encrypt_collection_record(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] kind: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] version: JsValue,
        #[wasm_bindgen(unchecked_param_type = "RecordContext")] ctx: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] plaintext: JsValue,
    ) -> Result<Uint8Array> {
        self.seal_record(collection_key(&kind, &id, &version)?, &ctx, &plaintext)
    }

    /// Decrypts a record sealed under a collection-family key (see `encryptCollectionRecord`).
    #[wasm_bindgen(js_name = decryptCollectionRecord)]
    pub fn decrypt_collection_record(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] kind: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] version: JsValue,
        #[wasm_bindgen(unchecked_param_type = "RecordContext")] ctx: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] envelope: JsValue,
    ) -> Result<Uint8Array> {
        self.open_record(collection_key(&kind, &id, &version)?, &ctx, &envelope)
    }

    /// Wraps the seed for local storage under the device wrap secret (base64 of 32 bytes,
    /// from the server) and the device id. Returns the base64 value to store.
    #[wasm_bindgen(js_name = wrapSeed)]
    pub fn wrap_seed(
        &self,
        #[wasm_bindgen(js_name = deviceSecret, unchecked_param_type = "string")]
        device_secret: JsValue,
        #[wasm_bindgen(js_name = deviceId, unchecked_param_type = "string")] device_id: JsValue,
    ) -> Result<String> {
        let keys = self.keys()?;
        let secret = wrap_secret(&device_secret)?;
        let device_id = string(&device_id, "deviceId")?;
        seed_wrap::wrap_seed(
            &keys.seed,
            &secret,
            &device_id,
            Algorithm::DEFAULT,
            &mut rng()?,
        )
        .map_err(error)
    }

    /// The identity in a value made by `wrapSeed` (or by the original client).
    #[wasm_bindgen(js_name = unwrapSeed)]
    pub fn unwrap_seed(
        #[wasm_bindgen(js_name = deviceSecret, unchecked_param_type = "string")]
        device_secret: JsValue,
        #[wasm_bindgen(js_name = deviceId, unchecked_param_type = "string")] device_id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] wrapped: JsValue,
    ) -> Result<Identity> {
        let secret = wrap_secret(&device_secret)?;
        let device_id = string(&device_id, "deviceId")?;
        let wrapped = string(&wrapped, "wrapped")?;
        let seed = seed_wrap::unwrap_seed(&wrapped, &secret, &device_id).map_err(error)?;
        Ok(Identity::from_seed_value(seed))
    }

    /// The `currentKeySignature` of a km-version commit (base64): this identity, the CURRENT
    /// one, signs that `userId` rotates from `expectedCurrent` to the new public keys
    /// (base64). The server refuses a key change without it once an account has keys.
    #[wasm_bindgen(js_name = signKeyChange)]
    pub fn sign_key_change(
        &self,
        #[wasm_bindgen(js_name = userId, unchecked_param_type = "string")] user_id: JsValue,
        #[wasm_bindgen(js_name = expectedCurrent, unchecked_param_type = "number")]
        expected_current: JsValue,
        #[wasm_bindgen(js_name = newSigningKey, unchecked_param_type = "string")]
        new_signing_key: JsValue,
        #[wasm_bindgen(js_name = newEncryptionKey, unchecked_param_type = "string")]
        new_encryption_key: JsValue,
    ) -> Result<String> {
        let keys = self.keys()?;
        let user_id = string(&user_id, "userId")?;
        let expected_current = positive_integer(&expected_current, "expectedCurrent")?;
        let signing_key =
            Ed25519PublicKey::from_base64(&string(&new_signing_key, "newSigningKey")?)
                .map_err(error)?;
        let encryption_key =
            X25519PublicKey::from_base64(&string(&new_encryption_key, "newEncryptionKey")?)
                .map_err(error)?;
        let change = KeyChange {
            user_id: &user_id,
            expected_current,
            signing_key: &signing_key,
            encryption_key: &encryption_key,
        };
        Ok(change.sign(&keys.signing).to_base64())
    }

    /// Zeroizes the seed and every key. Any later use of this handle throws. Calling it twice
    /// is harmless.
    // wasm-bindgen also emits a `free()` that destroys the handle (later calls then fail with
    // "null pointer passed to rust"). It writes its own first in the class body, so this one,
    // defined later, is what `identity.free()` and `[Symbol.dispose]` call; the handle itself
    // is released by the FinalizationRegistry once unreachable. api.test.mjs pins this.
    pub fn free(&mut self) {
        // Dropping `Keys` zeroizes each secret (ZeroizeOnDrop) before the memory is released.
        self.keys = None;
    }
}

fn wrap_secret(value: &JsValue) -> Result<WrapSecret> {
    let text = secret_string(value, "deviceSecret")?;
    WrapSecret::from_base64(&text).map_err(|e| error(format!("deviceSecret: {e}")))
}

impl Identity {
    fn seal_record(
        &self,
        key: RecordKey,
        ctx: &JsValue,
        plaintext: &JsValue,
    ) -> Result<Uint8Array> {
        let keys = self.keys()?;
        let ctx = RecordContext::from_js(ctx)?;
        let plaintext = secret_bytes(plaintext, "plaintext")?;
        let mut rng = rng()?;
        keys.with_record_key(key, |key| {
            let sealed = envelope::seal(key, Algorithm::DEFAULT, &ctx.aad(), &plaintext, &mut rng)
                .map_err(error)?;
            Ok(bytes_out(&sealed))
        })
    }

    fn open_record(&self, key: RecordKey, ctx: &JsValue, envelope: &JsValue) -> Result<Uint8Array> {
        let keys = self.keys()?;
        let ctx = RecordContext::from_js(ctx)?;
        let sealed = bytes(envelope, "envelope")?;
        keys.with_record_key(key, |key| {
            let plaintext = envelope::open(key, &ctx.aad(), &sealed).map_err(error)?;
            Ok(bytes_out(&plaintext))
        })
    }
}
