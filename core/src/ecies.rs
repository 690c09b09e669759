//! Sealing data to a user's X25519 key.
//!
//! - [`friend_share`]: the original's ECIES friend share v2 (crypto.md §5), byte-compatible:
//!   `ephPub ‖ envelope ‖ Ed25519(sender, ephPub ‖ envelope)`.
//! - [`seal`] / [`open`]: our anonymous sealed box for new uses. It fixes the original's loose
//!   binding (gap 4): the HKDF info carries both the ephemeral and the recipient public key, so
//!   the derived key is bound to exactly this exchange, and it needs no sender signature.

use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::derive::{ecies_key, hkdf, info, SymmetricKey};
use crate::envelope::{self, Aad, Algorithm, EnvelopeError};
use crate::handle::relationship_id;
use crate::keys::{
    Ed25519PublicKey, Ed25519SecretKey, Ed25519Signature, KeyError, X25519PublicKey,
    X25519SecretKey,
};

/// Errors of sealing and opening.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EciesError {
    /// Shorter than the fixed parts.
    #[error("sealed blob too short: {actual} bytes, need ≥ {minimum}")]
    TooShort {
        /// Bytes given.
        actual: usize,
        /// Minimum.
        minimum: usize,
    },
    /// Sender signature invalid (checked before decrypting).
    #[error("ECIES signature invalid — sender authentication failed")]
    BadSignature,
    /// Key agreement failed (low-order key).
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Decryption failed.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// A sealed seed opened to something that is not 32 bytes.
    #[error("the sealed value is not a seed")]
    NotASeed,
}

/// Who a friend share is from and for, and when: all bound into the AAD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareBinding {
    /// Sender handle.
    pub sender_id: String,
    /// Recipient handle.
    pub recipient_id: String,
    /// `min::max` of the two handles.
    pub relationship_id: String,
    /// ISO timestamp (sent as the location `nonce`).
    pub timestamp: String,
}

impl ShareBinding {
    /// A binding with the relationship id computed from the two handles.
    pub fn new(sender_id: &str, recipient_id: &str, timestamp: &str) -> Self {
        Self {
            sender_id: sender_id.to_owned(),
            recipient_id: recipient_id.to_owned(),
            relationship_id: relationship_id(sender_id, recipient_id),
            timestamp: timestamp.to_owned(),
        }
    }

    fn key_context(&self) -> String {
        format!(
            "{}|from={}|to={}|ts={}",
            info::ECIES,
            self.sender_id,
            self.recipient_id,
            self.timestamp
        )
    }
}

/// The original's ECIES friend share v2.
pub mod friend_share {
    use super::*;

    /// Seals `plaintext` for the recipient, signed by the sender.
    pub fn seal(
        plaintext: &[u8],
        sender: &Ed25519SecretKey,
        recipient: &X25519PublicKey,
        binding: &ShareBinding,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Vec<u8>, EciesError> {
        let ephemeral = X25519SecretKey::generate(rng);
        let mut nonce = [0u8; 12];
        rng.fill_bytes(&mut nonce);
        seal_with(plaintext, sender, recipient, binding, &ephemeral, &nonce)
    }

    /// [`seal`] with a given ephemeral key and nonce (test vectors only).
    pub fn seal_with(
        plaintext: &[u8],
        sender: &Ed25519SecretKey,
        recipient: &X25519PublicKey,
        binding: &ShareBinding,
        ephemeral: &X25519SecretKey,
        nonce: &[u8; 12],
    ) -> Result<Vec<u8>, EciesError> {
        let ephemeral_public = ephemeral.public_key();
        let key = ecies_key(&ephemeral.diffie_hellman(recipient)?);
        let context = binding.key_context();
        let aad = Aad {
            user_id: &binding.recipient_id,
            record_type: "friend-share-v2",
            record_id: &binding.relationship_id,
            key_context: &context,
        };
        // AES-256-GCM: the recipient may run the original client.
        let env = envelope::seal_with_nonce(&key, Algorithm::Aes256Gcm, nonce, &aad, plaintext)?;
        let mut blob = Vec::with_capacity(32 + env.len() + 64);
        blob.extend_from_slice(ephemeral_public.as_bytes());
        blob.extend_from_slice(&env);
        let signature = sender.sign(&blob);
        blob.extend_from_slice(&signature.to_bytes());
        Ok(blob)
    }

    /// Verifies the sender's signature, then decrypts.
    pub fn open(
        blob: &[u8],
        recipient: &X25519SecretKey,
        sender: &Ed25519PublicKey,
        binding: &ShareBinding,
    ) -> Result<Zeroizing<Vec<u8>>, EciesError> {
        if blob.len() < 96 {
            return Err(EciesError::TooShort {
                actual: blob.len(),
                minimum: 96,
            });
        }
        let (signed, signature) = blob.split_at(blob.len() - 64);
        let signature = Ed25519Signature::from_slice(signature)?;
        sender
            .verify(signed, &signature)
            .map_err(|_| EciesError::BadSignature)?;
        let ephemeral_public = X25519PublicKey::from_slice(&signed[..32])?;
        let key = ecies_key(&recipient.diffie_hellman(&ephemeral_public)?);
        let context = binding.key_context();
        let aad = Aad {
            user_id: &binding.recipient_id,
            record_type: "friend-share-v2",
            record_id: &binding.relationship_id,
            key_context: &context,
        };
        Ok(envelope::open(&key, &aad, &signed[32..])?)
    }
}

/// What a sealed box is for: its HKDF label and AAD record type, so a box made for one use
/// never opens as another (a module handoff is not a `sealTo` box, and back).
#[derive(Clone, Copy)]
struct SealDomain {
    info: &'static str,
    record_type: &'static str,
}

/// `sealTo` / `openSealed`.
const SEALED_BOX: SealDomain = SealDomain {
    info: "parchment-seal-v1",
    record_type: "sealed-box",
};
/// A seed moving between the WebAssembly package's two modules.
const MODULE_HANDOFF: SealDomain = SealDomain {
    info: "parchment-module-handoff-v1",
    record_type: "module-handoff",
};

fn seal_key(
    domain: SealDomain,
    shared: &[u8; 32],
    ephemeral: &X25519PublicKey,
    recipient: &X25519PublicKey,
) -> SymmetricKey {
    let mut info = Vec::with_capacity(domain.info.len() + 64);
    info.extend_from_slice(domain.info.as_bytes());
    info.extend_from_slice(ephemeral.as_bytes());
    info.extend_from_slice(recipient.as_bytes());
    SymmetricKey::from_bytes(*hkdf::<32>(shared, &info))
}

/// Anonymous sealed box: `ephPub (32) ‖ envelope (XChaCha20-Poly1305)`.
pub fn seal(
    recipient: &X25519PublicKey,
    plaintext: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>, EciesError> {
    seal_in(SEALED_BOX, recipient, plaintext, rng)
}

/// Opens a [`seal`]ed box with the recipient's key.
pub fn open(recipient: &X25519SecretKey, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, EciesError> {
    open_in(SEALED_BOX, recipient, sealed)
}

fn box_aad<'a>(domain: SealDomain, recipient: &'a str) -> Aad<'a> {
    Aad {
        user_id: recipient,
        record_type: domain.record_type,
        record_id: "",
        key_context: domain.info,
    }
}

fn seal_in(
    domain: SealDomain,
    recipient: &X25519PublicKey,
    plaintext: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>, EciesError> {
    recipient.validate()?;
    let ephemeral = X25519SecretKey::generate(rng);
    let ephemeral_public = ephemeral.public_key();
    let key = seal_key(
        domain,
        ephemeral.diffie_hellman(recipient)?.as_bytes(),
        &ephemeral_public,
        recipient,
    );
    let recipient_b64 = recipient.to_base64();
    let env = envelope::seal(
        &key,
        Algorithm::DEFAULT,
        &box_aad(domain, &recipient_b64),
        plaintext,
        rng,
    )?;
    Ok([ephemeral_public.as_bytes().as_slice(), &env].concat())
}

fn open_in(
    domain: SealDomain,
    recipient: &X25519SecretKey,
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, EciesError> {
    let minimum = 32 + Algorithm::Aes256Gcm.minimum_length();
    if sealed.len() < minimum {
        return Err(EciesError::TooShort {
            actual: sealed.len(),
            minimum,
        });
    }
    let ephemeral_public = X25519PublicKey::from_slice(&sealed[..32])?;
    let recipient_public = recipient.public_key();
    let key = seal_key(
        domain,
        recipient.diffie_hellman(&ephemeral_public)?.as_bytes(),
        &ephemeral_public,
        &recipient_public,
    );
    let recipient_b64 = recipient_public.to_base64();
    Ok(envelope::open(
        &key,
        &box_aad(domain, &recipient_b64),
        &sealed[32..],
    )?)
}

/// Seals a seed for the WebAssembly package's other module (its own domain: neither [`open`]
/// opens it nor does [`open_seed`] open a [`seal`]ed box); [`open_seed`] opens it.
pub fn seal_seed(
    recipient: &X25519PublicKey,
    seed: &crate::Seed,
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>, EciesError> {
    seal_in(MODULE_HANDOFF, recipient, seed.as_bytes(), rng)
}

/// Opens a [`seal_seed`] box.
pub fn open_seed(recipient: &X25519SecretKey, sealed: &[u8]) -> Result<crate::Seed, EciesError> {
    let bytes = open_in(MODULE_HANDOFF, recipient, sealed)?;
    crate::Seed::from_slice(&bytes).map_err(|_| EciesError::NotASeed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;

    #[test]
    fn a_module_handoff_and_a_sealed_box_never_open_as_each_other() {
        let key = X25519SecretKey::generate(&mut OsRng);
        let seed = crate::Seed::generate(&mut OsRng);
        let handoff = seal_seed(&key.public_key(), &seed, &mut OsRng).expect("seal");
        assert!(open_seed(&key, &handoff).expect("opens") == seed);
        assert!(
            open(&key, &handoff).is_err(),
            "openSealed must not reveal a handoff"
        );
        let boxed = seal(&key.public_key(), &[7u8; 32], &mut OsRng).expect("seal");
        assert!(
            open_seed(&key, &boxed).is_err(),
            "a sealTo box is not a handoff"
        );
    }
}
