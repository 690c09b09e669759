//! This server's federation identity key: `PARCHMENT_SERVER_KEY`, or the key file in the data
//! directory, created (mode 0600, in a 0700 directory) on first start.

use std::path::{Path, PathBuf};

use anyhow::Context;
use parchment_core::keys::Ed25519SecretKey;
use parchment_core::rand_core::OsRng;

use crate::config::ServeArgs;

/// The key file: `--server-key-file`, or `server.key` in the data directory.
pub fn file_path(key_file: Option<&Path>, data_dir: &Path) -> PathBuf {
    key_file
        .map(Path::to_path_buf)
        .unwrap_or_else(|| data_dir.join("server.key"))
}

/// `PARCHMENT_SERVER_KEY` wins; otherwise the key file, created (mode 0600) when absent.
pub fn load(args: &ServeArgs, data_dir: &Path) -> anyhow::Result<Ed25519SecretKey> {
    if let Some(text) = &args.server_key {
        return Ed25519SecretKey::from_base64(text.trim())
            .map_err(|e| anyhow::anyhow!("PARCHMENT_SERVER_KEY is not a base64 Ed25519 key: {e}"));
    }
    let path = file_path(args.server_key_file.as_deref(), data_dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ed25519SecretKey::from_base64(text.trim())
            .map_err(|e| anyhow::anyhow!("{} is not a base64 Ed25519 key: {e}", path.display())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let key = Ed25519SecretKey::generate(&mut OsRng);
            write_private(&path, key.export_base64().as_bytes())
                .with_context(|| format!("creating server key {}", path.display()))?;
            tracing::info!(path = %path.display(), public_key = %key.public_key().to_base64(), "created server key");
            Ok(key)
        }
        Err(err) => Err(err).with_context(|| format!("reading server key {}", path.display())),
    }
}

/// Writes a new key file (mode 0600, in a private directory); fails if it exists.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(parent) = path.parent() {
        crate::store::private_files::create_private_dir(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.write_all(b"\n")
}
