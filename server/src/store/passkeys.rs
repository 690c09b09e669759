//! `/auth/passkeys/*`: registered passkeys and the ceremonies in flight.

use sqlx::FromRow;

use super::{Store, StoreResult};

/// A registered passkey.
#[derive(Debug, Clone, FromRow)]
pub struct PasskeyRow {
    /// Credential id, base64url.
    pub id: String,
    /// Its user.
    pub user_id: String,
    /// Label shown in the passkey list.
    pub name: String,
    /// webauthn-rs `Passkey` as JSON (public key, counter).
    pub credential: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds: the last sign-in with it.
    pub last_used_at: Option<i64>,
}

/// A WebAuthn ceremony in flight.
#[derive(Debug, Clone, FromRow)]
pub struct ChallengeRow {
    /// The user registering; `None` for a sign-in.
    pub user_id: Option<String>,
    /// `register` or `authenticate`.
    pub kind: String,
    /// webauthn-rs ceremony state as JSON.
    pub state: String,
    /// Unix milliseconds.
    pub expires_at: i64,
}

impl Store {
    /// Inserts a passkey; `UniqueViolation` when its credential id is registered already.
    pub async fn insert_passkey(&self, row: &PasskeyRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO passkeys (id, user_id, name, credential, created_at, last_used_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&row.id)
        .bind(&row.user_id)
        .bind(&row.name)
        .bind(&row.credential)
        .bind(row.created_at)
        .bind(row.last_used_at)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// The user's passkeys, oldest first.
    pub async fn passkeys_of_user(&self, user_id: &str) -> StoreResult<Vec<PasskeyRow>> {
        self.all_by(
            "SELECT id, user_id, name, credential, created_at, last_used_at FROM passkeys \
             WHERE user_id = $1 ORDER BY created_at, id",
            user_id,
        )
        .await
    }

    /// The passkey with this credential id, whoever owns it.
    pub async fn passkey(&self, id: &str) -> StoreResult<Option<PasskeyRow>> {
        self.one_by(
            "SELECT id, user_id, name, credential, created_at, last_used_at FROM passkeys \
             WHERE id = $1",
            id,
        )
        .await
    }

    /// Stores the credential's new state (counter) after a sign-in with it.
    pub async fn update_passkey_use(
        &self,
        id: &str,
        credential: &str,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE passkeys SET credential = $2, last_used_at = $3 WHERE id = $1")
            .bind(id)
            .bind(credential)
            .bind(now)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Deletes one passkey of the user; `false` when there was none.
    pub async fn delete_passkey(&self, user_id: &str, id: &str) -> StoreResult<bool> {
        self.delete_owned("passkeys", "id", user_id, id).await
    }

    /// Stores a ceremony until it is answered or expires.
    pub async fn insert_challenge(
        &self,
        id: &str,
        user_id: Option<&str>,
        kind: &str,
        state: &str,
        expires_at: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO webauthn_challenges (id, user_id, kind, state, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(user_id)
        .bind(kind)
        .bind(state)
        .bind(expires_at)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Removes and returns a challenge: each one can be answered once.
    pub async fn take_challenge(&self, id: &str) -> StoreResult<Option<ChallengeRow>> {
        Ok(sqlx::query_as(
            "DELETE FROM webauthn_challenges WHERE id = $1 \
             RETURNING user_id, kind, state, expires_at",
        )
        .bind(id)
        .fetch_optional(self.writer())
        .await?)
    }
}
