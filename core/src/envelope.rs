//! The ciphertext envelope (crypto.md §3) and the legacy `{ciphertext, nonce}` pair (§4).
//!
//! ```text
//! 0x02 ‖ algorithm ‖ nonce ‖ ciphertext ‖ 16-byte tag
//! ```
//!
//! | algorithm | id | nonce | written by |
//! |---|---|---|---|
//! | AES-256-GCM | `0x01` | 12 bytes | the original (read and written here for compatibility) |
//! | XChaCha20-Poly1305 | `0x10` | 24 bytes | us: the default for new writes |
//!
//! `0x10` was chosen well away from `0x01` and from the next ids the original might assign
//! (`0x02`, `0x03`, which its own tests treat as "unsupported"). With XChaCha's random 24-byte
//! nonces, a nonce collision under one key is negligible (2^-96 after 2^48 messages), so nonce
//! reuse is a non-issue even for keys that encrypt for years (personal, metadata). AES-GCM's
//! 12-byte random nonces stay safe only below ~2^32 messages per key, which is one reason we
//! moved off it for new writes.
//!
//! The AAD binds every ciphertext to who owns it and what it is: four u16-length-prefixed
//! UTF-8 fields, `userId ‖ recordType ‖ recordId ‖ keyContext`.

#[cfg(feature = "aes-gcm")]
use aes_gcm::Aes256Gcm;
use chacha20poly1305::aead::{Aead, AeadInPlace, KeyInit, Payload};
use chacha20poly1305::XChaCha20Poly1305;
use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::derive::SymmetricKey;
use crate::encoding::{from_base64, to_base64};

/// The envelope format version byte.
pub const VERSION: u8 = 0x02;
/// Length of the AEAD tag.
pub const TAG_LENGTH: usize = 16;

/// Errors of sealing and opening envelopes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// Shorter than version + algorithm + nonce + tag.
    #[error("Envelope too short: {actual} bytes, need ≥ {minimum}")]
    TooShort {
        /// Bytes given.
        actual: usize,
        /// Bytes needed for this algorithm.
        minimum: usize,
    },
    /// Version byte other than 0x02.
    #[error("Unsupported envelope version 0x{0:02x}")]
    UnsupportedVersion(u8),
    /// Unknown algorithm byte.
    #[error("Unsupported algorithm 0x{0:02x}")]
    UnsupportedAlgorithm(u8),
    /// An AES-256-GCM envelope in a build without AES (the WebAssembly start module: the
    /// package's second module has it).
    #[error("AES-256-GCM is not in this build (the WebAssembly package's second module has it)")]
    AesUnavailable,
    /// Wrong key, wrong AAD, or tampered bytes.
    #[error("authentication failed: wrong key, wrong context or tampered ciphertext")]
    Authentication,
    /// An AAD field longer than 65535 bytes.
    #[error("AAD field {0} is longer than 65535 bytes")]
    AadFieldTooLong(&'static str),
    /// A nonce of the wrong length for the algorithm.
    #[error("nonce must be {expected} bytes for this algorithm (got {actual})")]
    NonceLength {
        /// Required length.
        expected: usize,
        /// Given length.
        actual: usize,
    },
    /// Base64 that does not decode.
    #[error("invalid base64: {0}")]
    Base64(String),
    /// Encryption refused (plaintext beyond the AEAD's limit).
    #[error("plaintext too large to encrypt")]
    TooLarge,
}

/// AEAD algorithm of an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// AES-256-GCM, 12-byte nonce (id `0x01`, the original's only algorithm).
    Aes256Gcm,
    /// XChaCha20-Poly1305, 24-byte nonce (id `0x10`, our default).
    XChaCha20Poly1305,
}

impl Algorithm {
    /// The default for new writes.
    pub const DEFAULT: Algorithm = Algorithm::XChaCha20Poly1305;
    /// Every algorithm this crate reads and writes.
    pub const ALL: [Algorithm; 2] = [Algorithm::Aes256Gcm, Algorithm::XChaCha20Poly1305];

    /// The algorithm byte.
    pub fn id(self) -> u8 {
        match self {
            Algorithm::Aes256Gcm => 0x01,
            Algorithm::XChaCha20Poly1305 => 0x10,
        }
    }

    /// From the algorithm byte.
    pub fn from_id(id: u8) -> Result<Self, EnvelopeError> {
        match id {
            0x01 => Ok(Algorithm::Aes256Gcm),
            0x10 => Ok(Algorithm::XChaCha20Poly1305),
            other => Err(EnvelopeError::UnsupportedAlgorithm(other)),
        }
    }

    /// Nonce length in bytes.
    pub fn nonce_length(self) -> usize {
        match self {
            Algorithm::Aes256Gcm => 12,
            Algorithm::XChaCha20Poly1305 => 24,
        }
    }

    /// Smallest valid envelope of this algorithm (empty plaintext).
    pub fn minimum_length(self) -> usize {
        2 + self.nonce_length() + TAG_LENGTH
    }
}

/// The additional authenticated data of an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aad<'a> {
    /// Owner (user id, handle, device id or session id, by use).
    pub user_id: &'a str,
    /// What the record is (`personal-blob`, `seed-wrap`, …).
    pub record_type: &'a str,
    /// Which record.
    pub record_id: &'a str,
    /// The key's context label.
    pub key_context: &'a str,
}

impl Aad<'_> {
    /// The exact AAD bytes: each field as u16 big-endian byte length, then its UTF-8.
    pub fn encode(&self) -> Result<Vec<u8>, EnvelopeError> {
        let fields = [
            ("userId", self.user_id),
            ("recordType", self.record_type),
            ("recordId", self.record_id),
            ("keyContext", self.key_context),
        ];
        let total: usize = fields.iter().map(|(_, v)| 2 + v.len()).sum();
        let mut out = Vec::with_capacity(total);
        for (name, value) in fields {
            let len =
                u16::try_from(value.len()).map_err(|_| EnvelopeError::AadFieldTooLong(name))?;
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(value.as_bytes());
        }
        Ok(out)
    }
}

/// Seals `plaintext` under `key` with a fresh random nonce.
pub fn seal(
    key: &SymmetricKey,
    algorithm: Algorithm,
    aad: &Aad<'_>,
    plaintext: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>, EnvelopeError> {
    let mut nonce = [0u8; 24];
    let nonce = &mut nonce[..algorithm.nonce_length()];
    rng.fill_bytes(nonce);
    seal_with_nonce(key, algorithm, nonce, aad, plaintext)
}

/// Seals with a caller-chosen nonce. Only for reproducing fixed test vectors: a nonce must never
/// be used twice under one key; production code calls [`seal`].
pub fn seal_with_nonce(
    key: &SymmetricKey,
    algorithm: Algorithm,
    nonce: &[u8],
    aad: &Aad<'_>,
    plaintext: &[u8],
) -> Result<Vec<u8>, EnvelopeError> {
    if nonce.len() != algorithm.nonce_length() {
        return Err(EnvelopeError::NonceLength {
            expected: algorithm.nonce_length(),
            actual: nonce.len(),
        });
    }
    let aad = aad.encode()?;
    // Encrypt in place inside the output buffer: no intermediate ciphertext copy.
    let header = 2 + nonce.len();
    let mut out = Vec::with_capacity(header + plaintext.len() + TAG_LENGTH);
    out.push(VERSION);
    out.push(algorithm.id());
    out.extend_from_slice(nonce);
    out.extend_from_slice(plaintext);
    let body = &mut out[header..];
    let tag = match algorithm {
        #[cfg(feature = "aes-gcm")]
        Algorithm::Aes256Gcm => Aes256Gcm::new(key.as_bytes().into())
            .encrypt_in_place_detached(nonce.into(), &aad, body)
            .map(|t| t.to_vec()),
        #[cfg(not(feature = "aes-gcm"))]
        Algorithm::Aes256Gcm => return Err(EnvelopeError::AesUnavailable),
        Algorithm::XChaCha20Poly1305 => XChaCha20Poly1305::new(key.as_bytes().into())
            .encrypt_in_place_detached(nonce.into(), &aad, body)
            .map(|t| t.to_vec()),
    }
    .map_err(|_| EnvelopeError::TooLarge)?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Checks the structure of an envelope without a key (what a server can check): version,
/// algorithm and minimum length. Returns the algorithm.
pub fn check_shape(envelope: &[u8]) -> Result<Algorithm, EnvelopeError> {
    // The original checks the length against its only algorithm first; keep its error order.
    let minimum = Algorithm::Aes256Gcm.minimum_length();
    if envelope.len() < minimum {
        return Err(EnvelopeError::TooShort {
            actual: envelope.len(),
            minimum,
        });
    }
    if envelope[0] != VERSION {
        return Err(EnvelopeError::UnsupportedVersion(envelope[0]));
    }
    let algorithm = Algorithm::from_id(envelope[1])?;
    if envelope.len() < algorithm.minimum_length() {
        return Err(EnvelopeError::TooShort {
            actual: envelope.len(),
            minimum: algorithm.minimum_length(),
        });
    }
    Ok(algorithm)
}

/// Opens an envelope of any supported algorithm.
pub fn open(
    key: &SymmetricKey,
    aad: &Aad<'_>,
    envelope: &[u8],
) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
    let algorithm = check_shape(envelope)?;
    let split = 2 + algorithm.nonce_length();
    let (nonce, sealed) = (&envelope[2..split], &envelope[split..]);
    let aad = aad.encode()?;
    let payload = Payload {
        msg: sealed,
        aad: &aad,
    };
    let plaintext = match algorithm {
        #[cfg(feature = "aes-gcm")]
        Algorithm::Aes256Gcm => {
            Aes256Gcm::new(key.as_bytes().into()).decrypt(nonce.into(), payload)
        }
        #[cfg(not(feature = "aes-gcm"))]
        Algorithm::Aes256Gcm => return Err(EnvelopeError::AesUnavailable),
        Algorithm::XChaCha20Poly1305 => {
            XChaCha20Poly1305::new(key.as_bytes().into()).decrypt(nonce.into(), payload)
        }
    };
    plaintext
        .map(Zeroizing::new)
        .map_err(|_| EnvelopeError::Authentication)
}

/// [`seal`], base64 encoded (how envelopes are stored and sent).
pub fn seal_base64(
    key: &SymmetricKey,
    algorithm: Algorithm,
    aad: &Aad<'_>,
    plaintext: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<String, EnvelopeError> {
    seal(key, algorithm, aad, plaintext, rng).map(|e| to_base64(&e))
}

/// [`open`] of base64 text.
pub fn open_base64(
    key: &SymmetricKey,
    aad: &Aad<'_>,
    envelope: &str,
) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
    let bytes = from_base64(envelope).map_err(|e| EnvelopeError::Base64(e.to_string()))?;
    open(key, aad, &bytes)
}

/// The legacy v1 ciphertext: AES-256-GCM without AAD, as two base64 strings (crypto.md §4).
/// Still read for old friend pins and collection shares; written only where a peer expects it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LegacyCiphertext {
    /// base64(ciphertext ‖ tag).
    pub ciphertext: String,
    /// base64(12-byte nonce).
    pub nonce: String,
}

impl LegacyCiphertext {
    /// Encrypts with a fresh nonce.
    pub fn seal(
        key: &SymmetricKey,
        plaintext: &[u8],
        rng: &mut impl CryptoRngCore,
    ) -> Result<Self, EnvelopeError> {
        let mut nonce = [0u8; 12];
        rng.fill_bytes(&mut nonce);
        Self::seal_with_nonce(key, &nonce, plaintext)
    }

    /// Encrypts with a given nonce (test vectors only; never reuse a nonce).
    #[cfg(feature = "aes-gcm")]
    pub fn seal_with_nonce(
        key: &SymmetricKey,
        nonce: &[u8; 12],
        plaintext: &[u8],
    ) -> Result<Self, EnvelopeError> {
        let sealed = Aes256Gcm::new(key.as_bytes().into())
            .encrypt(nonce.into(), plaintext)
            .map_err(|_| EnvelopeError::TooLarge)?;
        Ok(Self {
            ciphertext: to_base64(&sealed),
            nonce: to_base64(nonce),
        })
    }

    /// Encrypts: not in this build.
    #[cfg(not(feature = "aes-gcm"))]
    pub fn seal_with_nonce(
        _key: &SymmetricKey,
        _nonce: &[u8; 12],
        _plaintext: &[u8],
    ) -> Result<Self, EnvelopeError> {
        Err(EnvelopeError::AesUnavailable)
    }

    /// Decrypts.
    #[cfg(feature = "aes-gcm")]
    pub fn open(&self, key: &SymmetricKey) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
        let b64 = |s: &str| from_base64(s).map_err(|e| EnvelopeError::Base64(e.to_string()));
        let nonce = b64(&self.nonce)?;
        if nonce.len() != 12 {
            return Err(EnvelopeError::NonceLength {
                expected: 12,
                actual: nonce.len(),
            });
        }
        let sealed = b64(&self.ciphertext)?;
        if sealed.len() < TAG_LENGTH {
            return Err(EnvelopeError::TooShort {
                actual: sealed.len(),
                minimum: TAG_LENGTH,
            });
        }
        Aes256Gcm::new(key.as_bytes().into())
            .decrypt(nonce.as_slice().into(), sealed.as_slice())
            .map(Zeroizing::new)
            .map_err(|_| EnvelopeError::Authentication)
    }

    /// Decrypts: not in this build.
    #[cfg(not(feature = "aes-gcm"))]
    pub fn open(&self, _key: &SymmetricKey) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
        Err(EnvelopeError::AesUnavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aad_example_from_spec() {
        let aad = Aad {
            user_id: "u1",
            record_type: "personal-blob",
            record_id: "search-history",
            key_context: "parchment-personal-v1",
        };
        let hex: String = aad
            .encode()
            .unwrap()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, "00027531000d706572736f6e616c2d626c6f62000e7365617263682d686973746f7279001570617263686d656e742d706572736f6e616c2d7631");
    }

    #[test]
    fn oversized_aad_field_refused() {
        let long = "x".repeat(65536);
        let aad = Aad {
            user_id: &long,
            record_type: "",
            record_id: "",
            key_context: "",
        };
        assert_eq!(aad.encode(), Err(EnvelopeError::AadFieldTooLong("userId")));
    }
}
