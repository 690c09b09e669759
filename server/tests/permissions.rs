//! Every endpoint is gated by the permission the original gates it by (api.md §2, §4),
//! checked in the service that performs it.

mod common;

use common::{Db, TestServer};
use serde_json::json;

db_tests!(
    the_user_role_uses_its_own_data_and_friends,
    without_the_permission_every_gated_route_is_403
);

/// A well-formed (not valid) signed body: the permission is checked before the signature.
fn signed(mut extra: serde_json::Value) -> Option<serde_json::Value> {
    extra["signature"] = json!("c2ln");
    extra["nonce"] = json!("nonce-0123456789");
    extra["timestamp"] = json!("2026-01-01T00:00:00.000Z");
    Some(extra)
}

/// (method, path, body, permission the original requires)
fn gated() -> Vec<(
    &'static str,
    &'static str,
    Option<serde_json::Value>,
    &'static str,
)> {
    vec![
        ("GET", "/users/me/blobs", None, "library:read"),
        ("GET", "/users/me/blobs/places", None, "library:read"),
        (
            "PUT",
            "/users/me/blobs/places",
            Some(json!({ "encryptedBlob": "AgE=" })),
            "library:write",
        ),
        ("DELETE", "/users/me/blobs/places", None, "library:write"),
        ("GET", "/library/collections", None, "library:read"),
        (
            "POST",
            "/library/collections",
            Some(json!({})),
            "library:write",
        ),
        ("DELETE", "/library/collections/c1", None, "library:write"),
        (
            "PUT",
            "/library/collections/c1/content",
            Some(json!({"contentEncrypted": "A".repeat(40), "keyVersion": 1, "revision": 0})),
            "library:write",
        ),
        (
            "PUT",
            "/library/collections/c1/shares/bob@localhost",
            Some(json!({"role": "viewer"})),
            "library:write",
        ),
        (
            "DELETE",
            "/library/collections/c1/shares/bob@localhost",
            None,
            "library:write",
        ),
        ("GET", "/friends", None, "social:read"),
        ("GET", "/friends/invitations", None, "social:read"),
        ("GET", "/friends/resolve/bob@localhost", None, "social:read"),
        (
            "POST",
            "/friends/invite",
            signed(json!({ "handle": "bob@elsewhere.example" })),
            "social:write",
        ),
        (
            "POST",
            "/friends/invitations/i1/accept",
            signed(json!({})),
            "social:write",
        ),
        (
            "POST",
            "/friends/invitations/i1/reject",
            signed(json!({})),
            "social:write",
        ),
        ("DELETE", "/friends/invitations/i1", None, "social:write"),
        (
            "DELETE",
            "/friends/bob@elsewhere.example",
            signed(json!({})),
            "social:write",
        ),
        (
            "POST",
            "/friends/bob@elsewhere.example/messages",
            signed(json!({ "messageType": "LOCATION_UPDATE", "payload": {} })),
            "social:write",
        ),
        ("GET", "/friends/locations", None, "location:sharing"),
        ("GET", "/federation/outbox", None, "social:read"),
        ("GET", "/users", None, "users:read"),
        (
            "POST",
            "/users",
            Some(json!({ "email": "x@example.com" })),
            "users:create",
        ),
        ("GET", "/users/roles", None, "roles:read"),
        ("GET", "/users/permissions", None, "permissions:read"),
    ]
}

async fn the_user_role_uses_its_own_data_and_friends(db: Db) {
    let s = TestServer::start(db).await;
    let (_, token) = s.user("ada@example.com", "user").await;
    let perms = s
        .get("/auth/sessions/current/permissions", Some(&token))
        .await
        .expect(200);
    let held: Vec<&str> = perms.json["permissions"]
        .as_array()
        .map(|a| a.iter().filter_map(|p| p.as_str()).collect())
        .unwrap_or_default();
    for (_, path, _, permission) in gated() {
        let admin_only = permission.starts_with("users:")
            || permission.starts_with("roles:")
            || permission.starts_with("permissions:");
        assert_eq!(
            held.contains(&permission),
            !admin_only,
            "{path} needs {permission}"
        );
    }
    s.get("/users/me/blobs", Some(&token)).await.expect(200);
    s.get("/friends", Some(&token)).await.expect(200);
    s.get("/users", Some(&token))
        .await
        .expect_error(403, "forbidden");
    s.stop().await;
}

async fn without_the_permission_every_gated_route_is_403(db: Db) {
    let s = TestServer::start(db).await;
    let (id, token) = s.user("ada@example.com", "user").await;
    // A user holding no role at all (what an admin's role change can leave).
    s.sql(&format!("DELETE FROM users_roles WHERE user_id = '{id}'"))
        .await;
    for (method, path, body, permission) in gated() {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let reply = s.send(method.clone(), path, Some(&token), body).await;
        assert_eq!(
            (reply.status.as_u16(), reply.json["code"].as_str()),
            (403, Some("forbidden")),
            "{method} {path} without {permission}: {}",
            reply.text
        );
    }
    // Session-only routes stay open to any signed-in user.
    s.get("/users/me/identity", Some(&token)).await.expect(200);
    s.stop().await;
}
