//! The decisions: what a request may do and what is written. Handlers call these; these call
//! the store.

pub mod auth;
pub mod blobs;
pub mod device_transfer;
pub mod devices;
pub mod events;
pub mod federation;
pub mod friends;
pub mod identity;
pub mod key_slots;
pub mod keys;
pub mod library;
pub mod location;
pub mod mail;
pub mod passkeys;
pub mod rate_limit;
pub mod revocations;
pub mod roles;
pub mod sessions;
pub mod sharing;
pub mod users;
