//! Device transfer v2: commit-before-reveal, so nobody relaying the exchange (the server, or
//! anyone who can write to it) can choose an ephemeral key after seeing the other side's.
//!
//! 1. The receiver (the new device) makes an ephemeral X25519 key and publishes only
//!    [`commitment`] of its public half (also shown as a QR code or text for the old device).
//! 2. The sender (the old device) checks that commitment against the one it scanned or was
//!    pasted, makes its own ephemeral key and publishes its public half.
//! 3. The receiver reveals its public key; the sender checks it against the commitment
//!    ([`sas_for_sender`] refuses a mismatch).
//! 4. Both show [`sas`] (8 digits). Only after the user confirms on the sending device that
//!    they match does it [`seal`] the seed, signed by the account's identity key.
//! 5. The receiver [`open`]s: the signature must verify under the account's published signing
//!    key, and the seed must derive that same key.
//!
//! A relay that swaps keys must commit to its key towards the sender before it learns the
//! sender's key and must pass a key to the receiver before the receiver reveals, so its two
//! SAS values are independent: one guess at 10^-8, not a search.

use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::canonical::{legacy_signable, Object, Value};
use crate::derive::{device_transfer_key_v2, hkdf, info, signing_key};
use crate::encoding::{from_base64, to_base64};
use crate::envelope::{self, Aad, Algorithm, EnvelopeError};
use crate::keys::{
    Ed25519PublicKey, Ed25519SecretKey, Ed25519Signature, KeyError, X25519PublicKey,
    X25519SecretKey,
};
use crate::seed::Seed;

/// Digits of the v2 SAS.
pub const SAS_DIGITS: usize = 8;
/// The AAD record type of a sealed v2 transfer.
const RECORD_TYPE: &str = "device-transfer-v2";

/// Errors of a v2 transfer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    /// A commitment that is not 32 bytes of base64.
    #[error("the commitment is not 32 bytes of base64")]
    MalformedCommitment,
    /// The revealed key is not the one the receiver committed to: someone swapped it.
    #[error("the new device's key does not match its commitment")]
    CommitmentMismatch,
    /// Key agreement failed or a signature is malformed or invalid.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The sealed seed did not open.
    #[error("sealed seed cannot be opened: {0}")]
    Envelope(#[from] EnvelopeError),
    /// The sealed value is not a 32-byte seed.
    #[error("sealed value is not a seed")]
    NotASeed,
    /// The seed opened but derives another account's signing key.
    #[error("the transferred seed belongs to another account")]
    OtherAccount,
}

/// The receiver's commitment: `SHA-256(label ‖ receiverPub)`, 32 bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Commitment([u8; 32]);

impl Commitment {
    /// The commitment to `receiver`.
    pub fn to(receiver: &X25519PublicKey) -> Self {
        let digest = Sha256::new()
            .chain_update(info::DEVICE_COMMIT_V2.as_bytes())
            .chain_update(receiver.as_bytes())
            .finalize();
        Self(digest.into())
    }

    /// Reads base64 (standard, padded).
    pub fn from_base64(text: &str) -> Result<Self, TransferError> {
        let bytes = from_base64(text).map_err(|_| TransferError::MalformedCommitment)?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| TransferError::MalformedCommitment)?;
        Ok(Self(bytes))
    }

    /// base64 (standard, padded).
    pub fn to_base64(&self) -> String {
        to_base64(&self.0)
    }

    /// Whether `receiver` is the key committed to, in constant time.
    pub fn opens_to(&self, receiver: &X25519PublicKey) -> bool {
        Self::to(receiver).0.ct_eq(&self.0).into()
    }
}

impl std::fmt::Debug for Commitment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Commitment({})", self.to_base64())
    }
}

/// The commitment of `receiver` (step 1).
pub fn commitment(receiver: &X25519PublicKey) -> Commitment {
    Commitment::to(receiver)
}

/// The 8-digit SAS over both keys, the commitment and the session: what both screens show.
pub fn sas(receiver: &X25519PublicKey, sender: &X25519PublicKey, session_id: &str) -> String {
    let mut ikm = Vec::with_capacity(96 + session_id.len());
    ikm.extend_from_slice(receiver.as_bytes());
    ikm.extend_from_slice(sender.as_bytes());
    ikm.extend_from_slice(&Commitment::to(receiver).0);
    ikm.extend_from_slice(session_id.as_bytes());
    let digest = hkdf::<8>(&ikm, info::DEVICE_SAS_V2.as_bytes());
    format!("{:08}", u64::from_be_bytes(*digest) % 100_000_000)
}

/// The sender's SAS, after checking the revealed key against the commitment it was given.
pub fn sas_for_sender(
    committed: &Commitment,
    receiver: &X25519PublicKey,
    sender: &X25519PublicKey,
    session_id: &str,
) -> Result<String, TransferError> {
    if !committed.opens_to(receiver) {
        return Err(TransferError::CommitmentMismatch);
    }
    Ok(sas(receiver, sender, session_id))
}

/// The text the sender signs with the account's identity key: every value of the exchange.
pub fn sender_signable(
    receiver: &X25519PublicKey,
    sender: &X25519PublicKey,
    session_id: &str,
) -> String {
    let payload: Object = [
        (
            "receiverCommitment",
            Value::string(&Commitment::to(receiver).to_base64()),
        ),
        ("receiverEphemeralPub", Value::string(&receiver.to_base64())),
        ("senderEphemeralPub", Value::string(&sender.to_base64())),
        ("sessionId", Value::string(session_id)),
    ]
    .into_iter()
    .collect();
    legacy_signable("device-transfer-v2", &payload)
}

fn aad_record_id(receiver: &X25519PublicKey, sender: &X25519PublicKey) -> String {
    format!("{}|{}", receiver.to_base64(), sender.to_base64())
}

/// What the sender uploads after the user confirmed the SAS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// base64 XChaCha20-Poly1305 envelope of the 32 raw seed bytes.
    pub sealed_seed: String,
    /// base64 identity signature over [`sender_signable`].
    pub sender_signature: String,
}

/// Seals `seed` to the receiver (step 4), refusing a key that does not match the commitment.
pub fn seal(
    seed: &Seed,
    identity: &Ed25519SecretKey,
    sender: &X25519SecretKey,
    committed: &Commitment,
    receiver: &X25519PublicKey,
    session_id: &str,
    rng: &mut impl CryptoRngCore,
) -> Result<Sealed, TransferError> {
    if !committed.opens_to(receiver) {
        return Err(TransferError::CommitmentMismatch);
    }
    let sender_public = sender.public_key();
    let key = device_transfer_key_v2(&sender.diffie_hellman(receiver)?);
    let record_id = aad_record_id(receiver, &sender_public);
    let sealed = envelope::seal_base64(
        &key,
        Algorithm::XChaCha20Poly1305,
        &aad(session_id, &record_id),
        seed.as_bytes(),
        rng,
    )?;
    let signature = identity.sign(sender_signable(receiver, &sender_public, session_id).as_bytes());
    Ok(Sealed {
        sealed_seed: sealed,
        sender_signature: signature.to_base64(),
    })
}

fn aad<'a>(session_id: &'a str, record_id: &'a str) -> Aad<'a> {
    Aad {
        user_id: session_id,
        record_type: RECORD_TYPE,
        record_id,
        key_context: info::DEVICE_TRANSFER_V2,
    }
}

/// Opens the upload (step 5): signature under `account` first, then the seed, which must
/// derive `account`.
pub fn open(
    sealed: &Sealed,
    receiver: &X25519SecretKey,
    sender: &X25519PublicKey,
    session_id: &str,
    account: &Ed25519PublicKey,
) -> Result<Seed, TransferError> {
    let receiver_public = receiver.public_key();
    let signature = Ed25519Signature::from_base64(&sealed.sender_signature)?;
    account.verify(
        sender_signable(&receiver_public, sender, session_id).as_bytes(),
        &signature,
    )?;
    let key = device_transfer_key_v2(&receiver.diffie_hellman(sender)?);
    let record_id = aad_record_id(&receiver_public, sender);
    let bytes = envelope::open_base64(&key, &aad(session_id, &record_id), &sealed.sealed_seed)?;
    let seed = Seed::from_slice(&bytes).map_err(|_| TransferError::NotASeed)?;
    if signing_key(&seed).public_key() != *account {
        return Err(TransferError::OtherAccount);
    }
    Ok(seed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;

    struct Parties {
        seed: Seed,
        receiver: X25519SecretKey,
        sender: X25519SecretKey,
    }

    fn parties() -> Parties {
        Parties {
            seed: Seed::generate(&mut OsRng),
            receiver: X25519SecretKey::generate(&mut OsRng),
            sender: X25519SecretKey::generate(&mut OsRng),
        }
    }

    #[test]
    fn an_honest_exchange_moves_the_seed() {
        let p = parties();
        let identity = signing_key(&p.seed);
        let committed = Commitment::from_base64(&commitment(&p.receiver.public_key()).to_base64())
            .expect("round trip");
        let (r, s) = (p.receiver.public_key(), p.sender.public_key());
        let sender_sas = sas_for_sender(&committed, &r, &s, "sess").expect("opens");
        assert_eq!(sender_sas, sas(&r, &s, "sess"));
        assert_eq!(sender_sas.len(), SAS_DIGITS);
        let sealed = seal(
            &p.seed, &identity, &p.sender, &committed, &r, "sess", &mut OsRng,
        )
        .expect("seal");
        let opened = open(&sealed, &p.receiver, &s, "sess", &identity.public_key()).expect("open");
        assert_eq!(opened.as_bytes(), p.seed.as_bytes());
    }

    #[test]
    fn a_swapped_receiver_key_is_refused_before_anything_is_sealed() {
        let p = parties();
        let committed = commitment(&p.receiver.public_key());
        let relay = X25519SecretKey::generate(&mut OsRng).public_key();
        let s = p.sender.public_key();
        assert_eq!(
            sas_for_sender(&committed, &relay, &s, "sess"),
            Err(TransferError::CommitmentMismatch)
        );
        let identity = signing_key(&p.seed);
        assert_eq!(
            seal(&p.seed, &identity, &p.sender, &committed, &relay, "sess", &mut OsRng),
            Err(TransferError::CommitmentMismatch)
        );
    }

    #[test]
    fn the_sas_depends_on_every_input() {
        let p = parties();
        let (r, s) = (p.receiver.public_key(), p.sender.public_key());
        let other = X25519SecretKey::generate(&mut OsRng).public_key();
        let base = sas(&r, &s, "sess");
        assert_ne!(base, sas(&r, &other, "sess"));
        assert_ne!(base, sas(&other, &s, "sess"));
        assert_ne!(base, sas(&r, &s, "sess2"));
        // Roles are fixed: swapping them is another code.
        assert_ne!(base, sas(&s, &r, "sess"));
    }

    #[test]
    fn a_seed_of_another_account_is_refused_even_when_signed() {
        // The account key signs, but seals someone else's seed: the receiver must not adopt it.
        let p = parties();
        let account = signing_key(&p.seed);
        let other_seed = Seed::generate(&mut OsRng);
        let committed = commitment(&p.receiver.public_key());
        let r = p.receiver.public_key();
        let sealed = seal(
            &other_seed,
            &account,
            &p.sender,
            &committed,
            &r,
            "sess",
            &mut OsRng,
        )
        .expect("seal");
        assert_eq!(
            open(
                &sealed,
                &p.receiver,
                &p.sender.public_key(),
                "sess",
                &account.public_key()
            )
            .err(),
            Some(TransferError::OtherAccount)
        );
    }

    #[test]
    fn a_signature_by_another_key_or_for_another_session_is_refused() {
        let p = parties();
        let account = signing_key(&p.seed);
        let committed = commitment(&p.receiver.public_key());
        let r = p.receiver.public_key();
        let s = p.sender.public_key();
        let sealed = seal(
            &p.seed, &account, &p.sender, &committed, &r, "sess", &mut OsRng,
        )
        .expect("seal");
        let stranger = Ed25519SecretKey::generate(&mut OsRng).public_key();
        assert!(matches!(
            open(&sealed, &p.receiver, &s, "sess", &stranger),
            Err(TransferError::Key(_))
        ));
        assert!(matches!(
            open(&sealed, &p.receiver, &s, "other", &account.public_key()),
            Err(TransferError::Key(_))
        ));
    }

    /// Pins the wire format (labels, field order, digit rendering): a change here breaks
    /// transfers between app versions. The commitment and the SAS were recomputed
    /// independently (Python hashlib/hmac: SHA-256, HKDF-SHA256 with an empty salt).
    #[test]
    fn known_answers() {
        let receiver = X25519SecretKey::from_bytes([0x11; 32])
            .expect("key")
            .public_key();
        let sender = X25519SecretKey::from_bytes([0x22; 32])
            .expect("key")
            .public_key();
        let committed = commitment(&receiver);
        assert_eq!(
            committed.to_base64(),
            "En0VetZfaQbQJLQv70PSAatD+x6ETwvbyvSMT23TeO8="
        );
        assert_eq!(sas(&receiver, &sender, "sess-123"), "66050612");
        assert_eq!(
            sender_signable(&receiver, &sender, "sess-123"),
            "{\"type\":\"device-transfer-v2\",\"receiverCommitment\":\
             \"En0VetZfaQbQJLQv70PSAatD+x6ETwvbyvSMT23TeO8=\",\"receiverEphemeralPub\":\
             \"e06Qm75//kTEZaIgA31gjuNYl9Me+XLwf3SJLLD3PxM=\",\"senderEphemeralPub\":\
             \"D6poTtKIZ7l/Smot7l34zpdOdrcBjj8iocTPJnhXDyA=\",\"sessionId\":\"sess-123\"}"
        );
    }

    #[test]
    fn malformed_commitments_are_refused() {
        assert_eq!(
            Commitment::from_base64("AAAA"),
            Err(TransferError::MalformedCommitment)
        );
        assert_eq!(
            Commitment::from_base64("not base64!"),
            Err(TransferError::MalformedCommitment)
        );
    }
}
