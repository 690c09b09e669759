//! Master-key rotation: the atomic km-version commit, key slots and collections.

mod common;

use common::{Db, TestServer};
use parchment_core::encoding::to_base64;
use parchment_core::key_slot::{slot_signable, WRAP_ALGO};
use parchment_core::keys::{Ed25519SecretKey, X25519SecretKey};
use parchment_core::rand_core::{OsRng, RngCore};
use reqwest::StatusCode;
use serde_json::{json, Value};

db_tests!(
    commit_rotates_everything_at_once,
    racing_commits_exactly_one_wins,
    failing_commit_writes_nothing,
    slots_are_verified_and_owned,
    collections_are_per_user,
    database_holds_no_seed_key_or_plaintext,
);

fn envelope(len: usize) -> String {
    let mut bytes = vec![0u8; 2 + 12 + len + 16];
    OsRng.fill_bytes(&mut bytes);
    bytes[0] = 0x02;
    bytes[1] = 0x01;
    to_base64(&bytes)
}

struct Keys {
    signing: Ed25519SecretKey,
    encryption: String,
}

fn keys() -> Keys {
    Keys {
        signing: Ed25519SecretKey::generate(&mut OsRng),
        encryption: X25519SecretKey::generate(&mut OsRng)
            .public_key()
            .to_base64(),
    }
}

fn slot(user_id: &str, key: &Ed25519SecretKey, credential_id: &str) -> Value {
    let wrapped = envelope(44);
    let signature = key
        .sign(slot_signable(user_id, credential_id, WRAP_ALGO, &wrapped).as_bytes())
        .to_base64();
    json!({ "credentialId": credential_id, "wrappedKm": wrapped, "wrapAlgo": WRAP_ALGO, "slotSignature": signature })
}

/// A user with published keys and one passkey row (`<prefix>-cred`).
async fn setup(s: &TestServer, email: &str) -> (String, String, Keys, String) {
    let (id, token) = s.user(email, "user").await;
    let k = keys();
    s.put(
        "/users/me/keys",
        Some(&token),
        json!({ "signingKey": k.signing.public_key().to_base64(), "encryptionKey": k.encryption }),
    )
    .await
    .expect(200);
    let credential = format!("{}-cred", email.split('@').next().unwrap_or("x"));
    s.sql(&format!(
        "INSERT INTO passkeys (id, user_id, name, credential, created_at) \
         VALUES ('{credential}', '{id}', 'key', '{{}}', 0)"
    ))
    .await;
    (id, token, k, credential)
}

/// A commit to `k`, signed by `current` (the account's signing key).
fn commit_body(
    expected: i64,
    user_id: &str,
    current: &Ed25519SecretKey,
    k: &Keys,
    blobs: &[(&str, &str)],
    collections: &[(&str, &str)],
    credentials: &[&str],
) -> Value {
    let body = json!({
        "expectedCurrent": expected,
        "signingKey": k.signing.public_key().to_base64(),
        "encryptionKey": k.encryption,
        "blobs": blobs.iter().map(|(t, b)| json!({ "blobType": t, "encryptedBlob": b })).collect::<Vec<_>>(),
        "collections": collections.iter().map(|(id, m)| json!({ "id": id, "metadataEncrypted": m })).collect::<Vec<_>>(),
        "slots": credentials.iter().map(|c| slot(user_id, &k.signing, c)).collect::<Vec<_>>(),
    });
    common::sign_commit(body, user_id, current)
}

async fn create_collection(s: &TestServer, token: &str) -> String {
    let created = s
        .post(
            "/library/collections",
            Some(token),
            json!({ "metadataEncrypted": envelope(16) }),
        )
        .await
        .expect(201);
    created.json["id"].as_str().unwrap_or_default().to_string()
}

async fn commit_rotates_everything_at_once(db: Db) {
    let s = TestServer::start(db).await;
    let (id, token, old, cred) = setup(&s, "ada@example.com").await;
    let c1 = create_collection(&s, &token).await;
    let c2 = create_collection(&s, &token).await;
    s.put(
        "/users/me/blobs/untouched",
        Some(&token),
        json!({ "encryptedBlob": envelope(4) }),
    )
    .await
    .expect(200);
    // c2 has content (sealed under its collection key, which derives from the seed): the
    // commit re-seals only that, leaving its metadata and metadata generation as they were.
    let c2_content = envelope(60);
    s.put(
        &format!("/library/collections/{c2}/content"),
        Some(&token),
        json!({ "contentEncrypted": envelope(50), "keyVersion": 1, "revision": 0 }),
    )
    .await
    .expect(200);
    let new = keys();
    let (b1, b2, m1) = (envelope(100), envelope(200), envelope(30));
    let mut body = commit_body(
        1,
        &id,
        &old.signing,
        &new,
        &[("search-history", &b1), ("friend-pins", &b2)],
        &[(&c1, &m1)],
        &[&cred],
    );
    let c2_owner = envelope(20);
    // Re-sealed from revision 0: the collection is at 1 now, so the commit is refused whole.
    let mut stale = body.clone();
    if let Some(list) = stale["collections"].as_array_mut() {
        list.push(json!({ "id": c2, "contentEncrypted": c2_content, "revision": 0 }));
    }
    let refused = s
        .post("/users/me/km-version/commit", Some(&token), stale)
        .await
        .expect(409);
    assert_eq!(refused.json["code"], "collection_changed");
    let still = s.get("/users/me/identity", Some(&token)).await.expect(200);
    assert_eq!(still.json["kmVersion"], 1, "nothing was written");
    if let Some(list) = body["collections"].as_array_mut() {
        list.push(json!({
            "id": c2,
            "contentEncrypted": c2_content,
            "ownerEncrypted": c2_owner,
            "revision": 1
        }));
    }
    let done = s
        .post("/users/me/km-version/commit", Some(&token), body.clone())
        .await
        .expect(200);
    assert_eq!(done.json, json!({ "kmVersion": 2 }));
    let identity = s.get("/users/me/identity", Some(&token)).await.expect(200);
    assert_eq!(
        identity.json["signingKey"],
        new.signing.public_key().to_base64()
    );
    assert_eq!(identity.json["encryptionKey"], new.encryption.as_str());
    assert_eq!(identity.json["kmVersion"], 2);
    let blob = s
        .get("/users/me/blobs/search-history", Some(&token))
        .await
        .expect(200);
    assert_eq!(blob.json["encryptedBlob"], b1.as_str());
    assert_eq!(blob.json["kmVersion"], 2);
    let list = s.get("/users/me/blobs", Some(&token)).await.expect(200);
    let untouched = list.json["blobs"]
        .as_array()
        .and_then(|a| a.iter().find(|b| b["blobType"] == "untouched").cloned())
        .unwrap_or_default();
    assert_eq!(
        untouched["kmVersion"], 1,
        "unmentioned rows are left as they are"
    );
    let collections = s
        .get("/library/collections", Some(&token))
        .await
        .expect(200);
    for c in collections.json["collections"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        if c["id"] == c1.as_str() {
            assert_eq!(c["metadataEncrypted"], m1.as_str());
            assert_eq!(c["metadataKeyVersion"], 2);
            assert_eq!(c["contentEncrypted"], Value::Null);
            assert_eq!(c["revision"], 0);
        } else {
            assert_eq!(c["id"], c2.as_str());
            assert_eq!(c["metadataKeyVersion"], 1, "its metadata was not re-sealed");
            assert_eq!(c["contentEncrypted"], c2_content.as_str());
            assert_eq!(c["ownerEncrypted"], c2_owner.as_str());
            assert_eq!(c["keyVersion"], 1);
            assert_eq!(c["revision"], 2, "a re-sealed content is a new revision");
        }
    }
    let slots = s
        .get("/users/me/wrapped-keys", Some(&token))
        .await
        .expect(200);
    assert_eq!(slots.json["slots"][0]["credentialId"], cred.as_str());
    assert_eq!(
        slots.json["slots"][0]["slotSignature"],
        body["slots"][0]["slotSignature"]
    );
    // A retry of the same commit is a conflict that names the current version.
    let again = s
        .post("/users/me/km-version/commit", Some(&token), body)
        .await
        .expect_error(409, "km_version_mismatch");
    assert!(again.json["message"]
        .as_str()
        .unwrap_or_default()
        .contains('2'));
    if db == Db::Sqlite {
        // Nothing secret reached the database file.
        let mut raw = std::fs::read(s.dir.path().join("test.db")).unwrap_or_default();
        raw.extend(std::fs::read(s.dir.path().join("test.db-wal")).unwrap_or_default());
        let raw = String::from_utf8_lossy(&raw);
        for secret in [old.signing.export_base64(), new.signing.export_base64()] {
            assert!(
                !raw.contains(secret.as_str()),
                "a private key is in the database"
            );
        }
    }
    s.stop().await;
}

async fn racing_commits_exactly_one_wins(db: Db) {
    let s = TestServer::start(db).await;
    let (id, token, old, cred) = setup(&s, "ada@example.com").await;
    let collection = create_collection(&s, &token).await;
    let mut bodies = Vec::new();
    for _ in 0..100 {
        let k = keys();
        let (b1, b2, m) = (envelope(64), envelope(64), envelope(16));
        bodies.push(commit_body(
            1,
            &id,
            &old.signing,
            &k,
            &[("a", &b1), ("b", &b2)],
            &[(&collection, &m)],
            &[&cred],
        ));
    }
    let tasks: Vec<_> = bodies
        .iter()
        .cloned()
        .map(|body| {
            let http = s.http.clone();
            let url = s.url("/users/me/km-version/commit");
            let token = token.clone();
            tokio::spawn(async move {
                http.post(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .map(|r| r.status())
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut conflicts = 0;
    for (i, task) in tasks.into_iter().enumerate() {
        match task.await.expect("join").expect("request") {
            StatusCode::OK => winners.push(i),
            StatusCode::CONFLICT => conflicts += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one commit wins");
    assert_eq!(conflicts, 99);
    let won = &bodies[winners[0]];
    let identity = s.get("/users/me/identity", Some(&token)).await.expect(200);
    assert_eq!(identity.json["signingKey"], won["signingKey"]);
    assert_eq!(identity.json["encryptionKey"], won["encryptionKey"]);
    assert_eq!(identity.json["kmVersion"], 2);
    for (i, blob_type) in ["a", "b"].iter().enumerate() {
        let blob = s
            .get(&format!("/users/me/blobs/{blob_type}"), Some(&token))
            .await
            .expect(200);
        assert_eq!(blob.json["encryptedBlob"], won["blobs"][i]["encryptedBlob"]);
    }
    let collections = s
        .get("/library/collections", Some(&token))
        .await
        .expect(200);
    assert_eq!(
        collections.json["collections"][0]["metadataEncrypted"],
        won["collections"][0]["metadataEncrypted"]
    );
    let slots = s
        .get("/users/me/wrapped-keys", Some(&token))
        .await
        .expect(200);
    assert_eq!(slots.json["slots"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        slots.json["slots"][0]["wrappedKm"],
        won["slots"][0]["wrappedKm"]
    );
    assert_eq!(
        s.sql_i64("SELECT COUNT(*) FROM encrypted_user_blobs").await,
        2
    );
    s.stop().await;
}

async fn failing_commit_writes_nothing(db: Db) {
    let s = TestServer::start(db).await;
    let (id, token, old, cred) = setup(&s, "ada@example.com").await;
    let (bob_id, bob, _, bob_cred) = setup(&s, "bob@example.com").await;
    let mine = create_collection(&s, &token).await;
    let bobs = create_collection(&s, &bob).await;
    let new = keys();
    let b = envelope(10);
    let second_cred = "ada-cred-2";
    s.sql(&format!(
        "INSERT INTO passkeys (id, user_id, name, credential, created_at) \
         VALUES ('{second_cred}', '{id}', 'key', '{{}}', 0)"
    ))
    .await;
    // Bad signature in the last slot (signed by the OLD key).
    let mut bad_last = commit_body(
        1,
        &id,
        &old.signing,
        &new,
        &[("x", &b)],
        &[(&mine, &b)],
        &[&cred],
    );
    if let Some(slots) = bad_last["slots"].as_array_mut() {
        slots.push(slot(&id, &old.signing, second_cred));
    }
    let mut cases: Vec<(Value, u16, &str)> = vec![
        (bad_last, 400, "invalid_slot_signature"),
        (
            commit_body(
                1,
                &id,
                &old.signing,
                &new,
                &[("x", &b)],
                &[(&bobs, &b)],
                &[],
            ),
            404,
            "unknown_collection",
        ),
        (
            commit_body(1, &id, &old.signing, &new, &[("x", &b)], &[], &[&bob_cred]),
            404,
            "unknown_credential",
        ),
        (
            commit_body(1, &id, &old.signing, &new, &[("bad type!", &b)], &[], &[]),
            400,
            "invalid_blob_type",
        ),
        (
            commit_body(1, &id, &old.signing, &new, &[("x", "AAAA")], &[], &[]),
            400,
            "invalid_envelope",
        ),
        (
            commit_body(
                1,
                &id,
                &old.signing,
                &new,
                &[("x", &b), ("x", &b)],
                &[],
                &[],
            ),
            400,
            "duplicate_item",
        ),
        (
            commit_body(0, &id, &old.signing, &new, &[], &[], &[]),
            422,
            "validation_failed",
        ),
        (
            commit_body(7, &id, &old.signing, &new, &[("x", &b)], &[], &[]),
            409,
            "km_version_mismatch",
        ),
    ];
    // Slot signed for another user id.
    let mut foreign = commit_body(1, &id, &old.signing, &new, &[], &[], &[]);
    foreign["slots"] = json!([slot(&bob_id, &new.signing, &cred)]);
    cases.push((foreign, 400, "invalid_slot_signature"));
    let mut small_order = commit_body(1, &id, &old.signing, &new, &[], &[], &[]);
    small_order["signingKey"] = json!(to_base64(&{
        let mut k = [0u8; 32];
        k[0] = 1;
        k
    }));
    cases.push((small_order, 400, "invalid_key"));
    let mut short_key = commit_body(1, &id, &old.signing, &new, &[], &[], &[]);
    short_key["encryptionKey"] = json!(to_base64(&[9u8; 31]));
    cases.push((short_key, 400, "invalid_key"));
    // The current key's proof: missing, made by the new key (all a stolen session has),
    // made for another account or generation, or not a signature at all.
    let mut unsigned = commit_body(1, &id, &old.signing, &new, &[("x", &b)], &[], &[]);
    unsigned
        .as_object_mut()
        .map(|o| o.remove("currentKeySignature"));
    cases.push((unsigned, 400, "current_key_signature_required"));
    cases.push((
        commit_body(1, &id, &new.signing, &new, &[("x", &b)], &[], &[]),
        403,
        "invalid_current_key_signature",
    ));
    let mut for_bob = commit_body(1, &bob_id, &old.signing, &new, &[("x", &b)], &[], &[]);
    for_bob["slots"] = json!([]);
    cases.push((for_bob, 403, "invalid_current_key_signature"));
    let mut other_generation = commit_body(2, &id, &old.signing, &new, &[("x", &b)], &[], &[]);
    other_generation["expectedCurrent"] = json!(1);
    cases.push((other_generation, 403, "invalid_current_key_signature"));
    let mut garbage = commit_body(1, &id, &old.signing, &new, &[("x", &b)], &[], &[]);
    garbage["currentKeySignature"] = json!("AAAA");
    cases.push((garbage, 403, "invalid_current_key_signature"));
    let mut unknown_field = commit_body(1, &id, &old.signing, &new, &[], &[], &[]);
    unknown_field["extra"] = json!(true);
    cases.push((unknown_field, 422, "validation_failed"));
    for (body, status, code) in cases {
        s.post("/users/me/km-version/commit", Some(&token), body)
            .await
            .expect_error(status, code);
    }
    let identity = s.get("/users/me/identity", Some(&token)).await.expect(200);
    assert_eq!(identity.json["kmVersion"], 1);
    assert_eq!(
        identity.json["signingKey"],
        old.signing.public_key().to_base64()
    );
    assert_eq!(
        s.sql_i64("SELECT COUNT(*) FROM encrypted_user_blobs").await,
        0
    );
    assert_eq!(
        s.sql_i64("SELECT COUNT(*) FROM wrapped_master_keys").await,
        0
    );
    assert_eq!(
        s.sql_i64("SELECT COUNT(*) FROM collections WHERE metadata_key_version <> 1")
            .await,
        0
    );
    s.stop().await;
}

async fn slots_are_verified_and_owned(db: Db) {
    let s = TestServer::start(db).await;
    let (id, token, k, cred) = setup(&s, "ada@example.com").await;
    let (_, _, _, bob_cred) = setup(&s, "bob@example.com").await;
    let other = keys();
    s.post(
        "/users/me/wrapped-keys",
        Some(&token),
        slot(&id, &other.signing, &cred),
    )
    .await
    .expect_error(400, "invalid_slot_signature");
    s.post(
        "/users/me/wrapped-keys",
        Some(&token),
        slot(&id, &k.signing, &bob_cred),
    )
    .await
    .expect_error(404, "unknown_credential");
    let mut wrong_algo = slot(&id, &k.signing, &cred);
    wrong_algo["wrapAlgo"] = json!("rot13");
    s.post("/users/me/wrapped-keys", Some(&token), wrong_algo)
        .await
        .expect_error(400, "invalid_slot");
    assert_eq!(
        s.sql_i64("SELECT COUNT(*) FROM wrapped_master_keys").await,
        0
    );
    let good = slot(&id, &k.signing, &cred);
    let stored = s
        .post("/users/me/wrapped-keys", Some(&token), good.clone())
        .await
        .expect(201);
    assert_eq!(stored.json, json!({ "success": true }));
    let list = s
        .get("/users/me/wrapped-keys", Some(&token))
        .await
        .expect(200);
    assert_eq!(list.json["slots"][0]["wrappedKm"], good["wrappedKm"]);
    assert_eq!(list.json["slots"][0]["lastUsedAt"], Value::Null);
    s.post(
        &format!("/users/me/wrapped-keys/{cred}/used"),
        Some(&token),
        json!({}),
    )
    .await
    .expect(204);
    let used = s
        .get("/users/me/wrapped-keys", Some(&token))
        .await
        .expect(200);
    assert!(used.json["slots"][0]["lastUsedAt"].is_string());
    s.delete(&format!("/users/me/wrapped-keys/{cred}"), Some(&token))
        .await
        .expect(204);
    s.delete(&format!("/users/me/wrapped-keys/{cred}"), Some(&token))
        .await
        .expect_error(404, "not_found");
    // Without published keys there is nothing to verify a slot against.
    let (fresh_id, fresh) = s.user("fresh@example.com", "user").await;
    s.post(
        "/users/me/wrapped-keys",
        Some(&fresh),
        slot(&fresh_id, &k.signing, "c"),
    )
    .await
    .expect_error(409, "no_signing_key");
    s.stop().await;
}

async fn collections_are_per_user(db: Db) {
    let s = TestServer::start(db).await;
    let (_, ada) = s.user("ada@example.com", "user").await;
    let (_, bob) = s.user("bob@example.com", "user").await;
    let id = create_collection(&s, &ada).await;
    let empty = s
        .post("/library/collections", Some(&ada), json!({}))
        .await
        .expect(201);
    assert!(empty.json["id"].is_string());
    s.post(
        "/library/collections",
        Some(&ada),
        json!({ "metadataEncrypted": "AAAA" }),
    )
    .await
    .expect_error(400, "invalid_envelope");
    let bobs = s.get("/library/collections", Some(&bob)).await.expect(200);
    assert_eq!(bobs.json["collections"], json!([]));
    s.delete(&format!("/library/collections/{id}"), Some(&bob))
        .await
        .expect_error(404, "not_found");
    s.delete(&format!("/library/collections/{id}"), Some(&ada))
        .await
        .expect(204);
    let left = s.get("/library/collections", Some(&ada)).await.expect(200);
    assert_eq!(left.json["collections"].as_array().map(Vec::len), Some(1));
    s.get("/library/collections", None)
        .await
        .expect_error(401, "unauthorized");
    s.stop().await;
}

/// A client flow with the real client crypto (seed → keys, sealed blobs, a rotation); then
/// the raw database file must not contain the seed, a private key or the plaintext.
async fn database_holds_no_seed_key_or_plaintext(db: Db) {
    use parchment_core::derive;
    use parchment_core::envelope::{seal_base64, Aad, Algorithm};
    use parchment_core::Seed;

    let s = TestServer::start(db).await;
    let (user_id, token) = s.user("ada@example.com", "user").await;
    let mut secrets: Vec<Vec<u8>> = Vec::new();
    let plaintext = b"PLAINTEXT-MARKER my search history: 52.37N 4.89E".to_vec();
    secrets.push(plaintext.clone());
    let seal = |seed: &Seed, blob_type: &str| {
        let aad = Aad {
            user_id: &user_id,
            record_type: "personal-blob",
            record_id: blob_type,
            key_context: "personal",
        };
        seal_base64(
            &derive::personal_key(seed),
            Algorithm::Aes256Gcm,
            &aad,
            &plaintext,
            &mut OsRng,
        )
        .expect("seal")
    };
    let mut seeds = Vec::new();
    for _ in 0..2 {
        let mut raw = [0u8; 32];
        OsRng.fill_bytes(&mut raw);
        secrets.push(raw.to_vec());
        secrets.push(to_base64(&raw).into_bytes());
        let seed = Seed::from_bytes(raw);
        secrets.push(seed.to_recovery_key().as_bytes().to_vec());
        secrets.push(
            derive::signing_key(&seed)
                .export_base64()
                .as_bytes()
                .to_vec(),
        );
        seeds.push(seed);
    }
    let first = &seeds[0];
    s.put(
        "/users/me/keys",
        Some(&token),
        json!({
            "signingKey": derive::signing_key(first).public_key().to_base64(),
            "encryptionKey": derive::encryption_key(first).public_key().to_base64(),
        }),
    )
    .await
    .expect(200);
    s.put(
        "/users/me/blobs/search-history",
        Some(&token),
        json!({ "encryptedBlob": seal(first, "search-history") }),
    )
    .await
    .expect(200);
    let second = &seeds[1];
    s.post(
        "/users/me/km-version/commit",
        Some(&token),
        common::sign_commit(
            json!({
                "expectedCurrent": 1,
                "signingKey": derive::signing_key(second).public_key().to_base64(),
                "encryptionKey": derive::encryption_key(second).public_key().to_base64(),
                "blobs": [{ "blobType": "search-history", "encryptedBlob": seal(second, "search-history") }],
            }),
            &user_id,
            &derive::signing_key(first),
        ),
    )
    .await
    .expect(200);
    if db == Db::Sqlite {
        // The main file and the write-ahead log hold every byte the server wrote.
        let mut raw = Vec::new();
        for file in ["test.db", "test.db-wal"] {
            raw.extend(std::fs::read(s.dir.path().join(file)).unwrap_or_default());
        }
        // Control: what the server must store (the public key) is found by the same search.
        let public = derive::signing_key(second)
            .public_key()
            .to_base64()
            .into_bytes();
        assert!(raw.windows(public.len()).any(|w| w == public.as_slice()));
        for secret in &secrets {
            assert!(
                !raw.windows(secret.len()).any(|w| w == secret.as_slice()),
                "secret bytes found in the database file"
            );
        }
    }
    s.stop().await;
}
