//! `/users*`, `/users/me/profile`, `/users/me/preferences`: accounts, roles and preferences.

use sqlx::FromRow;

use super::{Store, StoreResult};

pub(super) const USER_COLUMNS: &str =
    "id, email, first_name, last_name, picture, alias, signing_key, \
     encryption_key, km_version, onboarding_completed_at, created_at, updated_at";

/// A `users` row, as the API shows it (no internal columns).
#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    /// User id.
    pub id: String,
    /// Email address as entered (trimmed).
    pub email: String,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Picture URL.
    pub picture: Option<String>,
    /// Federation alias, letter case as chosen.
    pub alias: Option<String>,
    /// Ed25519 public key, base64; `None` until published.
    pub signing_key: Option<String>,
    /// X25519 public key, base64; `None` until published.
    pub encryption_key: Option<String>,
    /// Master-key generation, from 1.
    pub km_version: i64,
    /// Unix milliseconds; never set by this server yet.
    pub onboarding_completed_at: Option<i64>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
}

/// A user to insert.
pub struct NewUser<'a> {
    /// User id.
    pub id: &'a str,
    /// Email address as entered (trimmed).
    pub email: &'a str,
    /// Its lowercase form, the unique key.
    pub email_normalized: &'a str,
    /// Given name.
    pub first_name: Option<&'a str>,
    /// Family name.
    pub last_name: Option<&'a str>,
    /// Picture URL.
    pub picture: Option<&'a str>,
    /// Role ids to grant.
    pub roles: &'a [&'a str],
    /// Unix milliseconds: the creation time.
    pub now: i64,
}

/// `None` leaves a column as it is; `Some(None)` clears it.
#[derive(Default)]
pub struct ProfileUpdate {
    /// New given name.
    pub first_name: Option<Option<String>>,
    /// New family name.
    pub last_name: Option<Option<String>>,
    /// New picture URL.
    pub picture: Option<Option<String>>,
}

/// A user in the administration list.
#[derive(Debug, Clone, FromRow)]
pub struct UserListRow {
    /// User id.
    pub id: String,
    /// Email address as entered.
    pub email: String,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Federation alias.
    pub alias: Option<String>,
    /// Picture URL.
    pub picture: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub onboarding_completed_at: Option<i64>,
    /// How many unexpired sessions the user has.
    pub session_count: i64,
}

/// A user's saved preferences.
#[derive(Debug, Clone, FromRow)]
pub struct PreferencesRow {
    /// e.g. `en-US`.
    pub language: String,
    /// `metric` or `imperial`.
    pub unit_system: String,
}

impl Store {
    /// Inserts the user and their roles in one transaction.
    pub async fn insert_user(&self, user: &NewUser<'_>) -> StoreResult<UserRow> {
        let mut tx = self.writer().begin().await?;
        let row: UserRow = sqlx::query_as(&format!(
            "INSERT INTO users (id, email, email_normalized, first_name, last_name, picture, \
             km_version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7) \
             RETURNING {USER_COLUMNS}"
        ))
        .bind(user.id)
        .bind(user.email)
        .bind(user.email_normalized)
        .bind(user.first_name)
        .bind(user.last_name)
        .bind(user.picture)
        .bind(user.now)
        .fetch_one(&mut *tx)
        .await?;
        for role in user.roles {
            sqlx::query("INSERT INTO users_roles (user_id, role_id) VALUES ($1, $2)")
                .bind(user.id)
                .bind(*role)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(row)
    }

    /// How many users exist.
    pub async fn count_users(&self) -> StoreResult<i64> {
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
            .fetch_one(self.reader())
            .await?;
        Ok(count)
    }

    /// The user with this id.
    pub async fn user_by_id(&self, id: &str) -> StoreResult<Option<UserRow>> {
        self.one_by(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"),
            id,
        )
        .await
    }

    /// The user with this lowercase email address.
    pub async fn user_by_email(&self, email_normalized: &str) -> StoreResult<Option<UserRow>> {
        self.one_by(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE email_normalized = $1"),
            email_normalized,
        )
        .await
    }

    /// The role ids the user holds, sorted.
    pub async fn user_roles(&self, user_id: &str) -> StoreResult<Vec<String>> {
        let rows: Vec<(String,)> = self
            .all_by(
                "SELECT role_id FROM users_roles WHERE user_id = $1 ORDER BY role_id",
                user_id,
            )
            .await?;
        Ok(rows.into_iter().map(|(r,)| r).collect())
    }

    /// Page of users, oldest first (stable order), with a count of unexpired sessions.
    pub async fn list_users(
        &self,
        limit: i64,
        offset: i64,
        now: i64,
    ) -> StoreResult<(Vec<UserListRow>, Vec<(String, String)>, i64)> {
        let rows: Vec<UserListRow> = sqlx::query_as(
            "SELECT u.id, u.email, u.first_name, u.last_name, u.alias, u.picture, u.created_at, \
             u.onboarding_completed_at, \
             (SELECT COUNT(*) FROM sessions s WHERE s.user_id = u.id AND s.expires_at > $3) \
             AS session_count \
             FROM users u ORDER BY u.created_at, u.id LIMIT $1 OFFSET $2",
        )
        .bind(limit)
        .bind(offset)
        .bind(now)
        .fetch_all(self.reader())
        .await?;
        let (total,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
            .fetch_one(self.reader())
            .await?;
        let mut roles = Vec::new();
        if let (Some(first), Some(last)) = (rows.first(), rows.last()) {
            // The page is contiguous in (created_at, id) order, so one range query finds
            // every role of the page without a per-user round trip.
            roles = sqlx::query_as(
                "SELECT ur.user_id, ur.role_id FROM users_roles ur JOIN users u ON u.id = ur.user_id \
                 WHERE (u.created_at > $1 OR (u.created_at = $1 AND u.id >= $2)) \
                 AND (u.created_at < $3 OR (u.created_at = $3 AND u.id <= $4)) \
                 ORDER BY ur.role_id",
            )
            .bind(first.created_at)
            .bind(&first.id)
            .bind(last.created_at)
            .bind(&last.id)
            .fetch_all(self.reader())
            .await?;
        }
        Ok((rows, roles, total))
    }

    /// Applies `update` to the user's profile; `None` when there is no such user.
    pub async fn update_profile(
        &self,
        user_id: &str,
        update: &ProfileUpdate,
        now: i64,
    ) -> StoreResult<Option<UserRow>> {
        // CASE keeps a column when its flag is 0, so one statement covers every combination.
        Ok(sqlx::query_as(&format!(
            "UPDATE users SET \
             first_name = CASE WHEN $2 = 1 THEN $3 ELSE first_name END, \
             last_name = CASE WHEN $4 = 1 THEN $5 ELSE last_name END, \
             picture = CASE WHEN $6 = 1 THEN $7 ELSE picture END, \
             updated_at = $8 WHERE id = $1 RETURNING {USER_COLUMNS}"
        ))
        .bind(user_id)
        .bind(update.first_name.is_some() as i64)
        .bind(update.first_name.clone().flatten())
        .bind(update.last_name.is_some() as i64)
        .bind(update.last_name.clone().flatten())
        .bind(update.picture.is_some() as i64)
        .bind(update.picture.clone().flatten())
        .bind(now)
        .fetch_optional(self.writer())
        .await?)
    }

    /// The user's saved preferences; `None` until saved.
    pub async fn preferences(&self, user_id: &str) -> StoreResult<Option<PreferencesRow>> {
        self.one_by(
            "SELECT language, unit_system FROM user_preferences WHERE user_id = $1",
            user_id,
        )
        .await
    }

    /// Saves the user's preferences (insert or replace).
    pub async fn put_preferences(
        &self,
        user_id: &str,
        prefs: &PreferencesRow,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO user_preferences (user_id, language, unit_system, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) DO UPDATE SET \
             language = excluded.language, unit_system = excluded.unit_system, \
             updated_at = excluded.updated_at",
        )
        .bind(user_id)
        .bind(&prefs.language)
        .bind(&prefs.unit_system)
        .bind(now)
        .execute(self.writer())
        .await?;
        Ok(())
    }
}
