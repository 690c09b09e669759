//! The legacy static-DH friend share (crypto.md §4 and D6): `{ciphertext, nonce}` AES-256-GCM
//! without AAD under `HKDF(X25519(myPriv, theirPub), context)`. Still what RESOURCE_SHARE carries
//! between servers, so both directions are kept; it has no forward secrecy (gap 5).

use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::derive::{share_key_v1, ShareContext, SymmetricKey};
use crate::encoding::{from_base64, to_base64};
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
    /// A key wrap opened, but to something other than the base64 of a 32-byte key.
    #[error("the key wrap does not hold a 32-byte key")]
    NotAKey,
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

/// Wraps a collection key for a friend, as the original writes it (crypto.md D6): the base64 of
/// the 32-byte key, under the label `parchment-collection-key-wrap:<collectionId>`, so a wrap of
/// one collection never opens as another's.
pub fn wrap_collection_key(
    key: &SymmetricKey,
    collection_id: &str,
    mine: &X25519SecretKey,
    theirs: &X25519PublicKey,
    rng: &mut impl CryptoRngCore,
) -> Result<LegacyCiphertext, ShareError> {
    let text = Zeroizing::new(to_base64(key.as_bytes()));
    encrypt_for_friend(
        text.as_bytes(),
        mine,
        theirs,
        ShareContext::CollectionKeyWrap(collection_id),
        rng,
    )
}

/// Opens a collection key a friend wrapped for us (`theirs` is the friend's long-term key).
pub fn unwrap_collection_key(
    wrap: &LegacyCiphertext,
    collection_id: &str,
    mine: &X25519SecretKey,
    theirs: &X25519PublicKey,
) -> Result<SymmetricKey, ShareError> {
    let text = decrypt_from_friend(
        wrap,
        mine,
        theirs,
        ShareContext::CollectionKeyWrap(collection_id),
    )?;
    let bytes = Zeroizing::new(
        std::str::from_utf8(&text)
            .ok()
            .and_then(|t| from_base64(t).ok())
            .ok_or(ShareError::NotAKey)?,
    );
    let key: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| ShareError::NotAKey)?;
    Ok(SymmetricKey::from_bytes(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::derive::{collection_key, encryption_key};
    use crate::Seed;
    use rand_core::OsRng;

    #[test]
    fn a_wrapped_collection_key_opens_only_for_its_collection_and_friend() {
        let owner = Seed::from_bytes([1; 32]);
        let friend = encryption_key(&Seed::from_bytes([2; 32]));
        let stranger = encryption_key(&Seed::from_bytes([3; 32]));
        let mine = encryption_key(&owner);
        let key = collection_key(&owner, "col-1", 2).unwrap();
        let wrap =
            wrap_collection_key(&key, "col-1", &mine, &friend.public_key(), &mut OsRng).unwrap();
        let opened = unwrap_collection_key(&wrap, "col-1", &friend, &mine.public_key()).unwrap();
        assert_eq!(opened.as_bytes(), key.as_bytes());
        // The original's format: the plaintext is the key's base64.
        let plain = decrypt_from_friend(
            &wrap,
            &friend,
            &mine.public_key(),
            ShareContext::CollectionKeyWrap("col-1"),
        )
        .unwrap();
        assert_eq!(&plain[..], to_base64(key.as_bytes()).as_bytes());
        // Another collection's label, or another recipient: nothing opens.
        assert!(unwrap_collection_key(&wrap, "col-2", &friend, &mine.public_key()).is_err());
        assert!(unwrap_collection_key(&wrap, "col-1", &stranger, &mine.public_key()).is_err());
        // A wrap of something that is not a key is refused.
        let junk = encrypt_for_friend(
            b"not a key",
            &mine,
            &friend.public_key(),
            ShareContext::CollectionKeyWrap("col-1"),
            &mut OsRng,
        )
        .unwrap();
        assert_eq!(
            unwrap_collection_key(&junk, "col-1", &friend, &mine.public_key()).err(),
            Some(ShareError::NotAKey)
        );
    }
}
