//! Live location and the push channel: sharing settings, LOCATION_UPDATE gated by them,
//! the stop that reaches the friend's server, expiry with no message, a newer update
//! superseding a queued one, and `GET /events` delivering, resuming and resyncing.
//! Two real server processes for the cross-server parts; SQLite always, PostgreSQL when
//! `PARCHMENT_TEST_POSTGRES_URL` is set.

mod common;
mod peers;

use std::time::Duration;

use common::{Db, Options, TestServer};
use parchment_core::canonical::{Object, Value as CValue};
use parchment_core::ecies;
use parchment_core::encoding::to_base64;
use parchment_core::federation::MessageType;
use parchment_core::keys::X25519SecretKey;
use parchment_core::rand_core::OsRng;
use parchment_core::timestamp::{format_millis, parse_millis};
use peers::*;
use serde_json::{json, Value};

db_tests!(
    sharing_gates_updates_and_the_stop_reaches_the_friend,
    the_push_channel_resumes_without_loss,
    a_newer_update_supersedes_a_queued_one,
    sharing_expires_on_both_sides_without_a_message,
    an_event_reaches_a_stream_on_another_replica,
    the_map_configuration_reaches_the_app_and_its_policy,
);

fn location(to: &X25519SecretKey, text: &str, sent_at: i64, expires_at: Option<i64>) -> Object {
    let sealed = ecies::seal(&to.public_key(), text.as_bytes(), &mut OsRng).expect("seal");
    let mut payload = Object::new();
    payload.insert("encryptedLocation", CValue::string(&to_base64(&sealed)));
    payload.insert("nonce", CValue::string(&format_millis(sent_at)));
    if let Some(at) = expires_at {
        payload.insert("expiresAt", CValue::string(&format_millis(at)));
    }
    payload
}

fn stop_body(from: &User, to: &str) -> Value {
    let mut payload = Object::new();
    payload.insert("stopped", CValue::Bool(true));
    let (m, signature) = message(MessageType::LocationUpdate, from, to, payload);
    json!({ "signature": signature, "nonce": m.nonce, "timestamp": m.timestamp })
}

/// A Server-Sent Events reader over one response.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

#[derive(Debug, Clone)]
struct Event {
    id: Option<i64>,
    name: String,
    data: Value,
}

impl Events {
    async fn open(url: &str, token: &str, last_event_id: Option<i64>) -> Events {
        let http = reqwest::Client::new();
        let mut req = http.get(url).bearer_auth(token);
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id.to_string());
        }
        let response = req.send().await.expect("GET /events");
        assert_eq!(response.status(), 200, "GET /events");
        let kind = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(kind.starts_with("text/event-stream"), "{kind}");
        Events {
            response,
            buffer: String::new(),
        }
    }

    /// The next event (keep-alive comments skipped), within 20 s.
    async fn next(&mut self) -> Event {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut name, mut data) = (None, String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().parse().ok();
                    } else if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if name.is_empty() && data.is_empty() {
                    continue; // a comment (keep-alive)
                }
                return Event {
                    id,
                    name,
                    data: serde_json::from_str(&data).unwrap_or(Value::Null),
                };
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .expect("an event within 20 s")
                .expect("stream readable")
                .expect("stream still open");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The next event, which must be `name`.
    async fn expect(&mut self, name: &str) -> Event {
        let event = self.next().await;
        assert_eq!(event.name, name, "{event:?}");
        event
    }
}

async fn sharing_gates_updates_and_the_stop_reaches_the_friend(db: Db) {
    let a = Peer::start(db).await;
    let b = Peer::start(db).await;
    let alice = a.user("alice").await;
    let bob = b.user("bob").await;
    befriend(&a, &alice, &b, &bob).await;
    let mut events = Events::open(&b.url("/events"), &bob.token, None).await;
    let ready = events.expect("ready").await;
    assert!(ready.id.is_some(), "ready carries the newest number");

    let messages = format!("/friends/{}/messages", bob.handle);
    let sharing = format!("/friends/{}/location-sharing", bob.handle);
    // Off by default: nothing is queued.
    let body = send_body(
        MessageType::LocationUpdate,
        &alice,
        &bob.handle,
        location(&bob.encryption, "1,1", now_ms(), None),
    );
    let refused = a.call("POST", &messages, &alice, Some(body)).await;
    assert_eq!(refused.status, 409, "{}", refused.text);
    assert_eq!(refused.json["code"], "location_sharing_off");
    assert_eq!(
        a.count("SELECT COUNT(*) FROM federation_outbox WHERE message_type = 'LOCATION_UPDATE'")
            .await,
        0
    );
    let listed = a
        .call("GET", "/friends/location-sharing", &alice, None)
        .await
        .ok();
    assert_eq!(listed["sharing"], json!([]));

    // bob asks; alice answers once with sharing still off ("share once"), and only once.
    b.call(
        "POST",
        &format!("/friends/{}/messages", alice.handle),
        &bob,
        Some(send_body(
            MessageType::LocationRequest,
            &bob,
            &alice.handle,
            Object::new(),
        )),
    )
    .await
    .ok();
    eventually("bob's request at A", || async {
        a.count("SELECT COUNT(*) FROM location_requests").await == 1
    })
    .await;
    let answer = |ends: i64| {
        send_body(
            MessageType::LocationUpdate,
            &alice,
            &bob.handle,
            location(&bob.encryption, "7,7", now_ms(), Some(ends)),
        )
    };
    let reply = a
        .call(
            "POST",
            &messages,
            &alice,
            Some(answer(now_ms() + 2 * 3_600_000)),
        )
        .await;
    assert_eq!(
        reply.status, 422,
        "an answer ends within the hour: {}",
        reply.text
    );
    a.call("POST", &messages, &alice, Some(answer(now_ms() + 600_000)))
        .await
        .ok();
    let once = events.expect("location").await;
    assert_eq!(once.data["fromHandle"], alice.handle);
    assert!(once.data["expiresAt"].is_string(), "{once:?}");
    let reply = a
        .call("POST", &messages, &alice, Some(answer(now_ms() + 600_000)))
        .await;
    assert_eq!(reply.status, 409, "the request is used up: {}", reply.text);
    assert_eq!(a.count("SELECT COUNT(*) FROM location_requests").await, 0);

    // A past expiry, a stranger and a malformed handle are refused.
    let past = format_millis(now_ms() - 1000);
    let reply = a
        .call("PUT", &sharing, &alice, Some(json!({ "expiresAt": past })))
        .await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    let reply = a
        .call(
            "PUT",
            "/friends/nobody@example.org/location-sharing",
            &alice,
            Some(json!({})),
        )
        .await;
    assert_eq!(reply.status, 404, "{}", reply.text);

    let on = a
        .call("PUT", &sharing, &alice, Some(json!({ "expiresAt": null })))
        .await
        .ok();
    assert_eq!(on, json!({ "handle": bob.handle, "expiresAt": null }));
    let listed = a
        .call("GET", "/friends/location-sharing", &alice, None)
        .await
        .ok();
    assert_eq!(listed["sharing"][0]["handle"], bob.handle);

    // An expiry the setting does not have is refused: the friend's server would keep
    // showing (or hide) the location at the wrong time.
    let body = send_body(
        MessageType::LocationUpdate,
        &alice,
        &bob.handle,
        location(&bob.encryption, "1,1", now_ms(), Some(now_ms() + 60_000)),
    );
    let reply = a.call("POST", &messages, &alice, Some(body)).await;
    assert_eq!(reply.status, 422, "{}", reply.text);

    let sent_at = now_ms();
    let payload = location(&bob.encryption, "48.85,2.35", sent_at, None);
    let sealed = payload
        .get("encryptedLocation")
        .and_then(CValue::as_str)
        .unwrap_or_default();
    let body = send_body(
        MessageType::LocationUpdate,
        &alice,
        &bob.handle,
        payload.clone(),
    );
    a.call("POST", &messages, &alice, Some(body)).await.ok();
    let pushed = events.expect("location").await;
    assert_eq!(pushed.data["fromHandle"], alice.handle);
    assert_eq!(pushed.data["encryptedLocation"], sealed);
    assert_eq!(pushed.data["sentAt"], format_millis(sent_at));
    assert_eq!(pushed.data["expiresAt"], Value::Null);
    let listed = b.call("GET", "/friends/locations", &bob, None).await.ok();
    assert_eq!(listed["locations"][0]["encryptedLocation"], sealed);

    // A stop through the messages endpoint is refused (it must turn the setting off).
    let mut stop_payload = Object::new();
    stop_payload.insert("stopped", CValue::Bool(true));
    let body = send_body(
        MessageType::LocationUpdate,
        &alice,
        &bob.handle,
        stop_payload,
    );
    let reply = a.call("POST", &messages, &alice, Some(body)).await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    // A stop signed over something else is refused and sharing stays on.
    let mut wrong = signed(MessageType::LocationUpdate, &alice, &bob.handle);
    wrong["nonce"] = json!("another-nonce-123");
    let reply = a.call("DELETE", &sharing, &alice, Some(wrong)).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(reply.json["code"], "invalid_signature");

    // A sealed location larger than any position is refused.
    let mut huge = location(&bob.encryption, "1,1", now_ms(), None);
    huge.insert("encryptedLocation", CValue::string(&"A".repeat(5000)));
    let body = send_body(MessageType::LocationUpdate, &alice, &bob.handle, huge);
    let reply = a.call("POST", &messages, &alice, Some(body)).await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    // A device whose clock runs two minutes ahead sends a position; the stop from another
    // device (an older timestamp) still ends it.
    let ahead = send_body(
        MessageType::LocationUpdate,
        &alice,
        &bob.handle,
        location(&bob.encryption, "8,8", now_ms() + 120_000, None),
    );
    a.call("POST", &messages, &alice, Some(ahead)).await.ok();
    events.expect("location").await;
    a.call(
        "DELETE",
        &sharing,
        &alice,
        Some(stop_body(&alice, &bob.handle)),
    )
    .await
    .ok();
    let stopped = events.expect("location-stopped").await;
    assert_eq!(stopped.data["fromHandle"], alice.handle);
    let listed = b.call("GET", "/friends/locations", &bob, None).await.ok();
    assert_eq!(listed["locations"], json!([]), "bob no longer sees alice");
    let listed = a
        .call("GET", "/friends/location-sharing", &alice, None)
        .await
        .ok();
    assert_eq!(listed["sharing"], json!([]));
    let body = send_body(
        MessageType::LocationUpdate,
        &alice,
        &bob.handle,
        location(&bob.encryption, "2,2", now_ms(), None),
    );
    let refused = a.call("POST", &messages, &alice, Some(body)).await;
    assert_eq!(refused.status, 409, "{}", refused.text);

    // Unfriending: bob's stream hears it, and alice's sharing with bob is gone for good.
    a.call("PUT", &sharing, &alice, Some(json!({}))).await.ok();
    unfriend(&a, &alice, &bob).await;
    let removed = events.expect("friend-removed").await;
    assert_eq!(removed.data["handle"], alice.handle);
    let listed = a
        .call("GET", "/friends/location-sharing", &alice, None)
        .await
        .ok();
    assert_eq!(listed["sharing"], json!([]));
    assert_eq!(
        a.count("SELECT COUNT(*) FROM location_sharing").await,
        0,
        "ending the friendship ends the sharing"
    );
}

async fn the_push_channel_resumes_without_loss(db: Db) {
    let a = Peer::start(db).await;
    let b = Peer::start(db).await;
    let alice = a.user("alice").await;
    let bob = b.user("bob").await;
    let carol = b.user("carol").await;
    // bob's stream sees the invitation and the friendship arrive.
    let mut events = Events::open(&b.url("/events"), &bob.token, None).await;
    events.expect("ready").await;
    befriend(&a, &alice, &b, &bob).await;
    let invited = events.expect("invitation").await;
    assert_eq!(invited.data["fromHandle"], alice.handle);
    // carol (same server) befriends bob: bob is the invitee here too.
    befriend(&b, &carol, &b, &bob).await;
    let second = events.expect("invitation").await;
    let last_seen = second.id.expect("events are numbered");
    assert!(last_seen > invited.id.unwrap_or(0), "numbers increase");
    // The connection drops; meanwhile alice and carol share and send.
    drop(events);
    let mut sent = Vec::new();
    for (server, from) in [(&a, &alice), (&b, &carol)] {
        server
            .call(
                "PUT",
                &format!("/friends/{}/location-sharing", bob.handle),
                from,
                Some(json!({})),
            )
            .await
            .ok();
        for i in 0..3 {
            let payload = location(&bob.encryption, &format!("{i},{i}"), now_ms() + i, None);
            sent.push((
                from.handle.clone(),
                payload
                    .get("encryptedLocation")
                    .and_then(CValue::as_str)
                    .unwrap_or_default(),
            ));
            let body = send_body(MessageType::LocationUpdate, from, &bob.handle, payload);
            server
                .call(
                    "POST",
                    &format!("/friends/{}/messages", bob.handle),
                    from,
                    Some(body),
                )
                .await
                .ok();
            // One at a time: a newer update would supersede a queued one (by design).
            let sealed = sent.last().map(|(_, s)| s.to_owned()).unwrap_or_default();
            eventually("the update applied", || async {
                b.count(&format!(
                    "SELECT COUNT(*) FROM user_events WHERE kind = 'location' \
                     AND data LIKE '%{sealed}%'"
                ))
                .await
                    == 1
            })
            .await;
        }
    }
    // The log keeps each friend's newest position only: no trail.
    assert_eq!(
        b.count("SELECT COUNT(*) FROM user_events WHERE kind = 'location'")
            .await,
        2
    );
    // Resumed after the last event seen: each friend's newest position, in order.
    let mut events = Events::open(&b.url("/events"), &bob.token, Some(last_seen)).await;
    let mut previous = last_seen;
    for (from, sealed) in [&sent[2], &sent[5]] {
        let e = events.expect("location").await;
        let id = e.id.unwrap_or_default();
        assert!(id > previous, "in order");
        previous = id;
        assert_eq!(&e.data["fromHandle"], from);
        assert_eq!(&e.data["encryptedLocation"], sealed);
    }
    // A number this server never issued, or one whose successors are pruned: resync.
    let mut events = Events::open(&b.url("/events"), &bob.token, Some(previous + 1000)).await;
    events.expect("resync").await;
    b.count("SELECT COUNT(*) FROM user_events").await;
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&b.db_url)
        .await
        .expect("db");
    sqlx::query(&format!(
        "DELETE FROM user_events WHERE seq <= {}",
        previous - 1
    ))
    .execute(&mut conn)
    .await
    .expect("prune");
    let mut events = Events::open(&b.url("/events"), &bob.token, Some(last_seen)).await;
    events.expect("resync").await;
    // Still there: resumes normally.
    let mut events = Events::open(&b.url("/events"), &bob.token, Some(previous - 1)).await;
    assert_eq!(events.expect("location").await.id, Some(previous));
    // A malformed Last-Event-ID is a 422 problem, not a stream.
    let reply = reqwest::Client::new()
        .get(b.url("/events"))
        .bearer_auth(&bob.token)
        .header("Last-Event-ID", "yesterday")
        .send()
        .await
        .expect("request");
    assert_eq!(reply.status(), 422);
    // Signed out: no stream.
    let reply = reqwest::Client::new()
        .get(b.url("/events"))
        .send()
        .await
        .expect("request");
    assert_eq!(reply.status(), 401);
}

async fn a_newer_update_supersedes_a_queued_one(db: Db) {
    let a = Peer::start(db).await;
    let mut b = Peer::start(db).await;
    let alice = a.user("alice").await;
    let bob = b.user("bob").await;
    befriend(&a, &alice, &b, &bob).await;
    a.call(
        "PUT",
        &format!("/friends/{}/location-sharing", bob.handle),
        &alice,
        Some(json!({})),
    )
    .await
    .ok();
    // B is down: updates queue at A, and each newer one replaces the one waiting.
    b.stop();
    let start = now_ms();
    for i in 0..5 {
        let body = send_body(
            MessageType::LocationUpdate,
            &alice,
            &bob.handle,
            location(&bob.encryption, &format!("{i}.5,{i}.5"), start + i, None),
        );
        a.call(
            "POST",
            &format!("/friends/{}/messages", bob.handle),
            &alice,
            Some(body),
        )
        .await
        .ok();
    }
    let queued = a
        .count(
            "SELECT COUNT(*) FROM federation_outbox WHERE message_type = 'LOCATION_UPDATE' \
             AND status = 'pending'",
        )
        .await;
    // The first may be in a delivery attempt (leased) when the next arrives; it then stays.
    assert!(
        (1..=2).contains(&queued),
        "{queued} queued: at most the one in flight and the newest"
    );
    // A stop queued behind them is never replaced by a later position (sharing on again).
    let sharing = format!("/friends/{}/location-sharing", bob.handle);
    a.call(
        "DELETE",
        &sharing,
        &alice,
        Some(stop_body(&alice, &bob.handle)),
    )
    .await
    .ok();
    let stops = "SELECT COUNT(*) FROM federation_outbox WHERE status = 'pending' \
                 AND body LIKE '%\"stopped\":true%'";
    assert_eq!(a.count(stops).await, 1);
    a.call("PUT", &sharing, &alice, Some(json!({}))).await.ok();
    let again = now_ms() + 1;
    let body = send_body(
        MessageType::LocationUpdate,
        &alice,
        &bob.handle,
        location(&bob.encryption, "9.5,9.5", again, None),
    );
    a.call(
        "POST",
        &format!("/friends/{}/messages", bob.handle),
        &alice,
        Some(body),
    )
    .await
    .ok();
    assert_eq!(a.count(stops).await, 1, "the stop is still queued");
    b.spawn().await;
    // B is back: what is queued goes out now, not at its backoff (a message wakes the
    // worker), and every row is delivered, the stop included.
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&a.db_url)
        .await
        .expect("db");
    sqlx::query("UPDATE federation_outbox SET next_attempt_at = 0 WHERE status = 'pending'")
        .execute(&mut conn)
        .await
        .expect("due now");
    let wake = send_body(
        MessageType::LocationRequest,
        &alice,
        &bob.handle,
        Object::new(),
    );
    a.call(
        "POST",
        &format!("/friends/{}/messages", bob.handle),
        &alice,
        Some(wake),
    )
    .await
    .ok();
    // Nothing left pending; a position that reaches B after the stop is refused there as
    // stale (the stop wins), so "delivered or refused" is the end state, and the stop itself
    // was delivered.
    eventually("the queue drained", || async {
        a.count("SELECT COUNT(*) FROM federation_outbox WHERE status = 'pending'")
            .await
            == 0
    })
    .await;
    assert_eq!(a.count(stops).await, 0, "the stop is no longer queued");
    assert_eq!(
        a.count(
            "SELECT COUNT(*) FROM federation_outbox WHERE status = 'delivered' \
             AND body LIKE '%\"stopped\":true%'"
        )
        .await,
        1,
        "the stop was delivered"
    );
}

/// One server, its clock moved by the test: a share with an end stops on both sides when
/// it passes, with no message.
async fn sharing_expires_on_both_sides_without_a_message(db: Db) {
    let server = TestServer::start_with(
        db,
        Options {
            rate_limits: false,
            ..Options::default()
        },
    )
    .await;
    let (alice, bob) = (
        local_user(&server, "alice").await,
        local_user(&server, "bob").await,
    );
    let mut body = local_signed(
        &server,
        MessageType::FriendInvite,
        &alice,
        &bob.handle,
        Object::new(),
    );
    body["handle"] = json!(bob.handle);
    server
        .post("/friends/invite", Some(&alice.token), body)
        .await
        .expect(200);
    let incoming = poll("the invitation", || async {
        let r = server
            .get("/friends/invitations?direction=incoming", Some(&bob.token))
            .await;
        (r.json["invitations"].as_array()?.len() == 1).then_some(r.json)
    })
    .await;
    let id = incoming["invitations"][0]["id"]
        .as_str()
        .unwrap_or_default();
    let accept = local_signed(
        &server,
        MessageType::FriendAccept,
        &bob,
        &alice.handle,
        Object::new(),
    );
    server
        .post(
            &format!("/friends/invitations/{id}/accept"),
            Some(&bob.token),
            accept,
        )
        .await
        .expect(200);
    // The accept reaches alice through the outbox (delivered locally).
    poll("the friendship at alice's side", || async {
        let r = server.get("/friends", Some(&alice.token)).await;
        (r.json["friends"].as_array()?.len() == 1).then_some(r.json)
    })
    .await;
    let ends = server.now_ms() + 3_600_000;
    let reply = server
        .put(
            &format!("/friends/{}/location-sharing", bob.handle),
            Some(&alice.token),
            json!({ "expiresAt": format_millis(ends) }),
        )
        .await
        .expect(200);
    let at = |v: &Value| parse_millis(v.as_str().unwrap_or_default()).ok();
    assert_eq!(at(&reply.json["expiresAt"]), Some(ends));
    let payload = location(&bob.encryption, "3,3", server.now_ms(), Some(ends));
    let body = local_signed(
        &server,
        MessageType::LocationUpdate,
        &alice,
        &bob.handle,
        payload,
    );
    server
        .post(
            &format!("/friends/{}/messages", bob.handle),
            Some(&alice.token),
            body,
        )
        .await
        .expect(200);
    let listed = poll("the location", || async {
        let r = server.get("/friends/locations", Some(&bob.token)).await;
        (r.json["locations"].as_array()?.len() == 1).then_some(r.json)
    })
    .await;
    assert_eq!(at(&listed["locations"][0]["expiresAt"]), Some(ends));

    server.clock.advance(3_600_000 + 1);
    let listed = server.get("/friends/locations", Some(&bob.token)).await;
    assert_eq!(
        listed.json["locations"],
        json!([]),
        "bob stops seeing alice"
    );
    let listed = server
        .get("/friends/location-sharing", Some(&alice.token))
        .await;
    assert_eq!(listed.json["sharing"], json!([]), "alice stops sharing");
    let payload = location(&bob.encryption, "4,4", server.now_ms(), Some(ends));
    let body = local_signed(
        &server,
        MessageType::LocationUpdate,
        &alice,
        &bob.handle,
        payload,
    );
    server
        .post(
            &format!("/friends/{}/messages", bob.handle),
            Some(&alice.token),
            body,
        )
        .await
        .expect_error(409, "location_sharing_off");
}

/// A signed-in user of the in-process server with an alias and keys.
async fn local_user(server: &TestServer, alias: &str) -> LocalUser {
    let (_, token) = server.user(&format!("{alias}@example.com"), "user").await;
    let user = LocalUser {
        handle: format!("{alias}@{}", server.origin.trim_start_matches("http://")),
        token,
        signing: parchment_core::keys::Ed25519SecretKey::generate(&mut OsRng),
        encryption: X25519SecretKey::generate(&mut OsRng),
    };
    server
        .patch(
            "/users/me/alias",
            Some(&user.token),
            json!({ "alias": alias }),
        )
        .await
        .expect(200);
    server
        .put(
            "/users/me/keys",
            Some(&user.token),
            json!({
                "signingKey": user.signing.public_key().to_base64(),
                "encryptionKey": user.encryption.public_key().to_base64(),
            }),
        )
        .await
        .expect(200);
    user
}

struct LocalUser {
    handle: String,
    token: String,
    signing: parchment_core::keys::Ed25519SecretKey,
    encryption: X25519SecretKey,
}

/// `{signature, nonce, timestamp, payload}` signed at the in-process server's time.
fn local_signed(
    server: &TestServer,
    kind: MessageType,
    from: &LocalUser,
    to: &str,
    payload: Object,
) -> Value {
    let unsigned = parchment_core::federation::UnsignedMessage {
        message_type: kind,
        message_version: 1,
        from: from.handle.clone(),
        to: to.to_owned(),
        nonce: parchment_core::federation::message::new_nonce(&mut OsRng),
        timestamp: format_millis(server.now_ms()),
        payload: payload.clone(),
    };
    let signature = unsigned.sign(&from.signing).signature;
    let mut body = json!({
        "signature": signature,
        "nonce": unsigned.nonce,
        "timestamp": unsigned.timestamp,
    });
    if kind == MessageType::LocationUpdate {
        body["messageType"] = json!(kind.as_str());
        body["payload"] = Value::from(&CValue::Object(payload));
    }
    body
}

/// Two replicas of B (one PostgreSQL database, one server key, one public URL): bob's stream
/// is on the replica that does not receive alice's message, and still gets it (NOTIFY).
/// SQLite is one process by design, so this runs on PostgreSQL only.
async fn an_event_reaches_a_stream_on_another_replica(db: Db) {
    if matches!(db, Db::Sqlite) {
        return;
    }
    let a = Peer::start(db).await;
    let b = Peer::start(db).await;
    let alice = a.user("alice").await;
    let bob = b.user("bob").await;
    befriend(&a, &alice, &b, &bob).await;
    let port = free_port();
    let mut replica = b
        .command()
        .arg("serve")
        .arg("--bind")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--public-url")
        .arg(b.origin())
        .arg("--server-key")
        .arg(b.key.export_base64().as_str())
        .arg("--federation-allow-http")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start the second replica");
    let url = format!("http://127.0.0.1:{port}/events");
    let opened = poll("the second replica", || async {
        reqwest::get(format!(
            "http://127.0.0.1:{port}/.well-known/parchment-server"
        ))
        .await
        .ok()
        .filter(|r| r.status().is_success())
        .map(|_| Value::Null)
    })
    .await;
    assert!(opened.is_null());
    let mut events = Events::open(&url, &bob.token, None).await;
    events.expect("ready").await;
    a.call(
        "PUT",
        &format!("/friends/{}/location-sharing", bob.handle),
        &alice,
        Some(json!({})),
    )
    .await
    .ok();
    let body = send_body(
        MessageType::LocationUpdate,
        &alice,
        &bob.handle,
        location(&bob.encryption, "5,5", now_ms(), None),
    );
    a.call(
        "POST",
        &format!("/friends/{}/messages", bob.handle),
        &alice,
        Some(body),
    )
    .await
    .ok();
    let pushed = events.expect("location").await;
    assert_eq!(pushed.data["fromHandle"], alice.handle);
    let _ = replica.kill();
    let _ = replica.wait();
}

/// `PARCHMENT_MAP_STYLE_URL` and `PARCHMENT_MAP_ORIGINS`: the app learns the style from
/// `GET /config` (public), and only the app's policy allows those origins.
async fn the_map_configuration_reaches_the_app_and_its_policy(db: Db) {
    let plain = Peer::start(db).await;
    let config: Value = reqwest::get(plain.url("/config"))
        .await
        .expect("config")
        .json()
        .await
        .expect("json");
    assert_eq!(
        config,
        json!({ "mapStyleUrl": null }),
        "offline style by default"
    );
    let peer = Peer::start_with(
        db,
        &[
            "--map-style-url",
            "https://styles.example.org/v1/style.json",
            "--map-origins",
            "https://tiles.example.net,https://styles.example.org",
        ],
    )
    .await;
    let config: Value = reqwest::get(peer.url("/config"))
        .await
        .expect("config")
        .json()
        .await
        .expect("json");
    assert_eq!(
        config["mapStyleUrl"],
        "https://styles.example.org/v1/style.json"
    );
    let csp = |resp: &reqwest::Response| {
        resp.headers()
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let app = reqwest::get(peer.url("/map")).await.expect("app page");
    let policy = csp(&app);
    assert!(
        policy.contains("connect-src 'self' https://styles.example.org https://tiles.example.net;"),
        "{policy}"
    );
    let api = reqwest::get(peer.url("/config")).await.expect("api");
    assert!(
        !csp(&api).contains("example"),
        "the API's policy stays closed"
    );
}

// ---------------------------------------------------------------------------------------
// Benchmark (ignored; run with `cargo test --release -p parchment-server --test
// live_location -- --ignored --nocapture bench_push`): 1,000 open streams on one server
// (40 users × 25 streams: the per-user cap is 32), one friend-caused event per user
// (an invitation from a local user, delivered through the outbox), every stream receiving
// its user's event. Prints the server's memory per open stream and the delivery latency.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn bench_push() {
    const USERS: usize = 40;
    const STREAMS_PER_USER: usize = 25;
    let peer = Peer::start_with(Db::Sqlite, &["--rate-limits", "off"]).await;
    let sender = peer.user("sender").await;
    let mut users = Vec::new();
    for i in 0..USERS {
        users.push(peer.user(&format!("user{i}")).await);
    }
    let pid = peer.child.as_ref().map(|c| c.id()).unwrap_or_default();
    let rss_kib = || {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|n| n.parse::<u64>().ok())
            })
            .unwrap_or(0)
    };
    let before = rss_kib();
    let mut streams = Vec::new();
    for user in &users {
        for _ in 0..STREAMS_PER_USER {
            let mut events = Events::open(&peer.url("/events"), &user.token, None).await;
            events.expect("ready").await;
            streams.push((user.handle.clone(), events));
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_kib();
    let sent_at = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashMap::<
        String,
        std::time::Instant,
    >::new()));
    let mut waiting = tokio::task::JoinSet::new();
    for (handle, mut events) in streams {
        let sent_at = sent_at.clone();
        waiting.spawn(async move {
            events.expect("invitation").await;
            let got = std::time::Instant::now();
            let sent = sent_at.lock().ok().and_then(|m| m.get(&handle).copied());
            sent.map(|s| got.duration_since(s).as_secs_f64() * 1000.0)
        });
    }
    let started = std::time::Instant::now();
    for user in &users {
        let mut body = signed(MessageType::FriendInvite, &sender, &user.handle);
        body["handle"] = json!(user.handle);
        if let Ok(mut m) = sent_at.lock() {
            m.insert(user.handle.clone(), std::time::Instant::now());
        }
        peer.call("POST", "/friends/invite", &sender, Some(body))
            .await
            .ok();
    }
    let mut latencies: Vec<f64> = waiting.join_all().await.into_iter().flatten().collect();
    let total = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "push: {} streams, server RSS {} KiB -> {} KiB ({:.1} KiB per stream); {} deliveries \
         in {:.2} s, latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        USERS * STREAMS_PER_USER,
        before,
        after,
        (after.saturating_sub(before)) as f64 / (USERS * STREAMS_PER_USER) as f64,
        latencies.len(),
        total,
        pct(0.5),
        pct(0.99),
        latencies.last().copied().unwrap_or(0.0),
    );
    assert_eq!(
        latencies.len(),
        USERS * STREAMS_PER_USER,
        "every stream got its event"
    );
}
