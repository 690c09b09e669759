//! The data directory and the SQLite files on disk: only the server's user may read them
//! (the database holds sessions' digests, OTP digests and everything users stored).

use std::path::Path;

/// Creates `dir` (and missing parents) with mode 0700. A directory that already exists is
/// left as its owner set it (it may be shared, e.g. `/var/lib`).
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.as_os_str().is_empty() || dir.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Before SQLite opens `db`: its directory private (when we create it), the file created
/// 0600 if absent, and an existing file and its `-wal`/`-shm` companions set to 0600.
/// SQLite creates the WAL and shared-memory files with the database file's mode.
pub fn prepare_sqlite_file(db: &Path) -> std::io::Result<()> {
    if let Some(parent) = db.parent() {
        create_private_dir(parent)?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(db)?;
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut name = db.as_os_str().to_owned();
            name.push(suffix);
            let path = Path::new(&name);
            if path.exists() {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
            }
        }
    }
    Ok(())
}

/// Creates `file` empty with mode 0600 (it must not exist): a private file to fill later.
pub fn create_private_file(file: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(file).map(drop)
}

/// Sets `file` to mode 0600.
pub fn make_private(file: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn new_dir_and_database_are_private() {
        let root = tempfile::TempDir::new().expect("tmp");
        let dir = root.path().join("data");
        let db = dir.join("parchment.db");
        prepare_sqlite_file(&db).expect("prepare");
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&db), 0o600);
        let wal = dir.join("parchment.db-wal");
        std::fs::write(&wal, b"").expect("wal");
        std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        prepare_sqlite_file(&db).expect("prepare again");
        assert_eq!(mode(&wal), 0o600);
    }
}
