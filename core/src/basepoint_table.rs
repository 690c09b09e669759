//! Ed25519 signing keys and X25519 public keys with the base-point table built at first use.
//!
//! curve25519-dalek multiplies by the base point with a 30 KB table of precomputed multiples
//! that it links in as a constant. On the server that costs nothing; in the WebAssembly start
//! module it is 30 KB of incompressible bytes on the wire, a fifth of the module, before the
//! user can unlock. With the feature `runtime-basepoint-table` (what `@parchment/core` builds)
//! the same table is computed by curve25519-dalek's own `EdwardsBasepointTable::create` on the
//! first signature or key derivation (a few milliseconds, once per page), and the constant is
//! never referenced, so the linker drops it. Signing is otherwise ed25519-dalek's own
//! algorithm (RFC 8032 §5.1.6, `hazmat::ExpandedSecretKey`), so every signature is byte for
//! byte the one ed25519-dalek makes: the tests below compare the two on random keys and
//! messages, and the crate's vectors run against whichever the build uses.
//!
//! Without the feature, [`crate::keys`] uses ed25519-dalek's `SigningKey` and x25519-dalek
//! directly; this module is still compiled, and its tests compare it with them in every test
//! run of the crate.
#![cfg_attr(not(feature = "runtime-basepoint-table"), allow(dead_code))]

use std::sync::OnceLock;

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::EdwardsBasepointTable;
use curve25519_dalek::traits::BasepointTable as _;
use curve25519_dalek::Scalar;
use ed25519_dalek::hazmat::ExpandedSecretKey;
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

/// The table of multiples of the base point, built once (boxed: it is 30 KB).
fn table() -> &'static EdwardsBasepointTable {
    static TABLE: OnceLock<Box<EdwardsBasepointTable>> = OnceLock::new();
    TABLE.get_or_init(|| Box::new(EdwardsBasepointTable::create(&ED25519_BASEPOINT_POINT)))
}

/// An Ed25519 signing key: the RFC 8032 seed, its expansion and its public key. The secret
/// parts zeroize on drop (`ExpandedSecretKey` does so itself).
pub(crate) struct SigningKey {
    seed: Zeroizing<[u8; 32]>,
    expanded: ExpandedSecretKey,
    public: VerifyingKey,
}

impl SigningKey {
    /// From the 32-byte RFC 8032 secret seed: `A = s·B` with `s` the clamped first half of
    /// SHA-512(seed), as ed25519-dalek's `VerifyingKey::from(&ExpandedSecretKey)`.
    pub(crate) fn from_bytes(seed: &[u8; 32]) -> Self {
        let expanded = ExpandedSecretKey::from(seed);
        let public = VerifyingKey::from(table().mul_base(&expanded.scalar));
        Self {
            seed: Zeroizing::new(*seed),
            expanded,
            public,
        }
    }

    /// The 32-byte seed.
    pub(crate) fn to_bytes(&self) -> [u8; 32] {
        *self.seed
    }

    /// The public key.
    pub(crate) fn verifying_key(&self) -> VerifyingKey {
        self.public
    }

    /// PureEdDSA signing (RFC 8032 §5.1.6), the steps of ed25519-dalek's
    /// `ExpandedSecretKey::raw_sign`: `r = H(prefix ‖ M)`, `R = r·B`, `k = H(R ‖ A ‖ M)`,
    /// `S = r + k·s`.
    pub(crate) fn sign(&self, message: &[u8]) -> Signature {
        let r = Zeroizing::new(Scalar::from_hash(
            Sha512::new()
                .chain_update(self.expanded.hash_prefix)
                .chain_update(message),
        ));
        let big_r = table().mul_base(&r).compress();
        let k = Scalar::from_hash(
            Sha512::new()
                .chain_update(big_r.as_bytes())
                .chain_update(self.public.as_bytes())
                .chain_update(message),
        );
        let s = k * self.expanded.scalar + *r;
        Signature::from_components(big_r.to_bytes(), s.to_bytes())
    }
}

impl Clone for SigningKey {
    fn clone(&self) -> Self {
        Self {
            seed: self.seed.clone(),
            expanded: ExpandedSecretKey::from(&*self.seed),
            public: self.public,
        }
    }
}

/// The X25519 public key of `secret`: the Montgomery form of `clamp(secret)·B`, which is what
/// x25519-dalek's `PublicKey::from(&StaticSecret)` computes with the linked-in table.
pub(crate) fn x25519_public(secret: &[u8; 32]) -> [u8; 32] {
    table().mul_base_clamped(*secret).to_montgomery().to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::Signer as _;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn signs_and_derives_exactly_as_ed25519_dalek(
            seed in any::<[u8; 32]>(),
            message in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let ours = SigningKey::from_bytes(&seed);
            let theirs = ed25519_dalek::SigningKey::from_bytes(&seed);
            prop_assert_eq!(ours.verifying_key(), theirs.verifying_key());
            prop_assert_eq!(ours.sign(&message), theirs.sign(&message));
            prop_assert_eq!(ours.clone().sign(&message), theirs.sign(&message));
            prop_assert_eq!(ours.to_bytes(), seed);
        }

        #[test]
        fn x25519_public_keys_match_x25519_dalek(secret in any::<[u8; 32]>()) {
            let theirs = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(secret));
            prop_assert_eq!(x25519_public(&secret), theirs.to_bytes());
        }
    }

    /// RFC 8032 §7.1, test 2 (one-byte message).
    #[test]
    fn rfc8032_test_2() {
        let seed: [u8; 32] =
            hex::decode("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
                .unwrap()
                .try_into()
                .unwrap();
        let key = SigningKey::from_bytes(&seed);
        assert_eq!(
            hex::encode(key.verifying_key().as_bytes()),
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
        );
        assert_eq!(
            hex::encode(key.sign(&[0x72]).to_bytes()),
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da\
             085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
        );
    }
}
