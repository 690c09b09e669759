//! `parchment-server doctor`: checks the configuration self-hosters get wrong and says what
//! to fix: the public URL, the server key file, the data directory, the database, mail, and
//! (with `--peer`) the clock against a peer's. Reads the same flags and environment as
//! `serve`; changes nothing.

use std::net::IpAddr;
use std::path::Path;

use crate::config::{DbArgs, ServeArgs};
use crate::service::mail::Mailer;
use crate::store::Store;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Fine.
    Ok,
    /// Works, but worth changing.
    Warn,
    /// Will not work as configured.
    Fail,
}

/// One check's outcome: what was looked at, and what to do about it.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The verdict.
    pub verdict: Verdict,
    /// What was checked and what was found.
    pub what: String,
    /// What to change (empty when nothing).
    pub fix: String,
}

fn finding(verdict: Verdict, what: impl Into<String>, fix: impl Into<String>) -> Finding {
    Finding {
        verdict,
        what: what.into(),
        fix: fix.into(),
    }
}

/// Clock skew beyond which peers start refusing (the window is ±300 s) and the warning
/// threshold below it.
const SKEW_FAIL_MS: i64 = 300_000;
const SKEW_WARN_MS: i64 = 30_000;

/// Runs every check; `peer` is a host[:port] to compare clocks with.
pub async fn run(db: &DbArgs, args: &ServeArgs, peer: Option<&str>) -> Vec<Finding> {
    let mut out = vec![public_url(args)];
    out.push(server_key(db, args));
    out.push(data_dir(&db.data_dir));
    out.push(database(&db.url()).await);
    out.push(mail(args).await);
    if let Some(peer) = peer {
        out.push(clock(args, peer).await);
    }
    out
}

fn public_url(args: &ServeArgs) -> Finding {
    let Some(url) = &args.public_url else {
        return finding(
            Verdict::Fail,
            "PARCHMENT_PUBLIC_URL is not set",
            "set it to the https origin users and peers reach, e.g. https://maps.example.com: \
             its host is your federation domain and passkeys are bound to it",
        );
    };
    let host = url.host_str().unwrap_or_default();
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !url.path().trim_end_matches('/').is_empty() || url.query().is_some() {
        return finding(
            Verdict::Fail,
            format!("PARCHMENT_PUBLIC_URL {url} has a path or query"),
            "use the bare origin (scheme://host[:port]); Parchment must be served at the root",
        );
    }
    if host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok() && !loopback {
        return finding(
            Verdict::Fail,
            format!("PARCHMENT_PUBLIC_URL {url} names an IP address"),
            "use a domain name: peers refuse IP-literal handles and TLS needs a name",
        );
    }
    if url.scheme() != "https" && !loopback {
        return finding(
            Verdict::Fail,
            format!("PARCHMENT_PUBLIC_URL {url} is not https"),
            "serve it over TLS (a reverse proxy, see deploy/) and set an https:// URL: peers \
             only federate over https, and cookies are only Secure on https",
        );
    }
    if url.scheme() != "https" {
        return finding(
            Verdict::Warn,
            format!("PARCHMENT_PUBLIC_URL {url} is plain http on loopback"),
            "fine for local testing; a server others reach needs https",
        );
    }
    finding(Verdict::Ok, format!("public URL {url}"), "")
}

fn server_key(db: &DbArgs, args: &ServeArgs) -> Finding {
    if let Some(text) = &args.server_key {
        return match parchment_core::keys::Ed25519SecretKey::from_base64(text.trim()) {
            Ok(_) => finding(Verdict::Ok, "server key from PARCHMENT_SERVER_KEY", ""),
            Err(e) => finding(
                Verdict::Fail,
                format!("PARCHMENT_SERVER_KEY is not a base64 Ed25519 key: {e}"),
                "make one with `parchment-server keygen` (peers pin it: keep it once in use)",
            ),
        };
    }
    let path = crate::backup::key_path(db, args.server_key_file.as_deref());
    let meta = match std::fs::metadata(&path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return finding(
                Verdict::Warn,
                format!("no server key at {}", path.display()),
                "one is created on first start: back it up then, peers pin it",
            )
        }
        Err(e) => {
            return finding(
                Verdict::Fail,
                format!("{}: {e}", path.display()),
                "make the key file readable by the server's user",
            )
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return finding(
                Verdict::Fail,
                format!(
                    "{} has mode {mode:o}: others can read the server's identity",
                    path.display()
                ),
                format!("chmod 600 {}", path.display()),
            );
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    match std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| parchment_core::keys::Ed25519SecretKey::from_base64(t.trim()).ok())
    {
        Some(_) => finding(Verdict::Ok, format!("server key {}", path.display()), ""),
        None => finding(
            Verdict::Fail,
            format!("{} does not hold a base64 Ed25519 key", path.display()),
            "restore it from your backup (peers have pinned the old one)",
        ),
    }
}

fn data_dir(dir: &Path) -> Finding {
    if !dir.exists() {
        return finding(
            Verdict::Warn,
            format!("data directory {} does not exist", dir.display()),
            "it is created (mode 0700) on first start; check PARCHMENT_DATA_DIR if unexpected",
        );
    }
    let probe = dir.join(format!(".doctor-{}", crate::secrets::random_id()));
    if let Err(e) = std::fs::write(&probe, b"") {
        return finding(
            Verdict::Fail,
            format!("data directory {} is not writable: {e}", dir.display()),
            "give the server's user write access to it (ReadWritePaths= in the systemd unit)",
        );
    }
    let _ = std::fs::remove_file(&probe);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0);
        if mode & 0o077 != 0 {
            return finding(
                Verdict::Warn,
                format!("data directory {} has mode {mode:o}", dir.display()),
                format!(
                    "chmod 700 {}: it holds the database and the key",
                    dir.display()
                ),
            );
        }
    }
    finding(Verdict::Ok, format!("data directory {}", dir.display()), "")
}

async fn database(url: &str) -> Finding {
    let shown = url.split('@').next_back().unwrap_or(url);
    if let Some(file) = crate::store::sqlite_path(url).filter(|f| !f.exists()) {
        return finding(
            Verdict::Warn,
            format!("no database at {} yet", file.display()),
            "it is created on first start (or run `parchment-server migrate`)",
        );
    }
    let store = match Store::connect(url).await {
        Ok(store) => store,
        Err(e) => {
            return finding(
                Verdict::Fail,
                format!("database {shown}: {e}"),
                "check DATABASE_URL and that the database server is up",
            )
        }
    };
    let ready = store.ready().await;
    store.close().await;
    match ready {
        Ok(true) => finding(Verdict::Ok, format!("database {shown}, migrated"), ""),
        Ok(false) => finding(
            Verdict::Fail,
            format!("database {shown} is behind this build"),
            "run `parchment-server migrate`",
        ),
        Err(_) => finding(
            Verdict::Fail,
            format!("database {shown} has no migrations applied"),
            "run `parchment-server migrate`",
        ),
    }
}

async fn mail(args: &ServeArgs) -> Finding {
    let mailer = match Mailer::new(
        args.smtp_url.as_deref(),
        args.mail_from.as_deref(),
        args.mail_dir.clone(),
    ) {
        Ok(mailer) => mailer,
        Err(e) => {
            return finding(
                Verdict::Fail,
                e.to_string(),
                "fix PARCHMENT_SMTP_URL / PARCHMENT_MAIL_FROM",
            )
        }
    };
    match mailer.probe().await {
        Ok(what) => finding(Verdict::Ok, what, ""),
        Err(what) => finding(
            Verdict::Fail,
            what,
            "set PARCHMENT_SMTP_URL (smtps://user:pass@host) and PARCHMENT_MAIL_FROM, and \
             check the host, port and credentials",
        ),
    }
}

async fn clock(args: &ServeArgs, peer: &str) -> Finding {
    let client = match crate::federation::Client::new(args.federation_allow_http) {
        Ok(client) => client,
        Err(e) => return finding(Verdict::Fail, format!("HTTP client: {e}"), ""),
    };
    let host = peer.trim().to_ascii_lowercase();
    match client.peer_clock(&host).await {
        Ok(theirs) => {
            let skew = chrono::Utc::now().timestamp_millis() - theirs;
            let what = format!("clock {:+.1} s against {host}", skew as f64 / 1000.0);
            if skew.abs() >= SKEW_FAIL_MS {
                finding(
                    Verdict::Fail,
                    what,
                    "peers refuse messages more than 300 s off: run an NTP client (systemd-timesyncd, chrony)",
                )
            } else if skew.abs() >= SKEW_WARN_MS {
                finding(
                    Verdict::Warn,
                    what,
                    "run an NTP client (systemd-timesyncd, chrony)",
                )
            } else {
                finding(Verdict::Ok, what, "")
            }
        }
        Err(e) => finding(
            Verdict::Fail,
            format!("peer {host}: {e}"),
            "check the peer's name and that this server can reach it over https",
        ),
    }
}

/// The report as printed, one line per check (and its fix).
pub fn report(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        let tag = match f.verdict {
            Verdict::Ok => "ok  ",
            Verdict::Warn => "warn",
            Verdict::Fail => "FAIL",
        };
        out.push_str(&format!("{tag}  {}\n", f.what));
        if !f.fix.is_empty() {
            out.push_str(&format!("      fix: {}\n", f.fix));
        }
    }
    out
}
