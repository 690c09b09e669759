//! The legacy static-DH friend share (crypto.md §4 and D6): `{ciphertext, nonce}` AES-256-GCM
//! without AAD under `HKDF(X25519(myPriv, theirPub), context)`. Still what RESOURCE_SHARE carries
//! between servers, so both directions are kept; it has no forward secrecy (gap 5).

use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::derive::{share_key_v1, ShareContext};
use crate::envelope::{EnvelopeError, LegacyCiphertext};
use crate::keys::{KeyError, X25519PublicKey, X25519SecretKey};

/// Errors of legacy shares.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShareError {
    /// Key agreement failed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Encryption or decryption failed.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
}

/// Encrypts for a friend (`encryptForFriend`).
pub fn encrypt_for_friend(
    plaintext: &[u8],
    mine: &X25519SecretKey,
    theirs: &X25519PublicKey,
    context: ShareContext<'_>,
    rng: &mut impl CryptoRngCore,
) -> Result<LegacyCiphertext, ShareError> {
    let key = share_key_v1(&mine.diffie_hellman(theirs)?, context);
    Ok(LegacyCiphertext::seal(&key, plaintext, rng)?)
}

/// Decrypts from a friend (`decryptFromFriend`): `theirs` is the sender's long-term key.
pub fn decrypt_from_friend(
    ciphertext: &LegacyCiphertext,
    mine: &X25519SecretKey,
    theirs: &X25519PublicKey,
    context: ShareContext<'_>,
) -> Result<Zeroizing<Vec<u8>>, ShareError> {
    let key = share_key_v1(&mine.diffie_hellman(theirs)?, context);
    Ok(ciphertext.open(&key)?)
}
