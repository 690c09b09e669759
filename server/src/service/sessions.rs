//! Sessions: opaque random tokens, stored only as a SHA-256 digest, sliding expiry.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::AppError;
use crate::secrets;
use crate::state::AppState;
use crate::store::{NewSession, SessionLookup, SessionRow, Store};

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "parchment_session";
const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// A session lives 30 days from its last refresh.
pub const SESSION_TTL_MS: i64 = 30 * DAY_MS;
/// Refreshed when fewer than 15 days remain (so at most one write per session per 15 days).
const REFRESH_BELOW_MS: i64 = 15 * DAY_MS;

/// The signed-in caller of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The session's id (not its token).
    pub session_id: String,
    /// The signed-in user.
    pub user_id: String,
    /// The token came from the cookie (not a bearer header).
    pub via_cookie: bool,
    /// The caller's roles and what they grant, read with the session.
    pub grants: Arc<Grants>,
}

/// A user's roles and the permissions they add up to (api.md §2).
#[derive(Debug, Default)]
pub struct Grants {
    /// Role ids the user holds.
    pub roles: Vec<String>,
    /// Every permission those roles grant.
    pub permissions: BTreeSet<&'static str>,
}

impl Grants {
    /// The grants of a user holding `roles`.
    pub fn of(roles: Vec<String>) -> Grants {
        Grants {
            permissions: super::roles::permissions_of(&roles),
            roles,
        }
    }
}

impl Principal {
    /// The one permission check of an operation (403 without it), made by the service
    /// that performs it.
    pub fn require(&self, permission: &'static str) -> Result<&str, AppError> {
        if self.grants.permissions.contains(permission) {
            Ok(&self.user_id)
        } else {
            Err(AppError::Forbidden("You don't have permission".into()))
        }
    }
}

/// Result of looking a token up.
pub struct Resolved {
    /// The caller.
    pub principal: Principal,
    /// The expiry was pushed out; a cookie caller should get a fresh cookie.
    pub refreshed: bool,
}

/// A new session.
pub struct Created {
    /// The token, shown to the client once (only its digest is stored).
    pub token: String,
    /// The session's lifetime, for the cookie's `Max-Age`.
    pub max_age_secs: i64,
}

/// A short-lived per-process memo of token lookups, so a busy client costs one indexed
/// query per `ttl` instead of one per request. Sign-outs handled by this process drop
/// their entries at once; a sign-out on another replica is seen here within `ttl` (1 s by
/// default; 0 turns the memo off).
pub struct SessionCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Cached, Instant)>>,
}

#[derive(Clone)]
struct Cached {
    session: SessionLookup,
    grants: Arc<Grants>,
}

/// Past this many entries the memo starts over (it only saves queries, never decides).
const CACHE_MAX_ENTRIES: usize = 50_000;

impl SessionCache {
    /// A memo whose entries live `ttl` (zero: no memo).
    pub fn new(ttl: Duration) -> Self {
        SessionCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, token_hash: &str) -> Option<Cached> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.lock().ok()?;
        let (found, at) = entries.get(token_hash)?;
        (at.elapsed() < self.ttl).then(|| found.clone())
    }

    fn put(&self, token_hash: String, found: Cached) {
        if self.ttl.is_zero() {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CACHE_MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(token_hash, (found, Instant::now()));
        }
    }

    /// Forgets sessions of `user_id` (all of them, or only `session_id`).
    fn forget(&self, user_id: &str, session_id: Option<&str>) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, (c, _)| {
                c.session.user_id != user_id || session_id.is_some_and(|id| id != c.session.id)
            });
        }
    }
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
    now: i64,
) -> Result<Created, AppError> {
    let token = secrets::random_token();
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
    let hash = token_hash(token);
    let Cached { session, grants } = match state.session_cache.get(&hash) {
        Some(found) => found,
        None => match state.store.session_by_token_hash(&hash).await? {
            Some(session) => {
                let roles = state.store.user_roles(&session.user_id).await?;
                let found = Cached {
                    session,
                    grants: Arc::new(Grants::of(roles)),
                };
                state.session_cache.put(hash.clone(), found.clone());
                found
            }
            None => return Ok(None),
        },
    };
    let now = state.now_ms();
    if session.expires_at <= now {
        return Ok(None);
    }
    let refreshed = session.expires_at - now < REFRESH_BELOW_MS;
    let session = if refreshed {
        let expires_at = now + SESSION_TTL_MS;
        state.store.extend_session(&session.id, expires_at).await?;
        let session = SessionLookup {
            expires_at,
            ..session
        };
        state.session_cache.put(
            hash,
            Cached {
                session: session.clone(),
                grants: grants.clone(),
            },
        );
        session
    } else {
        session
    };
    Ok(Some(Resolved {
        principal: Principal {
            session_id: session.id,
            user_id: session.user_id,
            via_cookie,
            grants,
        },
        refreshed,
    }))
}

/// The `Set-Cookie` value that stores `token` for `max_age_secs` (HttpOnly, SameSite=Lax; Secure
/// when the public URL is https).
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

/// The `Set-Cookie` value that clears the session cookie.
pub fn clear_cookie_header(state: &AppState) -> String {
    cookie_header(state, "", 0)
}

/// `GET /auth/sessions`: the user's unexpired sessions, newest first.
pub async fn list(state: &AppState, user_id: &str) -> Result<Vec<SessionRow>, AppError> {
    Ok(state
        .store
        .sessions_of_user(user_id, state.now_ms())
        .await?)
}

/// `DELETE /auth/sessions/{id}`: ends one of the user's sessions (404 when not theirs).
pub async fn delete_one(state: &AppState, user_id: &str, id: &str) -> Result<(), AppError> {
    state.session_cache.forget(user_id, Some(id));
    if state.store.delete_session(user_id, id).await? {
        Ok(())
    } else {
        Err(AppError::not_found("Session"))
    }
}

/// `DELETE /auth/sessions`: ends the caller's own session.
pub async fn sign_out(state: &AppState, principal: &Principal) -> Result<(), AppError> {
    state
        .session_cache
        .forget(&principal.user_id, Some(&principal.session_id));
    state
        .store
        .delete_session(&principal.user_id, &principal.session_id)
        .await?;
    Ok(())
}

/// Sign out everywhere: every session of the caller and every device wrap secret.
pub async fn sign_out_all(state: &AppState, principal: &Principal) -> Result<(), AppError> {
    state.session_cache.forget(&principal.user_id, None);
    state
        .store
        .delete_sessions_of_user(&principal.user_id, None)
        .await?;
    super::devices::rotate_device_secrets(state, &principal.user_id, None).await?;
    Ok(())
}

/// Signs out the caller's other sessions and rotates the wrap secrets of every device but
/// `device_id` (the caller's, when given).
pub async fn sign_out_others(
    state: &AppState,
    principal: &Principal,
    device_id: Option<&str>,
) -> Result<(), AppError> {
    if let Some(device_id) = device_id {
        super::devices::check_device_id(device_id)?;
    }
    state.session_cache.forget(&principal.user_id, None);
    state
        .store
        .delete_sessions_of_user(&principal.user_id, Some(&principal.session_id))
        .await?;
    super::devices::rotate_device_secrets(state, &principal.user_id, device_id).await?;
    Ok(())
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

/// `GET /auth/sessions/current`: the signed-in caller's account, `None` when it is gone.
pub async fn current_user(
    state: &AppState,
    caller: &Principal,
) -> Result<Option<crate::store::UserRow>, AppError> {
    Ok(state.store.user_by_id(&caller.user_id).await?)
}

/// The end of every sign-in (email code, passkey): a new session for `user`.
pub async fn sign_in(
    state: &AppState,
    user: crate::store::UserRow,
    user_agent: Option<&str>,
    client_ip: &str,
) -> Result<super::auth::SignedIn, AppError> {
    let session = create(
        &state.store,
        &user.id,
        SESSION_TTL_MS,
        user_agent,
        Some(client_ip),
        state.now_ms(),
    )
    .await?;
    Ok(super::auth::SignedIn { session, user })
}
