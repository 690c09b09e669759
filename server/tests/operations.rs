//! Running one server: `/healthz`, `/readyz`, metrics on their own listener, `backup` of a
//! running server under writes and `restore` into a fresh data directory, and `doctor`.
//! Real server processes; SQLite always, PostgreSQL when `PARCHMENT_TEST_POSTGRES_URL` is set.

mod common;
mod peers;

use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use common::Db;
use peers::*;
use serde_json::json;

db_tests!(
    probes_answer_and_readiness_follows_migrations,
    metrics_are_served_on_their_own_address_only,
    backup_under_writes_restores_users_and_keys,
    doctor_says_what_to_fix,
);

async fn probes_answer_and_readiness_follows_migrations(db: Db) {
    let peer = Peer::start(db).await;
    for (path, status) in [("/healthz", "ok"), ("/readyz", "ready")] {
        let resp = reqwest::get(peer.url(path)).await.expect("probe");
        assert_eq!(resp.status(), 200, "{path}");
        let body: serde_json::Value = resp.json().await.expect("json");
        assert_eq!(body, json!({ "status": status }));
    }
    // A migration this build knows but the database lacks: not ready, still alive.
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&peer.db_url)
        .await
        .expect("db");
    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    )
    .execute(&mut conn)
    .await
    .expect("forget a migration");
    let resp = reqwest::get(peer.url("/readyz")).await.expect("probe");
    assert_eq!(resp.status(), 503);
    let resp = reqwest::get(peer.url("/healthz")).await.expect("probe");
    assert_eq!(resp.status(), 200);
}

async fn metrics_are_served_on_their_own_address_only(db: Db) {
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let peer = Peer::start_with(db, &["--metrics-bind", &bind]).await;
    let alice = peer.user("alice").await;
    peer.call("GET", "/users/me/identity", &alice, None)
        .await
        .ok();
    let inbox = reqwest::Client::new()
        .post(peer.url("/federation/inbox"))
        .json(&json!({ "message_type": "FRIEND_INVITE" }))
        .send()
        .await
        .expect("inbox");
    assert!(inbox.status().is_client_error());
    // Any method token is valid HTTP: unknown ones share one label value.
    for i in 0..5 {
        let method = reqwest::Method::from_bytes(format!("ZZTOP{i}").as_bytes()).expect("method");
        reqwest::Client::new()
            .request(method, peer.url("/users"))
            .send()
            .await
            .expect("odd method");
    }
    let text = reqwest::get(format!("http://{bind}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for series in [
        "parchment_http_requests_total{route=\"/users/me/identity\",method=\"GET\",status=\"200\"} 1",
        "parchment_http_request_duration_seconds_bucket{route=\"/users/me/identity\"",
        "parchment_inbox_messages_total{type=\"FRIEND_INVITE\",outcome=\"validation_failed\"} 1",
        "parchment_outbox_pending 0",
        "parchment_db_pool_connections{pool=",
        "parchment_push_streams 0",
    ] {
        assert!(text.contains(series), "missing {series} in:\n{text}");
    }
    assert!(!text.contains("ZZTOP"), "no series per method token");
    assert!(text.contains("method=\"other\""), "{text}");
    // Not on the public listener.
    let public = reqwest::get(peer.url("/metrics")).await.expect("get");
    assert_ne!(public.status(), 200);
}

fn cli(peer: &Peer, data_dir: &std::path::Path, db_url: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("--data-dir")
        .arg(data_dir)
        .arg("--database-url")
        .arg(db_url)
        .env("RUST_LOG", "warn");
    let _ = peer;
    cmd
}

async fn backup_under_writes_restores_users_and_keys(db: Db) {
    let peer = Peer::start(db).await;
    let alice = peer.user("alice").await;
    let key_file = peer.dir.path().join("the.key");
    std::fs::write(&key_file, peer.key.export_base64().as_str()).expect("key file");
    let backup = peer.dir.path().join("backup.db");
    let backup_command = || {
        let mut cmd = cli(&peer, peer.dir.path(), &peer.db_url);
        cmd.arg("backup")
            .arg("--to")
            .arg(&backup)
            .arg("--server-key-file")
            .arg(&key_file);
        cmd
    };
    let run_backup = || backup_command().output().expect("run backup");
    if matches!(db, Db::Postgres) {
        let out = run_backup();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("pg_dump"), "{err}");
        assert!(!backup.exists());
        return;
    }
    // Writes go on while the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (stop, written) = (stop.clone(), written.clone());
        let (http, url, token) = (
            peer.http.clone(),
            peer.url("/users/me/preferences"),
            alice.token.clone(),
        );
        tokio::spawn(async move {
            let mut i = 0u32;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let units = if i % 2 == 0 { "metric" } else { "imperial" };
                let resp = http
                    .put(&url)
                    .bearer_auth(&token)
                    .json(&json!({ "unitSystem": units }))
                    .send()
                    .await;
                if resp.is_ok_and(|r| r.status().is_success()) {
                    written.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    while written.load(Ordering::Relaxed) < 5 {
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut cmd = backup_command();
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("backup task")
        .expect("run backup");
    stop.store(true, Ordering::Relaxed);
    writer.await.expect("writer");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(written.load(Ordering::Relaxed) >= 5);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&backup)
            .expect("backup")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "the backup holds the server key");
    }
    // A second backup to the same name is refused; the first is untouched.
    let again = run_backup();
    assert!(!again.status.success());

    // Restore into a fresh data directory and serve from it.
    let fresh = tempfile::TempDir::new().expect("dir");
    let data = fresh.path().join("data");
    let url = format!("sqlite://{}?mode=rwc", data.join("parchment.db").display());
    let out = cli(&peer, &data, &url)
        .arg("restore")
        .arg("--from")
        .arg(&backup)
        .output()
        .expect("restore");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(&peer, &data, &url)
        .arg("restore")
        .arg("--from")
        .arg(&backup)
        .output()
        .expect("restore again");
    assert!(!out.status.success(), "never over an existing database");

    let port = free_port();
    let mut server = cli(&peer, &data, &url)
        .arg("serve")
        .arg("--bind")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--public-url")
        .arg(peer.origin())
        .spawn()
        .expect("serve the restored data");
    let base = format!("http://127.0.0.1:{port}");
    let manifest = poll("the restored server", || async {
        let resp = reqwest::get(format!("{base}/.well-known/parchment-server"))
            .await
            .ok()?;
        resp.json::<serde_json::Value>().await.ok()
    })
    .await;
    let original: serde_json::Value = reqwest::get(peer.url("/.well-known/parchment-server"))
        .await
        .expect("manifest")
        .json()
        .await
        .expect("json");
    assert_eq!(
        manifest["public_key"], original["public_key"],
        "same server identity"
    );
    let identity: serde_json::Value = reqwest::Client::new()
        .get(format!("{base}/users/me/identity"))
        .bearer_auth(&alice.token)
        .send()
        .await
        .expect("identity")
        .json()
        .await
        .expect("json");
    assert_eq!(identity["alias"], "alice", "{identity}");
    assert_eq!(
        identity["signingKey"],
        alice.signing.public_key().to_base64(),
        "same user keys"
    );
    let _ = server.kill();
    let _ = server.wait();
}

async fn doctor_says_what_to_fix(db: Db) {
    let peer = Peer::start(db).await;
    let doctor = |args: &[&str]| {
        let out = cli(&peer, peer.dir.path(), &peer.db_url)
            .arg("doctor")
            .args(["--mail-dir", "mail"])
            .args(args)
            .output()
            .expect("doctor");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let key = peer.key.export_base64();
    let (ok, text) = doctor(&[
        "--public-url",
        &peer.origin(),
        "--server-key",
        key.as_str(),
        "--federation-allow-http",
        "--peer",
        &peer.domain(),
    ]);
    assert!(ok, "{text}");
    assert!(text.contains("migrated"), "{text}");
    assert!(text.contains("clock"), "{text}");
    let (ok, text) = doctor(&["--public-url", "http://maps.example.org"]);
    assert!(!ok);
    assert!(
        text.contains("FAIL  PARCHMENT_PUBLIC_URL http://maps.example.org/ is not https"),
        "{text}"
    );
    let (ok, text) = doctor(&[
        "--public-url",
        "https://maps.example.org",
        "--server-key",
        "nope",
    ]);
    assert!(!ok);
    assert!(
        text.contains("PARCHMENT_SERVER_KEY is not a base64 Ed25519 key"),
        "{text}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let file = peer.dir.path().join("loose.key");
        std::fs::write(&file, key.as_str()).expect("key");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let (ok, text) = doctor(&[
            "--public-url",
            "https://maps.example.org",
            "--server-key-file",
            file.to_str().unwrap_or_default(),
        ]);
        assert!(!ok);
        assert!(text.contains("chmod 600"), "{text}");
    }
    let (ok, text) = doctor(&[
        "--public-url",
        "https://maps.example.org",
        "--server-key",
        key.as_str(),
        "--peer",
        "127.0.0.1:1",
    ]);
    assert!(!ok, "an unreachable (and internal) peer fails the check");
    assert!(text.contains("FAIL  peer 127.0.0.1:1"), "{text}");
}
