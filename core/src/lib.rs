//! # parchment-core
//!
//! The whole client cryptography of Parchment and the message level of its federation
//! protocol, byte-compatible with the original TypeScript implementation
//! (`../shared/spec/crypto.md`, `../shared/spec/federation.md`).
//!
//! Pure: no I/O, no clock, no global RNG. Randomness comes in as a
//! [`rand_core::CryptoRngCore`] argument and time as the ISO timestamp strings the protocol
//! signs, so every function is deterministic under test.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod encoding;
pub mod keys;

pub use rand_core;
pub mod canonical;
pub mod derive;
pub mod device_transfer;
pub mod ecies;
pub mod envelope;
pub mod federation;
pub mod handle;
pub mod key_slot;
pub mod safety;
pub mod seed;
pub mod seed_wrap;
pub mod share;

pub use seed::Seed;
