use super::{Store, StoreResult};

impl Store {
    /// Sets the alias; the unique index on its lowercase form decides races (`UniqueViolation`).
    pub async fn set_alias(
        &self,
        user_id: &str,
        alias: &str,
        alias_normalized: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE users SET alias = $2, alias_normalized = $3, updated_at = $4 WHERE id = $1",
        )
        .bind(user_id)
        .bind(alias)
        .bind(alias_normalized)
        .bind(now)
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Publishes first keys: only while none are set, or when they are the same keys
    /// (idempotent). Returns `false` when other keys are already published.
    pub async fn set_initial_keys(
        &self,
        user_id: &str,
        signing_key: &str,
        encryption_key: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE users SET signing_key = $2, encryption_key = $3, updated_at = $4 \
             WHERE id = $1 AND ((signing_key IS NULL AND encryption_key IS NULL) \
             OR (signing_key = $2 AND encryption_key = $3))",
        )
        .bind(user_id)
        .bind(signing_key)
        .bind(encryption_key)
        .bind(now)
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

impl Store {
    /// The user whose alias is `alias` in any letter case (the unique index is on the
    /// lowercase form).
    pub async fn user_by_alias(&self, alias: &str) -> StoreResult<Option<super::UserRow>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {} FROM users WHERE alias_normalized = $1",
            super::users::USER_COLUMNS
        ))
        .bind(alias.to_ascii_lowercase())
        .fetch_optional(self.reader())
        .await?)
    }
}
