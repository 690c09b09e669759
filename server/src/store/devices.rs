//! `/users/me/devices/{deviceId}/wrap-secret`, `/users/me/device-wrap-secrets/rotate`: the
//! per-device secrets that wrap a browser's cached seed.

use super::{Store, StoreResult};

impl Store {
    /// The device's secret, created with `fresh` on first use. Reads first, so the usual
    /// call writes nothing; racing first calls both insert-or-ignore, then read the one row
    /// that won.
    pub async fn device_secret(
        &self,
        user_id: &str,
        device_id: &str,
        fresh: &str,
        now: i64,
    ) -> StoreResult<String> {
        let read = || {
            sqlx::query_as::<_, (String,)>(
                "SELECT secret FROM device_wrap_secrets WHERE user_id = $1 AND device_id = $2",
            )
            .bind(user_id)
            .bind(device_id)
        };
        if let Some((secret,)) = read().fetch_optional(self.reader()).await? {
            return Ok(secret);
        }
        sqlx::query(
            "INSERT INTO device_wrap_secrets (user_id, device_id, secret, created_at, rotated_at) \
             VALUES ($1, $2, $3, $4, $4) ON CONFLICT (user_id, device_id) DO NOTHING",
        )
        .bind(user_id)
        .bind(device_id)
        .bind(fresh)
        .bind(now)
        .execute(self.writer())
        .await?;
        let (secret,) = read().fetch_one(self.writer()).await?;
        Ok(secret)
    }

    /// Whether the device has a wrap secret.
    pub async fn device_secret_exists(&self, user_id: &str, device_id: &str) -> StoreResult<bool> {
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT 1 FROM device_wrap_secrets WHERE user_id = $1 AND device_id = $2",
        )
        .bind(user_id)
        .bind(device_id)
        .fetch_optional(self.reader())
        .await?;
        Ok(row.is_some())
    }

    /// How many devices have a wrap secret.
    pub async fn device_count(&self, user_id: &str) -> StoreResult<i64> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM device_wrap_secrets WHERE user_id = $1")
                .bind(user_id)
                .fetch_one(self.reader())
                .await?;
        Ok(n)
    }

    /// Forgets one device's secret (sign-out): a seed this device cached under it can no
    /// longer be unwrapped; the next read creates a new secret.
    pub async fn delete_device_secret(&self, user_id: &str, device_id: &str) -> StoreResult<bool> {
        self.delete_owned("device_wrap_secrets", "device_id", user_id, device_id)
            .await
    }

    /// Gives every device secret of the user (except `keep`) a fresh value, in one
    /// transaction.
    pub async fn rotate_device_secrets(
        &self,
        user_id: &str,
        keep: Option<&str>,
        mut fresh: impl FnMut() -> String,
        now: i64,
    ) -> StoreResult<u64> {
        let mut tx = self.writer().begin().await?;
        let devices: Vec<(String,)> = sqlx::query_as(
            "SELECT device_id FROM device_wrap_secrets WHERE user_id = $1 AND device_id <> $2",
        )
        .bind(user_id)
        .bind(keep.unwrap_or(""))
        .fetch_all(&mut *tx)
        .await?;
        for (device_id,) in &devices {
            sqlx::query(
                "UPDATE device_wrap_secrets SET secret = $3, rotated_at = $4 \
                 WHERE user_id = $1 AND device_id = $2",
            )
            .bind(user_id)
            .bind(device_id)
            .bind(fresh())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(devices.len() as u64)
    }
}
