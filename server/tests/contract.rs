//! HTTP contract details beyond single endpoints: wrong methods, the seed's `role` field,
//! strict JSON types.

mod common;

use common::{Db, TestServer};
use reqwest::Method;
use serde_json::json;

db_tests!(
    wrong_methods_are_405_with_allow,
    role_and_roles_are_both_accepted,
    json_types_are_strict
);

async fn wrong_methods_are_405_with_allow(db: Db) {
    let s = TestServer::start(db).await;
    let (_, token) = s.user("ada@example.com", "user").await;
    for (method, path, allow) in [
        (Method::DELETE, "/users", "GET, POST, HEAD"),
        (Method::PATCH, "/users/", "GET, POST, HEAD"),
        (Method::GET, "/users/me/alias", "PATCH"),
        (
            Method::POST,
            "/users/me/blobs/places",
            "DELETE, GET, PUT, HEAD",
        ),
        (Method::GET, "/federation/inbox", "POST"),
    ] {
        let reply = s.send(method.clone(), path, Some(&token), None).await;
        assert_eq!(
            reply.status.as_u16(),
            405,
            "{method} {path}: {}",
            reply.text
        );
        assert_eq!(reply.json["code"], "method_not_allowed");
        let got = reply
            .headers
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert_eq!(got, allow, "{method} {path}");
    }
    // Unknown paths stay 404, and an operation's own 404 is not turned into a 405.
    s.get("/users/me/nothing-here", Some(&token))
        .await
        .expect_error(404, "not_found");
    s.delete("/users/me/blobs/absent", Some(&token))
        .await
        .expect_error(404, "not_found");
    s.stop().await;
}

async fn role_and_roles_are_both_accepted(db: Db) {
    let s = TestServer::start(db).await;
    let (_, admin) = s.user("admin@example.com", "admin").await;
    let seed_shape = s
        .post(
            "/users/",
            Some(&admin),
            json!({ "email": "one@example.com", "firstName": "One", "lastName": "Seed", "role": "alpha" }),
        )
        .await
        .expect(201);
    let roles: Vec<&str> = seed_shape.json["roles"]
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["id"].as_str()).collect())
        .unwrap_or_default();
    assert!(roles.contains(&"alpha"), "{roles:?}");
    let original_shape = s
        .post(
            "/users",
            Some(&admin),
            json!({ "email": "two@example.com", "roles": ["basic"], "role": "alpha" }),
        )
        .await
        .expect(201);
    let roles: Vec<&str> = original_shape.json["roles"]
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["id"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        roles.contains(&"basic") && roles.contains(&"alpha"),
        "{roles:?}"
    );
    s.post(
        "/users",
        Some(&admin),
        json!({ "email": "three@example.com", "role": 5 }),
    )
    .await
    .expect_error(422, "validation_failed");
    s.stop().await;
}

/// A number or boolean where the document declares a string is 422 naming the field, and
/// nothing is stored (poem-openapi alone would store `"5"`).
async fn json_types_are_strict(db: Db) {
    let s = TestServer::start(db).await;
    let (_, token) = s.user("ada@example.com", "user").await;
    for (method, path, body, field) in [
        (
            Method::PATCH,
            "/users/me/profile",
            json!({ "firstName": 5 }),
            "firstName",
        ),
        (
            Method::PATCH,
            "/users/me/alias",
            json!({ "alias": 12345 }),
            "alias",
        ),
        (
            Method::PATCH,
            "/users/me/profile",
            json!({ "lastName": true }),
            "lastName",
        ),
        (
            Method::POST,
            "/auth/sessions",
            json!({ "method": "otp", "email": "ada@example.com", "token": 12345678 }),
            "token",
        ),
        (
            Method::PUT,
            "/users/me/preferences",
            json!({ "language": 12.5e3 }),
            "language",
        ),
        (
            Method::PUT,
            "/users/me/blobs/places",
            json!({ "encryptedBlob": "AgE=", "kmVersion": "2" }),
            "kmVersion",
        ),
    ] {
        let reply = s.send(method.clone(), path, Some(&token), Some(body)).await;
        assert_eq!(
            reply.status.as_u16(),
            422,
            "{method} {path}: {}",
            reply.text
        );
        assert_eq!(reply.json["code"], "validation_failed");
        let message = reply.json["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with(&format!("{field}: expected")),
            "{message}"
        );
    }
    let me = s
        .get("/auth/sessions/current", Some(&token))
        .await
        .expect(200);
    assert_eq!(me.json["user"]["firstName"], "Test");
    assert_eq!(me.json["user"]["alias"], serde_json::Value::Null);
    s.stop().await;
}
