//! The seed kept on a device, wrapped under the server-held device wrap secret (crypto.md §6.1).
//!
//! `base64(envelope(raw 32-byte seed, D11(secret), AAD{deviceId, "seed-wrap", "local",
//! "parchment-seed-wrap-v1"}))`. Rotating the secret on the server makes every cached
//! envelope un-unwrappable.

use rand_core::CryptoRngCore;

use crate::derive::{info, seed_wrap_key, WrapSecret};
use crate::envelope::{self, Aad, Algorithm, EnvelopeError};
use crate::seed::Seed;

/// Errors of seed wrapping.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeedWrapError {
    /// The envelope did not open: the secret was rotated, or the value is not ours.
    #[error("the wrapped seed cannot be opened (device secret rotated or value corrupted): {0}")]
    Envelope(#[from] EnvelopeError),
    /// The envelope opened but did not hold 32 bytes.
    #[error("the wrapped value is not a seed ({0} bytes)")]
    NotASeed(usize),
}

fn aad(device_id: &str) -> Aad<'_> {
    Aad {
        user_id: device_id,
        record_type: "seed-wrap",
        record_id: "local",
        key_context: info::SEED_WRAP,
    }
}

/// Wraps `seed` for `device_id` (base64, the stored value).
pub fn wrap_seed(
    seed: &Seed,
    secret: &WrapSecret,
    device_id: &str,
    algorithm: Algorithm,
    rng: &mut impl CryptoRngCore,
) -> Result<String, SeedWrapError> {
    Ok(envelope::seal_base64(
        &seed_wrap_key(secret),
        algorithm,
        &aad(device_id),
        seed.as_bytes(),
        rng,
    )?)
}

/// Wraps with a given nonce (test vectors only).
pub fn wrap_seed_with_nonce(
    seed: &Seed,
    secret: &WrapSecret,
    device_id: &str,
    algorithm: Algorithm,
    nonce: &[u8],
) -> Result<Vec<u8>, SeedWrapError> {
    Ok(envelope::seal_with_nonce(
        &seed_wrap_key(secret),
        algorithm,
        nonce,
        &aad(device_id),
        seed.as_bytes(),
    )?)
}

/// Unwraps a stored value.
pub fn unwrap_seed(
    wrapped: &str,
    secret: &WrapSecret,
    device_id: &str,
) -> Result<Seed, SeedWrapError> {
    let plaintext = envelope::open_base64(&seed_wrap_key(secret), &aad(device_id), wrapped)?;
    Seed::from_slice(&plaintext).map_err(|_| SeedWrapError::NotASeed(plaintext.len()))
}
