//! Sign-in with emailed codes, sessions, cookies and CSRF, passkey ceremonies' edges.

mod common;

use common::{Db, Options, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::json;

db_tests!(
    first_admin_comes_from_the_cli_not_the_first_caller,
    unknown_email_is_answered_like_a_known_one,
    code_is_single_use,
    five_wrong_codes_burn_the_code,
    wrong_codes_from_one_address_do_not_lock_out_another,
    concurrent_guesses_compare_at_most_five_times,
    concurrent_correct_codes_sign_in_once,
    expired_code_is_refused,
    new_code_replaces_old_one,
    code_requests_are_rate_limited_per_email,
    sign_in_validation_errors,
    current_session_is_204_when_signed_out,
    expired_session_is_signed_out,
    session_expiry_slides_and_cookie_is_reissued,
    sessions_list_and_delete,
    sign_out_with_bearer_and_everywhere,
    sign_out_is_immediate_with_the_session_cache,
    sessions_are_isolated_between_users,
    cookie_writes_need_our_origin,
    passkey_ceremony_edges,
);

/// `/auth/verify` for an unknown email with registration closed: the same 201 as for a
/// known one, no account (still `users` of them), no mail.
async fn stranger_gets_nothing(s: &TestServer, email: &str, users: i64) {
    s.post("/auth/verify", None, json!({ "email": email }))
        .await
        .expect(201);
    assert_eq!(s.store.count_users().await.expect("count"), users);
    let mailed = std::fs::read_dir(&s.mail_dir).map_or(0, |d| d.count());
    assert_eq!(mailed, 0, "no mail for an unknown email");
}

async fn first_admin_comes_from_the_cli_not_the_first_caller(db: Db) {
    let s = TestServer::start(db).await;
    // Issue 13: on an empty database a stranger's /auth/verify creates nobody (before,
    // the first caller became administrator); the first admin comes from the admin CLI.
    stranger_gets_nothing(&s, "first@example.com", 0).await;
    s.user("First@Example.com", "admin").await;
    let token = s.sign_in("First@Example.com").await;
    let me = s
        .get("/auth/sessions/current", Some(&token))
        .await
        .expect(200);
    assert_eq!(me.json["user"]["email"], "First@Example.com");
    assert!(me.json.get("token").is_none(), "the token is not echoed");
    assert_eq!(me.json["subscription"]["tier"], "premium");
    let perms = s
        .get("/auth/sessions/current/permissions", Some(&token))
        .await
        .expect(200);
    assert_eq!(perms.json["roles"], json!(["admin"]));
    assert_eq!(perms.json["permissions"].as_array().map(Vec::len), Some(31));
    // Sign-in sets the cookie only without an Authorization header.
    s.post(
        "/auth/verify",
        None,
        json!({ "email": "first@example.com" }),
    )
    .await
    .expect(201);
    let code = s.code_for("first@example.com");
    let with_header = s
        .post(
            "/auth/sessions",
            Some("whatever"),
            json!({ "method": "otp", "email": "FIRST@example.com", "token": code }),
        )
        .await
        .expect(201);
    assert!(with_header.set_cookie().is_none());
    s.stop().await;
}

async fn unknown_email_is_answered_like_a_known_one(db: Db) {
    let s = TestServer::start(db).await;
    s.user("admin@example.com", "admin").await;
    // Unknown and known emails get the same answer (no enumeration); no mail, no account.
    stranger_gets_nothing(&s, "stranger@example.com", 1).await;
    // Signing in with an unknown email answers like a wrong code.
    s.post(
        "/auth/sessions",
        None,
        json!({ "method": "otp", "email": "stranger@example.com", "token": "12345678" }),
    )
    .await
    .expect_error(401, "invalid_code");
    s.stop().await;

    let open = TestServer::start_with(
        db,
        Options {
            open_registration: true,
            ..Options::default()
        },
    )
    .await;
    open.user("admin@example.com", "admin").await;
    let token = open.sign_in("newcomer@example.com").await;
    let perms = open
        .get("/auth/sessions/current/permissions", Some(&token))
        .await
        .expect(200);
    assert_eq!(perms.json["roles"], json!(["user"]));
    open.stop().await;
}

async fn code_is_single_use(db: Db) {
    let s = TestServer::start(db).await;
    s.user("ada@example.com", "user").await;
    let code = s.request_code("ada@example.com").await;
    let body = json!({ "method": "otp", "email": "ada@example.com", "token": code });
    let first = s
        .post("/auth/sessions", None, body.clone())
        .await
        .expect(201);
    let cookie = first.set_cookie().expect("cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    assert!(
        !cookie.contains("Secure"),
        "http public URL: no Secure flag"
    );
    s.post("/auth/sessions", None, body)
        .await
        .expect_error(401, "invalid_code");
    s.stop().await;
}

async fn five_wrong_codes_burn_the_code(db: Db) {
    let s = TestServer::start(db).await;
    s.user("ada@example.com", "user").await;
    let code = s.request_code("ada@example.com").await;
    let wrong = if code == "00000000" {
        "00000001"
    } else {
        "00000000"
    };
    for _ in 0..5 {
        s.post(
            "/auth/sessions",
            None,
            json!({ "method": "otp", "email": "ada@example.com", "token": wrong }),
        )
        .await
        .expect_error(401, "invalid_code");
    }
    s.post(
        "/auth/sessions",
        None,
        json!({ "method": "otp", "email": "ada@example.com", "token": code }),
    )
    .await
    .expect_error(401, "invalid_code");
    assert_eq!(s.sql_i64("SELECT COUNT(*) FROM otp_codes").await, 0);
    s.stop().await;
}

/// The try limit is keyed on (email, client address): an attacker's guesses spend only
/// their own budget.
async fn wrong_codes_from_one_address_do_not_lock_out_another(db: Db) {
    let s = TestServer::start_with(
        db,
        Options {
            trusted_proxies: vec!["127.0.0.1".parse().expect("ip")],
            ..Options::default()
        },
    )
    .await;
    s.user("ada@example.com", "user").await;
    let exchange = |from: &'static str, token: String| {
        let request = s
            .http
            .post(s.url("/auth/sessions"))
            .header("x-forwarded-for", from)
            .json(&json!({ "method": "otp", "email": "ada@example.com", "token": token }));
        async move {
            let r = request.send().await.expect("request");
            let status = r.status().as_u16();
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            (status, body["code"].as_str().unwrap_or_default().to_owned())
        }
    };
    let code = s.request_code("ada@example.com").await;
    let wrong = if code == "00000000" {
        "00000001"
    } else {
        "00000000"
    };
    let mut answers = Vec::new();
    for _ in 0..25 {
        answers.push(exchange("203.0.113.7", wrong.to_owned()).await);
    }
    assert!(
        answers[..20].iter().all(|(status, _)| *status == 401),
        "{answers:?}"
    );
    assert!(
        answers[20..]
            .iter()
            .all(|(status, code)| *status == 429 && code == "rate_limited"),
        "{answers:?}"
    );
    // Ada, from her own address, asks for a new code and signs in.
    let code = s.request_code("ada@example.com").await;
    assert_eq!(exchange("198.51.100.2", code).await.0, 201);
    s.stop().await;
}

async fn concurrent_guesses_compare_at_most_five_times(db: Db) {
    let s = TestServer::start(db).await;
    s.user("ada@example.com", "user").await;
    let code = s.request_code("ada@example.com").await;
    // 19 wrong guesses and the right one, all at once: the right one may only win if it
    // was among the first five to reserve a try.
    let mut guesses: Vec<String> = (0..19)
        .map(|i| {
            format!(
                "{:08}",
                (code.parse::<u32>().unwrap_or(0) + 1 + i) % 100_000_000
            )
        })
        .collect();
    guesses.push(code.clone());
    let tasks = guesses.into_iter().map(|guess| {
        let http = s.http.clone();
        let url = s.url("/auth/sessions");
        tokio::spawn(async move {
            http.post(url)
                .json(&json!({ "method": "otp", "email": "ada@example.com", "token": guess }))
                .send()
                .await
                .map(|r| r.status())
        })
    });
    let mut created = 0;
    for task in tasks.collect::<Vec<_>>() {
        let status = task.await.expect("join").expect("request");
        assert!(
            status == StatusCode::CREATED || status == StatusCode::UNAUTHORIZED,
            "{status}"
        );
        if status == StatusCode::CREATED {
            created += 1;
        }
    }
    assert!(created <= 1);
    // However the race went, the code is gone now.
    assert_eq!(s.sql_i64("SELECT COUNT(*) FROM otp_codes").await, 0);
    s.stop().await;
}

async fn concurrent_correct_codes_sign_in_once(db: Db) {
    let s = TestServer::start(db).await;
    s.user("ada@example.com", "user").await;
    let code = s.request_code("ada@example.com").await;
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let http = s.http.clone();
            let url = s.url("/auth/sessions");
            let code = code.clone();
            tokio::spawn(async move {
                http.post(url)
                    .json(&json!({ "method": "otp", "email": "ada@example.com", "token": code }))
                    .send()
                    .await
                    .map(|r| r.status())
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        if task.await.expect("join").expect("request") == StatusCode::CREATED {
            created += 1;
        }
    }
    assert_eq!(created, 1);
    // The store-made session of `user()` plus exactly one sign-in.
    assert_eq!(s.sql_i64("SELECT COUNT(*) FROM sessions").await, 2);
    s.stop().await;
}

async fn expired_code_is_refused(db: Db) {
    let s = TestServer::start(db).await;
    s.user("ada@example.com", "user").await;
    let code = s.request_code("ada@example.com").await;
    s.sql("UPDATE otp_codes SET expires_at = 1").await;
    s.post(
        "/auth/sessions",
        None,
        json!({ "method": "otp", "email": "ada@example.com", "token": code }),
    )
    .await
    .expect_error(401, "code_expired");
    s.stop().await;
}

async fn new_code_replaces_old_one(db: Db) {
    let s = TestServer::start(db).await;
    s.user("ada@example.com", "user").await;
    let old = s.request_code("ada@example.com").await;
    // Mail files sort by time; make sure the second one sorts after the first.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let new = s.request_code("ada@example.com").await;
    assert_eq!(s.sql_i64("SELECT COUNT(*) FROM otp_codes").await, 1);
    if old != new {
        s.post(
            "/auth/sessions",
            None,
            json!({ "method": "otp", "email": "ada@example.com", "token": old }),
        )
        .await
        .expect_error(401, "invalid_code");
    }
    s.post(
        "/auth/sessions",
        None,
        json!({ "method": "otp", "email": "ada@example.com", "token": new }),
    )
    .await
    .expect(201);
    // Codes are stored as digests only.
    s.stop().await;
}

async fn code_requests_are_rate_limited_per_email(db: Db) {
    let s = TestServer::start(db).await;
    s.user("ada@example.com", "user").await;
    s.fresh_rate_window(900);
    for _ in 0..5 {
        s.post("/auth/verify", None, json!({ "email": "ada@example.com" }))
            .await
            .expect(201);
    }
    let limited = s
        .post("/auth/verify", None, json!({ "email": "ADA@example.com" }))
        .await
        .expect_error(429, "rate_limited");
    let retry: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap_or_default()
        .parse()
        .unwrap_or(0);
    assert!((1..=900).contains(&retry), "{retry}");
    s.stop().await;
}

async fn sign_in_validation_errors(db: Db) {
    let s = TestServer::start(db).await;
    s.user("ada@example.com", "user").await;
    s.post("/auth/verify", None, json!({ "email": "not-an-email" }))
        .await
        .expect_error(422, "validation_failed");
    s.post("/auth/verify", None, json!({}))
        .await
        .expect_error(422, "validation_failed");
    s.post(
        "/auth/verify",
        None,
        json!({ "email": "ada@example.com", "extra": 1 }),
    )
    .await
    .expect_error(422, "validation_failed");
    s.post(
        "/auth/sessions",
        None,
        json!({ "method": "sms", "email": "ada@example.com", "token": "1" }),
    )
    .await
    .expect_error(422, "validation_failed");
    s.post(
        "/auth/sessions",
        None,
        json!({ "method": "passkey", "email": "ada@example.com", "token": "1" }),
    )
    .await
    .expect_error(400, "unsupported_method");
    // Not JSON at all.
    let raw = s
        .http
        .post(s.url("/auth/verify"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    common::Reply::read(raw).await.expect(422);
    // Weird bytes in the code never panic.
    s.post(
        "/auth/sessions",
        None,
        json!({ "method": "otp", "email": "ada@example.com", "token": "\u{0}\u{ffff}💥" }),
    )
    .await
    .expect_error(401, "invalid_code");
    s.stop().await;
}

async fn current_session_is_204_when_signed_out(db: Db) {
    let s = TestServer::start(db).await;
    let none = s.get("/auth/sessions/current", None).await;
    assert_eq!(none.status, StatusCode::NO_CONTENT);
    let bad = s.get("/auth/sessions/current", Some("garbage")).await;
    assert_eq!(bad.status, StatusCode::NO_CONTENT);
    s.stop().await;
}

async fn expired_session_is_signed_out(db: Db) {
    let s = TestServer::start(db).await;
    let (_, token) = s.user("ada@example.com", "user").await;
    s.get("/users/me/preferences", Some(&token))
        .await
        .expect(200);
    s.sql("UPDATE sessions SET expires_at = 1").await;
    s.get("/users/me/preferences", Some(&token))
        .await
        .expect_error(401, "unauthorized");
    assert_eq!(
        s.get("/auth/sessions/current", Some(&token)).await.status,
        StatusCode::NO_CONTENT
    );
    s.stop().await;
}

async fn session_expiry_slides_and_cookie_is_reissued(db: Db) {
    let s = TestServer::start(db).await;
    s.user("ada@example.com", "user").await;
    let code = s.request_code("ada@example.com").await;
    let signed = s
        .post(
            "/auth/sessions",
            None,
            json!({ "method": "otp", "email": "ada@example.com", "token": code }),
        )
        .await
        .expect(201);
    let token = signed.json["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // One day left: the next request pushes expiry back to 30 days and re-issues the cookie.
    let now = chrono::Utc::now().timestamp_millis();
    s.sql(&format!(
        "UPDATE sessions SET expires_at = {}",
        now + 24 * 3600 * 1000
    ))
    .await;
    let reply = common::Reply::read(
        s.http
            .get(s.url("/users/me/preferences"))
            .header("cookie", format!("parchment_session={token}"))
            .send()
            .await
            .expect("send"),
    )
    .await
    .expect(200);
    let cookie = reply.set_cookie().expect("re-issued cookie");
    assert!(cookie.contains(&token) && cookie.contains("Max-Age=2592000"));
    let expires = s.sql_i64("SELECT MAX(expires_at) FROM sessions").await;
    assert!(expires > now + 29 * 24 * 3600 * 1000);
    // A fresh session is not rewritten on every request.
    let again = s
        .get("/users/me/preferences", Some(&token))
        .await
        .expect(200);
    assert!(again.set_cookie().is_none());
    s.stop().await;
}

async fn sessions_list_and_delete(db: Db) {
    let s = TestServer::start(db).await;
    s.user("ada@example.com", "user").await;
    let a = s.sign_in("ada@example.com").await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let b = s.sign_in("ada@example.com").await;
    let list = s.get("/auth/sessions", Some(&b)).await.expect(200);
    let sessions = list.json.as_array().cloned().unwrap_or_default();
    // The store-made session of `user()` plus two sign-ins.
    assert_eq!(sessions.len(), 3);
    assert_eq!(sessions[0]["current"], true, "newest first");
    assert!(
        !list.text.contains(&a) && !list.text.contains(&b),
        "tokens never listed"
    );
    let other_id = sessions[1]["id"].as_str().unwrap_or_default().to_string();
    s.delete(&format!("/auth/sessions/{other_id}"), Some(&b))
        .await
        .expect(204);
    s.delete(&format!("/auth/sessions/{other_id}"), Some(&b))
        .await
        .expect_error(404, "not_found");
    s.get("/users/me/preferences", Some(&a))
        .await
        .expect_error(401, "unauthorized");
    s.stop().await;
}

async fn sign_out_with_bearer_and_everywhere(db: Db) {
    let s = TestServer::start(db).await;
    let (_, t1) = s.user("ada@example.com", "user").await;
    let t2 = s.sign_in("ada@example.com").await;
    let t3 = s.sign_in("ada@example.com").await;
    // Sign out others keeps the caller.
    s.delete("/auth/sessions/others", Some(&t3))
        .await
        .expect(204);
    s.get("/users/me/preferences", Some(&t1)).await.expect(401);
    s.get("/users/me/preferences", Some(&t2)).await.expect(401);
    s.get("/users/me/preferences", Some(&t3)).await.expect(200);
    // Bearer sign-out works and clears the cookie.
    let out = s.delete("/auth/sessions", Some(&t3)).await.expect(204);
    assert!(out.set_cookie().unwrap_or_default().contains("Max-Age=0"));
    s.get("/users/me/preferences", Some(&t3)).await.expect(401);
    // Everywhere.
    let t4 = s.sign_in("ada@example.com").await;
    let t5 = s.sign_in("ada@example.com").await;
    s.delete("/auth/sessions/all", Some(&t4)).await.expect(204);
    s.get("/users/me/preferences", Some(&t4)).await.expect(401);
    s.get("/users/me/preferences", Some(&t5)).await.expect(401);
    s.stop().await;
}

async fn sign_out_is_immediate_with_the_session_cache(db: Db) {
    let s = TestServer::start_with(
        db,
        Options {
            session_cache_ms: 60_000,
            ..Options::default()
        },
    )
    .await;
    let (_, t1) = s.user("ada@example.com", "user").await;
    let t2 = s.sign_in("ada@example.com").await;
    let t3 = s.sign_in("ada@example.com").await;
    let t4 = s.sign_in("ada@example.com").await;
    for t in [&t1, &t2, &t3, &t4] {
        s.get("/users/me/preferences", Some(t)).await.expect(200);
    }
    s.delete("/auth/sessions", Some(&t1)).await.expect(204);
    s.get("/users/me/preferences", Some(&t1)).await.expect(401);
    let list = s.get("/auth/sessions", Some(&t4)).await.expect(200);
    let t2_id = list
        .json
        .as_array()
        .and_then(|a| a.last())
        .map(|v| v["id"].clone());
    s.delete(
        &format!(
            "/auth/sessions/{}",
            t2_id
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default()
        ),
        Some(&t4),
    )
    .await
    .expect(204);
    s.get("/users/me/preferences", Some(&t2)).await.expect(401);
    s.delete("/auth/sessions/others", Some(&t4))
        .await
        .expect(204);
    s.get("/users/me/preferences", Some(&t3)).await.expect(401);
    s.get("/users/me/preferences", Some(&t4)).await.expect(200);
    s.delete("/auth/sessions/all", Some(&t4)).await.expect(204);
    s.get("/users/me/preferences", Some(&t4)).await.expect(401);
    s.stop().await;
}

async fn sessions_are_isolated_between_users(db: Db) {
    let s = TestServer::start(db).await;
    let (_, ada) = s.user("ada@example.com", "user").await;
    let (_, bob) = s.user("bob@example.com", "user").await;
    let bob_sessions = s.get("/auth/sessions", Some(&bob)).await.expect(200);
    let bob_id = bob_sessions.json[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let ada_sessions = s.get("/auth/sessions", Some(&ada)).await.expect(200);
    assert_eq!(ada_sessions.json.as_array().map(Vec::len), Some(1));
    assert_ne!(ada_sessions.json[0]["id"], bob_sessions.json[0]["id"]);
    // Ada cannot end Bob's session, and "others"/"all" only touch her own.
    s.delete(&format!("/auth/sessions/{bob_id}"), Some(&ada))
        .await
        .expect_error(404, "not_found");
    s.delete("/auth/sessions/all", Some(&ada)).await.expect(204);
    s.get("/users/me/preferences", Some(&bob)).await.expect(200);
    // Preferences are per user.
    let (_, ada2) = s.user("ada2@example.com", "user").await;
    s.put(
        "/users/me/preferences",
        Some(&ada2),
        json!({ "unitSystem": "imperial" }),
    )
    .await
    .expect(200);
    let bob_prefs = s.get("/users/me/preferences", Some(&bob)).await.expect(200);
    assert_eq!(bob_prefs.json["unitSystem"], "metric");
    s.stop().await;
}

async fn cookie_writes_need_our_origin(db: Db) {
    let s = TestServer::start(db).await;
    let (_, token) = s.user("ada@example.com", "user").await;
    let cookie = format!("parchment_session={token}");
    let put = |origin: Option<String>| {
        let mut req = s
            .http
            .put(s.url("/users/me/preferences"))
            .header("cookie", cookie.clone())
            .json(&json!({ "unitSystem": "imperial" }));
        if let Some(origin) = origin {
            req = req.header("origin", origin);
        }
        req.send()
    };
    common::Reply::read(put(None).await.expect("send"))
        .await
        .expect_error(401, "unauthorized");
    common::Reply::read(put(Some("http://evil.example".into())).await.expect("send"))
        .await
        .expect_error(401, "unauthorized");
    assert_eq!(
        s.get("/users/me/preferences", Some(&token)).await.json["unitSystem"],
        "metric",
        "nothing written by a cross-site request"
    );
    common::Reply::read(put(Some(s.origin.clone())).await.expect("send"))
        .await
        .expect(200);
    // Reads with a cookie need no Origin.
    let read = common::Reply::read(
        s.http
            .get(s.url("/users/me/preferences"))
            .header("cookie", cookie.clone())
            .send()
            .await
            .expect("send"),
    )
    .await
    .expect(200);
    assert_eq!(read.json["unitSystem"], "imperial");
    // Bearer requests are not subject to the Origin rule.
    s.send(
        Method::PUT,
        "/users/me/preferences",
        Some(&token),
        Some(json!({ "unitSystem": "metric" })),
    )
    .await
    .expect(200);
    s.stop().await;
}

async fn passkey_ceremony_edges(db: Db) {
    let s = TestServer::start(db).await;
    let (_, token) = s.user("ada@example.com", "user").await;
    s.post("/auth/passkeys/register/options", None, json!({}))
        .await
        .expect_error(401, "unauthorized");
    let options = s
        .post("/auth/passkeys/register/options", Some(&token), json!({}))
        .await
        .expect(200);
    let challenge = options.json["challengeId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!challenge.is_empty());
    let pk = &options.json["publicKey"];
    assert_eq!(
        pk["extensions"]["prf"]["eval"]["first"],
        "MeCGtrfvVLrwofC6pnJ60BGjMbNpBl-cDomzyalFoHY"
    );
    assert_eq!(pk["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(pk["authenticatorSelection"]["userVerification"], "required");
    assert_eq!(pk["rp"]["id"], "localhost");
    // A malformed credential is a validation error; the challenge is not consumed by it.
    s.post(
        "/auth/passkeys/register/verify",
        Some(&token),
        json!({ "challengeId": challenge, "credential": { "id": 5 } }),
    )
    .await
    .expect_error(422, "validation_failed");
    s.post(
        "/auth/passkeys/register/verify",
        Some(&token),
        json!({ "challengeId": "nope", "credential": {
            "id": "AAAA", "rawId": "AAAA", "type": "public-key",
            "response": { "attestationObject": "AAAA", "clientDataJSON": "AAAA" }
        } }),
    )
    .await
    .expect_error(400, "invalid_challenge");
    // Another user cannot answer Ada's challenge.
    let (_, bob) = s.user("bob@example.com", "user").await;
    s.post(
        "/auth/passkeys/register/verify",
        Some(&bob),
        json!({ "challengeId": challenge, "credential": {
            "id": "AAAA", "rawId": "AAAA", "type": "public-key",
            "response": { "attestationObject": "AAAA", "clientDataJSON": "AAAA" }
        } }),
    )
    .await
    .expect_error(400, "invalid_challenge");
    let auth = s
        .post("/auth/passkeys/authenticate/options", None, json!({}))
        .await
        .expect(200);
    assert_eq!(
        auth.json["publicKey"]["extensions"]["prf"]["eval"]["first"],
        "MeCGtrfvVLrwofC6pnJ60BGjMbNpBl-cDomzyalFoHY"
    );
    assert_eq!(auth.json["publicKey"]["userVerification"], "required");
    let auth_challenge = auth.json["challengeId"].as_str().unwrap_or_default();
    s.post(
        "/auth/passkeys/authenticate/verify",
        None,
        json!({ "challengeId": auth_challenge, "credential": {
            "id": "AAAA", "rawId": "AAAA", "type": "public-key",
            "response": { "authenticatorData": "AAAA", "clientDataJSON": "AAAA", "signature": "AAAA", "userHandle": null },
            "extensions": {}
        } }),
    )
    .await
    .expect(401);
    let list = s.get("/auth/passkeys", Some(&token)).await.expect(200);
    assert_eq!(list.json, json!([]));
    s.delete("/auth/passkeys/unknown", Some(&token))
        .await
        .expect_error(404, "not_found");
    s.stop().await;
}
