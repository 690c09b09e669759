//! The second module's parts (`--features extra`, on by default): what the app uses rarely
//! (legacy AES-GCM, friend shares, key slots, device transfer, ECIES sealed boxes, safety
//! numbers). The package builds the crate twice: without this feature for the module the app
//! loads at start, and with it for the module `loadExtras()` brings in on first use.

pub(crate) mod functions;
pub(crate) mod handoff;
pub(crate) mod identity;
pub(crate) mod transfer;
