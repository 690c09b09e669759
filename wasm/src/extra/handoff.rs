//! The second module's end of the handoff (see `crate::handoff`): an ephemeral key that opens
//! the sealed seed into an `Identity` of this module.

use parchment_core::ecies;
use parchment_core::keys::X25519SecretKey;
use wasm_bindgen::prelude::*;

use crate::convert::{bytes, error, Result};
use crate::identity::Identity;
use crate::rng::rng;

const USED: &str = "this ModuleHandoff has been used; create a new one";

/// Internal to the package: receives an identity from the start module. Left out of the
/// TypeScript declarations (the package's entry does not export it).
#[wasm_bindgen(skip_typescript)]
pub struct ModuleHandoff {
    secret: Option<X25519SecretKey>,
}

#[wasm_bindgen]
impl ModuleHandoff {
    /// A fresh ephemeral key.
    pub fn generate() -> Result<ModuleHandoff> {
        Ok(ModuleHandoff {
            secret: Some(X25519SecretKey::generate(&mut rng()?)),
        })
    }

    /// Its public half (base64), for `identity.__sealForModule`.
    #[wasm_bindgen(getter, js_name = publicKey)]
    pub fn public_key(&self) -> Result<String> {
        Ok(self
            .secret
            .as_ref()
            .ok_or_else(|| error(USED))?
            .public_key()
            .to_base64())
    }

    /// Opens the sealed seed into an identity of this module; the key is zeroized after one
    /// use.
    pub fn receive(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] sealed: JsValue,
    ) -> Result<Identity> {
        let secret = self.secret.take().ok_or_else(|| error(USED))?;
        let seed = ecies::open_seed(&secret, &bytes(&sealed, "sealed")?).map_err(error)?;
        Ok(Identity::from_seed_value(seed))
    }
}
