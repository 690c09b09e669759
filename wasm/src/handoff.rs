//! (Start module only.) Moving an identity from the start module into the second module (`loadExtras()`), without
//! the seed ever being a JavaScript value: the second module makes an ephemeral X25519 key
//! ([`crate::extra::handoff::ModuleHandoff`]), the start module seals the seed to it (an ECIES
//! sealed box, `__sealForModule`), and only the second module can open it. JavaScript carries
//! ciphertext one way and a public key the other. (A script in the page could call
//! `__sealForModule` with a key of its own: it is no more than `exportRecoveryKey`, which the
//! page can call too.)

use js_sys::Uint8Array;
use parchment_core::ecies;
use parchment_core::keys::X25519PublicKey;
use wasm_bindgen::prelude::*;

use crate::convert::{bytes_out, error, string, Result};
use crate::identity::Identity;
use crate::rng::rng;

#[wasm_bindgen]
impl Identity {
    /// Internal to the package (the start → second module handoff): the seed sealed to the
    /// second module's ephemeral `publicKey`. Not part of the documented API.
    #[wasm_bindgen(js_name = __sealForModule, skip_typescript)]
    pub fn seal_for_module(
        &self,
        #[wasm_bindgen(js_name = publicKey, unchecked_param_type = "string")] public_key: JsValue,
    ) -> Result<Uint8Array> {
        let keys = self.keys()?;
        let to = X25519PublicKey::from_base64(&string(&public_key, "publicKey")?)
            .map_err(|e| error(format!("publicKey: {e}")))?;
        let sealed = ecies::seal_seed(&to, &keys.seed, &mut rng()?).map_err(error)?;
        Ok(bytes_out(&sealed))
    }
}
