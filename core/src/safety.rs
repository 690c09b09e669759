//! Safety numbers and the device-transfer short authentication string (crypto.md §7).
//!
//! Two versions of the safety number:
//! - **v1** ([`safety_number`], crypto.md §8): the original's 12 digits (~40 bits) over the two
//!   Ed25519 signing keys only. Kept byte for byte for interop with the original client.
//! - **v2** ([`SafetyNumberV2`]): 60 digits over both users' handles, Ed25519 signing keys
//!   *and* X25519 encryption keys, computed as Signal's numeric fingerprints are, plus a compact
//!   QR payload and its constant-time comparison. What the app shows and pins.
//!
//! ## Version 2, the construction
//!
//! For each user (`handle`, Ed25519 signing key `S`, X25519 encryption key `E`):
//!
//! ```text
//! id     = UTF-8(lowercase(handle))          handle validated as alias@domain; lower-cased as the
//!                                            server compares handles (the domain is a host name)
//! keys   = S (32 bytes) ‖ E (32 bytes)       the identity material
//! h_0    = u16be(2) ‖ keys ‖ id              version ‖ identity material ‖ stable id
//! h_i+1  = SHA-512(h_i ‖ keys)               for i = 0 … 5199 (5200 iterations)
//! fp     = h_5200[0..32]                     the user's fingerprint (32 bytes)
//! digits = for each 5-byte chunk c of fp[0..30]: u40be(c) mod 100000, as 5 digits
//!                                            (30 digits per user, ~99.7 bits)
//! ```
//!
//! The displayed number is the two users' 30-digit strings sorted (string order, so both users
//! see the same text), concatenated, and written in twelve groups of five digits separated by
//! single spaces: `ddddd ddddd … ddddd` (60 digits, 71 characters).
//!
//! The QR payload is directional, as Signal's: `0x02 ‖ fp(owner) ‖ fp(peer)` (65 bytes), where
//! the owner is the user whose screen shows it. A payload scanned from the friend's screen
//! matches when its first fingerprint is the friend's and its second is mine
//! ([`SafetyNumberV2::matches_qr`], compared in constant time); a user who scans their own
//! screen (a mirror, a photo of their own code) gets no match. Another version byte or length
//! is an error, not a mismatch, so the app can say "update the app" rather than "someone is in
//! the middle".
//!
//! Why these choices: the handle binds the keys to the identity they speak for (the same keys
//! under another handle give another number); covering `E` means a server that swaps only the
//! encryption key (reading everything sealed to it) changes the number; the 5200 iterations
//! make a search for keys whose number collides with a target's 5200 times costlier per try
//! (Signal's figure, ~2^112 work for a 30-digit half); 60 digits is what a person can still
//! read aloud.

use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

use crate::derive::{hkdf, info};
use crate::handle::{Handle, HandleError};
use crate::keys::{Ed25519PublicKey, X25519PublicKey};

/// The two inputs concatenated in lexicographic byte order (shorter prefix first).
fn sorted_concat(a: &[u8], b: &[u8]) -> Vec<u8> {
    let (first, second) = if a <= b { (a, b) } else { (b, a) };
    [first, second].concat()
}

/// The 12-digit safety number of two signing keys, `ddd ddd ddd ddd`. Commutative.
pub fn safety_number(a: &Ed25519PublicKey, b: &Ed25519PublicKey) -> String {
    let digest = hkdf::<8>(
        &sorted_concat(a.as_bytes(), b.as_bytes()),
        info::SAFETY.as_bytes(),
    );
    let n = u64::from_be_bytes(*digest) % 1_000_000_000_000;
    let digits = format!("{n:012}");
    format!(
        "{} {} {} {}",
        &digits[0..3],
        &digits[3..6],
        &digits[6..9],
        &digits[9..12]
    )
}

/// The 6-digit device-transfer SAS over both ephemeral public keys and the session id.
pub fn device_sas(receiver_public: &[u8], sender_public: &[u8], session_id: &str) -> String {
    let mut ikm = sorted_concat(receiver_public, sender_public);
    ikm.extend_from_slice(session_id.as_bytes());
    let digest = hkdf::<4>(&ikm, info::DEVICE_SAS.as_bytes());
    format!("{:06}", u32::from_be_bytes(*digest) % 1_000_000)
}

/// Version of the v2 safety number: the first two bytes hashed and the QR payload's first byte.
pub const SAFETY_V2_VERSION: u8 = 2;
/// SHA-512 iterations per fingerprint (Signal's figure).
pub const SAFETY_V2_ITERATIONS: usize = 5200;
/// Length of a v2 QR payload: version byte and two 32-byte fingerprints.
pub const SAFETY_QR_LENGTH: usize = 1 + 2 * Fingerprint::LENGTH;

/// Errors of the v2 safety number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SafetyError {
    /// A handle that is not `alias@domain`.
    #[error("handle {handle:?}: {source}")]
    Handle {
        /// The handle as given.
        handle: String,
        /// Why it was refused.
        source: HandleError,
    },
    /// A scanned payload of the wrong length.
    #[error("safety code must be {SAFETY_QR_LENGTH} bytes, got {0}")]
    Length(usize),
    /// A scanned payload of another version.
    #[error("safety code has version {0}; this app reads version {SAFETY_V2_VERSION}")]
    Version(u8),
}

/// One user as a v2 safety number covers them: handle, signing key and encryption key.
#[derive(Debug, Clone, Copy)]
pub struct SafetyIdentity<'a> {
    /// `alias@domain` (compared case-insensitively: lower-cased before hashing).
    pub handle: &'a str,
    /// The Ed25519 identity key.
    pub signing_key: &'a Ed25519PublicKey,
    /// The X25519 encryption key.
    pub encryption_key: &'a X25519PublicKey,
}

/// A user's v2 fingerprint: the first 32 bytes of the iterated SHA-512 (module docs).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// Length in bytes.
    pub const LENGTH: usize = 32;

    /// The fingerprint of one user.
    pub fn of(identity: &SafetyIdentity<'_>) -> Result<Self, SafetyError> {
        let handle = Handle::parse(identity.handle).map_err(|source| SafetyError::Handle {
            handle: identity.handle.to_owned(),
            source,
        })?;
        let id = handle.to_string().to_ascii_lowercase();
        let mut keys = [0u8; 64];
        keys[..32].copy_from_slice(identity.signing_key.as_bytes());
        keys[32..].copy_from_slice(identity.encryption_key.as_bytes());

        let mut hasher = Sha512::new();
        hasher.update(u16::from(SAFETY_V2_VERSION).to_be_bytes());
        hasher.update(keys);
        hasher.update(id.as_bytes());
        hasher.update(keys);
        // That was iteration 1 (h_0 ‖ keys); 5199 more over the 64-byte digest.
        let mut hash = hasher.finalize();
        for _ in 1..SAFETY_V2_ITERATIONS {
            let mut hasher = Sha512::new();
            hasher.update(hash);
            hasher.update(keys);
            hash = hasher.finalize();
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(&hash[..32]);
        Ok(Self(out))
    }

    /// The 32 bytes (as the QR payload carries them).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The 30 digits shown for this user: six 5-byte chunks, each `u40be mod 100000`.
    pub fn digits(&self) -> String {
        self.0[..30]
            .chunks_exact(5)
            .map(|c| {
                let n = c.iter().fold(0u64, |n, b| (n << 8) | u64::from(*b));
                format!("{:05}", n % 100_000)
            })
            .collect()
    }
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fingerprint({})", self.digits())
    }
}

/// The version 2 safety number of me and a friend (module docs for the construction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SafetyNumberV2 {
    mine: Fingerprint,
    theirs: Fingerprint,
}

impl SafetyNumberV2 {
    /// Computes both fingerprints (2 × 5200 SHA-512).
    pub fn new(me: &SafetyIdentity<'_>, friend: &SafetyIdentity<'_>) -> Result<Self, SafetyError> {
        Ok(Self {
            mine: Fingerprint::of(me)?,
            theirs: Fingerprint::of(friend)?,
        })
    }

    /// My fingerprint.
    pub fn mine(&self) -> &Fingerprint {
        &self.mine
    }

    /// The friend's fingerprint.
    pub fn theirs(&self) -> &Fingerprint {
        &self.theirs
    }

    /// The 60 digits both users see, in twelve groups of five: the two 30-digit halves sorted.
    pub fn digits(&self) -> String {
        let (a, b) = (self.mine.digits(), self.theirs.digits());
        let all = if a <= b { a + &b } else { b + &a };
        all.as_bytes()
            .chunks(5)
            .map(|g| std::str::from_utf8(g).unwrap_or_default())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// What my screen shows as a QR code: `0x02 ‖ fp(me) ‖ fp(friend)`.
    pub fn qr_payload(&self) -> [u8; SAFETY_QR_LENGTH] {
        let mut out = [0u8; SAFETY_QR_LENGTH];
        out[0] = SAFETY_V2_VERSION;
        out[1..33].copy_from_slice(&self.mine.0);
        out[33..].copy_from_slice(&self.theirs.0);
        out
    }

    /// Whether `scanned` is the code the friend's screen shows for the two of us (their
    /// fingerprint first, then mine), compared in constant time. `Ok(false)`: the keys either
    /// side sees differ (or it is my own code). Errors: not a v2 payload.
    pub fn matches_qr(&self, scanned: &[u8]) -> Result<bool, SafetyError> {
        if scanned.len() != SAFETY_QR_LENGTH {
            return Err(SafetyError::Length(scanned.len()));
        }
        if scanned[0] != SAFETY_V2_VERSION {
            return Err(SafetyError::Version(scanned[0]));
        }
        let theirs = scanned[1..33].ct_eq(&self.theirs.0);
        let mine = scanned[33..].ct_eq(&self.mine.0);
        Ok(bool::from(theirs & mine))
    }
}

/// The 60-digit v2 safety number of me and a friend; the same text on both sides.
pub fn safety_number_v2(
    me: &SafetyIdentity<'_>,
    friend: &SafetyIdentity<'_>,
) -> Result<String, SafetyError> {
    Ok(SafetyNumberV2::new(me, friend)?.digits())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples() {
        let a =
            Ed25519PublicKey::from_base64("+UYKxog/HBcEX4Vg00QkJWzmn1bbv9UfvdgPlROBMcI=").unwrap();
        let b =
            Ed25519PublicKey::from_base64("8hLsz/nVjSMtZmC0ym/pr6n4ddSIcnYXs8MMs/z/mRw=").unwrap();
        assert_eq!(safety_number(&a, &b), "730 547 626 598");
        assert_eq!(safety_number(&b, &a), "730 547 626 598");
        assert_eq!(device_sas(&[1; 32], &[2; 32], "sess-123"), "135592");
    }

    /// The derivation.json keys of the seeds "zero" (alice) and "counting" (bob).
    struct Keys {
        signing: Ed25519PublicKey,
        encryption: X25519PublicKey,
    }

    fn keys(signing: &str, encryption: &str) -> Keys {
        Keys {
            signing: Ed25519PublicKey::from_base64(signing).unwrap(),
            encryption: X25519PublicKey::from_base64(encryption).unwrap(),
        }
    }

    fn alice_keys() -> Keys {
        keys(
            "0jK4q+EE1Cn2UHYDqYLEkseu4tu+k57B9KvezZJL+u4=",
            "bTwkPGAYPqtf/R7E8nIQvCLVOQK1Oqp8Yy4b5Fmsm08=",
        )
    }

    fn bob_keys() -> Keys {
        keys(
            "+UYKxog/HBcEX4Vg00QkJWzmn1bbv9UfvdgPlROBMcI=",
            "zZdtcNfZszF3GnQMDDoWcLSyywes9OLQBw//y4DgLiY=",
        )
    }

    fn who<'a>(handle: &'a str, k: &'a Keys) -> SafetyIdentity<'a> {
        SafetyIdentity {
            handle,
            signing_key: &k.signing,
            encryption_key: &k.encryption,
        }
    }

    /// Computed independently (Python hashlib) from the construction in the module docs.
    const V2_ALICE_BOB: &str =
        "27483 55913 24229 25446 15499 74395 92673 32403 70796 89464 15660 66448";
    const V2_QR_ALICE: &str = "0226771799e1192b0e2fb3651b1e59cca2622e1638cc95ec3cec0bc659127082b99a0b7ede9b6d6cf6e849fc2de644e5c68f395b6639a5ce96abc5350e1bdbd5b0";

    #[test]
    fn v2_known_answer() {
        let (a, b) = (alice_keys(), bob_keys());
        let alice = who("alice@a.example", &a);
        let bob = who("bob@b.example", &b);
        let n = SafetyNumberV2::new(&alice, &bob).unwrap();
        assert_eq!(n.mine().digits(), "926733240370796894641566066448");
        assert_eq!(n.theirs().digits(), "274835591324229254461549974395");
        assert_eq!(n.digits(), V2_ALICE_BOB);
        assert_eq!(safety_number_v2(&bob, &alice).unwrap(), V2_ALICE_BOB);
        let hex: String = n.qr_payload().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, V2_QR_ALICE);
    }

    #[test]
    fn v2_format() {
        let (a, b) = (alice_keys(), bob_keys());
        let n = safety_number_v2(&who("alice@a.example", &a), &who("bob@b.example", &b)).unwrap();
        assert_eq!(n.len(), 71);
        let groups: Vec<&str> = n.split(' ').collect();
        assert_eq!(groups.len(), 12);
        assert!(groups
            .iter()
            .all(|g| g.len() == 5 && g.bytes().all(|c| c.is_ascii_digit())));
    }

    #[test]
    fn v2_handles_compare_case_insensitively_and_must_be_valid() {
        let (a, b) = (alice_keys(), bob_keys());
        let lower = safety_number_v2(&who("alice@a.example", &a), &who("bob@b.example", &b));
        let upper = safety_number_v2(&who("Alice@A.Example", &a), &who("BOB@b.EXAMPLE", &b));
        assert_eq!(lower, upper);
        assert!(matches!(
            safety_number_v2(&who("alice", &a), &who("bob@b.example", &b)),
            Err(SafetyError::Handle {
                source: HandleError::Shape,
                ..
            })
        ));
        assert!(matches!(
            Fingerprint::of(&who("al@a.example", &a)),
            Err(SafetyError::Handle {
                source: HandleError::Alias,
                ..
            })
        ));
    }

    #[test]
    fn v2_covers_the_encryption_key_and_the_handle() {
        let (a, b) = (alice_keys(), bob_keys());
        let base = safety_number_v2(&who("alice@a.example", &a), &who("bob@b.example", &b));
        // The server swaps only bob's encryption key: v1 cannot tell, v2 can.
        let swapped = Keys {
            signing: b.signing,
            encryption: a.encryption,
        };
        assert_ne!(
            base,
            safety_number_v2(&who("alice@a.example", &a), &who("bob@b.example", &swapped))
        );
        assert_ne!(
            base,
            safety_number_v2(&who("alice@a.example", &a), &who("bob@c.example", &b))
        );
        // Signing and encryption keys are not interchangeable.
        let crossed = keys(
            "0jK4q+EE1Cn2UHYDqYLEkseu4tu+k57B9KvezZJL+u4=",
            "+UYKxog/HBcEX4Vg00QkJWzmn1bbv9UfvdgPlROBMcI=",
        );
        let crossed_back = keys(
            "+UYKxog/HBcEX4Vg00QkJWzmn1bbv9UfvdgPlROBMcI=",
            "0jK4q+EE1Cn2UHYDqYLEkseu4tu+k57B9KvezZJL+u4=",
        );
        assert_ne!(
            Fingerprint::of(&who("alice@a.example", &crossed)),
            Fingerprint::of(&who("alice@a.example", &crossed_back))
        );
    }

    #[test]
    fn v2_qr_codes_match_only_the_friends_screen() {
        let (a, b) = (alice_keys(), bob_keys());
        let alice = who("alice@a.example", &a);
        let bob = who("bob@b.example", &b);
        let on_alice = SafetyNumberV2::new(&alice, &bob).unwrap();
        let on_bob = SafetyNumberV2::new(&bob, &alice).unwrap();
        assert_eq!(on_alice.matches_qr(&on_bob.qr_payload()), Ok(true));
        assert_eq!(on_bob.matches_qr(&on_alice.qr_payload()), Ok(true));
        // My own code (a mirror, a photo of my screen) is not my friend's.
        assert_eq!(on_alice.matches_qr(&on_alice.qr_payload()), Ok(false));
        // Any changed bit of either fingerprint is a mismatch.
        for i in 1..SAFETY_QR_LENGTH {
            let mut tampered = on_bob.qr_payload();
            tampered[i] ^= 0x01;
            assert_eq!(on_alice.matches_qr(&tampered), Ok(false), "byte {i}");
        }
        // Bob as a server that swapped his encryption key presents him.
        let swapped = Keys {
            signing: b.signing,
            encryption: a.encryption,
        };
        let on_mitm_alice = SafetyNumberV2::new(&alice, &who("bob@b.example", &swapped)).unwrap();
        assert_eq!(on_mitm_alice.matches_qr(&on_bob.qr_payload()), Ok(false));
        // Not a v2 payload: an error, not a mismatch.
        let mut v3 = on_bob.qr_payload();
        v3[0] = 3;
        assert_eq!(on_alice.matches_qr(&v3), Err(SafetyError::Version(3)));
        assert_eq!(
            on_alice.matches_qr(&on_bob.qr_payload()[..64]),
            Err(SafetyError::Length(64))
        );
        assert_eq!(on_alice.matches_qr(&[]), Err(SafetyError::Length(0)));
    }
}
