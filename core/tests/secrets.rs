//! Secret types must not implement `Debug` (so they cannot end up in logs), and public types
//! print only `algorithm:<base64>`.

use parchment_core::derive::{self, SymmetricKey, WrapSecret};
use parchment_core::keys::{Ed25519SecretKey, SharedSecret, X25519SecretKey};
use parchment_core::Seed;

// Inherent methods win over trait methods when their bounds hold, so `Probe(x).has_debug()`
// is true exactly when the type implements `Debug`.
struct Probe<T>(std::marker::PhantomData<T>);
impl<T: std::fmt::Debug> Probe<T> {
    fn has_debug(&self) -> bool {
        true
    }
}
trait Fallback {
    fn has_debug(&self) -> bool {
        false
    }
}
impl<T> Fallback for Probe<T> {}

macro_rules! has_debug {
    ($t:ty) => {
        Probe::<$t>(std::marker::PhantomData).has_debug()
    };
}

#[test]
fn secret_types_have_no_debug() {
    assert!(!has_debug!(Seed));
    assert!(!has_debug!(Ed25519SecretKey));
    assert!(!has_debug!(X25519SecretKey));
    assert!(!has_debug!(SharedSecret));
    assert!(!has_debug!(SymmetricKey));
    assert!(!has_debug!(WrapSecret));
    // The probe does detect Debug where it exists.
    assert!(has_debug!(parchment_core::keys::Ed25519PublicKey));
}

#[test]
fn public_debug_prints_only_public_base64() {
    let seed = Seed::from_bytes(core::array::from_fn(|i| i as u8));
    let signing = derive::signing_key(&seed).public_key();
    let encryption = derive::encryption_key(&seed).public_key();
    assert_eq!(
        format!("{signing:?}"),
        "ed25519:+UYKxog/HBcEX4Vg00QkJWzmn1bbv9UfvdgPlROBMcI="
    );
    assert_eq!(
        format!("{encryption:?}"),
        "curve25519:zZdtcNfZszF3GnQMDDoWcLSyywes9OLQBw//y4DgLiY="
    );
}
