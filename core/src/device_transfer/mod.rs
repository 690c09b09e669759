//! Device-to-device seed transfer (crypto.md §7): the sender seals the seed to the receiver's
//! ephemeral X25519 key and signs the exchange with its identity key; both sides compare a
//! 6-digit SAS ([`crate::safety::device_sas`]). This is the original's exchange, kept for
//! interop; new transfers use [`v2`] (commit-before-reveal, 8-digit SAS, seed→key check).

pub mod v2;

use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::canonical::{legacy_signable, Object, Value};
use crate::derive::{device_transfer_key, info};
use crate::encoding::to_base64;
use crate::envelope::{self, Aad, Algorithm, EnvelopeError};
use crate::keys::{
    Ed25519PublicKey, Ed25519SecretKey, Ed25519Signature, KeyError, X25519PublicKey,
    X25519SecretKey,
};
use crate::seed::Seed;

/// Errors of device transfer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceTransferError {
    /// Key agreement failed or a signature is malformed or invalid.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The sealed seed did not open.
    #[error("sealed seed cannot be opened: {0}")]
    Envelope(#[from] EnvelopeError),
    /// The sealed value is not a seed.
    #[error("sealed value is not a seed")]
    NotASeed,
}

/// What the sender uploads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedTransfer {
    /// Sender ephemeral public key.
    pub sender_ephemeral_public: X25519PublicKey,
    /// base64 envelope of the seed's base64 text.
    pub sealed_seed: String,
    /// base64 identity signature over [`sender_signable`].
    pub sender_signature: String,
}

fn aad_record_id(receiver: &X25519PublicKey, sender: &X25519PublicKey) -> String {
    format!("{}|{}", receiver.to_base64(), sender.to_base64())
}

/// The text the sender signs.
pub fn sender_signable(
    receiver: &X25519PublicKey,
    sender: &X25519PublicKey,
    session_id: &str,
) -> String {
    let payload: Object = [
        ("receiverEphemeralPub", Value::string(&receiver.to_base64())),
        ("senderEphemeralPub", Value::string(&sender.to_base64())),
        ("sessionId", Value::string(session_id)),
    ]
    .into_iter()
    .collect();
    legacy_signable("device-transfer", &payload)
}

/// Seals `seed` to the receiver with a fresh ephemeral key and nonce.
pub fn seal(
    seed: &Seed,
    identity: &Ed25519SecretKey,
    receiver: &X25519PublicKey,
    session_id: &str,
    rng: &mut impl CryptoRngCore,
) -> Result<SealedTransfer, DeviceTransferError> {
    let ephemeral = X25519SecretKey::generate(rng);
    let mut nonce = [0u8; 12];
    rng.fill_bytes(&mut nonce);
    seal_with(seed, identity, &ephemeral, receiver, session_id, &nonce)
}

/// [`seal`] with a given ephemeral key and nonce (test vectors only).
pub fn seal_with(
    seed: &Seed,
    identity: &Ed25519SecretKey,
    ephemeral: &X25519SecretKey,
    receiver: &X25519PublicKey,
    session_id: &str,
    nonce: &[u8; 12],
) -> Result<SealedTransfer, DeviceTransferError> {
    let sender = ephemeral.public_key();
    let key = device_transfer_key(&ephemeral.diffie_hellman(receiver)?);
    let record_id = aad_record_id(receiver, &sender);
    let aad = Aad {
        user_id: session_id,
        record_type: "device-transfer",
        record_id: &record_id,
        key_context: info::DEVICE_TRANSFER,
    };
    // AES-256-GCM: the original's receiver must be able to open what we send.
    let sealed = envelope::seal_with_nonce(
        &key,
        Algorithm::Aes256Gcm,
        nonce,
        &aad,
        seed.to_recovery_key().as_bytes(),
    )?;
    let signature = identity.sign(sender_signable(receiver, &sender, session_id).as_bytes());
    Ok(SealedTransfer {
        sender_ephemeral_public: sender,
        sealed_seed: to_base64(&sealed),
        sender_signature: signature.to_base64(),
    })
}

/// Receiver side: verifies the sender's identity signature first, then unseals.
pub fn open(
    transfer: &SealedTransfer,
    receiver: &X25519SecretKey,
    session_id: &str,
    sender_identity: &Ed25519PublicKey,
) -> Result<Seed, DeviceTransferError> {
    let receiver_public = receiver.public_key();
    let signature = Ed25519Signature::from_base64(&transfer.sender_signature)?;
    sender_identity.verify(
        sender_signable(
            &receiver_public,
            &transfer.sender_ephemeral_public,
            session_id,
        )
        .as_bytes(),
        &signature,
    )?;
    let key = device_transfer_key(&receiver.diffie_hellman(&transfer.sender_ephemeral_public)?);
    let record_id = aad_record_id(&receiver_public, &transfer.sender_ephemeral_public);
    let aad = Aad {
        user_id: session_id,
        record_type: "device-transfer",
        record_id: &record_id,
        key_context: info::DEVICE_TRANSFER,
    };
    let text = envelope::open_base64(&key, &aad, &transfer.sealed_seed)?;
    let text = Zeroizing::new(
        String::from_utf8(text.to_vec()).map_err(|_| DeviceTransferError::NotASeed)?,
    );
    Seed::from_recovery_key(&text).map_err(|_| DeviceTransferError::NotASeed)
}
