//! # parchment-core
//!
//! The whole client cryptography of Parchment and the message level of its federation
//! protocol, byte-compatible with the original TypeScript implementation
//! (`../shared/spec/crypto.md`, `../shared/spec/federation.md`).
//!
//! Pure: no I/O, no clock, no global RNG. Randomness comes in as a
//! [`rand_core::CryptoRngCore`] argument and time as the ISO timestamp strings the protocol
//! signs, so every function is deterministic under test.
//!
//! ```
//! use parchment_core::derive::{self, IdentityKeys};
//! use parchment_core::envelope::{self, Aad, Algorithm};
//! use parchment_core::rand_core::OsRng;
//! use parchment_core::Seed;
//!
//! // A user's whole identity comes from one 32-byte seed.
//! let seed = Seed::generate(&mut OsRng);
//! let recovery_key = seed.to_recovery_key(); // 44 characters of base64, as the original
//! assert_eq!(recovery_key.len(), 44);
//! let keys = IdentityKeys::derive(&seed);
//!
//! // Personal data is sealed under a derived key, bound to its owner and purpose.
//! let aad = Aad {
//!     user_id: "user-123",
//!     record_type: "personal-blob",
//!     record_id: "places",
//!     key_context: "parchment-personal-v1",
//! };
//! let key = derive::personal_key(&seed);
//! let sealed = envelope::seal(&key, Algorithm::DEFAULT, &aad, b"[]", &mut OsRng).unwrap();
//! assert_eq!(envelope::open(&key, &aad, &sealed).unwrap().as_slice(), b"[]");
//!
//! // Signatures verify with the public key alone.
//! let signature = keys.signing.sign(b"hello");
//! assert!(keys.signing.public_key().verify(b"hello", &signature).is_ok());
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod basepoint_table;
pub mod canonical;
pub mod derive;
pub mod device_transfer;
pub mod ecies;
pub mod encoding;
pub mod envelope;
pub mod federation;
pub mod handle;
pub mod key_change;
pub mod key_slot;
pub mod keys;
pub mod safety;
pub mod seed;
pub mod seed_wrap;
pub mod share;
pub mod timestamp;

pub use rand_core;
pub use seed::Seed;
