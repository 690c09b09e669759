//! The emailed sign-in codes of `/auth/verify` and `POST /auth/sessions` (digests only).

use sqlx::FromRow;

use super::{Store, StoreResult};

/// A user's live sign-in code.
#[derive(Debug, Clone, FromRow)]
pub struct OtpRow {
    /// Digest of the code.
    pub code_hash: String,
    /// Unix milliseconds.
    pub expires_at: i64,
    /// Guesses made so far, this one included.
    pub tries: i64,
}

impl Store {
    /// Replaces any earlier code of the user (one live code per user).
    pub async fn put_otp(
        &self,
        user_id: &str,
        code_hash: &str,
        expires_at: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO otp_codes (user_id, code_hash, expires_at, tries) \
             VALUES ($1, $2, $3, 0) ON CONFLICT (user_id) DO UPDATE SET \
             code_hash = excluded.code_hash, expires_at = excluded.expires_at, tries = 0",
        )
        .bind(user_id)
        .bind(code_hash)
        .bind(expires_at)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Reserves one guess against the user's code, atomically, and only while fewer than
    /// `max_tries` were made: even concurrent guesses compare at most `max_tries` times.
    pub async fn reserve_otp_try(
        &self,
        user_id: &str,
        max_tries: i64,
    ) -> StoreResult<Option<OtpRow>> {
        Ok(sqlx::query_as(
            "UPDATE otp_codes SET tries = tries + 1 WHERE user_id = $1 AND tries < $2 \
             RETURNING code_hash, expires_at, tries",
        )
        .bind(user_id)
        .bind(max_tries)
        .fetch_optional(self.writer())
        .await?)
    }

    /// Consumes the code if it is still the stored one: of two racing correct guesses only
    /// one deletes the row, so a code signs in once.
    pub async fn consume_otp(&self, user_id: &str, code_hash: &str) -> StoreResult<bool> {
        self.delete_owned("otp_codes", "code_hash", user_id, code_hash)
            .await
    }

    /// Whether `code_hash` is still the user's live code (not replaced, used or expired).
    pub async fn otp_is_live(&self, user_id: &str, code_hash: &str, now: i64) -> StoreResult<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM otp_codes WHERE user_id = $1 AND code_hash = $2 \
             AND expires_at > $3",
        )
        .bind(user_id)
        .bind(code_hash)
        .bind(now)
        .fetch_one(self.reader())
        .await?;
        Ok(n > 0)
    }

    /// Deletes the user's code, if any.
    pub async fn delete_otp(&self, user_id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM otp_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(self.writer())
            .await?;
        Ok(())
    }
}
