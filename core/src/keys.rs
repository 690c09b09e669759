//! Key and signature newtypes: Ed25519 (identity and server signing) and X25519 (encryption).
//!
//! Public keys and signatures travel as standard padded base64 (44 and 88 characters).
//! Secret types have no `Debug`, zeroize on drop and never expose their bytes except through
//! an explicit, named export.
//!
//! ## Verification rule: strict, on purpose
//! The original verifies with `@noble/ed25519` defaults (ZIP-215, permissive). We verify with
//! RFC 8032 *strict* rules (`ed25519-dalek`'s `verify_strict`): canonical `R`/`A` encodings,
//! no small-order `R` or `A`. Every signature an honest signer produces verifies under both rules
//! (the test suite checks every vector and random keys/messages); the two rules only differ on
//! crafted edge cases (small-order or non-canonical points), which strict rules reject so that
//! signatures cannot be malleated and a weak key cannot sign "for everyone". Keys are also
//! validated when published ([`Ed25519PublicKey::validate`]), which the original never did.

use std::fmt;

use ed25519_dalek::VerifyingKey;
#[cfg(not(feature = "runtime-basepoint-table"))]
use ed25519_dalek::{Signer as _, SigningKey};
use rand_core::CryptoRngCore;
use zeroize::{Zeroize, Zeroizing};

#[cfg(feature = "runtime-basepoint-table")]
use crate::basepoint_table::SigningKey;
use crate::encoding::{from_base64_array, to_base64, LengthError};

/// Errors of key and signature handling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The base64 text of a key or signature could not be decoded to the right length.
    #[error("{what} couldn't be decoded: {source}")]
    Decode {
        /// Which value (for example "Ed25519 public key").
        what: &'static str,
        /// Why.
        source: LengthError,
    },
    /// The 32 bytes are not the encoding of a point on the Ed25519 curve.
    #[error("Ed25519 public key is not a valid curve point")]
    InvalidPoint,
    /// A key of small order (it would let anyone forge signatures or make a shared secret zero).
    #[error("{0} is a weak (small-order) key")]
    WeakKey(&'static str),
    /// Signature verification failed.
    #[error("signature verification failed")]
    BadSignature,
    /// X25519 produced an all-zero shared secret: the peer key has low order.
    #[error("X25519 shared secret is all zero (low-order public key)")]
    NonContributory,
    /// An all-zero X25519 secret scalar.
    #[error("X25519 secret key is all zero")]
    ZeroSecret,
}

fn decode<const N: usize>(what: &'static str, text: &str) -> Result<[u8; N], KeyError> {
    from_base64_array::<N>(text).map_err(|source| KeyError::Decode { what, source })
}

fn length(what: &'static str, bytes: &[u8], expected: usize) -> KeyError {
    KeyError::Decode {
        what,
        source: LengthError::Length {
            expected,
            actual: bytes.len(),
        },
    }
}

/// An Ed25519 public (verifying) key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ed25519PublicKey(VerifyingKey);

impl Ed25519PublicKey {
    /// Length in bytes.
    pub const LENGTH: usize = 32;

    /// From the 32-byte encoding; fails if it is not a curve point.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        VerifyingKey::from_bytes(bytes)
            .map(Self)
            .map_err(|_| KeyError::InvalidPoint)
    }

    /// From a slice that must be 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        let array: &[u8; 32] = bytes
            .try_into()
            .map_err(|_| length("Ed25519 public key", bytes, 32))?;
        Self::from_bytes(array)
    }

    /// From standard base64 (44 characters).
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        Self::from_bytes(&decode::<32>("Ed25519 public key", text)?)
    }

    /// Standard padded base64.
    pub fn to_base64(&self) -> String {
        to_base64(self.0.as_bytes())
    }

    /// The 32-byte encoding.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// Checks a key before it is published or pinned: rejects small-order points, which
    /// would make signatures meaningless.
    pub fn validate(&self) -> Result<(), KeyError> {
        if self.0.is_weak() {
            Err(KeyError::WeakKey("Ed25519 public key"))
        } else {
            Ok(())
        }
    }

    /// Verifies `signature` over `message` with strict RFC 8032 rules (see the module docs).
    pub fn verify(&self, message: &[u8], signature: &Ed25519Signature) -> Result<(), KeyError> {
        self.0
            .verify_strict(message, &signature.0)
            .map_err(|_| KeyError::BadSignature)
    }
}

impl fmt::Debug for Ed25519PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ed25519:{}", self.to_base64())
    }
}

/// An Ed25519 signature (64 bytes).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Ed25519Signature(ed25519_dalek::Signature);

impl Ed25519Signature {
    /// Length in bytes.
    pub const LENGTH: usize = 64;

    /// From the 64-byte encoding.
    pub fn from_bytes(bytes: &[u8; 64]) -> Self {
        Self(ed25519_dalek::Signature::from_bytes(bytes))
    }

    /// From a slice that must be 64 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        let array: &[u8; 64] = bytes
            .try_into()
            .map_err(|_| length("Ed25519 signature", bytes, 64))?;
        Ok(Self::from_bytes(array))
    }

    /// From standard base64 (88 characters).
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        Ok(Self::from_bytes(&decode::<64>("Ed25519 signature", text)?))
    }

    /// Standard padded base64.
    pub fn to_base64(&self) -> String {
        to_base64(&self.0.to_bytes())
    }

    /// The 64-byte encoding.
    pub fn to_bytes(&self) -> [u8; 64] {
        self.0.to_bytes()
    }
}

impl fmt::Debug for Ed25519Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ed25519-signature:{}", self.to_base64())
    }
}

/// An Ed25519 secret key (RFC 8032 32-byte seed, expanded once and kept expanded, so signing
/// does not redo SHA-512 and a base-point multiplication per call). Zeroized on drop; no `Debug`.
#[derive(Clone)]
pub struct Ed25519SecretKey(Box<SigningKey>);

impl Ed25519SecretKey {
    /// From the 32-byte RFC 8032 secret seed.
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        Self(Box::new(SigningKey::from_bytes(bytes)))
    }

    /// From standard base64 of the 32-byte secret (the server key file format).
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let bytes = Zeroizing::new(decode::<32>("Ed25519 secret key", text.trim())?);
        Ok(Self::from_bytes(&bytes))
    }

    /// A fresh random key.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(bytes.as_mut());
        Self::from_bytes(&bytes)
    }

    /// Explicit export of the secret as base64 (server key files). Handle with care.
    pub fn export_base64(&self) -> Zeroizing<String> {
        let mut bytes = self.0.to_bytes();
        let text = Zeroizing::new(to_base64(&bytes));
        bytes.zeroize();
        text
    }

    /// The public key.
    pub fn public_key(&self) -> Ed25519PublicKey {
        Ed25519PublicKey(self.0.verifying_key())
    }

    /// Signs `message` (pure Ed25519, deterministic).
    pub fn sign(&self, message: &[u8]) -> Ed25519Signature {
        Ed25519Signature(self.0.sign(message))
    }
}

/// An X25519 public key (32 bytes, any u-coordinate).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct X25519PublicKey(x25519_dalek::PublicKey);

impl X25519PublicKey {
    /// Length in bytes.
    pub const LENGTH: usize = 32;

    /// From the 32-byte encoding.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(x25519_dalek::PublicKey::from(bytes))
    }

    /// From a slice that must be 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        let array: [u8; 32] = bytes
            .try_into()
            .map_err(|_| length("X25519 public key", bytes, 32))?;
        Ok(Self::from_bytes(array))
    }

    /// From standard base64 (44 characters).
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        Ok(Self::from_bytes(decode::<32>("X25519 public key", text)?))
    }

    /// Standard padded base64.
    pub fn to_base64(&self) -> String {
        to_base64(self.0.as_bytes())
    }

    /// The 32-byte encoding.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// Rejects low-order points (every shared secret with them is zero). Used before a key
    /// is published.
    pub fn validate(&self) -> Result<(), KeyError> {
        // A clamped scalar is a multiple of the cofactor, so it maps exactly the low-order
        // points to zero.
        let probe = x25519_dalek::StaticSecret::from([1u8; 32]);
        if probe.diffie_hellman(&self.0).was_contributory() {
            Ok(())
        } else {
            Err(KeyError::WeakKey("X25519 public key"))
        }
    }
}

impl fmt::Debug for X25519PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "curve25519:{}", self.to_base64())
    }
}

/// An X25519 secret scalar, stored unclamped as the original does (clamping happens at use).
/// Zeroized on drop; no `Debug`.
#[derive(Clone)]
pub struct X25519SecretKey(Box<x25519_dalek::StaticSecret>);

impl X25519SecretKey {
    /// From 32 bytes; an all-zero scalar is refused.
    pub fn from_bytes(bytes: [u8; 32]) -> Result<Self, KeyError> {
        if bytes.iter().all(|b| *b == 0) {
            return Err(KeyError::ZeroSecret);
        }
        Ok(Self(Box::new(x25519_dalek::StaticSecret::from(bytes))))
    }

    /// A fresh random key (ephemeral keys).
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        loop {
            let mut bytes = [0u8; 32];
            rng.fill_bytes(&mut bytes);
            if let Ok(key) = Self::from_bytes(bytes) {
                bytes.zeroize();
                return key;
            }
        }
    }

    /// The public key `X25519(scalar, 9)`.
    pub fn public_key(&self) -> X25519PublicKey {
        #[cfg(not(feature = "runtime-basepoint-table"))]
        let public = x25519_dalek::PublicKey::from(self.0.as_ref());
        #[cfg(feature = "runtime-basepoint-table")]
        let public = x25519_dalek::PublicKey::from(crate::basepoint_table::x25519_public(
            &Zeroizing::new(self.0.to_bytes()),
        ));
        X25519PublicKey(public)
    }

    /// Diffie-Hellman; an all-zero result (low-order peer key) is an error, as in the original.
    pub fn diffie_hellman(&self, peer: &X25519PublicKey) -> Result<SharedSecret, KeyError> {
        let shared = self.0.diffie_hellman(&peer.0);
        if shared.was_contributory() {
            Ok(SharedSecret(shared))
        } else {
            Err(KeyError::NonContributory)
        }
    }
}

/// An X25519 shared secret. Zeroized on drop; no `Debug`.
pub struct SharedSecret(x25519_dalek::SharedSecret);

impl SharedSecret {
    /// The raw 32 bytes (KDF input).
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_public_types_prints_base64_only() {
        let key = Ed25519SecretKey::from_bytes(&[7u8; 32]);
        assert_eq!(
            format!("{:?}", key.public_key()),
            "ed25519:6kpsY+KcUgq+9VB7Ey7F+ZVHdq6+vnuSQh7qaRRG0iw="
        );
    }

    #[test]
    fn low_order_x25519_rejected() {
        let secret = X25519SecretKey::from_bytes([5u8; 32]).unwrap();
        let zero = X25519PublicKey::from_bytes([0u8; 32]);
        assert_eq!(zero.validate(), Err(KeyError::WeakKey("X25519 public key")));
        assert!(matches!(
            secret.diffie_hellman(&zero),
            Err(KeyError::NonContributory)
        ));
        assert!(matches!(
            X25519SecretKey::from_bytes([0u8; 32]),
            Err(KeyError::ZeroSecret)
        ));
    }

    #[test]
    fn weak_ed25519_key_rejected() {
        // The identity point encoding (small order).
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let key = Ed25519PublicKey::from_bytes(&identity).unwrap();
        assert!(key.validate().is_err());
    }

    #[test]
    fn wrong_lengths_are_precise() {
        let err = Ed25519PublicKey::from_base64("aGk=").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Ed25519 public key couldn't be decoded: expected 32 bytes, got 2"
        );
    }
}
