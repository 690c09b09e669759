//! The 32-byte master seed (K_m) and its recovery-key text form.
//!
//! The recovery key is exactly what the original exports: standard padded base64 of the seed
//! (44 characters). Import trims the text and, like `atob`, ignores inner ASCII whitespace and
//! missing padding, so a key pasted across lines still works.

use rand_core::CryptoRngCore;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::encoding::{from_base64, to_base64};

/// Errors of seed handling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeedError {
    /// The recovery key is not base64.
    #[error("Invalid recovery key: not base64 ({0})")]
    NotBase64(String),
    /// The recovery key decodes to the wrong number of bytes.
    #[error("Invalid recovery key: must be 32 bytes (got {0})")]
    WrongLength(usize),
    /// Raw seed bytes of the wrong length.
    #[error("Invalid seed: must be 32 bytes (got {0})")]
    WrongSeedLength(usize),
}

/// The user's master seed. Boxed so moves do not leave copies; zeroized on drop; no `Debug`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Seed(Box<[u8; 32]>);

impl Seed {
    /// Length in bytes.
    pub const LENGTH: usize = 32;

    /// A fresh seed from the given CSPRNG.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut seed = Self(Box::new([0u8; 32]));
        rng.fill_bytes(seed.0.as_mut());
        seed
    }

    /// From 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let mut bytes = bytes;
        let seed = Self(Box::new(bytes));
        bytes.zeroize();
        seed
    }

    /// From a slice that must be 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, SeedError> {
        if bytes.len() != 32 {
            return Err(SeedError::WrongSeedLength(bytes.len()));
        }
        let mut seed = Self(Box::new([0u8; 32]));
        seed.0.copy_from_slice(bytes);
        Ok(seed)
    }

    /// The raw bytes: only for derivations and wrapping inside this crate.
    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The recovery key: standard padded base64 of the seed (44 characters), as the original
    /// exports it.
    pub fn to_recovery_key(&self) -> Zeroizing<String> {
        Zeroizing::new(to_base64(self.0.as_ref()))
    }

    /// Parses a recovery key (whitespace-tolerant base64 of exactly 32 bytes).
    pub fn from_recovery_key(text: &str) -> Result<Self, SeedError> {
        let bytes = Zeroizing::new(
            from_base64(text.trim()).map_err(|e| SeedError::NotBase64(e.to_string()))?,
        );
        if bytes.len() != 32 {
            return Err(SeedError::WrongLength(bytes.len()));
        }
        Self::from_slice(&bytes)
    }
}

impl PartialEq for Seed {
    /// Constant-time comparison, so tests and callers never leak timing on seeds.
    fn eq(&self, other: &Self) -> bool {
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl Eq for Seed {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_key_of_counting_seed() {
        let seed = Seed::from_bytes(core::array::from_fn(|i| i as u8));
        assert_eq!(
            seed.to_recovery_key().as_str(),
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
        );
    }

    #[test]
    fn malformed_recovery_keys_are_precise() {
        assert_eq!(
            Seed::from_recovery_key("aGk=").err(),
            Some(SeedError::WrongLength(2))
        );
        assert!(matches!(
            Seed::from_recovery_key("not base64!"),
            Err(SeedError::NotBase64(_))
        ));
        let pasted = " AAECAwQFBgcICQoLDA0ODxAR\nEhMUFRYXGBkaGxwdHh8= \n";
        assert!(Seed::from_recovery_key(pasted).is_ok());
    }
}
