//! Commit latency by size (figures for the issue, not a pass/fail test):
//!   cargo test --release -p parchment-server --test commit_bench -- --ignored --nocapture
//! Runs on SQLite, and on PostgreSQL when PARCHMENT_TEST_POSTGRES_URL is set.

mod common;

use std::time::{Duration, Instant};

use common::{Db, Options, TestServer};
use parchment_core::encoding::to_base64;
use parchment_core::keys::{Ed25519SecretKey, X25519SecretKey};
use parchment_core::rand_core::{OsRng, RngCore};
use serde_json::{json, Value};

fn keys() -> (Ed25519SecretKey, String) {
    (
        Ed25519SecretKey::generate(&mut OsRng),
        X25519SecretKey::generate(&mut OsRng)
            .public_key()
            .to_base64(),
    )
}

/// A commit of `blobs` blobs to fresh keys, signed by `current`; returns the new signing key.
fn commit(
    user_id: &str,
    current: &Ed25519SecretKey,
    expected: i64,
    blobs: usize,
) -> (Value, Ed25519SecretKey) {
    let (signing, encryption) = keys();
    let blobs: Vec<Value> = (0..blobs)
        .map(|i| {
            let mut bytes = vec![0u8; 1024];
            OsRng.fill_bytes(&mut bytes);
            bytes[0] = 0x02;
            bytes[1] = 0x01;
            json!({ "blobType": format!("blob-{i}"), "encryptedBlob": to_base64(&bytes) })
        })
        .collect();
    let body = json!({
        "expectedCurrent": expected,
        "signingKey": signing.public_key().to_base64(),
        "encryptionKey": encryption,
        "blobs": blobs,
    });
    (common::sign_commit(body, user_id, current), signing)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

async fn run(db: Db) {
    let s = TestServer::start_with(
        db,
        Options {
            rate_limits: false,
            max_body_bytes: 64 * 1024 * 1024,
            ..Options::default()
        },
    )
    .await;
    let (user_id, token) = s.user("bench@example.com", "user").await;
    let (mut signing, encryption) = keys();
    s.put(
        "/users/me/keys",
        Some(&token),
        json!({ "signingKey": signing.public_key().to_base64(), "encryptionKey": encryption }),
    )
    .await
    .expect(200);
    let mut version = 1;
    for (size, rounds) in [(10, 30), (100, 30), (1000, 20), (10_000, 6)] {
        let mut times = Vec::new();
        for _ in 0..rounds {
            let (body, next) = commit(&user_id, &signing, version, size);
            signing = next;
            let started = Instant::now();
            s.post("/users/me/km-version/commit", Some(&token), body)
                .await
                .expect(200);
            times.push(started.elapsed());
            version += 1;
        }
        times.sort();
        eprintln!(
            "{db:?} commit of {size:>5} blobs of 1 KiB: p50 {:>8.1} ms, p99 {:>8.1} ms ({rounds} rounds)",
            percentile(&times, 0.5).as_secs_f64() * 1000.0,
            percentile(&times, 0.99).as_secs_f64() * 1000.0,
        );
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run explicitly with --ignored --nocapture"]
async fn commit_latency_by_size() {
    run(Db::Sqlite).await;
    if std::env::var("PARCHMENT_TEST_POSTGRES_URL").is_ok() {
        run(Db::Postgres).await;
    }
}
