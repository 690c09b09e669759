//! # parchment-wasm — the npm package `@parchment/core`
//!
//! The WebAssembly boundary of [`parchment_core`]: it converts JavaScript values to core types
//! and back, and holds every secret behind the opaque [`Identity`] handle. All cryptography
//! lives in `parchment-core`; this crate adds no algorithm of its own.
//!
//! Conventions of the JavaScript API (pinned by issue 4):
//! - keys and signatures are standard padded base64 strings, data is `Uint8Array`;
//! - every failure throws a JS `Error` whose message says what was wrong; nothing panics
//!   across the boundary (the package is built with `panic = "abort"`, so a panic would trap);
//! - the seed and private keys never cross into JavaScript, except through the explicit
//!   `Identity.exportRecoveryKey()`.
//!
//! What "never cross" protects against: accidental leaks (logging, serialization, a careless
//! API call). It is not a boundary against hostile script in the same page, which can read
//! WebAssembly linear memory; that is what CSP and origin isolation are for.

mod convert;
#[cfg(feature = "extra")]
mod extra;
mod functions;
// The start module's end of the handoff; the second module never hands an identity back.
#[cfg(not(feature = "extra"))]
mod handoff;
mod identity;
mod record;
mod rng;

#[cfg(feature = "extra")]
pub use extra::handoff::ModuleHandoff;
#[cfg(feature = "extra")]
pub use extra::transfer::{DeviceTransferReceiver, DeviceTransferSender};
pub use functions::*;
pub use identity::Identity;
