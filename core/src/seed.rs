//! The 32-byte master seed (K_m) and its two text forms.
//!
//! The recovery key is exactly what the original exports: standard padded base64 of the seed
//! (44 characters). Import trims the text and, like `atob`, ignores inner ASCII whitespace and
//! missing padding, so a key pasted across lines still works. It has no checksum: one
//! mistyped character yields another valid seed (crypto.md, gap 1).
//!
//! The recovery code is our versioned, checksummed form for people writing the seed down:
//! `P1-` then 56 Crockford base32 characters in groups of four, encoding the seed and a
//! 24-bit checksum (SHA-256 of a domain tag and the seed). Case, `I`/`L` for `1` and `O` for
//! `0` are forgiven; any other typo is caught (all but 1 in 16.7 million). Import accepts
//! both forms: a text with a `-` is a code (base64 has none), anything else a key.

use rand_core::CryptoRngCore;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::encoding::{from_base64, to_base64};

/// Errors of seed handling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeedError {
    /// The recovery key is not base64.
    #[error("Invalid recovery key: not base64 ({0})")]
    NotBase64(String),
    /// The recovery key decodes to the wrong number of bytes.
    #[error("Invalid recovery key: must be 32 bytes (got {0})")]
    WrongLength(usize),
    /// A recovery code of another version than `P1`.
    #[error("Invalid recovery code: unknown version (it should start with P1-)")]
    CodeVersion,
    /// A character outside the code's alphabet.
    #[error("Invalid recovery code: '{0}' at position {1} is not a valid character")]
    CodeCharacter(char, usize),
    /// Too few or too many characters.
    #[error("Invalid recovery code: must have 56 characters after P1- (got {0})")]
    CodeLength(usize),
    /// The checksum does not match: a character is mistyped.
    #[error("Invalid recovery code: checksum mismatch, a character is mistyped")]
    CodeChecksum,
    /// Raw seed bytes of the wrong length.
    #[error("Invalid seed: must be 32 bytes (got {0})")]
    WrongSeedLength(usize),
}

/// The user's master seed. Boxed so moves do not leave copies; zeroized on drop; no `Debug`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Seed(Box<[u8; 32]>);

impl Seed {
    /// Length in bytes.
    pub const LENGTH: usize = 32;

    /// A fresh seed from the given CSPRNG.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut seed = Self(Box::new([0u8; 32]));
        rng.fill_bytes(seed.0.as_mut());
        seed
    }

    /// From 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let mut bytes = bytes;
        let seed = Self(Box::new(bytes));
        bytes.zeroize();
        seed
    }

    /// From a slice that must be 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, SeedError> {
        if bytes.len() != 32 {
            return Err(SeedError::WrongSeedLength(bytes.len()));
        }
        let mut seed = Self(Box::new([0u8; 32]));
        seed.0.copy_from_slice(bytes);
        Ok(seed)
    }

    /// The raw bytes: only for derivations and wrapping inside this crate.
    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The recovery key: standard padded base64 of the seed (44 characters), as the original
    /// exports it.
    pub fn to_recovery_key(&self) -> Zeroizing<String> {
        Zeroizing::new(to_base64(self.0.as_ref()))
    }

    /// The recovery code: `P1-XXXX-…` (14 groups of four), checksummed (module docs).
    pub fn to_recovery_code(&self) -> Zeroizing<String> {
        let mut payload = Zeroizing::new([0u8; CODE_BYTES]);
        payload[..32].copy_from_slice(self.0.as_ref());
        payload[32..].copy_from_slice(&code_checksum(self.0.as_ref()));
        let mut chars = Zeroizing::new(String::with_capacity(CODE_CHARS));
        for i in 0..CODE_CHARS {
            // 5 bits at bit offset 5·i, big-endian across the 35 bytes.
            let bit = 5 * i;
            let (byte, shift) = (bit / 8, bit % 8);
            let window = (u16::from(payload[byte]) << 8)
                | u16::from(payload.get(byte + 1).copied().unwrap_or(0));
            let value = (window >> (11 - shift)) & 0x1F;
            chars.push(char::from(CROCKFORD[usize::from(value)]));
        }
        let mut code = Zeroizing::new(String::with_capacity(
            CODE_PREFIX.len() + CODE_CHARS * 5 / 4,
        ));
        code.push_str(CODE_PREFIX);
        for (i, group) in chars.as_bytes().chunks(4).enumerate() {
            if i > 0 {
                code.push('-');
            }
            code.extend(group.iter().map(|&b| char::from(b)));
        }
        code
    }

    /// Parses either text form: a recovery code (has a `-`) or a recovery key.
    pub fn from_recovery_text(text: &str) -> Result<Self, SeedError> {
        if text.contains('-') {
            Self::from_recovery_code(text)
        } else {
            Self::from_recovery_key(text)
        }
    }

    /// Parses a recovery code; whitespace, case and `-` placement do not matter.
    pub fn from_recovery_code(text: &str) -> Result<Self, SeedError> {
        let cleaned: Zeroizing<String> = Zeroizing::new(
            text.chars()
                .filter(|c| !c.is_whitespace())
                .map(|c| c.to_ascii_uppercase())
                .collect(),
        );
        let body = cleaned
            .strip_prefix(CODE_PREFIX)
            .ok_or(SeedError::CodeVersion)?;
        let mut payload = Zeroizing::new([0u8; CODE_BYTES]);
        let mut count = 0usize;
        for (position, c) in body.chars().enumerate().filter(|(_, c)| *c != '-') {
            let value = crockford_value(c).ok_or(SeedError::CodeCharacter(
                c,
                CODE_PREFIX.len() + position + 1,
            ))?;
            if count < CODE_CHARS {
                let bit = 5 * count;
                let (byte, shift) = (bit / 8, bit % 8);
                let placed = u16::from(value) << (11 - shift);
                payload[byte] |= (placed >> 8) as u8;
                if byte + 1 < CODE_BYTES {
                    payload[byte + 1] |= (placed & 0xFF) as u8;
                }
            }
            count += 1;
        }
        if count != CODE_CHARS {
            return Err(SeedError::CodeLength(count));
        }
        let checksum = code_checksum(&payload[..32]);
        if payload[32..] != checksum {
            return Err(SeedError::CodeChecksum);
        }
        Self::from_slice(&payload[..32])
    }

    /// Parses a recovery key (whitespace-tolerant base64 of exactly 32 bytes).
    pub fn from_recovery_key(text: &str) -> Result<Self, SeedError> {
        let bytes = Zeroizing::new(
            from_base64(text.trim()).map_err(|e| SeedError::NotBase64(e.to_string()))?,
        );
        if bytes.len() != 32 {
            return Err(SeedError::WrongLength(bytes.len()));
        }
        Self::from_slice(&bytes)
    }
}

const CODE_PREFIX: &str = "P1-";
/// 32 seed bytes and a 3-byte checksum: 280 bits, exactly 56 base32 characters.
const CODE_BYTES: usize = 35;
const CODE_CHARS: usize = 56;
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

fn code_checksum(seed: &[u8]) -> [u8; 3] {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(b"parchment-recovery-code-v1")
        .chain_update(seed)
        .finalize();
    [digest[0], digest[1], digest[2]]
}

/// The value of an (uppercased) Crockford base32 character; `I`/`L` read as 1, `O` as 0.
fn crockford_value(c: char) -> Option<u8> {
    let c = match c {
        'I' | 'L' => '1',
        'O' => '0',
        other => other,
    };
    CROCKFORD
        .iter()
        .position(|&b| char::from(b) == c)
        .and_then(|i| u8::try_from(i).ok())
}

impl PartialEq for Seed {
    /// Constant-time comparison, so tests and callers never leak timing on seeds.
    fn eq(&self, other: &Self) -> bool {
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl Eq for Seed {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_key_of_counting_seed() {
        let seed = Seed::from_bytes(core::array::from_fn(|i| i as u8));
        assert_eq!(
            seed.to_recovery_key().as_str(),
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
        );
    }

    #[test]
    fn malformed_recovery_keys_are_precise() {
        assert_eq!(
            Seed::from_recovery_key("aGk=").err(),
            Some(SeedError::WrongLength(2))
        );
        assert!(matches!(
            Seed::from_recovery_key("not base64!"),
            Err(SeedError::NotBase64(_))
        ));
        let pasted = " AAECAwQFBgcICQoLDA0ODxAR\nEhMUFRYXGBkaGxwdHh8= \n";
        assert!(Seed::from_recovery_key(pasted).is_ok());
    }

    #[test]
    fn recovery_code_round_trips_and_reads_forgivingly() {
        let seed = Seed::from_bytes(core::array::from_fn(|i| i as u8));
        let code = seed.to_recovery_code();
        assert!(code.starts_with("P1-"));
        assert_eq!(code.len(), 3 + 56 + 13);
        assert!(code[3..].split('-').all(|g| g.len() == 4));
        assert!(Seed::from_recovery_code(&code).unwrap() == seed);
        // Lower case, spaces and line breaks, O for 0 and L for 1.
        let body = code[3..]
            .to_lowercase()
            .replace('-', " - ")
            .replace('0', "o")
            .replace('1', "l");
        let sloppy = format!("p1-{body}");
        assert!(Seed::from_recovery_text(&format!("\n {sloppy}\n")).unwrap() == seed);
        // Both forms through the one entry point.
        assert!(Seed::from_recovery_text(&seed.to_recovery_key()).unwrap() == seed);
        for _ in 0..50 {
            let seed = Seed::generate(&mut rand_core::OsRng);
            assert!(Seed::from_recovery_text(&seed.to_recovery_code()).unwrap() == seed);
        }
    }

    #[test]
    fn every_single_typo_in_a_recovery_code_is_caught() {
        let seed = Seed::from_bytes(core::array::from_fn(|i| (i as u8).wrapping_mul(37)));
        let code = seed.to_recovery_code();
        for (i, c) in code.char_indices().filter(|(i, c)| *i >= 3 && *c != '-') {
            for other in CROCKFORD.iter().map(|&b| char::from(b)).filter(|&o| o != c) {
                let mut typo = code.to_string();
                typo.replace_range(i..i + 1, &other.to_string());
                assert_eq!(
                    Seed::from_recovery_code(&typo).err(),
                    Some(SeedError::CodeChecksum),
                    "{typo}"
                );
            }
        }
    }

    #[test]
    fn malformed_recovery_codes_are_precise() {
        let code = Seed::from_bytes([7; 32]).to_recovery_code();
        assert_eq!(
            Seed::from_recovery_code(&code.replacen("P1-", "P2-", 1)).err(),
            Some(SeedError::CodeVersion)
        );
        assert_eq!(
            Seed::from_recovery_code(&code[..code.len() - 5]).err(),
            Some(SeedError::CodeLength(52))
        );
        let bad = format!("{}U{}", &code[..3], &code[4..]);
        assert_eq!(
            Seed::from_recovery_code(&bad).err(),
            Some(SeedError::CodeCharacter('U', 4))
        );
    }
}
