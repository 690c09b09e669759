//! The HKDF-SHA256 derivation tree (crypto.md §2): one function per derived key, each with a
//! typed output. Salt is always absent (RFC 5869: 32 zero bytes) and `info` is the exact UTF-8
//! label of the original.

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::keys::{Ed25519SecretKey, SharedSecret, X25519SecretKey};
use crate::seed::Seed;

/// `info` labels, exactly as the original spells them.
pub mod info {
    /// D1: Ed25519 identity signing seed.
    pub const SIGNING: &str = "parchment-signing-v1";
    /// D2: X25519 encryption scalar.
    pub const ENCRYPTION: &str = "parchment-encryption-v1";
    /// D3: personal data key.
    pub const PERSONAL: &str = "parchment-personal-v1";
    /// D4: user metadata key.
    pub const METADATA: &str = "parchment-metadata-v1";
    /// D5 prefix: per-collection key (`parchment-collection-<id>[-v<N>]`).
    pub const COLLECTION_PREFIX: &str = "parchment-collection-";
    /// D6 default: legacy static-DH friend share.
    pub const SHARE_V1: &str = "parchment-share-v1";
    /// D6 for collection share payloads.
    pub const SHARE_COLLECTION_V1: &str = "parchment-share-collection-v1";
    /// D6 prefix for collection content-key wraps.
    pub const COLLECTION_KEY_WRAP_PREFIX: &str = "parchment-collection-key-wrap:";
    /// D7: ECIES friend share.
    pub const ECIES: &str = "parchment-ecies-v1";
    /// D8: device transfer.
    pub const DEVICE_TRANSFER: &str = "parchment-device-transfer-v1";
    /// D9: device SAS.
    pub const DEVICE_SAS: &str = "parchment-device-sas-v1";
    /// Device transfer v2: the sealing key.
    pub const DEVICE_TRANSFER_V2: &str = "parchment-device-transfer-v2";
    /// Device transfer v2: the 8-digit SAS.
    pub const DEVICE_SAS_V2: &str = "parchment-device-sas-v2";
    /// Device transfer v2: the receiver's commitment to its ephemeral key (a SHA-256 prefix).
    pub const DEVICE_COMMIT_V2: &str = "parchment-device-transfer-commit-v2";
    /// D10: safety number.
    pub const SAFETY: &str = "parchment-safety-v1";
    /// D11: seed wrap under a device secret.
    pub const SEED_WRAP: &str = "parchment-seed-wrap-v1";
    /// D12: constant WebAuthn PRF salt.
    pub const PRF_SALT: &str = "parchment-prf-salt-v2";
    /// D13: PRF slot wrap key.
    pub const PRF_WRAP: &str = "parchment-prf-wrap-v1";
}

/// Errors of derivation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeriveError {
    /// Collection key versions start at 1.
    #[error("collection key version must be at least 1")]
    ZeroVersion,
    /// An id ending in `-v<digits>` would collide with another id's versioned key
    /// (`"x-v2"` at version 1 = `"x"` at version 2), a flaw of the original's label scheme.
    #[error("collection id {0:?} ends in -v<N> and would share a key with another collection")]
    AmbiguousCollectionId(String),
    /// A PRF output shorter than 16 bytes.
    #[error("PRF output must be at least 16 bytes (got {0})")]
    ShortPrfOutput(usize),
}

/// A 32-byte symmetric key (AES-256-GCM or XChaCha20-Poly1305). Zeroized on drop; no `Debug`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SymmetricKey(Box<[u8; 32]>);

impl SymmetricKey {
    /// From raw bytes (for keys that arrive from elsewhere, such as test vectors).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let mut bytes = bytes;
        let key = Self(Box::new(bytes));
        bytes.zeroize();
        key
    }

    /// The raw key bytes, for the AEAD.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// HKDF-SHA256 with absent salt.
pub fn hkdf<const L: usize>(ikm: &[u8], info: &[u8]) -> Zeroizing<[u8; L]> {
    let mut out = Zeroizing::new([0u8; L]);
    // L ≤ 255·32, so expand cannot fail for the lengths used here.
    Hkdf::<Sha256>::new(None, ikm)
        .expand(info, out.as_mut())
        .unwrap_or_else(|_| unreachable!("HKDF output length {L} is within bounds"));
    out
}

fn symmetric(ikm: &[u8], info: &str) -> SymmetricKey {
    SymmetricKey(Box::new(*hkdf::<32>(ikm, info.as_bytes())))
}

/// D1: the Ed25519 identity signing key.
pub fn signing_key(seed: &Seed) -> Ed25519SecretKey {
    Ed25519SecretKey::from_bytes(&hkdf::<32>(seed.as_bytes(), info::SIGNING.as_bytes()))
}

/// D2: the X25519 encryption key.
pub fn encryption_key(seed: &Seed) -> X25519SecretKey {
    let bytes = hkdf::<32>(seed.as_bytes(), info::ENCRYPTION.as_bytes());
    // HKDF output is all-zero with probability 2^-256.
    X25519SecretKey::from_bytes(*bytes).unwrap_or_else(|_| unreachable!("HKDF output is zero"))
}

/// D3: the personal key (personal blobs, friend pins).
pub fn personal_key(seed: &Seed) -> SymmetricKey {
    symmetric(seed.as_bytes(), info::PERSONAL)
}

/// D4: the metadata key.
pub fn metadata_key(seed: &Seed) -> SymmetricKey {
    symmetric(seed.as_bytes(), info::METADATA)
}

/// The D5 label: `parchment-collection-<id>` at version 1, `…-v<N>` from version 2.
pub fn collection_info(collection_id: &str, version: u32) -> Result<String, DeriveError> {
    match version {
        0 => Err(DeriveError::ZeroVersion),
        1 => Ok(format!("{}{collection_id}", info::COLLECTION_PREFIX)),
        n => Ok(format!("{}{collection_id}-v{n}", info::COLLECTION_PREFIX)),
    }
}

/// D5: a collection key, derived exactly as the original does. Ids ending in `-v<digits>` are
/// refused (see [`DeriveError::AmbiguousCollectionId`]); the original's ids are random
/// alphanumerics, so no existing collection is affected.
pub fn collection_key(
    seed: &Seed,
    collection_id: &str,
    version: u32,
) -> Result<SymmetricKey, DeriveError> {
    if has_version_suffix(collection_id) {
        return Err(DeriveError::AmbiguousCollectionId(collection_id.to_owned()));
    }
    Ok(symmetric(
        seed.as_bytes(),
        &collection_info(collection_id, version)?,
    ))
}

fn has_version_suffix(id: &str) -> bool {
    match id.rfind("-v") {
        Some(at) => {
            let digits = &id[at + 2..];
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

/// D5a: canvas metadata key (collection id `canvas:<id>`, always version 1).
pub fn canvas_key(seed: &Seed, canvas_id: &str) -> Result<SymmetricKey, DeriveError> {
    collection_key(seed, &format!("canvas:{canvas_id}"), 1)
}

/// D5b: route metadata key.
pub fn route_key(seed: &Seed, route_id: &str) -> Result<SymmetricKey, DeriveError> {
    collection_key(seed, &format!("route:{route_id}"), 1)
}

/// D5c: route body key.
pub fn route_body_key(seed: &Seed, route_id: &str) -> Result<SymmetricKey, DeriveError> {
    collection_key(seed, &format!("route-body:{route_id}"), 1)
}

/// Which D6 legacy static-DH key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareContext<'a> {
    /// `parchment-share-v1` (default).
    Default,
    /// `parchment-share-collection-v1` (RESOURCE_SHARE payloads).
    Collection,
    /// `parchment-collection-key-wrap:<collectionId>`.
    CollectionKeyWrap(&'a str),
}

/// D6: legacy static-DH share key from `X25519(myPriv, theirPub)`.
pub fn share_key_v1(shared: &SharedSecret, context: ShareContext<'_>) -> SymmetricKey {
    match context {
        ShareContext::Default => symmetric(shared.as_bytes(), info::SHARE_V1),
        ShareContext::Collection => symmetric(shared.as_bytes(), info::SHARE_COLLECTION_V1),
        ShareContext::CollectionKeyWrap(id) => symmetric(
            shared.as_bytes(),
            &format!("{}{id}", info::COLLECTION_KEY_WRAP_PREFIX),
        ),
    }
}

/// D7: ECIES friend-share key from `X25519(ephemeral, recipient)`.
pub fn ecies_key(shared: &SharedSecret) -> SymmetricKey {
    symmetric(shared.as_bytes(), info::ECIES)
}

/// D8: device-transfer key from `X25519(senderEphemeral, receiverEphemeral)`.
pub fn device_transfer_key(shared: &SharedSecret) -> SymmetricKey {
    symmetric(shared.as_bytes(), info::DEVICE_TRANSFER)
}

/// Device transfer v2 key from `X25519(senderEphemeral, receiverEphemeral)`.
pub fn device_transfer_key_v2(shared: &SharedSecret) -> SymmetricKey {
    symmetric(shared.as_bytes(), info::DEVICE_TRANSFER_V2)
}

/// A device wrap secret: 32 random bytes the server keeps per (user, device).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct WrapSecret(Box<[u8; 32]>);

impl WrapSecret {
    /// From the raw 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let mut bytes = bytes;
        let secret = Self(Box::new(bytes));
        bytes.zeroize();
        secret
    }

    /// From the base64 the server serves.
    pub fn from_base64(text: &str) -> Result<Self, crate::encoding::LengthError> {
        let bytes = Zeroizing::new(crate::encoding::from_base64_array::<32>(text)?);
        Ok(Self::from_bytes(*bytes))
    }
}

/// D11: the seed-wrap key for one device.
pub fn seed_wrap_key(secret: &WrapSecret) -> SymmetricKey {
    symmetric(secret.0.as_ref(), info::SEED_WRAP)
}

/// D12: the constant WebAuthn PRF salt (`prf.eval.first`), identical for every user.
pub fn prf_salt() -> [u8; 32] {
    *hkdf::<32>(b"parchment", info::PRF_SALT.as_bytes())
}

/// D13: the PRF slot wrap key; the PRF output must be at least 16 bytes.
pub fn prf_wrap_key(prf_output: &[u8]) -> Result<SymmetricKey, DeriveError> {
    if prf_output.len() < 16 {
        return Err(DeriveError::ShortPrfOutput(prf_output.len()));
    }
    Ok(symmetric(prf_output, info::PRF_WRAP))
}

/// Every key an identity derives from its seed, derived once.
pub struct IdentityKeys {
    /// D1.
    pub signing: Ed25519SecretKey,
    /// D2.
    pub encryption: X25519SecretKey,
}

impl IdentityKeys {
    /// Derives the signing and encryption keys of `seed`.
    pub fn derive(seed: &Seed) -> Self {
        Self {
            signing: signing_key(seed),
            encryption: encryption_key(seed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_suffix_detection() {
        assert!(has_version_suffix("x-v2"));
        assert!(has_version_suffix("a-b-v10"));
        assert!(!has_version_suffix("x-v"));
        assert!(!has_version_suffix("x-vx"));
        assert!(!has_version_suffix("col-1"));
        let seed = Seed::from_bytes([1; 32]);
        assert!(matches!(
            collection_key(&seed, "x-v2", 1),
            Err(DeriveError::AmbiguousCollectionId(_))
        ));
        assert!(matches!(
            collection_key(&seed, "x", 0),
            Err(DeriveError::ZeroVersion)
        ));
    }

    #[test]
    fn short_prf_output_refused() {
        assert_eq!(
            prf_wrap_key(&[0; 15]).err(),
            Some(DeriveError::ShortPrfOutput(15))
        );
    }
}
