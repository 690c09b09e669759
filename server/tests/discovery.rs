//! Federation discovery: the server manifest and user documents, validated with core's own
//! parsers (the checks a peer applies), and their per-address rate limit.

mod common;

use common::{Db, Options, TestServer};
use parchment_core::federation::discovery::{ServerManifest, UserDocument};
use parchment_core::handle::Handle;
use parchment_core::keys::{Ed25519SecretKey, X25519SecretKey};
use parchment_core::rand_core::OsRng;
use serde_json::json;

db_tests!(
    manifest_names_this_host,
    user_document_is_valid_for_peers,
    unknown_or_keyless_alias_is_404,
    well_known_is_rate_limited_per_address,
    handle_lookups_are_rate_limited_per_user,
);

fn domain(s: &TestServer) -> String {
    s.origin.trim_start_matches("http://").to_string()
}

async fn manifest_names_this_host(db: Db) {
    let s = TestServer::start(db).await;
    let reply = s
        .get("/.well-known/parchment-server", None)
        .await
        .expect(200);
    assert_eq!(reply.json["server_id"], domain(&s));
    assert_eq!(reply.json["protocol_versions"], json!([2]));
    assert_eq!(reply.json["minimum_protocol_version"], 2);
    assert_eq!(
        reply.json["key_transparency_anchor"],
        serde_json::Value::Null
    );
    assert!(reply.json["capabilities"]
        .as_array()
        .unwrap()
        .contains(&json!("signed-server-messages")));
    let key = std::fs::read_to_string(s.dir.path().join("server.key")).unwrap();
    let public = Ed25519SecretKey::from_base64(key.trim())
        .unwrap()
        .public_key();
    let parsed = ServerManifest::parse(&reply.text, &domain(&s)).expect("valid manifest");
    assert_eq!(parsed.public_key, public);
    s.stop().await;
}

async fn user_document_is_valid_for_peers(db: Db) {
    let s = TestServer::start(db).await;
    let (_, ada) = s.user("ada@example.com", "user").await;
    s.patch("/users/me/alias", Some(&ada), json!({ "alias": "Ada_L" }))
        .await
        .expect(200);
    let signing = Ed25519SecretKey::generate(&mut OsRng).public_key();
    let encryption = X25519SecretKey::generate(&mut OsRng).public_key();
    s.put(
        "/users/me/keys",
        Some(&ada),
        json!({ "signingKey": signing.to_base64(), "encryptionKey": encryption.to_base64() }),
    )
    .await
    .expect(200);
    // Any letter case of the alias finds the user; the handle keeps the chosen spelling.
    for path in ["/.well-known/user/Ada_L", "/.well-known/user/ada_l"] {
        let reply = s.get(path, None).await.expect(200);
        let handle = format!("Ada_L@{}", domain(&s));
        assert_eq!(reply.json["handle"], handle);
        assert_eq!(
            reply.json["inbox"],
            format!("{}/federation/inbox", s.origin)
        );
        assert_eq!(reply.json["name"], "Test User");
        let doc = UserDocument::parse(&reply.text, &Handle::parse(&handle).unwrap())
            .expect("valid user document");
        assert_eq!(doc.signing_key, signing);
        assert_eq!(doc.encryption_key, Some(encryption));
    }
    s.stop().await;
}

async fn unknown_or_keyless_alias_is_404(db: Db) {
    let s = TestServer::start(db).await;
    let (_, bob) = s.user("bob@example.com", "user").await;
    s.patch("/users/me/alias", Some(&bob), json!({ "alias": "bob_b" }))
        .await
        .expect(200);
    s.get("/.well-known/user/bob_b", None)
        .await
        .expect_error(404, "user_not_found");
    s.get("/.well-known/user/nobody", None)
        .await
        .expect_error(404, "user_not_found");
    s.get("/.well-known/user/no%20such", None)
        .await
        .expect_error(404, "user_not_found");
    s.stop().await;
}

async fn well_known_is_rate_limited_per_address(db: Db) {
    let s = TestServer::start_with(db, Options::default()).await;
    let mut limited = None;
    for i in 0..130 {
        let path = if i % 2 == 0 {
            "/.well-known/parchment-server"
        } else {
            "/.well-known/user/nobody"
        };
        let reply = s.get(path, None).await;
        if reply.status.as_u16() == 429 {
            limited = Some((i, reply));
            break;
        }
    }
    let (i, reply) = limited.expect("rate limited within 130 requests");
    assert!(i >= 60, "limited too early, after {i}");
    let reply = reply.expect_error(429, "rate_limited");
    assert!(reply.headers.contains_key("retry-after"));
    s.stop().await;
}

/// `GET /friends/resolve/*` can make the server fetch from any domain a user names: 60 per
/// user and minute, then 429 with `Retry-After`; another user keeps their own budget.
async fn handle_lookups_are_rate_limited_per_user(db: Db) {
    let s = TestServer::start_with(db, Options::default()).await;
    let (_, ada) = s.user("ada@example.com", "user").await;
    let (_, bob) = s.user("bob@example.com", "user").await;
    s.patch("/users/me/alias", Some(&ada), json!({ "alias": "ada" }))
        .await
        .expect(200);
    s.put(
        "/users/me/keys",
        Some(&ada),
        json!({
            "signingKey": Ed25519SecretKey::generate(&mut OsRng).public_key().to_base64(),
            "encryptionKey": X25519SecretKey::generate(&mut OsRng).public_key().to_base64(),
        }),
    )
    .await
    .expect(200);
    s.fresh_rate_window(60);
    let path = format!("/friends/resolve/ada@{}", domain(&s));
    for _ in 0..60 {
        let reply = s.get(&path, Some(&ada)).await.expect(200);
        assert_eq!(reply.json["handle"], format!("ada@{}", domain(&s)));
    }
    let reply = s
        .get(&path, Some(&ada))
        .await
        .expect_error(429, "rate_limited");
    assert!(reply.headers.contains_key("retry-after"));
    s.get(&path, Some(&bob)).await.expect(200);
    s.stop().await;
}
