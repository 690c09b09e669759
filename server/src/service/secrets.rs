//! Random identifiers, tokens and codes, and the digests stored in their place.

use parchment_core::encoding::to_base64url;
use parchment_core::rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

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
    let out = hasher.finalize();
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(64);
    for byte in out {
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
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
        assert_ne!(digest(&["a", "b"]), digest(&["ab"]));
        assert_eq!(digest(&["x"]).len(), 64);
    }
}
