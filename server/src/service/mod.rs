//! The decisions: what a request may do and what is written. Handlers call these; these call
//! the store.

pub mod auth;
pub mod federation;
pub mod friends;
pub mod identity;
pub mod keys;
pub mod library;
pub mod mail;
pub mod passkeys;
pub mod rate_limit;
pub mod revocations;
pub mod roles;
pub mod secrets;
pub mod sessions;
pub mod users;

use std::net::IpAddr;
use std::sync::Arc;

use parchment_core::keys::Ed25519SecretKey;
use url::Url;
use webauthn_rs::Webauthn;

use crate::store::Store;
use mail::Mailer;
use rate_limit::RateLimiter;

/// Configuration the services decide with (resolved from the command line).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Origin users and peers reach; `None` when not configured.
    pub public_url: Option<Url>,
    pub open_registration: bool,
    pub trusted_proxies: Vec<IpAddr>,
    pub federation_allow_http: bool,
    /// Retry horizon of the outbox and the age up to which a v2 message is accepted.
    pub federation_max_age_ms: i64,
}

impl Settings {
    /// Cookies get `Secure` when the public origin is https.
    pub fn cookie_secure(&self) -> bool {
        self.public_url
            .as_ref()
            .is_some_and(|url| url.scheme() == "https")
    }

    /// The federation domain: host[:port] of the public URL.
    pub fn domain(&self) -> Option<String> {
        let url = self.public_url.as_ref()?;
        let host = url.host_str()?.to_ascii_lowercase();
        Some(match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host,
        })
    }

    /// The origin (`scheme://host[:port]`) cookie-authenticated writes must come from.
    pub fn public_origin(&self) -> Option<String> {
        self.public_url
            .as_ref()
            .map(|url| url.origin().ascii_serialization())
    }
}

/// Everything a request can reach; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Store,
    pub settings: Settings,
    pub mailer: Mailer,
    pub limiter: RateLimiter,
    /// `None` when no usable public URL (WebAuthn needs a domain origin).
    pub webauthn: Option<Webauthn>,
    pub server_key: Ed25519SecretKey,
    pub session_cache: sessions::SessionCache,
    /// Outbound federation HTTP client.
    pub federation: crate::federation::Client,
    /// Wakes the outbox worker when a message is queued.
    pub outbox_wake: tokio::sync::Notify,
    /// Group commit of the inbox's friend-gated writes.
    pub inbox: crate::federation::inbox::InboxBatcher,
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        AppState(Arc::new(inner))
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Milliseconds since the Unix epoch (the store's time unit).
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
