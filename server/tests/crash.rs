//! A server killed (SIGKILL) in the middle of a large commit leaves every row as before or
//! the whole commit written: never a part of it.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Db;
use parchment_core::encoding::to_base64;
use parchment_core::keys::{Ed25519SecretKey, X25519SecretKey};
use parchment_core::rand_core::{OsRng, RngCore};
use serde_json::{json, Value};

db_tests!(sigkill_during_a_large_commit_is_all_or_nothing);

const BLOBS: usize = 5000;

struct Server {
    child: Child,
    base: String,
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_parchment-server")
}

fn command(dir: &std::path::Path, db_url: &str) -> Command {
    let mut cmd = Command::new(bin());
    cmd.env("PARCHMENT_DATA_DIR", dir)
        .env("DATABASE_URL", db_url)
        .env("RUST_LOG", "warn")
        .env("PARCHMENT_RATE_LIMITS", "off")
        .env("PARCHMENT_MAX_BODY_BYTES", (64 * 1024 * 1024).to_string())
        .env("PARCHMENT_SESSION_CACHE_MS", "0");
    cmd
}

async fn start(dir: &std::path::Path, db_url: &str) -> Server {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        l.local_addr().expect("addr").port()
    };
    let child = command(dir, db_url)
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .arg("--public-url")
        .arg(format!("http://localhost:{port}"))
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn server");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if http
            .get(format!("{base}/auth/sessions/current"))
            .send()
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Server { child, base }
}

fn admin(dir: &std::path::Path, db_url: &str, args: &[&str]) -> String {
    let out = command(dir, db_url).args(args).output().expect("admin");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A signed-in user with published keys.
struct Account {
    token: String,
    id: String,
    signing: Ed25519SecretKey,
}

fn big_commit(account: &Account) -> Value {
    let blobs: Vec<Value> = (0..BLOBS)
        .map(|i| {
            let mut bytes = vec![0u8; 1024];
            OsRng.fill_bytes(&mut bytes);
            bytes[0] = 0x02;
            bytes[1] = 0x01;
            json!({ "blobType": format!("blob-{i}"), "encryptedBlob": to_base64(&bytes) })
        })
        .collect();
    let body = json!({
        "expectedCurrent": 1,
        "signingKey": Ed25519SecretKey::generate(&mut OsRng).public_key().to_base64(),
        "encryptionKey": X25519SecretKey::generate(&mut OsRng).public_key().to_base64(),
        "blobs": blobs,
    });
    common::sign_commit(body, &account.id, &account.signing)
}

async fn user_with_keys(s: &Server, dir: &std::path::Path, db_url: &str, email: &str) -> Account {
    admin(
        dir,
        db_url,
        &[
            "admin",
            "create-user",
            "--email",
            email,
            "--first-name",
            "A",
            "--last-name",
            "B",
        ],
    );
    let token = admin(dir, db_url, &["admin", "issue-token", "--email", email]);
    let signing = Ed25519SecretKey::generate(&mut OsRng);
    let keys = json!({
        "signingKey": signing.public_key().to_base64(),
        "encryptionKey": X25519SecretKey::generate(&mut OsRng).public_key().to_base64(),
    });
    let r = reqwest::Client::new()
        .put(format!("{}/users/me/keys", s.base))
        .bearer_auth(&token)
        .json(&keys)
        .send()
        .await
        .expect("keys");
    assert_eq!(r.status(), 200);
    let me: Value = reqwest::Client::new()
        .get(format!("{}/auth/sessions/current", s.base))
        .bearer_auth(&token)
        .send()
        .await
        .expect("session")
        .json()
        .await
        .expect("session json");
    Account {
        id: me["user"]["id"].as_str().unwrap_or_default().to_owned(),
        token,
        signing,
    }
}

async fn sigkill_during_a_large_commit_is_all_or_nothing(db: Db) {
    let dir = tempfile::TempDir::new().expect("dir");
    let db_url = common::fresh_database(db, &dir).await;
    let mut server = start(dir.path(), &db_url).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client");

    // How long an undisturbed commit of this size takes, to aim the kill inside the next.
    let reference = user_with_keys(&server, dir.path(), &db_url, "ref@example.com").await;
    let body = big_commit(&reference);
    let started = Instant::now();
    let r = http
        .post(format!("{}/users/me/km-version/commit", server.base))
        .bearer_auth(&reference.token)
        .json(&body)
        .send()
        .await
        .expect("reference commit");
    assert_eq!(r.status(), 200);
    let full = started.elapsed();

    let victim = user_with_keys(&server, dir.path(), &db_url, "victim@example.com").await;
    let body = big_commit(&victim);
    let token = victim.token.clone();
    let url = format!("{}/users/me/km-version/commit", server.base);
    let request = {
        let http = http.clone();
        let token = token.clone();
        tokio::spawn(async move { http.post(url).bearer_auth(token).json(&body).send().await })
    };
    tokio::time::sleep(full.mul_f64(0.6)).await;
    server.child.kill().expect("SIGKILL");
    let _ = server.child.wait();
    let outcome = request.await.expect("join");

    let mut server = start(dir.path(), &db_url).await;
    let identity: Value = http
        .get(format!("{}/users/me/identity", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .expect("identity")
        .json()
        .await
        .expect("json");
    let blobs: Value = http
        .get(format!("{}/users/me/blobs", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .expect("blobs")
        .json()
        .await
        .expect("json");
    let count = blobs["blobs"].as_array().map(Vec::len).unwrap_or(0);
    match identity["kmVersion"].as_i64() {
        Some(1) => assert_eq!(count, 0, "kmVersion unchanged but blobs written"),
        Some(2) => assert_eq!(count, BLOBS, "kmVersion moved but blobs missing"),
        other => panic!("unexpected kmVersion {other:?}"),
    }
    eprintln!(
        "killed after {:?} of a {:?} commit; response: {:?}; kmVersion after restart: {}",
        full.mul_f64(0.6),
        full,
        outcome.map(|r| r.status()),
        identity["kmVersion"]
    );
    let _ = server.child.kill();
    let _ = server.child.wait();
}
