//! Every request the published documentation (`../shared/seeds/`) shows, replayed as written:
//! its method, its path exactly as the samples spell it (trailing slash included) and its
//! body's fields, with valid values in place of the `"string"` placeholders. Each answers
//! its documented success status. (`POST /federation/inbox` needs a signing peer: its
//! example is replayed in `federation.rs`, `the_seed_inbox_body_is_accepted_as_written`.)

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::{Db, TestServer};
use parchment_core::encoding::to_base64;
use parchment_core::key_slot::{slot_signable, WRAP_ALGO};
use parchment_core::keys::{Ed25519SecretKey, X25519SecretKey};
use parchment_core::rand_core::{OsRng, RngCore};
use reqwest::Method;
use serde_json::{json, Value};

db_tests!(every_seed_example_works_as_written);

/// The description sentences and tags the document takes from the seeds are the seeds'
/// own: each page's `<title>\n\n<sentence>\n\n<METHOD>\n<path>` block, under its section.
#[test]
fn seed_operations_match_the_seed_pages() {
    use parchment_server::openapi_document::SEED_OPERATIONS;
    let mut published = Vec::new();
    for file in seed_files() {
        let text = std::fs::read_to_string(&file).expect("seed page");
        let paragraphs: Vec<&str> = text.split("\n\n").map(str::trim).collect();
        let mut section = "";
        for (i, paragraph) in paragraphs.iter().enumerate() {
            if matches!(*paragraph, "Users" | "Federation") {
                section = paragraph;
            }
            let mut lines = paragraph.lines();
            let (Some(method), Some(path), None) = (lines.next(), lines.next(), lines.next())
            else {
                continue;
            };
            if !matches!(method, "GET" | "POST" | "PUT" | "PATCH" | "DELETE")
                || !path.starts_with('/')
            {
                continue;
            }
            let entry = (
                method.to_ascii_lowercase(),
                path.to_owned(),
                section.to_owned(),
                paragraphs[i - 1].to_owned(),
            );
            // The laid-out pages (000, 002) come first; the flattened copies lose sections.
            if !published
                .iter()
                .any(|(m, p, _, _): &(String, String, String, String)| {
                    *m == entry.0 && *p == entry.1
                })
            {
                published.push(entry);
            }
        }
    }
    let mut ours: Vec<_> = SEED_OPERATIONS
        .iter()
        .map(|(m, p, t, d)| (m.to_string(), p.to_string(), t.to_string(), d.to_string()))
        .collect();
    published.sort();
    ours.sort();
    assert_eq!(ours, published);
}

fn seed_files() -> Vec<PathBuf> {
    let dir = seeds_dir();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    files
}

fn seeds_dir() -> PathBuf {
    match std::env::var_os("PARCHMENT_SEEDS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/seeds"),
    }
}

/// (method, path) → the JSON body of its curl sample, from every seed page.
fn seed_requests() -> BTreeMap<(String, String), Option<Value>> {
    let mut found = BTreeMap::new();
    for file in seed_files() {
        let text = std::fs::read_to_string(&file).expect("seed page");
        let mut rest = text.as_str();
        while let Some(at) = rest.find("curl -X ") {
            rest = &rest[at + "curl -X ".len()..];
            let method = rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
            let url_start = rest.find('"').map_or(0, |i| i + 1);
            let url_len = rest[url_start..].find('"').unwrap_or(0);
            let url = &rest[url_start..url_start + url_len];
            let path = url.trim_start_matches("https://example.com").to_owned();
            // The sample's own lines: up to the first one that does not continue with `\`.
            let mut end = 0;
            for line in rest.split_inclusive('\n') {
                end += line.len();
                if !line.trim_end().ends_with('\\') {
                    break;
                }
            }
            let mut sample = &rest[..end];
            let body = sample.find("-d '").map(|i| {
                sample = &rest[i + 4..];
                let close = sample.find('\'').unwrap_or(sample.len());
                serde_json::from_str::<Value>(&sample[..close]).expect("sample body is JSON")
            });
            found.entry((method, path)).or_insert(body);
        }
    }
    found
}

fn envelope(len: usize) -> String {
    let mut bytes = vec![0u8; 2 + 12 + len + 16];
    OsRng.fill_bytes(&mut bytes);
    bytes[0] = 0x02;
    bytes[1] = 0x01;
    to_base64(&bytes)
}

/// Replaces the sample's placeholders with valid values, field by field.
struct Filler {
    user_id: String,
    current: Ed25519SecretKey,
    collection: String,
    credential: String,
}

impl Filler {
    fn body(&self, path: &str, mut body: Value) -> Value {
        let set = |body: &mut Value, field: &str, value: Value| {
            if body.get(field).is_some() {
                body[field] = value;
            }
        };
        match path {
            "/users/" => set(&mut body, "picture", json!("https://example.com/ada.png")),
            "/users/me/alias" => set(&mut body, "alias", json!("ada_lovelace")),
            "/users/me/preferences" => set(&mut body, "language", json!("en-US")),
            "/users/me/revocations/flush" => {
                body["items"][0]["peerHandle"] = json!("bob@elsewhere.example");
                body["items"][0]["messageVersion"] = json!(1);
                body["items"][0]["nonce"] = json!("AAAAAAAAAAAAAAAAAAAAAA==");
            }
            "/users/me/km-version/commit" => {
                let next = Ed25519SecretKey::generate(&mut OsRng);
                body["expectedCurrent"] = json!(1);
                body["signingKey"] = json!(next.public_key().to_base64());
                body["encryptionKey"] = json!(X25519SecretKey::generate(&mut OsRng)
                    .public_key()
                    .to_base64());
                body["blobs"][0]["blobType"] = json!("search-history");
                body["blobs"][0]["encryptedBlob"] = json!(envelope(40));
                body["collections"][0]["id"] = json!(self.collection);
                body["collections"][0]["metadataEncrypted"] = json!(envelope(20));
                let wrapped = envelope(44);
                let signature = next.sign(
                    slot_signable(&self.user_id, &self.credential, WRAP_ALGO, &wrapped).as_bytes(),
                );
                body["slots"][0] = json!({
                    "credentialId": self.credential,
                    "wrappedKm": wrapped,
                    "wrapAlgo": WRAP_ALGO,
                    "slotSignature": signature.to_base64(),
                });
                body = common::sign_commit(body, &self.user_id, &self.current);
            }
            _ => {}
        }
        body
    }
}

/// The documented success status of each sample, in an order that needs no other state
/// (keys before the commit; the reset last).
const EXPECTED: &[(&str, &str, u16)] = &[
    ("GET", "/auth/sessions/current", 200),
    ("GET", "/users/", 200),
    ("POST", "/users/", 201),
    ("GET", "/users/roles", 200),
    ("GET", "/users/permissions", 200),
    ("PATCH", "/users/me/profile", 200),
    ("GET", "/users/me/preferences", 200),
    ("PUT", "/users/me/preferences", 200),
    ("PATCH", "/users/me/alias", 200),
    ("GET", "/users/me/identity", 200),
    ("PUT", "/users/me/keys", 200),
    ("GET", "/users/me/km-version", 200),
    ("POST", "/users/me/km-version/commit", 200),
    ("GET", "/users/me/devices/stringst/wrap-secret", 200),
    ("POST", "/users/me/device-wrap-secrets/rotate", 200),
    ("GET", "/users/me/revocations/pending", 200),
    ("POST", "/users/me/revocations/flush", 200),
    ("DELETE", "/users/me/revocations/pending/string", 200),
    ("POST", "/users/me/identity/reset", 200),
];

async fn every_seed_example_works_as_written(db: Db) {
    let seeds = seed_requests();
    let mut covered: Vec<(String, String)> = EXPECTED
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    covered.push(("POST".into(), "/federation/inbox".into()));
    covered.sort();
    let shown: Vec<(String, String)> = seeds.keys().cloned().collect();
    assert_eq!(shown, covered, "every sample of the seeds is replayed here");

    let s = TestServer::start(db).await;
    let (user_id, token) = s.user("admin@example.com", "admin").await;
    let current = Ed25519SecretKey::generate(&mut OsRng);
    let created = s
        .post(
            "/library/collections",
            Some(&token),
            json!({ "metadataEncrypted": envelope(16) }),
        )
        .await
        .expect(201);
    let credential = "seed-credential".to_owned();
    s.sql(&format!(
        "INSERT INTO passkeys (id, user_id, name, credential, created_at) \
         VALUES ('{credential}', '{user_id}', 'key', '{{}}', 0)"
    ))
    .await;
    // What DELETE /users/me/revocations/pending/{peerHandle} removes: the placeholder handle
    // "string" is no handle, so the sample's path names one queued here.
    s.sql(&format!(
        "INSERT INTO pending_revocations (id, user_id, peer_handle, peer_key, created_at, \
         updated_at) VALUES ('r1', '{user_id}', 'string@elsewhere.example', \
         'string@elsewhere.example', 0, 0)"
    ))
    .await;
    let filler = Filler {
        user_id: user_id.clone(),
        collection: created.json["id"].as_str().unwrap_or_default().to_owned(),
        current,
        credential,
    };
    for (method, path, status) in EXPECTED {
        let sample = seeds
            .get(&(method.to_string(), path.to_string()))
            .cloned()
            .flatten();
        let mut body = sample.map(|b| filler.body(path, b));
        if *path == "/users/me/keys" {
            body = Some(json!({
                "signingKey": filler.current.public_key().to_base64(),
                "encryptionKey": X25519SecretKey::generate(&mut OsRng).public_key().to_base64(),
            }));
        }
        let target = if path.ends_with("/pending/string") {
            path.replace("/pending/string", "/pending/string%40elsewhere.example")
        } else {
            path.to_string()
        };
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let reply = s.send(method.clone(), &target, Some(&token), body).await;
        assert_eq!(
            reply.status.as_u16(),
            *status,
            "{method} {path}: {}",
            reply.text
        );
    }
    s.stop().await;
}
