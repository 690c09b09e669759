//! Safety numbers (crypto.md §8) and the device-transfer short authentication string (§7).

use crate::derive::{hkdf, info};
use crate::keys::Ed25519PublicKey;

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
}
