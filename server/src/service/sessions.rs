//! Sessions: opaque random tokens, stored only as a SHA-256 digest, sliding expiry.

use super::{now_ms, secrets, AppState};
use crate::error::AppError;
use crate::store::{NewSession, SessionRow, Store};

pub const SESSION_COOKIE: &str = "parchment_session";
const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// A session lives 30 days from its last refresh.
pub const SESSION_TTL_MS: i64 = 30 * DAY_MS;
/// Refreshed when fewer than 15 days remain (so at most one write per session per 15 days).
const REFRESH_BELOW_MS: i64 = 15 * DAY_MS;

/// The signed-in caller of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub session_id: String,
    pub user_id: String,
    /// The token came from the cookie (not a bearer header).
    pub via_cookie: bool,
}

/// Result of looking a token up.
pub struct Resolved {
    pub principal: Principal,
    /// The expiry was pushed out; a cookie caller should get a fresh cookie.
    pub refreshed: bool,
}

pub struct Created {
    pub token: String,
    pub max_age_secs: i64,
}

fn token_hash(token: &str) -> String {
    secrets::digest(&["session", token])
}

/// Starts a session and returns its token (shown once; only the digest is stored).
pub async fn create(
    store: &Store,
    user_id: &str,
    ttl_ms: i64,
    user_agent: Option<&str>,
    ip: Option<&str>,
) -> Result<Created, AppError> {
    let token = secrets::random_token();
    let now = now_ms();
    // Stored values from the client are bounded so a header cannot bloat the table.
    let user_agent = user_agent.map(|ua| truncate(ua, 512));
    store
        .insert_session(&NewSession {
            id: &secrets::random_id(),
            token_hash: &token_hash(&token),
            user_id,
            now,
            expires_at: now + ttl_ms,
            user_agent: user_agent.as_deref(),
            ip,
        })
        .await?;
    Ok(Created {
        token,
        max_age_secs: ttl_ms / 1000,
    })
}

/// Looks a token up; `None` for unknown or expired tokens. Extends a session that is past
/// half its life.
pub async fn resolve(
    state: &AppState,
    token: &str,
    via_cookie: bool,
) -> Result<Option<Resolved>, AppError> {
    // Tokens are 43 characters; anything far off is not worth a query.
    if token.is_empty() || token.len() > 256 {
        return Ok(None);
    }
    let Some(found) = state
        .store
        .session_by_token_hash(&token_hash(token))
        .await?
    else {
        return Ok(None);
    };
    let now = now_ms();
    if found.expires_at <= now {
        return Ok(None);
    }
    let refreshed = found.expires_at - now < REFRESH_BELOW_MS;
    if refreshed {
        state
            .store
            .extend_session(&found.id, now + SESSION_TTL_MS)
            .await?;
    }
    Ok(Some(Resolved {
        principal: Principal {
            session_id: found.id,
            user_id: found.user_id,
            via_cookie,
        },
        refreshed,
    }))
}

pub fn cookie_header(state: &AppState, token: &str, max_age_secs: i64) -> String {
    let secure = if state.settings.cookie_secure() {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"
    )
}

pub fn clear_cookie_header(state: &AppState) -> String {
    cookie_header(state, "", 0)
}

pub async fn list(state: &AppState, user_id: &str) -> Result<Vec<SessionRow>, AppError> {
    Ok(state.store.sessions_of_user(user_id, now_ms()).await?)
}

pub async fn delete_one(state: &AppState, user_id: &str, id: &str) -> Result<(), AppError> {
    if state.store.delete_session(user_id, id).await? {
        Ok(())
    } else {
        Err(AppError::not_found("Session"))
    }
}

pub async fn sign_out(state: &AppState, principal: &Principal) -> Result<(), AppError> {
    state
        .store
        .delete_session(&principal.user_id, &principal.session_id)
        .await?;
    Ok(())
}

/// Deletes every session of the caller (`keep_current` spares the calling one).
pub async fn sign_out_all(
    state: &AppState,
    principal: &Principal,
    keep_current: bool,
) -> Result<(), AppError> {
    let keep = keep_current.then_some(principal.session_id.as_str());
    state
        .store
        .delete_sessions_of_user(&principal.user_id, keep)
        .await?;
    Ok(())
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}
