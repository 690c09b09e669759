//! The composition root's state: the settings the services decide with and everything a
//! request can reach (`AppState`). It names the pieces, `app.rs` builds them, and nothing
//! here decides anything.

use std::net::IpAddr;
use std::sync::Arc;

use parchment_core::keys::Ed25519SecretKey;
use url::Url;
use webauthn_rs::Webauthn;

pub use crate::clock::{Clock, SharedClock};
use crate::federation::inbox::InboxBatcher;
use crate::federation::Client;
use crate::push::Push;
use crate::service::mail::Mailer;
use crate::service::rate_limit::RateLimiter;
use crate::service::sessions::SessionCache;
use crate::store::Store;

/// Configuration the services decide with (resolved from the command line).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Origin users and peers reach; `None` when not configured.
    pub public_url: Option<Url>,
    /// `--open-registration`: unknown emails may create accounts.
    pub open_registration: bool,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// `--federation-allow-http`: plain-http and loopback peers (testing only).
    pub federation_allow_http: bool,
    /// Retry horizon of the outbox and the age up to which a v2 message is accepted.
    pub federation_max_age_ms: i64,
    /// The MapLibre style the web app's map uses (`PARCHMENT_MAP_STYLE_URL`); `None`: the
    /// app's built-in style, which needs no network.
    pub map_style_url: Option<Url>,
    /// Further origins the map's tiles, glyphs and sprites come from
    /// (`PARCHMENT_MAP_ORIGINS`), allowed in the app's Content-Security-Policy.
    pub map_origins: Vec<Url>,
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

/// What [`AppState`] holds.
pub struct Inner {
    /// The database.
    pub store: Store,
    /// Resolved configuration.
    pub settings: Settings,
    /// Where the time comes from.
    pub clock: SharedClock,
    /// Sign-in mail.
    pub mailer: Mailer,
    /// Fixed-window rate limits.
    pub limiter: RateLimiter,
    /// `None` when no usable public URL (WebAuthn needs a domain origin).
    pub webauthn: Option<Webauthn>,
    /// This server's federation identity.
    pub server_key: Ed25519SecretKey,
    /// Recently resolved sessions.
    pub session_cache: SessionCache,
    /// Outbound federation HTTP client.
    pub federation: Client,
    /// Wakes the outbox worker when a message is queued.
    pub outbox_wake: Arc<tokio::sync::Notify>,
    /// Group commit of the inbox's friend-gated writes.
    pub inbox: InboxBatcher,
    /// The push channel's open streams.
    pub push: Arc<Push>,
}

impl AppState {
    /// Shares `inner`.
    pub fn new(inner: Inner) -> Self {
        AppState(Arc::new(inner))
    }

    /// The current time, from the state's clock.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
