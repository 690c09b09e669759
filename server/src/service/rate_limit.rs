//! Fixed-window rate limits counted in the database, so they hold across replicas.

use crate::error::AppError;
use crate::store::Store;

/// Checks the rate limits; off (every check passes) when disabled by configuration.
#[derive(Clone)]
pub struct RateLimiter {
    store: Store,
    enabled: bool,
}

/// A named limit: at most `limit` hits per `window_secs`.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// The counter's name, the prefix of its key.
    pub name: &'static str,
    /// Hits allowed per window.
    pub limit: i64,
    /// The window's length in seconds.
    pub window_secs: i64,
}

impl Limit {
    /// At most `limit` hits per `window_secs` seconds, counted under `name`.
    pub const fn new(name: &'static str, limit: i64, window_secs: i64) -> Self {
        Limit {
            name,
            limit,
            window_secs,
        }
    }
}

/// Sign-in code requests per email address.
pub const OTP_SEND_PER_EMAIL: Limit = Limit::new("otp-send-email", 5, 900);
/// Sign-in code requests per client address.
pub const OTP_SEND_PER_IP: Limit = Limit::new("otp-send-ip", 30, 900);
/// Code exchanges per email address (beside the 5-wrong-tries burn of each code).
pub const OTP_TRY_PER_EMAIL: Limit = Limit::new("otp-try-email", 20, 900);
/// Code exchanges per client address.
pub const OTP_TRY_PER_IP: Limit = Limit::new("otp-try-ip", 60, 900);
/// Passkey sign-in attempts per client address.
pub const PASSKEY_PER_IP: Limit = Limit::new("passkey-ip", 60, 60);

/// New device transfers per user (each one a sign-in session asking for the seed).
pub const DEVICE_TRANSFER_CREATE: Limit = Limit::new("device-transfer-create", 10, 3600);
/// Device wrap-secret reads per user (api.md §0.1).
pub const WRAP_SECRET_READ: Limit = Limit::new("wrap-secret-read", 60, 60);
/// Device wrap-secret rotations per user (api.md §0.1).
pub const WRAP_SECRET_ROTATE: Limit = Limit::new("wrap-secret-rotate", 10, 60);

impl RateLimiter {
    /// Counts in `store`; with `enabled` false every check passes.
    pub fn new(store: Store, enabled: bool) -> Self {
        RateLimiter { store, enabled }
    }

    /// Counts a hit for `subject` under `limit`; 429 once the window is full.
    pub async fn check(&self, limit: Limit, subject: &str, now_ms: i64) -> Result<(), AppError> {
        if !self.enabled {
            return Ok(());
        }
        let window_ms = limit.window_secs * 1000;
        let window_start = now_ms - now_ms.rem_euclid(window_ms);
        let key = format!("{}:{}", limit.name, subject);
        let hits = self.store.hit_rate_limit(&key, window_start).await?;
        if hits > limit.limit {
            let retry_after = ((window_start + window_ms - now_ms + 999) / 1000).max(1) as u64;
            return Err(AppError::RateLimited { retry_after });
        }
        Ok(())
    }
}

/// Handle look-ups per user (`GET /friends/resolve/*`, `POST /friends/invite`): each may
/// make this server fetch a document from any domain a user names, so they are capped.
pub const FRIEND_LOOKUP_PER_USER: Limit = Limit::new("friend-lookup-user", 60, 60);

/// Messages a user sends to friends (`POST /friends/{handle}/messages`): live location to
/// 50 friends every 15 s fits; a script flooding peers through our outbox does not.
pub const FRIEND_MESSAGES_PER_USER: Limit = Limit::new("friend-messages-user", 600, 60);
/// Of those, RESOURCE_SHARE and RESOURCE_UNSHARE (each share is a row at the friend's server,
/// one per resource): one change to a collection shared with the most friends it may have
/// ([`crate::service::library::MAX_SHARES_PER_COLLECTION`]) sends one to each, so a few such
/// changes a minute fit.
pub const FRIEND_SHARES_PER_USER: Limit = Limit::new("friend-shares-user", 300, 60);

/// Discovery documents (`/.well-known/parchment-server`, `/.well-known/user/*`) per client
/// address (federation.md §10).
pub const FEDERATION_WELL_KNOWN_PER_IP: Limit = Limit::new("federation-well-known-ip", 60, 60);
/// Inbox deliveries per client address (federation.md §10).
pub const FEDERATION_INBOX_PER_IP: Limit = Limit::new("federation-inbox-ip", 120, 60);
