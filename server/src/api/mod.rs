//! HTTP handlers: parse, call a service, answer. One file per resource.

pub mod auth;
pub mod blobs;
pub mod config;
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
pub mod revocations;
pub mod sharing;
pub mod users;

use chrono::{DateTime, TimeZone, Utc};
use poem::Request;
use poem_openapi::auth::{ApiKey, Bearer};
use poem_openapi::{SecurityScheme, Tags};

use crate::service::sessions::Principal;

/// The groups operations are listed under in the OpenAPI document.
#[derive(Tags)]
pub enum ApiTags {
    /// Accounts, profiles, preferences, roles and permissions.
    Users,
    /// Sign-in (email codes, passkeys) and sessions.
    Auth,
    /// Server-to-server federation and discovery.
    Federation,
}

/// An empty 204 answer.
#[derive(poem_openapi::ApiResponse)]
pub enum NoContent {
    /// Done.
    #[oai(status = 204)]
    Done,
}

/// The client address as the edge middleware determined it (forwarded headers are only
/// trusted from configured proxies).
#[derive(Debug, Clone)]
pub struct ClientIp(pub String);

/// The client address of a request (see [`ClientIp`]); `"unknown"` when the edge set none.
pub fn client_ip(req: &Request) -> String {
    req.extensions()
        .get::<ClientIp>()
        .map(|ip| ip.0.clone())
        .unwrap_or_else(|| "unknown".into())
}

/// The request's `User-Agent` header, when it is valid text.
pub fn user_agent(req: &Request) -> Option<&str> {
    req.header(poem::http::header::USER_AGENT)
}

/// Session token in `Authorization: Bearer <token>`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", checker = "bearer_principal")]
pub struct BearerSession(Principal);

/// Session token in the `parchment_session` cookie (HttpOnly, SameSite=Lax). Writes with a
/// cookie must carry an `Origin` header matching the server's public origin.
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "parchment_session",
    key_in = "cookie",
    checker = "cookie_principal"
)]
pub struct CookieSession(Principal);

/// A signed-in caller, by bearer token or cookie.
#[derive(SecurityScheme)]
pub enum Session {
    /// A bearer token.
    Bearer(BearerSession),
    /// The session cookie.
    Cookie(CookieSession),
}

impl Session {
    /// The signed-in caller, whichever way the token came.
    pub fn principal(&self) -> &Principal {
        match self {
            Session::Bearer(BearerSession(p)) | Session::Cookie(CookieSession(p)) => p,
        }
    }
}

// The edge middleware has already resolved the token (and applied the CSRF rule); the
// checkers only read its answer, so no request does two lookups.
async fn bearer_principal(req: &Request, _: Bearer) -> Option<Principal> {
    req.extensions()
        .get::<Principal>()
        .filter(|p| !p.via_cookie)
        .cloned()
}

async fn cookie_principal(req: &Request, _: ApiKey) -> Option<Principal> {
    req.extensions()
        .get::<Principal>()
        .filter(|p| p.via_cookie)
        .cloned()
}

/// Unix milliseconds as a UTC time (the epoch for a value out of range).
pub fn timestamp(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}
