//! The CSPRNG handed to core: `crypto.getRandomValues` through getrandom's JS backend.

use std::sync::atomic::{AtomicBool, Ordering};

use rand_core::OsRng;
use wasm_bindgen::JsError;

static CHECKED: AtomicBool = AtomicBool::new(false);

/// The OS/browser CSPRNG, after checking once that it works.
///
/// `OsRng::fill_bytes` panics when the platform has no random source, and a panic in the
/// package traps instead of throwing. Probing once with the fallible call turns that case into
/// a JS `Error`; after a successful probe the source does not start failing.
pub(crate) fn rng() -> Result<OsRng, JsError> {
    if !CHECKED.load(Ordering::Relaxed) {
        let mut probe = [0u8; 1];
        rand_core::RngCore::try_fill_bytes(&mut OsRng, &mut probe).map_err(|e| {
            JsError::new(&format!(
                "no secure random source available (crypto.getRandomValues): {e}"
            ))
        })?;
        CHECKED.store(true, Ordering::Relaxed);
    }
    Ok(OsRng)
}
