//! `parchment-server backup --to FILE` and `restore --from FILE`: one file that brings a
//! SQLite server back, its database and its federation identity (the server key peers have
//! pinned). On PostgreSQL the database's own tools (`pg_dump`) are the right ones.
//!
//! - Backup is online and consistent: `VACUUM INTO` copies one snapshot of the database
//!   while the server keeps writing. It goes to a temporary file (mode 0600) beside the
//!   target, gets the server key in a `parchment_backup` table, and is renamed into place
//!   only when complete: a failed backup leaves nothing that looks like one.
//! - Restore refuses to overwrite a database, checks the file (`PRAGMA integrity_check`,
//!   migrations table), writes the key file if the backup has one (refusing a different
//!   existing key), then migrates, so an older backup is brought up to this build.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use sqlx::{Connection, SqliteConnection};

use crate::config::DbArgs;
use crate::store::{private_files, Backend, Store};

/// The table the backup carries the server key in (removed again on restore).
const META_TABLE: &str = "parchment_backup";

/// Where the server key file lives for `db` (where `serve` reads or creates it).
pub fn key_path(db: &DbArgs, key_file: Option<&Path>) -> PathBuf {
    crate::server_key::file_path(key_file, &db.data_dir)
}

/// `backup --to FILE`. Returns what was written, for the operator.
pub async fn backup(db: &DbArgs, to: &Path, key_file: Option<&Path>) -> anyhow::Result<String> {
    let store = Store::connect(&db.url())
        .await
        .context("connecting to the database")?;
    if store.backend() == Backend::Postgres {
        let version = store.server_version().await.unwrap_or_default();
        store.close().await;
        bail!(
            "this server uses PostgreSQL{}: back it up with pg_dump of the same or a newer major \
             version (e.g. `pg_dump --format=custom --file=parchment.dump \"$DATABASE_URL\"`), and \
             keep the server key (PARCHMENT_SERVER_KEY or its key file) beside the dump",
            if version.is_empty() {
                String::new()
            } else {
                format!(" {version}")
            }
        );
    }
    if to.exists() {
        store.close().await;
        bail!("{} exists; choose a new file name", to.display());
    }
    let partial = partial_path(to);
    let _ = std::fs::remove_file(&partial);
    // Created empty and private first: VACUUM INTO fills an empty file, and the copy is
    // never readable by others, not even for a moment.
    if let Err(err) = private_files::create_private_file(&partial) {
        store.close().await;
        return Err(err).with_context(|| format!("creating {}", partial.display()));
    }
    let copied = store.vacuum_into(&partial).await;
    store.close().await;
    if let Err(err) = copied {
        let _ = std::fs::remove_file(&partial);
        return Err(err).with_context(|| format!("copying the database to {}", partial.display()));
    }
    let result = async {
        let key_path = key_path(db, key_file);
        let key = match std::fs::read_to_string(&key_path) {
            Ok(text) => Some(text.trim().to_owned()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(err) => return Err(err).with_context(|| format!("reading {}", key_path.display())),
        };
        let mut conn = SqliteConnection::connect(&sqlite_url(&partial, "rw")).await?;
        sqlx::query(&format!(
            "CREATE TABLE {META_TABLE} (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
        ))
        .execute(&mut conn)
        .await?;
        if let Some(key) = &key {
            sqlx::query(&format!(
                "INSERT INTO {META_TABLE} (name, value) VALUES ('server_key', $1)"
            ))
            .bind(key)
            .execute(&mut conn)
            .await?;
        }
        conn.close().await?;
        // A hard link fails if `to` appeared meanwhile: a backup never replaces a file.
        std::fs::hard_link(&partial, to)
            .with_context(|| format!("creating {} (it must not exist)", to.display()))?;
        std::fs::remove_file(&partial)?;
        Ok(match key {
            Some(_) => format!(
                "backed up the database and the server key to {}",
                to.display()
            ),
            None => format!(
                "backed up the database to {} (no key file at {}: keep PARCHMENT_SERVER_KEY \
                 with the backup)",
                to.display(),
                key_path.display()
            ),
        })
    }
    .await;
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// `restore --from FILE` into the data directory of `db` (SQLite only).
pub async fn restore(db: &DbArgs, from: &Path, key_file: Option<&Path>) -> anyhow::Result<String> {
    let url = db.url();
    if !url.starts_with("sqlite:") {
        bail!("restore is for SQLite; on PostgreSQL use pg_restore with the dump pg_dump made");
    }
    let target = crate::store::sqlite_path(&url).context("the database URL names no file")?;
    if target.exists() {
        bail!(
            "{} exists: restore only into a fresh data directory (move the old one away first)",
            target.display()
        );
    }
    let mut source = SqliteConnection::connect(&sqlite_url(from, "ro"))
        .await
        .with_context(|| format!("opening {}", from.display()))?;
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut source)
        .await
        .with_context(|| format!("{} is not a SQLite database", from.display()))?;
    if check != "ok" {
        bail!("{} is damaged: {check}", from.display());
    }
    let has = |table: &'static str| {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM sqlite_master WHERE name = $1")
            .bind(table)
    };
    if has("_sqlx_migrations").fetch_one(&mut source).await? == 0 {
        bail!("{} is not a Parchment backup", from.display());
    }
    let key: Option<String> = if has(META_TABLE).fetch_one(&mut source).await? == 1 {
        sqlx::query_scalar(&format!(
            "SELECT value FROM {META_TABLE} WHERE name = 'server_key'"
        ))
        .fetch_optional(&mut source)
        .await?
    } else {
        None
    };
    source.close().await?;

    let key_path = key_path(db, key_file);
    if let Some(key) = &key {
        match std::fs::read_to_string(&key_path) {
            Ok(existing) if existing.trim() != key => bail!(
                "{} holds another server key; this backup's server has a different identity \
                 (move the key file away to restore it)",
                key_path.display()
            ),
            _ => {}
        }
    }
    if let Some(parent) = target.parent() {
        private_files::create_private_dir(parent)?;
    }
    let partial = partial_path(&target);
    let _ = std::fs::remove_file(&partial);
    let result = async {
        std::fs::copy(from, &partial).with_context(|| format!("copying {}", from.display()))?;
        private_files::make_private(&partial)?;
        let mut conn = SqliteConnection::connect(&sqlite_url(&partial, "rw")).await?;
        sqlx::query(&format!("DROP TABLE IF EXISTS {META_TABLE}"))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        std::fs::rename(&partial, &target)?;
        anyhow::Ok(())
    }
    .await;
    if let Err(err) = result {
        let _ = std::fs::remove_file(&partial);
        return Err(err);
    }
    let wrote_key = match &key {
        Some(key) if !key_path.exists() => {
            crate::server_key::write_private(&key_path, key.as_bytes())
                .with_context(|| format!("writing {}", key_path.display()))?;
            true
        }
        _ => false,
    };
    let store = Store::connect(&url).await?;
    let migrated = store.migrate().await;
    store.close().await;
    migrated.context("migrating the restored database")?;
    Ok(format!(
        "restored {} into {}{}",
        from.display(),
        target.display(),
        if wrote_key {
            format!(" and the server key into {}", key_path.display())
        } else {
            String::new()
        }
    ))
}

/// `FILE.partial` beside `file`.
fn partial_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

fn sqlite_url(path: &Path, mode: &str) -> String {
    format!("sqlite://{}?mode={mode}", path.display())
}
