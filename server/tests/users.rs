//! Users, roles, permissions, profile and preferences; the 401/403 matrix; edges of the app
//! (unknown routes, body limit, docs).

mod common;

use common::{Db, Options, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

db_tests!(
    every_protected_endpoint_is_401_without_a_session,
    admin_endpoints_are_403_without_permission,
    admin_creates_and_lists_users,
    create_user_validation,
    inviter_without_users_update_only_grants_own_roles,
    profile_update_and_clear,
    preferences_defaults_update_and_validation,
    edges_unknown_route_body_limit_docs,
    early_answers_reach_a_client_that_sent_its_whole_body,
    a_trickled_body_runs_out_of_time,
    admin_cli_creates_user_and_issues_token,
);

/// (method, path, body) of every endpoint that needs a session.
fn protected() -> Vec<(Method, &'static str, Option<Value>)> {
    vec![
        (Method::GET, "/users", None),
        (
            Method::POST,
            "/users",
            Some(json!({ "email": "x@example.com" })),
        ),
        (Method::GET, "/users/roles", None),
        (Method::GET, "/users/permissions", None),
        (
            Method::PATCH,
            "/users/me/profile",
            Some(json!({ "firstName": "A" })),
        ),
        (Method::GET, "/users/me/preferences", None),
        (
            Method::PUT,
            "/users/me/preferences",
            Some(json!({ "language": "en" })),
        ),
        (Method::GET, "/auth/sessions", None),
        (Method::GET, "/auth/sessions/current/permissions", None),
        (Method::DELETE, "/auth/sessions", None),
        (Method::DELETE, "/auth/sessions/all", None),
        (Method::DELETE, "/auth/sessions/others", None),
        (Method::DELETE, "/auth/sessions/someid", None),
        (
            Method::POST,
            "/auth/passkeys/register/options",
            Some(json!({})),
        ),
        (
            Method::POST,
            "/auth/passkeys/register/verify",
            Some(json!({ "challengeId": "x", "credential": {} })),
        ),
        (Method::GET, "/auth/passkeys", None),
        (Method::DELETE, "/auth/passkeys/someid", None),
        (Method::GET, "/users/me/identity", None),
        (
            Method::PATCH,
            "/users/me/alias",
            Some(json!({ "alias": "alice" })),
        ),
        (
            Method::PUT,
            "/users/me/keys",
            Some(json!({ "signingKey": "a", "encryptionKey": "b" })),
        ),
        (Method::GET, "/users/me/km-version", None),
        (Method::GET, "/users/me/blobs", None),
        (Method::GET, "/users/me/blobs/x", None),
        (
            Method::PUT,
            "/users/me/blobs/x",
            Some(json!({ "encryptedBlob": "AAAA" })),
        ),
        (Method::DELETE, "/users/me/blobs/x", None),
        (Method::GET, "/users/me/devices/device-01/wrap-secret", None),
        (Method::POST, "/users/me/device-wrap-secrets/rotate", None),
    ]
}

async fn every_protected_endpoint_is_401_without_a_session(db: Db) {
    let s = TestServer::start(db).await;
    for (method, path, body) in protected() {
        for token in [None, Some("not-a-session-token")] {
            s.send(method.clone(), path, token, body.clone())
                .await
                .expect_error(401, "unauthorized");
        }
    }
    s.stop().await;
}

async fn admin_endpoints_are_403_without_permission(db: Db) {
    let s = TestServer::start(db).await;
    let (_, user) = s.user("plain@example.com", "user").await;
    let (_, admin) = s.user("admin@example.com", "admin").await;
    for (method, path, body) in [
        (Method::GET, "/users", None),
        (
            Method::POST,
            "/users",
            Some(json!({ "email": "x@example.com" })),
        ),
        (Method::GET, "/users/roles", None),
        (Method::GET, "/users/permissions", None),
    ] {
        s.send(method.clone(), path, Some(&user), body.clone())
            .await
            .expect_error(403, "forbidden");
        let ok = s.send(method, path, Some(&admin), body).await;
        assert!(ok.status.is_success(), "{path}: {}", ok.text);
    }
    s.stop().await;
}

async fn admin_creates_and_lists_users(db: Db) {
    let s = TestServer::start(db).await;
    let (admin_id, admin) = s.user("admin@example.com", "admin").await;
    let created = s
        .post(
            "/users",
            Some(&admin),
            json!({ "email": "  Ada@Example.com ", "firstName": " Ada ", "lastName": "Lovelace", "roles": ["basic", "basic"] }),
        )
        .await
        .expect(201);
    let user = &created.json;
    assert_eq!(user["email"], "Ada@Example.com");
    assert_eq!(user["firstName"], "Ada");
    assert_eq!(user["kmVersion"], 1);
    assert_eq!(user["roles"][0]["id"], "basic");
    assert_eq!(user["roles"].as_array().map(Vec::len), Some(1));
    for internal in [
        "emailNormalized",
        "email_normalized",
        "polarCustomerId",
        "aliasNormalized",
    ] {
        assert!(user.get(internal).is_none(), "{internal} leaked");
    }
    s.post(
        "/users",
        Some(&admin),
        json!({ "email": "ada@EXAMPLE.com" }),
    )
    .await
    .expect_error(409, "email_taken");
    let page = s
        .get("/users?page=1&limit=1", Some(&admin))
        .await
        .expect(200);
    assert_eq!(page.json["total"], 2);
    assert_eq!(page.json["limit"], 1);
    assert_eq!(page.json["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        page.json["data"][0]["id"],
        admin_id.as_str(),
        "oldest first"
    );
    assert_eq!(page.json["data"][0]["roles"][0]["id"], "admin");
    assert_eq!(page.json["data"][0]["sessionCount"], 1);
    let second = s
        .get("/users?page=2&limit=1", Some(&admin))
        .await
        .expect(200);
    assert_eq!(second.json["data"][0]["email"], "Ada@Example.com");
    assert_eq!(second.json["data"][0]["roles"][0]["id"], "basic");
    assert_eq!(second.json["data"][0]["sessionCount"], 0);
    for bad in ["page=0", "limit=0", "limit=101", "page=abc", "page=-1"] {
        s.get(&format!("/users?{bad}"), Some(&admin))
            .await
            .expect_error(422, "validation_failed");
    }
    let roles = s.get("/users/roles", Some(&admin)).await.expect(200);
    let ids: Vec<&str> = roles
        .json
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["id"].as_str()).collect())
        .unwrap_or_default();
    for id in ["user", "basic", "premium", "alpha", "admin"] {
        assert!(ids.contains(&id), "{id}");
    }
    let perms = s.get("/users/permissions", Some(&admin)).await.expect(200);
    assert_eq!(perms.json.as_array().map(Vec::len), Some(31));
    assert!(perms.text.contains("\"users:read\""));
    s.stop().await;
}

async fn create_user_validation(db: Db) {
    let s = TestServer::start(db).await;
    let (_, admin) = s.user("admin@example.com", "admin").await;
    let long = "x".repeat(101);
    for (body, status, code) in [
        (json!({ "email": "nope" }), 422, "validation_failed"),
        (json!({ "email": "a@b@c" }), 422, "validation_failed"),
        (json!({}), 422, "validation_failed"),
        (
            json!({ "email": "x@example.com", "firstName": long }),
            422,
            "validation_failed",
        ),
        (
            json!({ "email": "x@example.com", "firstName": "   " }),
            422,
            "validation_failed",
        ),
        (
            json!({ "email": "x@example.com", "picture": "javascript:alert(1)" }),
            422,
            "validation_failed",
        ),
        (
            json!({ "email": "x@example.com", "roles": ["wizard"] }),
            400,
            "invalid_role",
        ),
        // The seed's single `role` is checked like `roles`.
        (
            json!({ "email": "x@example.com", "role": "wizard" }),
            400,
            "invalid_role",
        ),
        (json!({ "email": 5 }), 422, "validation_failed"),
    ] {
        s.post("/users", Some(&admin), body.clone())
            .await
            .expect_error(status, code);
    }
    // Nothing was written by any of them.
    assert_eq!(s.sql_i64("SELECT COUNT(*) FROM users").await, 1);
    assert_eq!(s.sql_i64("SELECT COUNT(*) FROM users_roles").await, 1);
    s.stop().await;
}

async fn inviter_without_users_update_only_grants_own_roles(db: Db) {
    let s = TestServer::start(db).await;
    let (_, alpha) = s.user("alpha@example.com", "alpha").await;
    s.post(
        "/users",
        Some(&alpha),
        json!({ "email": "x@example.com", "roles": ["admin"] }),
    )
    .await
    .expect_error(403, "forbidden");
    s.post(
        "/users",
        Some(&alpha),
        json!({ "email": "y@example.com", "roles": ["alpha"] }),
    )
    .await
    .expect(201);
    let plain = s
        .post("/users", Some(&alpha), json!({ "email": "z@example.com" }))
        .await
        .expect(201);
    assert_eq!(plain.json["roles"][0]["id"], "user");
    s.stop().await;
}

async fn profile_update_and_clear(db: Db) {
    let s = TestServer::start(db).await;
    let (_, ada) = s.user("ada@example.com", "user").await;
    let (_, bob) = s.user("bob@example.com", "user").await;
    let updated = s
        .patch(
            "/users/me/profile",
            Some(&ada),
            json!({ "firstName": "  Ada ", "picture": "https://example.com/a.png" }),
        )
        .await
        .expect(200);
    assert_eq!(updated.json["firstName"], "Ada");
    assert_eq!(updated.json["lastName"], "User", "absent keeps");
    assert_eq!(updated.json["picture"], "https://example.com/a.png");
    let cleared = s
        .patch("/users/me/profile", Some(&ada), json!({ "lastName": null }))
        .await
        .expect(200);
    assert_eq!(cleared.json["lastName"], Value::Null, "null clears");
    assert_eq!(cleared.json["firstName"], "Ada");
    for body in [
        json!({ "firstName": "x".repeat(101) }),
        json!({ "firstName": "" }),
        json!({ "firstName": "Ok", "lastName": "\u{7}bell" }),
        json!({ "picture": "ftp://example.com/x" }),
        json!({ "nickname": "x" }),
        json!({ "firstName": { "nested": 1 } }),
    ] {
        s.patch("/users/me/profile", Some(&ada), body)
            .await
            .expect_error(422, "validation_failed");
    }
    let me = s
        .get("/auth/sessions/current", Some(&ada))
        .await
        .expect(200);
    assert_eq!(
        me.json["user"]["firstName"], "Ada",
        "nothing partially written"
    );
    let other = s
        .get("/auth/sessions/current", Some(&bob))
        .await
        .expect(200);
    assert_eq!(
        other.json["user"]["firstName"], "Test",
        "other users untouched"
    );
    s.stop().await;
}

async fn preferences_defaults_update_and_validation(db: Db) {
    let s = TestServer::start(db).await;
    let (_, ada) = s.user("ada@example.com", "user").await;
    let defaults = s.get("/users/me/preferences", Some(&ada)).await.expect(200);
    assert_eq!(
        defaults.json,
        json!({ "language": "en-US", "unitSystem": "metric" })
    );
    assert_eq!(
        s.sql_i64("SELECT COUNT(*) FROM user_preferences").await,
        0,
        "GET writes nothing"
    );
    s.put(
        "/users/me/preferences",
        Some(&ada),
        json!({ "language": "es" }),
    )
    .await
    .expect(200);
    let both = s
        .put(
            "/users/me/preferences",
            Some(&ada),
            json!({ "unitSystem": "imperial" }),
        )
        .await
        .expect(200);
    assert_eq!(
        both.json,
        json!({ "language": "es", "unitSystem": "imperial" })
    );
    let empty = s
        .put("/users/me/preferences", Some(&ada), json!({}))
        .await
        .expect(200);
    assert_eq!(empty.json, both.json);
    for body in [
        json!({ "language": "fr-FR" }),
        json!({ "language": "es", "unitSystem": "furlongs" }),
        json!({ "unitSystem": "Metric" }),
        json!({ "language": 1 }),
        json!({ "theme": "dark" }),
    ] {
        s.put("/users/me/preferences", Some(&ada), body)
            .await
            .expect_error(422, "validation_failed");
    }
    let after = s.get("/users/me/preferences", Some(&ada)).await.expect(200);
    assert_eq!(after.json, both.json, "nothing stored by a rejected PUT");
    s.stop().await;
}

async fn edges_unknown_route_body_limit_docs(db: Db) {
    let s = TestServer::start_with(
        db,
        Options {
            max_body_bytes: 1024,
            ..Options::default()
        },
    )
    .await;
    let (_, ada) = s.user("ada@example.com", "user").await;
    s.get("/nope", None).await.expect_error(404, "not_found");
    s.get("/users/me/nope", Some(&ada)).await.expect(404);
    let big = json!({ "language": "x".repeat(4096) });
    s.put("/users/me/preferences", Some(&ada), big)
        .await
        .expect_error(413, "payload_too_large");
    // Chunked bodies (no Content-Length) are held to the same limit.
    let chunked = raw_chunked_put(&s, &ada, 2, 800).await;
    assert!(chunked.starts_with("HTTP/1.1 413"), "{chunked}");
    assert!(chunked.contains("payload_too_large"), "{chunked}");
    let small = raw_chunked_put(&s, &ada, 1, 10).await;
    assert!(small.starts_with("HTTP/1.1 422"), "{small}");
    let docs = s.http.get(s.url("/docs")).send().await.expect("docs");
    assert_eq!(docs.status(), 200);
    let spec = s.get("/openapi.json", None).await.expect(200);
    assert!(spec.json["paths"]["/users/me/preferences"].is_object());
    s.stop().await;
}

/// An answer given before the handler reads the body (over the limit, no session, no such
/// route) still reaches a client that wrote its whole body at once: the server reads what
/// it was sent before answering, so closing the connection sends no reset over the answer.
async fn early_answers_reach_a_client_that_sent_its_whole_body(db: Db) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = TestServer::start_with(
        db,
        Options {
            max_body_bytes: 1024,
            ..Options::default()
        },
    )
    .await;
    let addr = s.base.trim_start_matches("http://").to_string();
    for (path, size, status) in [
        ("/users/me/preferences", 3 * 1024, "413"),
        ("/users/me/preferences", 1000, "401"),
        ("/nowhere", 1000, "404"),
    ] {
        for _ in 0..25 {
            let mut conn = tokio::net::TcpStream::connect(&addr)
                .await
                .expect("connect");
            let request = format!(
                "PUT {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
                 Content-Length: {size}\r\nConnection: close\r\n\r\n{}",
                " ".repeat(size)
            );
            conn.write_all(request.as_bytes()).await.expect("write");
            let mut answer = Vec::new();
            let read = conn.read_to_end(&mut answer).await;
            let answer = String::from_utf8_lossy(&answer);
            assert!(read.is_ok(), "{path}: {read:?} after {answer}");
            assert!(
                answer.starts_with(&format!("HTTP/1.1 {status}")),
                "{path}: {answer}"
            );
        }
    }
    s.stop().await;
}

/// A client that sends part of its body and then nothing: the request time limit covers
/// reading the body, so the server answers (503) and frees the connection.
async fn a_trickled_body_runs_out_of_time(db: Db) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = TestServer::start_with(
        db,
        Options {
            request_timeout_secs: 1,
            ..Options::default()
        },
    )
    .await;
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut conn = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let request = format!(
        "PUT /users/me/preferences HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: 500\r\nConnection: close\r\n\r\n{{\"language\""
    );
    conn.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        conn.read_to_end(&mut answer),
    )
    .await;
    assert!(read.is_ok(), "the server answered within its limit");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("took too long"), "{answer}");
    s.stop().await;
}

/// A PUT whose body is sent chunked (no Content-Length), over a raw connection.
async fn raw_chunked_put(s: &TestServer, token: &str, chunks: usize, size: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut conn = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let mut request = format!(
        "PUT /users/me/preferences HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    for _ in 0..chunks {
        request.push_str(&format!("{size:x}\r\n{}\r\n", " ".repeat(size)));
    }
    request.push_str("0\r\n\r\n");
    conn.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

async fn admin_cli_creates_user_and_issues_token(db: Db) {
    let s = TestServer::start(db).await;
    let bin = env!("CARGO_BIN_EXE_parchment-server");
    let run = |args: &[&str]| {
        std::process::Command::new(bin)
            .args(args)
            .env("PARCHMENT_DATA_DIR", s.dir.path())
            .env("DATABASE_URL", &s.db_url)
            .env("RUST_LOG", "warn")
            .output()
            .expect("run parchment-server")
    };
    let created = run(&[
        "admin",
        "create-user",
        "--email",
        "root@example.com",
        "--first-name",
        "Root",
        "--last-name",
        "Admin",
        "--role",
        "admin",
    ]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let user: Value = serde_json::from_slice(&created.stdout).expect("user JSON");
    assert_eq!(user["email"], "root@example.com");
    assert_eq!(user["roles"][0]["id"], "admin");
    let issued = run(&[
        "admin",
        "issue-token",
        "--email",
        "ROOT@example.com",
        "--ttl-days",
        "2",
    ]);
    assert!(
        issued.status.success(),
        "{}",
        String::from_utf8_lossy(&issued.stderr)
    );
    let token = String::from_utf8_lossy(&issued.stdout).trim().to_string();
    let page = s.get("/users", Some(&token)).await.expect(200);
    assert_eq!(page.json["total"], 1);
    let dup = run(&[
        "admin",
        "create-user",
        "--email",
        "root@example.com",
        "--first-name",
        "R",
        "--last-name",
        "A",
    ]);
    assert!(!dup.status.success());
    let missing = run(&["admin", "issue-token", "--email", "nobody@example.com"]);
    assert!(!missing.status.success());
    s.stop().await;
}
