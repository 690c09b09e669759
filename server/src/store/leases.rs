//! Leases: a job that several replicas could run (housekeeping) runs in one of them per
//! round. Taking one is a single conditional UPDATE, so two replicas cannot both win.

use super::{Store, StoreResult};

impl Store {
    /// Takes the lease `name` for `holder` until `until` if it is free at `now` (expired, or
    /// already this holder's). `true` when taken.
    pub async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        until: i64,
    ) -> StoreResult<bool> {
        let taken = sqlx::query(
            "UPDATE leases SET holder = $2, until = $3 \
             WHERE name = $1 AND (until <= $4 OR holder = $2)",
        )
        .bind(name)
        .bind(holder)
        .bind(until)
        .bind(now)
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(taken == 1)
    }
}
