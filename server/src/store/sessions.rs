//! `/auth/sessions*`: sessions, stored by the digest of their token.

use sqlx::FromRow;

use super::{Store, StoreResult};

/// A session as its owner lists it.
#[derive(Debug, Clone, FromRow)]
pub struct SessionRow {
    /// Session id (not the token).
    pub id: String,
    /// Its user.
    pub user_id: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub expires_at: i64,
    /// `User-Agent` of the sign-in request.
    pub user_agent: Option<String>,
}

/// What a request needs to know about its session: one indexed lookup by token hash.
#[derive(Debug, Clone, FromRow)]
pub struct SessionLookup {
    /// Session id.
    pub id: String,
    /// Its user.
    pub user_id: String,
    /// Unix milliseconds.
    pub expires_at: i64,
}

/// A session to insert.
pub struct NewSession<'a> {
    /// Session id.
    pub id: &'a str,
    /// Digest of the token (the token itself is never stored).
    pub token_hash: &'a str,
    /// Its user.
    pub user_id: &'a str,
    /// Unix milliseconds: the creation time.
    pub now: i64,
    /// Unix milliseconds.
    pub expires_at: i64,
    /// `User-Agent` of the sign-in request.
    pub user_agent: Option<&'a str>,
    /// Client address of the sign-in request.
    pub ip: Option<&'a str>,
}

impl Store {
    /// Inserts a new session.
    pub async fn insert_session(&self, session: &NewSession<'_>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (id, token_hash, user_id, created_at, expires_at, user_agent, ip) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(session.id)
        .bind(session.token_hash)
        .bind(session.user_id)
        .bind(session.now)
        .bind(session.expires_at)
        .bind(session.user_agent)
        .bind(session.ip)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// The session whose token has this digest (expired or not).
    pub async fn session_by_token_hash(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<SessionLookup>> {
        self.one_by(
            "SELECT id, user_id, expires_at FROM sessions WHERE token_hash = $1",
            token_hash,
        )
        .await
    }

    /// Whether session `id` still exists and has not expired (long-lived streams check it).
    pub async fn session_alive(&self, id: &str, now: i64) -> StoreResult<bool> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE id = $1 AND expires_at > $2")
                .bind(id)
                .bind(now)
                .fetch_one(self.reader())
                .await?;
        Ok(n > 0)
    }

    /// Moves a session's expiry to `expires_at`.
    pub async fn extend_session(&self, id: &str, expires_at: i64) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET expires_at = $2 WHERE id = $1")
            .bind(id)
            .bind(expires_at)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// The user's unexpired sessions, newest first.
    pub async fn sessions_of_user(&self, user_id: &str, now: i64) -> StoreResult<Vec<SessionRow>> {
        Ok(sqlx::query_as(
            "SELECT id, user_id, created_at, expires_at, user_agent FROM sessions \
             WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC, id",
        )
        .bind(user_id)
        .bind(now)
        .fetch_all(self.reader())
        .await?)
    }

    /// Deletes one session of this user; `false` when there was none.
    pub async fn delete_session(&self, user_id: &str, id: &str) -> StoreResult<bool> {
        self.delete_owned("sessions", "id", user_id, id).await
    }

    /// Deletes every session of the user except `keep` (all of them when `keep` is `None`).
    pub async fn delete_sessions_of_user(
        &self,
        user_id: &str,
        keep: Option<&str>,
    ) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
            .bind(user_id)
            .bind(keep.unwrap_or(""))
            .execute(self.writer())
            .await?;
        Ok(done.rows_affected())
    }

    /// Housekeeping: expired sessions, codes, challenges and rate-limit windows.
    pub async fn delete_expired(&self, now: i64, rate_window_floor: i64) -> StoreResult<()> {
        self.delete_where(&[
            ("sessions", "expires_at <= $1", now),
            ("otp_codes", "expires_at <= $1", now),
            ("webauthn_challenges", "expires_at <= $1", now),
            ("device_transfers", "expires_at <= $1", now),
            ("rate_limits", "window_start < $1", rate_window_floor),
        ])
        .await
    }
}
