//! `/auth/sessions*`: sessions, stored by the digest of their token.

use sqlx::FromRow;

use super::{Store, StoreResult};

#[derive(Debug, Clone, FromRow)]
pub struct SessionRow {
    pub id: String,
    pub user_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub user_agent: Option<String>,
}

/// What a request needs to know about its session: one indexed lookup by token hash.
#[derive(Debug, Clone, FromRow)]
pub struct SessionLookup {
    pub id: String,
    pub user_id: String,
    pub expires_at: i64,
}

pub struct NewSession<'a> {
    pub id: &'a str,
    pub token_hash: &'a str,
    pub user_id: &'a str,
    pub now: i64,
    pub expires_at: i64,
    pub user_agent: Option<&'a str>,
    pub ip: Option<&'a str>,
}

impl Store {
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

    pub async fn session_by_token_hash(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<SessionLookup>> {
        Ok(
            sqlx::query_as("SELECT id, user_id, expires_at FROM sessions WHERE token_hash = $1")
                .bind(token_hash)
                .fetch_optional(self.reader())
                .await?,
        )
    }

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
        let done = sqlx::query("DELETE FROM sessions WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(self.writer())
            .await?;
        Ok(done.rows_affected() > 0)
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
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(self.writer())
            .await?;
        sqlx::query("DELETE FROM otp_codes WHERE expires_at <= $1")
            .bind(now)
            .execute(self.writer())
            .await?;
        sqlx::query("DELETE FROM webauthn_challenges WHERE expires_at <= $1")
            .bind(now)
            .execute(self.writer())
            .await?;
        sqlx::query("DELETE FROM rate_limits WHERE window_start < $1")
            .bind(rate_window_floor)
            .execute(self.writer())
            .await?;
        Ok(())
    }
}
