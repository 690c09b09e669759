//! Random identifiers, tokens and codes, and the digests stored in their place.

use hmac::{Hmac, Mac};
use parchment_core::encoding::from_base64;
use parchment_core::encoding::to_base64url;
use parchment_core::keys::Ed25519SecretKey;
use parchment_core::rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// 24 characters of `[A-Za-z0-9]`, the original's id format.
pub fn random_id() -> String {
    let mut id = String::with_capacity(24);
    while id.len() < 24 {
        let mut byte = [0u8; 1];
        OsRng.fill_bytes(&mut byte);
        // 248 = 4 * 62: rejecting the rest keeps every character equally likely.
        if byte[0] < 248 {
            id.push(ID_ALPHABET[(byte[0] % 62) as usize] as char);
        }
    }
    id
}

/// A session token: 32 random bytes, base64url (43 characters).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    to_base64url(&bytes)
}

/// An 8-digit sign-in code, uniformly drawn.
pub fn random_code() -> String {
    loop {
        let value = OsRng.next_u32();
        // Largest multiple of 10^8 below 2^32; values above it would bias the low codes.
        if value < 4_200_000_000 {
            return format!("{:08}", value % 100_000_000);
        }
    }
}

/// Hex SHA-256 of `parts` joined by NUL (the form stored for tokens and codes).
pub fn digest(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            hasher.update([0u8]);
        }
        hasher.update(part.as_bytes());
    }
    hex(&hasher.finalize())
}

/// Hex HMAC-SHA256 of `parts` (joined by NUL) under a key derived from the server key for
/// `purpose`: what only a holder of the server key can compute, so digests stored in the
/// database cannot be matched against guesses by a reader of the database alone.
pub fn keyed_digest(server_key: &Ed25519SecretKey, purpose: &str, parts: &[&str]) -> String {
    let secret = Zeroizing::new(from_base64(&server_key.export_base64()).unwrap_or_default());
    let mut key = Zeroizing::new([0u8; 32]);
    let info = format!("parchment-server keyed digest v1: {purpose}");
    // 32 bytes is always a valid HKDF-SHA256 output length.
    let _ = hkdf::Hkdf::<Sha256>::new(None, &secret).expand(info.as_bytes(), key.as_mut());
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_ref())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            mac.update(&[0u8]);
        }
        mac.update(part.as_bytes());
    }
    hex(&mac.finalize().into_bytes())
}

fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        hex.push(HEX[(byte >> 4) as usize] as char);
        hex.push(HEX[(byte & 15) as usize] as char);
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let id = random_id();
        assert_eq!(id.len(), 24);
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(random_token().len(), 43);
        let code = random_code();
        assert_eq!(code.len(), 8);
        let key = Ed25519SecretKey::generate(&mut OsRng);
        let other = Ed25519SecretKey::generate(&mut OsRng);
        let a = keyed_digest(&key, "otp", &["u", "12345678"]);
        assert_eq!(a.len(), 64);
        assert_eq!(a, keyed_digest(&key, "otp", &["u", "12345678"]));
        assert_ne!(a, keyed_digest(&other, "otp", &["u", "12345678"]));
        assert_ne!(a, keyed_digest(&key, "otp", &["u", "12345679"]));
        assert_ne!(a, digest(&["otp", "u", "12345678"]));
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
        assert_ne!(digest(&["a", "b"]), digest(&["ab"]));
        assert_eq!(digest(&["x"]).len(), 64);
    }
}
