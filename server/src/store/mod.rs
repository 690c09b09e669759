//! SQL. One `Store` over `sqlx::AnyPool`: every query is written once with `$n` placeholders,
//! which both SQLite and PostgreSQL accept; timestamps are Unix milliseconds.

mod blobs;
mod collections;
mod device_transfers;
mod devices;
mod events;
mod federation;
mod friends;
mod identity;
mod inbox;
mod incoming_shares;
mod key_slots;
mod keys;
mod leases;
mod location_sharing;
mod otp;
mod outbox;
mod passkeys;
mod placeholders;
pub mod private_files;
mod rate_limits;
mod revocations;
mod sessions;
pub mod states;
mod users;

pub use blobs::{BlobInfoRow, BlobRow};
pub use collections::{CollectionRow, CollectionShareRow, ContentWrite};
pub use device_transfers::{NewTransfer, TransferRow};
pub use events::{EventRow, EventSubscription, NewEvent};
pub use federation::{PeerManifest, PeerRow};
pub use friends::{FriendRow, InvitationRow, LocationRow, NewFriendship};
pub use identity::WIPED_TABLES;
pub use inbox::{
    Delivery, DeliveryEffect, DeliveryOutcome, FriendEffect, InboxTx,
    MAX_PENDING_SHARES_PER_FRIEND, MAX_WITHDRAWN_SHARES_PER_FRIEND,
};
pub use incoming_shares::IncomingShareRow;
pub use key_slots::{NewSlot, SlotRow};
pub use keys::{Commit, CommitCollection, CommitRefused};
pub use location_sharing::{Queued, SharingRow};
pub use otp::OtpRow;
pub use outbox::{NewOutboxRow, OutboxRow};
pub use passkeys::{ChallengeRow, PasskeyRow};
pub use revocations::RevocationRow;
pub use sessions::{NewSession, SessionLookup, SessionRow};
pub use states::{InvitationDirection, InvitationStatus, OutboxStatus};
pub use users::{NewUser, PreferencesRow, ProfileUpdate, UserListRow, UserRow};

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, ConnectOptions, Executor, FromRow};

/// One set of migrations for both databases: every statement is in the subset SQLite and
/// PostgreSQL share (the same way every query is).
static MIGRATIONS: Migrator = sqlx::migrate!("src/store/migrations");

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is neither SQLite nor PostgreSQL.
    #[error("unsupported database URL (expected sqlite:// or postgres://)")]
    UnsupportedUrl,
    /// A unique index refused the write; the caller decides what that means.
    #[error("unique constraint violated")]
    UniqueViolation,
    /// Any other database error.
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// Applying the migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value does not parse (e.g. an unknown state word).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The SQLite file or its directory could not be created or made private.
    #[error("database files: {0}")]
    Files(std::io::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            if db.is_unique_violation() {
                return StoreError::UniqueViolation;
            }
        }
        StoreError::Database(err)
    }
}

/// What a store call returns.
pub type StoreResult<T> = Result<T, StoreError>;

/// The database engine behind a [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file (or memory).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// On SQLite, writes go through one connection of their own: SQLite runs one writer at a
/// time anyway, and writers queued in the pool wait their turn without the busy handler's
/// sleep-and-retry (which capped inbox throughput and blew up tail latency). Reads use the
/// other pool, whose connections are `query_only`, so a write routed wrongly fails loudly.
/// On PostgreSQL both are the same pool.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    writer: AnyPool,
    backend: Backend,
    /// What it connected to (the PostgreSQL event listener opens its own connection).
    url: Arc<str>,
    /// Who waits for which user's events in this process (`GET /events`).
    event_wake: Arc<events::EventWake>,
}

impl Store {
    /// Connects (creating the SQLite file and its directory if needed). Does not migrate.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        if backend == Backend::Sqlite {
            prepare_sqlite(url)?;
        }
        let options = AnyConnectOptions::from_str(url)?
            .log_statements(tracing::log::LevelFilter::Trace)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500));
        let (pool, writer) = match backend {
            Backend::Sqlite => {
                let writer = sqlite_pool(1, false).connect_with(options.clone()).await?;
                // Readers connect after the writer, so the file exists and is in WAL mode.
                let readers = sqlite_pool(4, true).connect_with(options).await?;
                (readers, writer)
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .test_before_acquire(false)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await?;
                (pool.clone(), pool)
            }
        };
        Ok(Store {
            pool,
            writer,
            backend,
            url: url.into(),
            event_wake: Arc::default(),
        })
    }

    /// Applies the migrations not applied yet.
    pub async fn migrate(&self) -> StoreResult<()> {
        MIGRATIONS.run(&self.writer).await?;
        Ok(())
    }

    /// Which engine this store runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes both pools (waits for connections in use to be returned).
    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }

    /// (pool, open connections, idle connections) for each pool (`metrics`).
    pub fn pool_usage(&self) -> Vec<(&'static str, u32, usize)> {
        match self.backend {
            Backend::Sqlite => vec![
                ("read", self.pool.size(), self.pool.num_idle()),
                ("write", self.writer.size(), self.writer.num_idle()),
            ],
            Backend::Postgres => vec![("shared", self.pool.size(), self.pool.num_idle())],
        }
    }

    /// Whether the database answers and every migration this build knows is applied
    /// (`GET /readyz`).
    pub async fn ready(&self) -> StoreResult<bool> {
        let applied: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
                .fetch_one(self.reader())
                .await?;
        Ok(applied >= MIGRATIONS.iter().count() as i64)
    }

    /// SQLite: writes one consistent copy of the database into `path` (an empty file), while
    /// others keep writing (`VACUUM INTO`).
    pub async fn vacuum_into(&self, path: &std::path::Path) -> StoreResult<()> {
        sqlx::query("VACUUM INTO $1")
            .bind(path.display().to_string())
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// PostgreSQL: the server's version (`SHOW server_version`).
    pub async fn server_version(&self) -> StoreResult<String> {
        Ok(sqlx::query_scalar("SHOW server_version")
            .fetch_one(self.reader())
            .await?)
    }

    /// The pool for statements that only read.
    fn reader(&self) -> &AnyPool {
        &self.pool
    }

    /// The pool for anything that writes, and for every transaction.
    fn writer(&self) -> &AnyPool {
        &self.writer
    }

    /// The rows `sql` selects with `$1` bound to `key` (e.g. every row of one user).
    async fn all_by<T>(&self, sql: &str, key: &str) -> StoreResult<Vec<T>>
    where
        T: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
    {
        Ok(sqlx::query_as(sql)
            .bind(key)
            .fetch_all(self.reader())
            .await?)
    }

    /// The row `sql` selects with `$1` bound to `key`, if there is one.
    async fn one_by<T>(&self, sql: &str, key: &str) -> StoreResult<Option<T>>
    where
        T: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
    {
        Ok(sqlx::query_as(sql)
            .bind(key)
            .fetch_optional(self.reader())
            .await?)
    }

    /// Deletes the row of `user_id` whose `key_column` is `key` (unique per user in every
    /// table it is used on); `false` when there was none. `table` and `key_column` are names
    /// written in this crate, never input.
    async fn delete_owned(
        &self,
        table: &str,
        key_column: &str,
        user_id: &str,
        key: &str,
    ) -> StoreResult<bool> {
        let done = sqlx::query(&format!(
            "DELETE FROM {table} WHERE user_id = $1 AND {key_column} = $2"
        ))
        .bind(user_id)
        .bind(key)
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Housekeeping: runs `DELETE FROM <table> WHERE <condition>` for each entry, in order,
    /// with `$1` bound to the entry's bound (tables and conditions are written in this crate).
    async fn delete_where(&self, deletes: &[(&str, &str, i64)]) -> StoreResult<()> {
        for (table, condition, bound) in deletes {
            sqlx::query(&format!("DELETE FROM {table} WHERE {condition}"))
                .bind(*bound)
                .execute(self.writer())
                .await?;
        }
        Ok(())
    }
}

fn sqlite_pool(max_connections: u32, read_only: bool) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max_connections)
        // No ping round trip per acquire: a broken connection fails its statement, which
        // surfaces as an error anyway, and the pool drops it.
        .test_before_acquire(false)
        // Long enough to queue behind the largest km-version commit (10,000 blobs ≈ 1.5 s).
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                // WAL lets readers run beside the writer; busy_timeout covers a second
                // process (the admin CLI) writing; foreign keys are off by default.
                conn.execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
                )
                .await?;
                if read_only {
                    // 1 MiB of page cache per reader instead of 2 (−3 MB after the inbox
                    // benchmark, no slower); the writer keeps 2 for large transactions.
                    conn.execute("PRAGMA query_only = ON; PRAGMA cache_size = -1024;")
                        .await?;
                }
                Ok(())
            })
        })
}

fn prepare_sqlite(url: &str) -> StoreResult<()> {
    match sqlite_path(url) {
        Some(path) => private_files::prepare_sqlite_file(&path).map_err(StoreError::Files),
        None => Ok(()),
    }
}

/// The file a `sqlite:` URL names (`None` for other URLs, in-memory databases and `file:`
/// URIs).
pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:" && !path.starts_with("file:"))
        .then(|| std::path::PathBuf::from(path))
}
