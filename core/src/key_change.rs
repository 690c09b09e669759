//! The key-change statement: proof by the current signing key that its owner replaces the
//! identity keys (`POST /users/me/km-version/commit`, `currentKeySignature`).
//!
//! The original lets a session alone swap the keys every friend pins (crypto.md gap 4). Here
//! the current key signs one canonical text naming the account, the generation it rotates
//! from and both new public keys, so the signature cannot be replayed for another account,
//! another generation or other keys. The text has its own `type`, a label no other Parchment
//! signature uses, so no other signed message can be presented as one.

use crate::canonical::to_canonical_string;
use crate::keys::{
    Ed25519PublicKey, Ed25519SecretKey, Ed25519Signature, KeyError, X25519PublicKey,
};

/// The statement's `type` member.
pub const KEY_CHANGE_TYPE: &str = "parchment-key-change-v1";

/// What a key change asserts.
#[derive(Debug, Clone)]
pub struct KeyChange<'a> {
    /// The account whose keys change.
    pub user_id: &'a str,
    /// The kmVersion rotated from (`expectedCurrent` of the commit).
    pub expected_current: u64,
    /// The new Ed25519 signing key.
    pub signing_key: &'a Ed25519PublicKey,
    /// The new X25519 encryption key.
    pub encryption_key: &'a X25519PublicKey,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Statement<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    user_id: &'a str,
    expected_current: u64,
    signing_key: String,
    encryption_key: String,
}

impl KeyChange<'_> {
    /// The signed text: canonical JSON (sorted keys, no whitespace) of
    /// `{encryptionKey, expectedCurrent, signingKey, type, userId}`, keys in padded base64.
    pub fn statement(&self) -> String {
        let statement = Statement {
            kind: KEY_CHANGE_TYPE,
            user_id: self.user_id,
            expected_current: self.expected_current,
            signing_key: self.signing_key.to_base64(),
            encryption_key: self.encryption_key.to_base64(),
        };
        // Strings and an integer only: serialization cannot fail.
        to_canonical_string(&statement).unwrap_or_default()
    }

    /// Signs the statement with the CURRENT signing key.
    pub fn sign(&self, current: &Ed25519SecretKey) -> Ed25519Signature {
        current.sign(self.statement().as_bytes())
    }

    /// Checks `signature` under the account's current signing key.
    pub fn verify(
        &self,
        current: &Ed25519PublicKey,
        signature: &Ed25519Signature,
    ) -> Result<(), KeyError> {
        current.verify(self.statement().as_bytes(), signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::derive::IdentityKeys;
    use crate::Seed;

    fn keys(byte: u8) -> IdentityKeys {
        IdentityKeys::derive(&Seed::from_bytes([byte; 32]))
    }

    #[test]
    fn statement_is_canonical_and_names_everything() {
        let new = keys(2);
        let signing = new.signing.public_key();
        let encryption = new.encryption.public_key();
        let change = KeyChange {
            user_id: "user-1",
            expected_current: 3,
            signing_key: &signing,
            encryption_key: &encryption,
        };
        assert_eq!(
            change.statement(),
            format!(
                "{{\"encryptionKey\":\"{}\",\"expectedCurrent\":3,\"signingKey\":\"{}\",\
                 \"type\":\"parchment-key-change-v1\",\"userId\":\"user-1\"}}",
                encryption.to_base64(),
                signing.to_base64()
            )
        );
    }

    #[test]
    fn only_the_current_key_over_the_same_statement_verifies() {
        let (current, new, other) = (keys(1), keys(2), keys(3));
        let signing = new.signing.public_key();
        let encryption = new.encryption.public_key();
        let change = KeyChange {
            user_id: "user-1",
            expected_current: 3,
            signing_key: &signing,
            encryption_key: &encryption,
        };
        let signature = change.sign(&current.signing);
        assert!(change
            .verify(&current.signing.public_key(), &signature)
            .is_ok());
        // Signed by the new key itself (what a stolen session could make): refused.
        let by_new = change.sign(&new.signing);
        assert!(change
            .verify(&current.signing.public_key(), &by_new)
            .is_err());

        let other_signing = other.signing.public_key();
        let other_encryption = other.encryption.public_key();
        let replays = [
            KeyChange {
                user_id: "user-2",
                ..change.clone()
            },
            KeyChange {
                expected_current: 4,
                ..change.clone()
            },
            KeyChange {
                signing_key: &other_signing,
                ..change.clone()
            },
            KeyChange {
                encryption_key: &other_encryption,
                ..change.clone()
            },
        ];
        for replay in replays {
            assert!(replay
                .verify(&current.signing.public_key(), &signature)
                .is_err());
        }
    }
}
