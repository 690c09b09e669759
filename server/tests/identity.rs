//! Alias, identity and first publication of keys.

mod common;

use common::{Db, TestServer};
use parchment_core::keys::{Ed25519SecretKey, X25519SecretKey};
use parchment_core::rand_core::OsRng;
use serde_json::json;

db_tests!(
    identity_alias_and_handle,
    alias_rules_and_case_insensitive_uniqueness,
    concurrent_alias_claims_one_wins,
    keys_are_validated_and_published_once,
    identity_endpoints_need_a_session,
);

fn keypair() -> (String, String) {
    let signing = Ed25519SecretKey::generate(&mut OsRng)
        .public_key()
        .to_base64();
    let encryption = X25519SecretKey::generate(&mut OsRng)
        .public_key()
        .to_base64();
    (signing, encryption)
}

async fn identity_alias_and_handle(db: Db) {
    let s = TestServer::start(db).await;
    let (_, ada) = s.user("ada@example.com", "user").await;
    let domain = s.origin.trim_start_matches("http://").to_string();
    let before = s.get("/users/me/identity", Some(&ada)).await.expect(200);
    assert_eq!(before.json["handle"], serde_json::Value::Null);
    assert_eq!(before.json["domain"], domain.as_str());
    assert_eq!(before.json["kmVersion"], 1);
    let set = s
        .patch("/users/me/alias", Some(&ada), json!({ "alias": "Ada_L" }))
        .await
        .expect(200);
    assert_eq!(set.json["handle"], format!("Ada_L@{domain}"));
    // Setting one's own alias again (any case) is fine.
    s.patch("/users/me/alias", Some(&ada), json!({ "alias": "ada_l" }))
        .await
        .expect(200);
    let after = s.get("/users/me/identity", Some(&ada)).await.expect(200);
    assert_eq!(after.json["handle"], format!("ada_l@{domain}"));
    let km = s.get("/users/me/km-version", Some(&ada)).await.expect(200);
    assert_eq!(km.json, json!({ "kmVersion": 1 }));
    s.stop().await;
}

async fn alias_rules_and_case_insensitive_uniqueness(db: Db) {
    let s = TestServer::start(db).await;
    let (_, ada) = s.user("ada@example.com", "user").await;
    let (_, bob) = s.user("bob@example.com", "user").await;
    for bad in [
        "ab",
        &"a".repeat(31),
        "has space",
        "dash-ed",
        "émile",
        "a@b",
        "",
    ] {
        s.patch("/users/me/alias", Some(&ada), json!({ "alias": bad }))
            .await
            .expect_error(400, "invalid_alias");
    }
    for reserved in ["admin", "Root", "SUPPORT", "postmaster", "abuse"] {
        s.patch("/users/me/alias", Some(&ada), json!({ "alias": reserved }))
            .await
            .expect_error(400, "alias_reserved");
    }
    s.patch("/users/me/alias", Some(&ada), json!({}))
        .await
        .expect(422);
    s.patch("/users/me/alias", Some(&ada), json!({ "alias": "alice" }))
        .await
        .expect(200);
    s.patch("/users/me/alias", Some(&bob), json!({ "alias": "ALICE" }))
        .await
        .expect_error(409, "alias_taken");
    let bob_identity = s.get("/users/me/identity", Some(&bob)).await.expect(200);
    assert_eq!(bob_identity.json["alias"], serde_json::Value::Null);
    s.stop().await;
}

async fn concurrent_alias_claims_one_wins(db: Db) {
    let s = TestServer::start(db).await;
    let mut tokens = Vec::new();
    for i in 0..8 {
        tokens.push(s.user(&format!("u{i}@example.com"), "user").await.1);
    }
    let tasks: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let http = s.http.clone();
            let url = s.url("/users/me/alias");
            tokio::spawn(async move {
                http.patch(url)
                    .bearer_auth(token)
                    .json(&json!({ "alias": "popular" }))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.expect("join").expect("request"));
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        7,
        "{statuses:?}"
    );
    s.stop().await;
}

async fn keys_are_validated_and_published_once(db: Db) {
    let s = TestServer::start(db).await;
    let (_, ada) = s.user("ada@example.com", "user").await;
    let (signing, encryption) = keypair();
    // Small-order Ed25519 point (the identity), off-curve bytes, wrong lengths, not base64.
    let identity_point = parchment_core::encoding::to_base64(&{
        let mut b = [0u8; 32];
        b[0] = 1;
        b
    });
    let zero = parchment_core::encoding::to_base64(&[0u8; 32]);
    let short = parchment_core::encoding::to_base64(&[7u8; 31]);
    for (sk, ek) in [
        (identity_point.as_str(), encryption.as_str()),
        (short.as_str(), encryption.as_str()),
        ("not base64!", encryption.as_str()),
        ("x", encryption.as_str()),
        (signing.as_str(), zero.as_str()),
        (signing.as_str(), short.as_str()),
    ] {
        s.put(
            "/users/me/keys",
            Some(&ada),
            json!({ "signingKey": sk, "encryptionKey": ek }),
        )
        .await
        .expect_error(400, "invalid_key");
    }
    s.put(
        "/users/me/keys",
        Some(&ada),
        json!({ "signingKey": signing }),
    )
    .await
    .expect(422);
    let none = s.get("/users/me/identity", Some(&ada)).await.expect(200);
    assert_eq!(
        none.json["signingKey"],
        serde_json::Value::Null,
        "nothing stored"
    );
    let body = json!({ "signingKey": signing, "encryptionKey": encryption });
    s.put("/users/me/keys", Some(&ada), body.clone())
        .await
        .expect(200);
    s.put("/users/me/keys", Some(&ada), body).await.expect(200);
    let published = s.get("/users/me/identity", Some(&ada)).await.expect(200);
    assert_eq!(published.json["signingKey"], signing.as_str());
    assert_eq!(published.json["encryptionKey"], encryption.as_str());
    let (other_signing, other_encryption) = keypair();
    s.put(
        "/users/me/keys",
        Some(&ada),
        json!({ "signingKey": other_signing, "encryptionKey": other_encryption }),
    )
    .await
    .expect_error(409, "keys_already_set");
    let still = s.get("/users/me/identity", Some(&ada)).await.expect(200);
    assert_eq!(still.json["signingKey"], signing.as_str());
    s.stop().await;
}

async fn identity_endpoints_need_a_session(db: Db) {
    let s = TestServer::start(db).await;
    s.get("/users/me/identity", None)
        .await
        .expect_error(401, "unauthorized");
    s.patch("/users/me/alias", None, json!({ "alias": "alice" }))
        .await
        .expect_error(401, "unauthorized");
    s.put(
        "/users/me/keys",
        None,
        json!({ "signingKey": "a", "encryptionKey": "b" }),
    )
    .await
    .expect_error(401, "unauthorized");
    s.get("/users/me/km-version", None)
        .await
        .expect_error(401, "unauthorized");
    s.stop().await;
}
