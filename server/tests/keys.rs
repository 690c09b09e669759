//! Personal blobs and device wrap secrets.

mod common;

use common::{Db, Options, TestServer};
use parchment_core::encoding::to_base64;
use parchment_core::rand_core::{OsRng, RngCore};
use serde_json::json;

db_tests!(
    blobs_round_trip_byte_exact,
    blob_validation_writes_nothing,
    blobs_are_isolated_between_users,
    wrap_secret_is_stable_and_shared_by_racing_first_calls,
    wrap_secrets_rotate_and_sign_out_rotates_them,
    wrap_secret_rate_limit,
    signing_out_forgets_the_device_secret,
    devices_per_account_are_capped,
);

/// A structurally valid v2 envelope (AES-256-GCM framing) of `len` random body bytes.
fn envelope(len: usize) -> String {
    let mut bytes = vec![0u8; 2 + 12 + len + 16];
    OsRng.fill_bytes(&mut bytes);
    bytes[0] = 0x02;
    bytes[1] = 0x01;
    to_base64(&bytes)
}

async fn blobs_round_trip_byte_exact(db: Db) {
    let s = TestServer::start_with(
        db,
        Options {
            max_body_bytes: 2 * 1024 * 1024,
            ..Options::default()
        },
    )
    .await;
    let (_, ada) = s.user("ada@example.com", "user").await;
    assert_eq!(
        s.get("/users/me/blobs/friend-pins", Some(&ada))
            .await
            .status,
        204
    );
    // 1 MiB once decoded, the documented maximum.
    let big = envelope(1024 * 1024 - 30);
    let put = s
        .put(
            "/users/me/blobs/search-history",
            Some(&ada),
            json!({ "encryptedBlob": big }),
        )
        .await
        .expect(200);
    assert_eq!(put.json["kmVersion"], 1, "defaults to the current version");
    let small = envelope(10);
    s.put(
        "/users/me/blobs/direct-creds:abc.1_x",
        Some(&ada),
        json!({ "encryptedBlob": small, "kmVersion": 3 }),
    )
    .await
    .expect(200);
    let got = s
        .get("/users/me/blobs/search-history", Some(&ada))
        .await
        .expect(200);
    assert!(got.json["encryptedBlob"] == big.as_str(), "byte-exact");
    let list = s.get("/users/me/blobs", Some(&ada)).await.expect(200);
    assert_eq!(list.json["blobs"].as_array().map(Vec::len), Some(2));
    assert_eq!(list.json["blobs"][0]["blobType"], "direct-creds:abc.1_x");
    assert_eq!(list.json["blobs"][0]["kmVersion"], 3);
    assert!(list.json["blobs"][0].get("encryptedBlob").is_none());
    // Replace, then delete.
    let replaced = envelope(20);
    s.put(
        "/users/me/blobs/search-history",
        Some(&ada),
        json!({ "encryptedBlob": replaced }),
    )
    .await
    .expect(200);
    let got = s
        .get("/users/me/blobs/search-history", Some(&ada))
        .await
        .expect(200);
    assert_eq!(got.json["encryptedBlob"], replaced.as_str());
    s.delete("/users/me/blobs/search-history", Some(&ada))
        .await
        .expect(204);
    s.delete("/users/me/blobs/search-history", Some(&ada))
        .await
        .expect_error(404, "not_found");
    assert_eq!(
        s.get("/users/me/blobs/search-history", Some(&ada))
            .await
            .status,
        204
    );
    s.stop().await;
}

async fn blob_validation_writes_nothing(db: Db) {
    let s = TestServer::start_with(
        db,
        Options {
            max_body_bytes: 4 * 1024 * 1024,
            ..Options::default()
        },
    )
    .await;
    let (_, ada) = s.user("ada@example.com", "user").await;
    let good = envelope(10);
    let mut bad_version = parchment_core::encoding::from_base64(&good).unwrap_or_default();
    bad_version[0] = 0x01;
    let mut bad_algorithm = bad_version.clone();
    bad_algorithm[0] = 0x02;
    bad_algorithm[1] = 0x07;
    for (path, body, code) in [
        (
            "/users/me/blobs/x",
            json!({ "encryptedBlob": "not base64!!" }),
            "invalid_envelope",
        ),
        (
            "/users/me/blobs/x",
            json!({ "encryptedBlob": to_base64(&[2u8, 1, 0, 0]) }),
            "invalid_envelope",
        ),
        (
            "/users/me/blobs/x",
            json!({ "encryptedBlob": to_base64(&bad_version) }),
            "invalid_envelope",
        ),
        (
            "/users/me/blobs/x",
            json!({ "encryptedBlob": to_base64(&bad_algorithm) }),
            "invalid_envelope",
        ),
        (
            "/users/me/blobs/x",
            json!({ "encryptedBlob": envelope(1024 * 1024) }),
            "blob_too_large",
        ),
        (
            "/users/me/blobs/has%20space",
            json!({ "encryptedBlob": good }),
            "invalid_blob_type",
        ),
        (
            &format!("/users/me/blobs/{}", "a".repeat(65)),
            json!({ "encryptedBlob": good }),
            "invalid_blob_type",
        ),
    ] {
        s.put(path, Some(&ada), body).await.expect_error(400, code);
    }
    for body in [
        json!({ "encryptedBlob": good, "kmVersion": 0 }),
        json!({ "encryptedBlob": good, "nonce": "legacy" }),
        json!({}),
    ] {
        s.put("/users/me/blobs/x", Some(&ada), body)
            .await
            .expect_error(422, "validation_failed");
    }
    assert_eq!(
        s.sql_i64("SELECT COUNT(*) FROM encrypted_user_blobs").await,
        0
    );
    s.stop().await;
}

async fn blobs_are_isolated_between_users(db: Db) {
    let s = TestServer::start(db).await;
    let (_, ada) = s.user("ada@example.com", "user").await;
    let (_, bob) = s.user("bob@example.com", "user").await;
    let blob = envelope(8);
    s.put(
        "/users/me/blobs/pins",
        Some(&ada),
        json!({ "encryptedBlob": blob }),
    )
    .await
    .expect(200);
    assert_eq!(s.get("/users/me/blobs/pins", Some(&bob)).await.status, 204);
    s.delete("/users/me/blobs/pins", Some(&bob))
        .await
        .expect_error(404, "not_found");
    let list = s.get("/users/me/blobs", Some(&bob)).await.expect(200);
    assert_eq!(list.json["blobs"], json!([]));
    s.get("/users/me/blobs", None)
        .await
        .expect_error(401, "unauthorized");
    s.get("/users/me/blobs/pins", None)
        .await
        .expect_error(401, "unauthorized");
    s.put(
        "/users/me/blobs/pins",
        None,
        json!({ "encryptedBlob": blob }),
    )
    .await
    .expect_error(401, "unauthorized");
    let still = s.get("/users/me/blobs/pins", Some(&ada)).await.expect(200);
    assert_eq!(still.json["encryptedBlob"], blob.as_str());
    s.stop().await;
}

async fn wrap_secret_is_stable_and_shared_by_racing_first_calls(db: Db) {
    let s = TestServer::start(db).await;
    let (_, ada) = s.user("ada@example.com", "user").await;
    let (_, bob) = s.user("bob@example.com", "user").await;
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let http = s.http.clone();
            let url = s.url("/users/me/devices/device-0001/wrap-secret");
            let token = ada.clone();
            tokio::spawn(async move {
                let r = http.get(url).bearer_auth(token).send().await?;
                r.json::<serde_json::Value>().await
            })
        })
        .collect();
    let mut secrets = Vec::new();
    for task in tasks {
        let body = task.await.expect("join").expect("request");
        secrets.push(body["secret"].as_str().unwrap_or_default().to_string());
    }
    assert!(secrets.iter().all(|x| x == &secrets[0]), "{secrets:?}");
    let decoded = parchment_core::encoding::from_base64(&secrets[0]).unwrap_or_default();
    assert_eq!(decoded.len(), 32);
    // Another user's same device id has its own secret.
    let bobs = s
        .get("/users/me/devices/device-0001/wrap-secret", Some(&bob))
        .await
        .expect(200);
    assert_ne!(bobs.json["secret"], secrets[0].as_str());
    for bad in ["short", "has_underscore", &"a".repeat(65)] {
        s.get(&format!("/users/me/devices/{bad}/wrap-secret"), Some(&ada))
            .await
            .expect_error(422, "validation_failed");
    }
    s.get("/users/me/devices/device-0001/wrap-secret", None)
        .await
        .expect_error(401, "unauthorized");
    s.stop().await;
}

async fn secret(s: &TestServer, token: &str, device: &str) -> String {
    s.get(
        &format!("/users/me/devices/{device}/wrap-secret"),
        Some(token),
    )
    .await
    .expect(200)
    .json["secret"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn wrap_secrets_rotate_and_sign_out_rotates_them(db: Db) {
    let s = TestServer::start(db).await;
    let (_, ada) = s.user("ada@example.com", "user").await;
    let (_, bob) = s.user("bob@example.com", "user").await;
    let a1 = secret(&s, &ada, "laptop-01").await;
    let a2 = secret(&s, &ada, "phone-001").await;
    let b1 = secret(&s, &bob, "laptop-01").await;
    let rotated = s
        .post(
            "/users/me/device-wrap-secrets/rotate",
            Some(&ada),
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(rotated.json, json!({ "ok": true }));
    let a1r = secret(&s, &ada, "laptop-01").await;
    let a2r = secret(&s, &ada, "phone-001").await;
    assert!(a1r != a1 && a2r != a2 && a1r != a2r);
    assert_eq!(
        secret(&s, &bob, "laptop-01").await,
        b1,
        "other users untouched"
    );
    // Signing out others keeps the named device's secret, rotates the rest.
    let other = s.sign_in("ada@example.com").await;
    s.delete("/auth/sessions/others?deviceId=laptop-01", Some(&other))
        .await
        .expect(204);
    assert_eq!(secret(&s, &other, "laptop-01").await, a1r);
    assert_ne!(secret(&s, &other, "phone-001").await, a2r);
    s.delete("/auth/sessions/others?deviceId=bad", Some(&other))
        .await
        .expect_error(422, "validation_failed");
    // Everywhere: all secrets change.
    s.delete("/auth/sessions/all", Some(&other))
        .await
        .expect(204);
    let fresh = s.sign_in("ada@example.com").await;
    assert_ne!(secret(&s, &fresh, "laptop-01").await, a1r);
    assert_eq!(secret(&s, &bob, "laptop-01").await, b1);
    s.stop().await;
}

async fn wrap_secret_rate_limit(db: Db) {
    let s = TestServer::start(db).await;
    let (_, ada) = s.user("ada@example.com", "user").await;
    s.fresh_rate_window(60);
    for _ in 0..10 {
        s.post(
            "/users/me/device-wrap-secrets/rotate",
            Some(&ada),
            json!({}),
        )
        .await
        .expect(200);
    }
    s.post(
        "/users/me/device-wrap-secrets/rotate",
        Some(&ada),
        json!({}),
    )
    .await
    .expect_error(429, "rate_limited");
    for _ in 0..60 {
        s.get("/users/me/devices/device-0001/wrap-secret", Some(&ada))
            .await
            .expect(200);
    }
    s.get("/users/me/devices/device-0001/wrap-secret", Some(&ada))
        .await
        .expect_error(429, "rate_limited");
    s.stop().await;
}

async fn signing_out_forgets_the_device_secret(db: Db) {
    let s = TestServer::start(db).await;
    let (_, ada) = s.user("ada@example.com", "user").await;
    let before = secret(&s, &ada, "device-0001").await;
    let other = secret(&s, &ada, "device-0002").await;
    s.delete("/users/me/devices/device-0001/wrap-secret", Some(&ada))
        .await
        .expect(204);
    // Idempotent: signing out twice is fine.
    s.delete("/users/me/devices/device-0001/wrap-secret", Some(&ada))
        .await
        .expect(204);
    // A later session in that browser gets a new secret: the old envelope stays shut.
    let after = secret(&s, &ada, "device-0001").await;
    assert_ne!(after, before);
    assert_eq!(secret(&s, &ada, "device-0002").await, other);
    s.delete("/users/me/devices/bad_id/wrap-secret", Some(&ada))
        .await
        .expect_error(422, "validation_failed");
    s.delete("/users/me/devices/device-0002/wrap-secret", None)
        .await
        .expect_error(401, "unauthorized");
    s.stop().await;
}

async fn devices_per_account_are_capped(db: Db) {
    let s = TestServer::start_with(
        db,
        Options {
            rate_limits: false,
            ..Options::default()
        },
    )
    .await;
    let (id, ada) = s.user("ada@example.com", "user").await;
    let cap = parchment_server::service::devices::MAX_DEVICES;
    let rows: Vec<String> = (1..cap)
        .map(|i| format!("('{id}', 'device-{i:04}', 'c2VjcmV0', 0, 0)"))
        .collect();
    s.sql(&format!(
        "INSERT INTO device_wrap_secrets (user_id, device_id, secret, created_at, rotated_at) \
         VALUES {}",
        rows.join(", ")
    ))
    .await;
    secret(&s, &ada, "device-last").await;
    s.get("/users/me/devices/device-one-more/wrap-secret", Some(&ada))
        .await
        .expect_error(400, "too_many_devices");
    // Known devices still read theirs, and signing one out makes room.
    assert_eq!(secret(&s, &ada, "device-0001").await, "c2VjcmV0");
    s.delete("/users/me/devices/device-0001/wrap-secret", Some(&ada))
        .await
        .expect(204);
    secret(&s, &ada, "device-one-more").await;
    s.stop().await;
}
