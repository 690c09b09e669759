//! Passkey-PRF wrapped master-key slots (crypto.md §6.2).
//!
//! A slot holds the seed's base64 text sealed under `D13(PRF output)` and is signed with the
//! identity key, so the server cannot swap in a slot of its own making.

use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::canonical::{legacy_signable, Object, Value};
use crate::derive::{info, prf_wrap_key, signing_key, DeriveError};
use crate::envelope::{self, Aad, Algorithm, EnvelopeError};
use crate::keys::{Ed25519PublicKey, Ed25519Signature, KeyError};
use crate::seed::Seed;

/// The only wrap algorithm name the original accepts.
pub const WRAP_ALGO: &str = "aes-256-gcm-prf-v1";

/// Errors of key slots.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeySlotError {
    /// The slot signature does not verify under the account's signing key.
    #[error("slot signature invalid: {0}")]
    Signature(KeyError),
    /// Unknown `wrapAlgo`.
    #[error("unsupported wrap algorithm {0:?}")]
    WrapAlgo(String),
    /// The PRF output is unusable.
    #[error(transparent)]
    Prf(#[from] DeriveError),
    /// The envelope did not open (wrong passkey or tampered slot).
    #[error("slot cannot be opened: {0}")]
    Envelope(#[from] EnvelopeError),
    /// The slot opened but does not hold the account's seed.
    #[error("slot does not hold this account's seed")]
    WrongSeed,
}

/// A wrapped master-key slot as the server stores it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeySlot {
    /// WebAuthn credential id (base64url as the passkey library gives it).
    pub credential_id: String,
    /// base64 envelope of the seed's base64 text.
    pub wrapped_km: String,
    /// Always [`WRAP_ALGO`].
    pub wrap_algo: String,
    /// base64 Ed25519 signature over [`slot_signable`].
    pub slot_signature: String,
}

fn aad<'a>(user_id: &'a str, credential_id: &'a str) -> Aad<'a> {
    Aad {
        user_id,
        record_type: "wrapped-master-key",
        record_id: credential_id,
        key_context: info::PRF_WRAP,
    }
}

/// The signed text of a slot: the legacy signable of type `wrapped-km-slot`.
pub fn slot_signable(
    user_id: &str,
    credential_id: &str,
    wrap_algo: &str,
    wrapped_km: &str,
) -> String {
    let payload: Object = [
        ("credentialId", Value::string(credential_id)),
        ("userId", Value::string(user_id)),
        ("wrapAlgo", Value::string(wrap_algo)),
        ("wrappedKm", Value::string(wrapped_km)),
    ]
    .into_iter()
    .collect();
    legacy_signable("wrapped-km-slot", &payload)
}

/// Creates a slot for `credential_id` from the passkey's PRF output.
pub fn create_slot(
    seed: &Seed,
    user_id: &str,
    credential_id: &str,
    prf_output: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<KeySlot, KeySlotError> {
    let mut nonce = [0u8; 12];
    rng.fill_bytes(&mut nonce);
    create_slot_with_nonce(seed, user_id, credential_id, prf_output, &nonce)
}

/// [`create_slot`] with a given nonce (test vectors only).
pub fn create_slot_with_nonce(
    seed: &Seed,
    user_id: &str,
    credential_id: &str,
    prf_output: &[u8],
    nonce: &[u8; 12],
) -> Result<KeySlot, KeySlotError> {
    // The slot's name promises AES-256-GCM, so it is written with it (compatible both ways).
    let key = prf_wrap_key(prf_output)?;
    let seed_text = seed.to_recovery_key();
    let sealed = envelope::seal_with_nonce(
        &key,
        Algorithm::Aes256Gcm,
        nonce,
        &aad(user_id, credential_id),
        seed_text.as_bytes(),
    )?;
    let wrapped_km = crate::encoding::to_base64(&sealed);
    let signature = signing_key(seed)
        .sign(slot_signable(user_id, credential_id, WRAP_ALGO, &wrapped_km).as_bytes());
    Ok(KeySlot {
        credential_id: credential_id.to_owned(),
        wrapped_km,
        wrap_algo: WRAP_ALGO.to_owned(),
        slot_signature: signature.to_base64(),
    })
}

impl KeySlot {
    /// Checks the slot signature against the account's signing key (what the server does
    /// before storing a slot, and the client before trusting one).
    pub fn verify(
        &self,
        user_id: &str,
        signing_key: &Ed25519PublicKey,
    ) -> Result<(), KeySlotError> {
        let signature =
            Ed25519Signature::from_base64(&self.slot_signature).map_err(KeySlotError::Signature)?;
        let signable = slot_signable(
            user_id,
            &self.credential_id,
            &self.wrap_algo,
            &self.wrapped_km,
        );
        signing_key
            .verify(signable.as_bytes(), &signature)
            .map_err(KeySlotError::Signature)
    }

    /// Opens the slot, in the original's order: signature, algorithm, derive, decrypt, decode,
    /// and finally the recovered seed must derive `signing_key`.
    pub fn open(
        &self,
        user_id: &str,
        prf_output: &[u8],
        signing_key: &Ed25519PublicKey,
    ) -> Result<Seed, KeySlotError> {
        self.verify(user_id, signing_key)?;
        if self.wrap_algo != WRAP_ALGO {
            return Err(KeySlotError::WrapAlgo(self.wrap_algo.clone()));
        }
        let key = prf_wrap_key(prf_output)?;
        let text =
            envelope::open_base64(&key, &aad(user_id, &self.credential_id), &self.wrapped_km)?;
        let text =
            Zeroizing::new(String::from_utf8(text.to_vec()).map_err(|_| KeySlotError::WrongSeed)?);
        let seed = Seed::from_recovery_key(&text).map_err(|_| KeySlotError::WrongSeed)?;
        if crate::derive::signing_key(&seed).public_key() != *signing_key {
            return Err(KeySlotError::WrongSeed);
        }
        Ok(seed)
    }
}
