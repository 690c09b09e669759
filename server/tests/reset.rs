//! Identity reset and pending revocations across two real `parchment-server` processes:
//! what reset wipes and keeps, flush while the peer is down and after it is back, replay,
//! a reset racing a km-version commit. SQLite always, PostgreSQL when
//! `PARCHMENT_TEST_POSTGRES_URL` is set.

mod common;
mod peers;

use common::{Db, TestServer};
use parchment_core::canonical::{Object, Value as CValue};
use parchment_core::ecies;
use parchment_core::encoding::to_base64;
use parchment_core::federation::{MessageType, UnsignedMessage};
use parchment_core::keys::{Ed25519SecretKey, X25519SecretKey};
use parchment_core::rand_core::{OsRng, RngCore};
use parchment_core::timestamp::format_millis;
use peers::*;
use serde_json::{json, Value};

db_tests!(
    reset_and_flush_across_servers,
    reset_racing_a_commit_is_consistent,
);

fn location_payload(bob: &User, text: &str, sent_at: i64) -> Object {
    let sealed = ecies::seal(&bob.encryption.public_key(), text.as_bytes(), &mut OsRng).unwrap();
    let mut payload = Object::new();
    payload.insert("encryptedLocation", CValue::string(&to_base64(&sealed)));
    payload.insert("nonce", CValue::string(&format_millis(sent_at)));
    payload
}

fn envelope_b64(len: usize) -> String {
    let mut bytes = vec![0u8; 2 + 12 + len + 16];
    OsRng.fill_bytes(&mut bytes);
    bytes[0] = 0x02;
    bytes[1] = 0x01;
    to_base64(&bytes)
}

/// The user tables reset wipes (scoped by `user_id`).
const WIPED: &[&str] = &[
    "wrapped_master_keys",
    "device_wrap_secrets",
    "encrypted_user_blobs",
    "collections",
    "friend_locations",
    "incoming_shares",
    "location_requests",
    "friend_invitations",
    "friendships",
    "federation_outbox",
];

/// Tables reset keeps for the caller.
const KEPT: &[&str] = &["sessions", "passkeys", "users_roles"];

impl Peer {
    async fn user_id(&self, alias: &str) -> String {
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&self.db_url)
            .await
            .unwrap();
        let (id,): (String,) = sqlx::query_as("SELECT id FROM users WHERE alias = $1")
            .bind(alias)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        id
    }

    async fn exec(&self, statement: &str) {
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&self.db_url)
            .await
            .unwrap();
        sqlx::query(statement).execute(&mut conn).await.unwrap();
    }

    /// Rows of each table in `tables` for `user_id`.
    async fn counts(&self, user_id: &str, tables: &[&str]) -> Vec<(String, i64)> {
        let mut out = Vec::new();
        for table in tables {
            let n = self
                .count(&format!(
                    "SELECT COUNT(*) FROM {table} WHERE user_id = '{user_id}'"
                ))
                .await;
            out.push((table.to_string(), n));
        }
        out
    }

    /// Seed-encrypted state of `user_id` that only SQL can give a test quickly: a blob, a
    /// collection, a device wrap secret, a passkey with its key slot, a queued message.
    async fn seed_state(&self, user_id: &str, tag: &str) {
        let blob = envelope_b64(16);
        for statement in [
            format!(
                "INSERT INTO encrypted_user_blobs (user_id, blob_type, encrypted_blob, km_version, \
                 updated_at) VALUES ('{user_id}', 'friend-pins', '{blob}', 1, 0)"
            ),
            format!(
                "INSERT INTO collections (id, user_id, metadata_encrypted, created_at, updated_at) \
                 VALUES ('{tag}-col', '{user_id}', '{blob}', 0, 0)"
            ),
            format!(
                "INSERT INTO device_wrap_secrets (user_id, device_id, secret, created_at, \
                 rotated_at) VALUES ('{user_id}', '{tag}-dev', 'secret', 0, 0)"
            ),
            format!(
                "INSERT INTO passkeys (id, user_id, name, credential, created_at) \
                 VALUES ('{tag}-cred', '{user_id}', 'key', '{{}}', 0)"
            ),
            format!(
                "INSERT INTO wrapped_master_keys (user_id, credential_id, wrapped_km, wrap_algo, \
                 slot_signature, created_at) VALUES ('{user_id}', '{tag}-cred', '{blob}', 'x', \
                 'sig', 0)"
            ),
            format!(
                "INSERT INTO federation_outbox (id, user_id, message_type, to_handle, peer_host, \
                 body, status, attempts, next_attempt_at, created_at, updated_at) VALUES \
                 ('{tag}-out', '{user_id}', 'LOCATION_REQUEST', 'x@127.0.0.1:1', '127.0.0.1:1', \
                 '{{}}', 'failed', 1, 0, 0, 0)"
            ),
        ] {
            self.exec(&statement).await;
        }
    }
}

/// `{peerHandle, signature, nonce, timestamp}` of a RELATIONSHIP_REVOKE signed by `from`.
fn revoke_item(from: &User, to: &str) -> (Value, UnsignedMessage) {
    let (m, signature) = message(MessageType::RelationshipRevoke, from, to, Object::new());
    (
        json!({ "peerHandle": to, "signature": signature, "nonce": m.nonce, "timestamp": m.timestamp }),
        m,
    )
}

async fn flush(a: &Peer, user: &User, items: Vec<Value>) -> Value {
    a.call(
        "POST",
        "/users/me/revocations/flush",
        user,
        Some(json!({ "items": items })),
    )
    .await
    .ok()
}

async fn pending(a: &Peer, user: &User) -> Vec<Value> {
    a.call("GET", "/users/me/revocations/pending", user, None)
        .await
        .ok()["revocations"]
        .as_array()
        .unwrap()
        .clone()
}

async fn reset_and_flush_across_servers(db: Db) {
    let a = Peer::start(db).await;
    let mut b = Peer::start(db).await;
    let mut alice = a.user("alice").await;
    let carol = a.user("carol").await;
    let dave = a.user("dave").await;
    let bob = b.user("bob").await;
    befriend(&a, &alice, &b, &bob).await;
    befriend(&a, &carol, &b, &bob).await;
    // dave is alice's friend on the same server.
    befriend(&a, &alice, &a, &dave).await;

    // Shared data both ways: alice's location at B, bob's at A.
    for (from, to, server) in [(&alice, &bob, &a), (&bob, &alice, &b)] {
        server
            .call(
                "PUT",
                &format!("/friends/{}/location-sharing", to.handle),
                from,
                Some(json!({})),
            )
            .await
            .ok();
        let body = send_body(
            MessageType::LocationUpdate,
            from,
            &to.handle,
            location_payload(to, "48.85,2.35", now_ms()),
        );
        server
            .call(
                "POST",
                &format!("/friends/{}/messages", to.handle),
                from,
                Some(body),
            )
            .await
            .ok();
    }
    let (alice_id, carol_id) = (a.user_id("alice").await, a.user_id("carol").await);
    let (dave_id, bob_id) = (a.user_id("dave").await, b.user_id("bob").await);
    eventually("locations delivered", || async {
        a.count(&format!(
            "SELECT COUNT(*) FROM friend_locations WHERE user_id = '{alice_id}'"
        ))
        .await
            == 1
            && b.count(&format!(
                "SELECT COUNT(*) FROM friend_locations WHERE user_id = '{bob_id}'"
            ))
            .await
                == 1
    })
    .await;
    a.seed_state(&alice_id, "alice").await;
    a.seed_state(&carol_id, "carol").await;
    let before_alice = a.counts(&alice_id, WIPED).await;
    let before_carol = a.counts(&carol_id, WIPED).await;
    let before_bob = b.counts(&bob_id, WIPED).await;
    for (table, n) in &before_alice {
        if table != "incoming_shares" && table != "location_requests" {
            assert!(*n > 0, "alice has {table} before the reset");
        }
    }

    // A wrong or missing confirmation touches nothing.
    for body in [
        json!({ "confirm": "yes" }),
        json!({ "confirm": "ERASE-ALL-MY-DATA" }),
        json!({}),
    ] {
        let reply = a
            .call("POST", "/users/me/identity/reset", &alice, Some(body))
            .await;
        assert_eq!(reply.status, 400, "{}", reply.text);
    }
    assert_eq!(a.counts(&alice_id, WIPED).await, before_alice);
    assert!(pending(&a, &alice).await.is_empty());

    let done = a
        .call(
            "POST",
            "/users/me/identity/reset",
            &alice,
            Some(json!({ "confirm": "erase-all-my-data" })),
        )
        .await
        .ok();
    assert_eq!(done["queuedRevocations"], 1);
    for (table, n) in a.counts(&alice_id, WIPED).await {
        assert_eq!(n, 0, "alice's {table} after the reset");
    }
    for (table, n) in a.counts(&alice_id, KEPT).await {
        assert!(n > 0, "alice's {table} kept");
    }
    // The session still works; alias kept, keys gone, kmVersion 1.
    let me = a.call("GET", "/users/me/identity", &alice, None).await.ok();
    assert_eq!(me["handle"], alice.handle);
    assert_eq!(me["signingKey"], Value::Null);
    assert_eq!(me["encryptionKey"], Value::Null);
    assert_eq!(me["kmVersion"], 1);
    // carol (local, unrelated) untouched; dave (local friend) no longer has alice.
    assert_eq!(a.counts(&carol_id, WIPED).await, before_carol);
    assert_eq!(
        a.count(&format!(
            "SELECT COUNT(*) FROM friendships WHERE user_id = '{dave_id}'"
        ))
        .await,
        0
    );
    // B is untouched until the revocation arrives.
    assert_eq!(b.counts(&bob_id, WIPED).await, before_bob);
    let queued = pending(&a, &alice).await;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0]["peerHandle"], bob.handle);
    assert!(queued[0]["id"].is_string() && queued[0]["createdAt"].is_string());

    // Again: harmless.
    let again = a
        .call(
            "POST",
            "/users/me/identity/reset",
            &alice,
            Some(json!({ "confirm": "erase-all-my-data" })),
        )
        .await
        .ok();
    assert_eq!(again["queuedRevocations"], 0);
    assert_eq!(pending(&a, &alice).await.len(), 1);

    // Before new keys are published nothing can be verified: per-item error.
    let (item, _) = revoke_item(&alice, &bob.handle);
    let results = flush(&a, &alice, vec![item]).await;
    assert_eq!(results["results"][0]["delivered"], false);

    // alice's client: a new seed, new keys published.
    let old_signing = std::mem::replace(&mut alice.signing, Ed25519SecretKey::generate(&mut OsRng));
    alice.encryption = X25519SecretKey::generate(&mut OsRng);
    a.call(
        "PUT",
        "/users/me/keys",
        &alice,
        Some(json!({
            "signingKey": alice.signing.public_key().to_base64(),
            "encryptionKey": alice.encryption.public_key().to_base64(),
        })),
    )
    .await
    .ok();

    // Signed with the OLD key: per-item error, nothing sent.
    let stale = User {
        handle: alice.handle.clone(),
        token: alice.token.clone(),
        signing: old_signing,
        encryption: X25519SecretKey::generate(&mut OsRng),
    };
    let (bad, _) = revoke_item(&stale, &bob.handle);
    let (unknown, _) = revoke_item(&alice, &format!("zed@{}", b.domain()));
    let (malformed, _) = revoke_item(&alice, "not a handle");
    let results = flush(&a, &alice, vec![bad, unknown, malformed]).await;
    let results = results["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    for r in results {
        assert_eq!(r["delivered"], false, "{r}");
        assert!(r["error"].is_string(), "{r}");
    }
    assert_eq!(results[0]["peerHandle"], bob.handle);
    assert_eq!(
        b.count(&format!(
            "SELECT COUNT(*) FROM friendships WHERE user_id = '{bob_id}'"
        ))
        .await,
        2
    );
    // Too many items → 400.
    let many: Vec<Value> = (0..101)
        .map(|_| revoke_item(&alice, &bob.handle).0)
        .collect();
    let reply = a
        .call(
            "POST",
            "/users/me/revocations/flush",
            &alice,
            Some(json!({ "items": many })),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);

    // B down: the item fails and stays queued with its reason.
    b.stop();
    let (item, _) = revoke_item(&alice, &bob.handle);
    let results = flush(&a, &alice, vec![item]).await;
    assert_eq!(results["results"][0]["delivered"], false);
    assert!(results["results"][0]["error"].is_string());
    let queued = pending(&a, &alice).await;
    assert_eq!(queued.len(), 1);
    assert!(queued[0]["lastError"].is_string());

    // B back: delivered; B's friendship with alice and what she shared are gone.
    b.spawn().await;
    let (item, sent) = revoke_item(&alice, &bob.handle);
    let results = flush(&a, &alice, vec![item.clone()]).await;
    assert_eq!(results["results"][0]["delivered"], true, "{results}");
    assert!(pending(&a, &alice).await.is_empty());
    let friends = b.call("GET", "/friends", &bob, None).await.ok();
    let friends = friends["friends"].as_array().unwrap();
    assert_eq!(friends.len(), 1, "only carol is left");
    assert_eq!(friends[0]["handle"], carol.handle);
    assert_eq!(
        b.count(&format!(
            "SELECT COUNT(*) FROM friend_locations WHERE user_id = '{bob_id}'"
        ))
        .await,
        0
    );

    // The same item again: no longer queued at A.
    let results = flush(&a, &alice, vec![item]).await;
    assert_eq!(results["results"][0]["delivered"], false);
    // The same signed envelope sent to B again (a signed server request from A): replay.
    let body = sent.sign(&alice.signing).body();
    let reply = post_raw(&b, &raw(&a, &a.key, &b, body, now_ms())).await;
    assert_eq!(reply.status, 409, "{}", reply.text);
    assert_eq!(reply.json["code"], "replay");

    // Discard: validated, decoded once, 404 when not queued.
    a.exec(&format!(
        "INSERT INTO pending_revocations (id, user_id, peer_handle, peer_key, created_at, \
         updated_at) VALUES ('r1', '{alice_id}', 'Zed@Other.Example', 'zed@other.example', 0, 0)"
    ))
    .await;
    let reply = a
        .call(
            "DELETE",
            "/users/me/revocations/pending/not%20a%20handle",
            &alice,
            None,
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    let reply = a
        .call(
            "DELETE",
            "/users/me/revocations/pending/zed%2540other.example",
            &alice,
            None,
        )
        .await;
    assert!(reply.status == 400 || reply.status == 404, "{}", reply.text);
    a.call(
        "DELETE",
        "/users/me/revocations/pending/zed%40other.example",
        &alice,
        None,
    )
    .await
    .ok();
    let reply = a
        .call(
            "DELETE",
            "/users/me/revocations/pending/zed%40other.example",
            &alice,
            None,
        )
        .await;
    assert_eq!(reply.status, 404, "{}", reply.text);
    assert!(pending(&a, &alice).await.is_empty());
    // carol's and bob's other data is still there.
    assert_eq!(a.counts(&carol_id, WIPED).await, before_carol);
}

/// A reset racing a km-version commit: one of the two wins whole, every time.
async fn reset_racing_a_commit_is_consistent(db: Db) {
    let s = TestServer::start(db).await;
    for round in 0..4 {
        let (id, token) = s.user(&format!("racer{round}@example.com"), "user").await;
        let old = Ed25519SecretKey::generate(&mut OsRng);
        let enc = X25519SecretKey::generate(&mut OsRng)
            .public_key()
            .to_base64();
        s.put(
            "/users/me/keys",
            Some(&token),
            json!({ "signingKey": old.public_key().to_base64(), "encryptionKey": enc }),
        )
        .await
        .expect(200);
        s.put(
            "/users/me/blobs/friend-pins",
            Some(&token),
            json!({ "encryptedBlob": envelope_b64(16) }),
        )
        .await;
        let new = Ed25519SecretKey::generate(&mut OsRng);
        let commit = common::sign_commit(
            json!({
                "expectedCurrent": 1,
                "signingKey": new.public_key().to_base64(),
                "encryptionKey": enc,
                "blobs": [
                    { "blobType": "friend-pins", "encryptedBlob": envelope_b64(16) },
                    { "blobType": "search-history", "encryptedBlob": envelope_b64(16) },
                ],
                "collections": [],
                "slots": [],
            }),
            &id,
            &old,
        );
        let (c, r) = tokio::join!(
            s.post("/users/me/km-version/commit", Some(&token), commit),
            s.post(
                "/users/me/identity/reset",
                Some(&token),
                json!({ "confirm": "erase-all-my-data" })
            ),
        );
        assert_eq!(r.status.as_u16(), 200, "{}", r.text);
        assert!(
            c.status.as_u16() == 200 || c.status.as_u16() == 409,
            "{}",
            c.text
        );
        let km = s
            .sql_i64(&format!("SELECT km_version FROM users WHERE id = '{id}'"))
            .await;
        let blobs = s
            .sql_i64(&format!(
                "SELECT COUNT(*) FROM encrypted_user_blobs WHERE user_id = '{id}'"
            ))
            .await;
        let keys = s
            .sql_i64(&format!(
                "SELECT COUNT(*) FROM users WHERE id = '{id}' AND signing_key = '{}'",
                new.public_key().to_base64()
            ))
            .await;
        let no_keys = s
            .sql_i64(&format!(
                "SELECT COUNT(*) FROM users WHERE id = '{id}' AND signing_key IS NULL \
                 AND encryption_key IS NULL"
            ))
            .await;
        // The commit proved the key the reset erases, so it can only land before the reset
        // (and is then erased with everything else), never after it.
        assert_eq!(km, 1, "round {round}");
        assert_eq!(
            (blobs, no_keys, keys),
            (0, 1, 0),
            "round {round}: reset won whole"
        );
    }
}
