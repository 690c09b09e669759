//! The counters of the fixed-window rate limits (shared by every replica).

use super::{Store, StoreResult};

impl Store {
    /// Counts one hit for `key` in the fixed window starting at `window_start` and returns the
    /// hits so far in that window. One atomic upsert, so every replica shares the count.
    pub async fn hit_rate_limit(&self, key: &str, window_start: i64) -> StoreResult<i64> {
        let (hits,): (i64,) = sqlx::query_as(
            "INSERT INTO rate_limits (key, window_start, hits) VALUES ($1, $2, 1) \
             ON CONFLICT (key) DO UPDATE SET \
             hits = CASE WHEN rate_limits.window_start = excluded.window_start \
                    THEN rate_limits.hits + 1 ELSE 1 END, \
             window_start = excluded.window_start \
             RETURNING hits",
        )
        .bind(key)
        .bind(window_start)
        .fetch_one(self.writer())
        .await?;
        Ok(hits)
    }
}
