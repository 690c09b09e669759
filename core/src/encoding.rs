//! Base64 as the original speaks it: standard alphabet, padded on output;
//! `atob`-tolerant on input (ASCII whitespace anywhere and missing padding are accepted,
//! the URL alphabet is not).

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

/// Decoder that accepts both padded and unpadded standard base64, like `atob`.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(false),
);

/// URL-safe, unpadded: only for WebAuthn PRF salt transport.
const URL_NO_PAD: GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Error decoding base64 text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid base64: {0}")]
pub struct Base64Error(String);

/// Standard, padded base64 (JS `btoa`).
pub fn to_base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes standard base64 the way `atob` does: ASCII whitespace is ignored, padding optional.
pub fn from_base64(text: &str) -> Result<Vec<u8>, Base64Error> {
    let decode = |s: &str| LENIENT.decode(s).map_err(|e| Base64Error(e.to_string()));
    if text.bytes().any(|b| b.is_ascii_whitespace()) {
        let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        decode(&compact)
    } else {
        decode(text)
    }
}

/// Decodes base64 into exactly `N` bytes.
pub fn from_base64_array<const N: usize>(text: &str) -> Result<[u8; N], LengthError> {
    let bytes = from_base64(text).map_err(LengthError::Base64)?;
    <[u8; N]>::try_from(bytes.as_slice()).map_err(|_| LengthError::Length {
        expected: N,
        actual: bytes.len(),
    })
}

/// Unpadded base64url (WebAuthn PRF salt).
pub fn to_base64url(bytes: &[u8]) -> String {
    URL_NO_PAD.encode(bytes)
}

/// Errors decoding a fixed-length base64 value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LengthError {
    /// The text is not base64.
    #[error(transparent)]
    Base64(Base64Error),
    /// The bytes decoded but have the wrong length.
    #[error("expected {expected} bytes, got {actual}")]
    Length {
        /// Required length.
        expected: usize,
        /// Decoded length.
        actual: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_like_atob() {
        assert_eq!(from_base64("aGk=").unwrap(), b"hi");
        assert_eq!(from_base64("aGk").unwrap(), b"hi");
        assert_eq!(from_base64(" aG\nk= ").unwrap(), b"hi");
        assert!(from_base64("a-_=").is_err());
        assert!(from_base64("a").is_err());
    }

    #[test]
    fn fixed_length() {
        assert!(matches!(
            from_base64_array::<32>("aGk="),
            Err(LengthError::Length {
                expected: 32,
                actual: 2
            })
        ));
    }
}
