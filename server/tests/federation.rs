//! Two real `parchment-server` processes on loopback federating: invitations, acceptance,
//! an encrypted location, revocation; attacks on the inbox; delivery while the peer is down.
//! SQLite always, PostgreSQL when `PARCHMENT_TEST_POSTGRES_URL` is set.

mod common;
mod peers;

use common::Db;
use parchment_core::canonical::{Object, Value as CValue};
use parchment_core::ecies;
use parchment_core::encoding::{from_base64, to_base64};
use parchment_core::federation::{Envelope, MessageType};
use parchment_core::keys::{Ed25519PublicKey, Ed25519SecretKey, X25519SecretKey};
use parchment_core::rand_core::OsRng;
use parchment_core::timestamp::format_millis;
use peers::*;
use serde_json::{json, Value};

db_tests!(
    friends_across_servers,
    inbox_rejects_attacks_and_stores_nothing,
    queued_while_peer_is_down_then_delivered_once,
    changed_server_key_is_refused_until_unpinned,
    local_friends_reject_and_cancel,
    concurrent_deliveries_are_applied_or_refused_each_alone,
    invitations_and_revocations_arriving_together_count_once,
    shares_are_rate_limited_per_user,
    the_seed_inbox_body_is_accepted_as_written,
);

/// alice@A invites bob@B and bob accepts; returns when both see the friendship.
async fn befriend(a: &Peer, alice: &User, b: &Peer, bob: &User) {
    let mut body = signed(MessageType::FriendInvite, alice, &bob.handle);
    body["handle"] = json!(bob.handle);
    let created = a
        .call("POST", "/friends/invite", alice, Some(body))
        .await
        .ok();
    assert_eq!(created["invitation"]["direction"], "outgoing");
    assert_eq!(created["invitation"]["status"], "pending");
    let incoming = poll("the invitation at B", || async {
        let incoming = b
            .call("GET", "/friends/invitations?direction=incoming", bob, None)
            .await
            .ok();
        (incoming["invitations"].as_array().unwrap().len() == 1).then_some(incoming)
    })
    .await;
    let invitation = &incoming["invitations"][0];
    assert_eq!(invitation["fromHandle"], alice.handle);
    assert_eq!(invitation["status"], "pending");
    let id = invitation["id"].as_str().unwrap().to_string();
    b.call(
        "POST",
        &format!("/friends/invitations/{id}/accept"),
        bob,
        Some(signed(MessageType::FriendAccept, bob, &alice.handle)),
    )
    .await
    .ok();
    eventually("the friendship at A", || async {
        let friends = a.call("GET", "/friends", alice, None).await.ok();
        friends["friends"].as_array().unwrap().len() == 1
    })
    .await;
    let at_a = a.call("GET", "/friends", alice, None).await.ok();
    assert_eq!(at_a["friends"][0]["handle"], bob.handle);
    assert_eq!(
        at_a["friends"][0]["signingKey"],
        bob.signing.public_key().to_base64()
    );
    let at_b = b.call("GET", "/friends", bob, None).await.ok();
    assert_eq!(at_b["friends"][0]["handle"], alice.handle);
    let outgoing = a
        .call(
            "GET",
            "/friends/invitations?direction=outgoing",
            alice,
            None,
        )
        .await
        .ok();
    assert_eq!(outgoing["invitations"][0]["status"], "accepted");
    assert_eq!(outgoing["invitations"][0]["delivery"], "delivered");
}

fn location_payload(bob: &User, text: &str, sent_at: i64) -> Object {
    let sealed = ecies::seal(&bob.encryption.public_key(), text.as_bytes(), &mut OsRng).unwrap();
    let mut payload = Object::new();
    payload.insert("encryptedLocation", CValue::string(&to_base64(&sealed)));
    payload.insert("nonce", CValue::string(&format_millis(sent_at)));
    payload
}

async fn friends_across_servers(db: Db) {
    let a = Peer::start(db).await;
    let b = Peer::start(db).await;
    let alice = a.user("alice").await;
    let bob = b.user("bob").await;
    // Resolution goes through B's validated document.
    let resolved = a
        .call(
            "GET",
            &format!("/friends/resolve/{}", bob.handle),
            &alice,
            None,
        )
        .await
        .ok();
    assert_eq!(resolved["signingKey"], bob.signing.public_key().to_base64());
    // A signature over another envelope is refused and nothing is queued.
    let mut forged = signed(MessageType::FriendInvite, &alice, "someone@127.0.0.1:1");
    forged["handle"] = json!(bob.handle);
    let refused = a
        .call("POST", "/friends/invite", &alice, Some(forged))
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert_eq!(refused.json["code"], "invalid_signature");
    assert_eq!(a.count("SELECT COUNT(*) FROM federation_outbox").await, 0);

    befriend(&a, &alice, &b, &bob).await;

    // An encrypted location: stored as ciphertext at B, verifiable with alice's key (once
    // alice shares her location with bob: off by default).
    a.call(
        "PUT",
        &format!("/friends/{}/location-sharing", bob.handle),
        &alice,
        Some(json!({})),
    )
    .await
    .ok();
    let sent_at = now_ms();
    let body = send_body(
        MessageType::LocationUpdate,
        &alice,
        &bob.handle,
        location_payload(&bob, "48.85,2.35", sent_at),
    );
    a.call(
        "POST",
        &format!("/friends/{}/messages", bob.handle),
        &alice,
        Some(body),
    )
    .await
    .ok();
    let locations = poll("the location at B", || async {
        let locations = b.call("GET", "/friends/locations", &bob, None).await.ok();
        (locations["locations"].as_array().unwrap().len() == 1).then_some(locations)
    })
    .await;
    let location = &locations["locations"][0];
    assert_eq!(location["fromHandle"], alice.handle);
    let envelope = Envelope::parse(location["envelope"].as_str().unwrap()).unwrap();
    envelope
        .verify(&Ed25519PublicKey::from_base64(&alice.signing.public_key().to_base64()).unwrap())
        .expect("the stored envelope verifies with alice's key");
    let sealed = from_base64(location["encryptedLocation"].as_str().unwrap()).unwrap();
    let plain = ecies::open(&bob.encryption, &sealed).unwrap();
    assert_eq!(&plain[..], b"48.85,2.35");

    // bob ends it: both sides forget the friendship and what was shared.
    unfriend(&b, &bob, &alice).await;
    let friends = b.call("GET", "/friends", &bob, None).await.ok();
    assert_eq!(friends["friends"], json!([]));
    let locations = b.call("GET", "/friends/locations", &bob, None).await.ok();
    assert_eq!(locations["locations"], json!([]));
    eventually("the revocation at A", || async {
        let friends = a.call("GET", "/friends", &alice, None).await.ok();
        friends["friends"].as_array().unwrap().is_empty()
    })
    .await;
    // No longer friends: a location update is refused before anything is queued.
    let body = send_body(
        MessageType::LocationUpdate,
        &alice,
        &bob.handle,
        location_payload(&bob, "0,0", now_ms()),
    );
    let refused = a
        .call(
            "POST",
            &format!("/friends/{}/messages", bob.handle),
            &alice,
            Some(body),
        )
        .await;
    assert_eq!(refused.status, 404, "{}", refused.text);
}

/// The seed's `POST /federation/inbox` sample carries all ten members it lists: the v2
/// envelope's and the legacy `type` beside `message_type` (`payload: {}`). Filled with valid
/// values it is delivered; `type` is outside what v2 signs and reads, and changes nothing.
async fn the_seed_inbox_body_is_accepted_as_written(db: Db) {
    let a = Peer::start(db).await;
    let b = Peer::start(db).await;
    let alice = a.user("alice").await;
    let bob = b.user("bob").await;
    let (m, signature) = message(
        MessageType::FriendInvite,
        &bob,
        &alice.handle,
        Object::new(),
    );
    let mut seed_shaped: Value =
        serde_json::from_str(&m.with_signature(&signature).body()).unwrap();
    seed_shaped["type"] = json!("FRIEND_INVITE");
    let members: Vec<&str> = seed_shaped
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        members,
        [
            "from",
            "message_type",
            "message_version",
            "nonce",
            "payload",
            "protocol_version",
            "signature",
            "timestamp",
            "to",
            "type"
        ]
    );
    let request = raw(&b, &b.key, &a, seed_shaped.to_string(), now_ms());
    let reply = post_raw(&a, &request).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    assert_eq!(reply.json, json!({ "success": true }));
    let incoming = a
        .call(
            "GET",
            "/friends/invitations?direction=incoming",
            &alice,
            None,
        )
        .await
        .ok();
    assert_eq!(incoming["invitations"][0]["fromHandle"], bob.handle);

    // A `type` naming another message changes nothing: v2 signs and reads `message_type`
    // (a RELATIONSHIP_REVOKE label on a signed FRIEND_INVITE is still an invitation).
    let carol = a.user("carol").await;
    let (m, signature) = message(
        MessageType::FriendInvite,
        &bob,
        &carol.handle,
        Object::new(),
    );
    let mut relabelled: Value = serde_json::from_str(&m.with_signature(&signature).body()).unwrap();
    relabelled["type"] = json!("RELATIONSHIP_REVOKE");
    let request = raw(&b, &b.key, &a, relabelled.to_string(), now_ms());
    let reply = post_raw(&a, &request).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let incoming = a
        .call(
            "GET",
            "/friends/invitations?direction=incoming",
            &carol,
            None,
        )
        .await
        .ok();
    assert_eq!(incoming["invitations"][0]["fromHandle"], bob.handle);
    assert_eq!(a.count("SELECT COUNT(*) FROM friend_invitations").await, 2);
}

#[track_caller]
fn expect(reply: Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(reply.json["code"], code, "{}", reply.text);
}

async fn inbox_rejects_attacks_and_stores_nothing(db: Db) {
    let a = Peer::start(db).await;
    let b = Peer::start(db).await;
    let alice = a.user("alice").await;
    let bob = b.user("bob").await;
    let invite = |from: &User, to: &str| {
        let (m, signature) = message(MessageType::FriendInvite, from, to, Object::new());
        m.with_signature(&signature)
    };
    let body_of = |e: &Envelope| e.body();

    // A valid delivery pins B's key and stores one invitation.
    let envelope = invite(&bob, &alice.handle);
    let valid = raw(&b, &b.key, &a, body_of(&envelope), now_ms());
    let reply = post_raw(&a, &valid).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    assert_eq!(reply.json, json!({ "success": true }));
    let stored = "SELECT COUNT(*) FROM friend_invitations";
    assert_eq!(a.count(stored).await, 1);
    assert_eq!(
        a.count("SELECT COUNT(*) FROM federation_message_nonces")
            .await,
        1
    );

    // The same request again: transport replay.
    expect(post_raw(&a, &valid).await, 401, "federation_auth_failed");
    // The same envelope under fresh transport headers: user-level replay.
    let relayed = raw(&b, &b.key, &a, body_of(&envelope), now_ms());
    expect(post_raw(&a, &relayed).await, 409, "replay");
    // Outside the ±300 s window.
    let fresh = invite(&bob, &alice.handle);
    let old = raw(&b, &b.key, &a, body_of(&fresh), now_ms() - 400_000);
    expect(post_raw(&a, &old).await, 401, "federation_auth_failed");
    // Tampered body: signed one body, sent another.
    let mut tampered = raw(&b, &b.key, &a, body_of(&fresh), now_ms());
    tampered.body = tampered.body.replace("FRIEND_INVITE", "FRIEND_REJECT");
    expect(post_raw(&a, &tampered).await, 401, "federation_auth_failed");
    // Signed with another key than the one pinned for B.
    let other = Ed25519SecretKey::generate(&mut OsRng);
    let wrong_server = raw(&b, &other, &a, body_of(&fresh), now_ms());
    expect(
        post_raw(&a, &wrong_server).await,
        401,
        "federation_auth_failed",
    );
    // The envelope signed by another user key than bob's.
    let mallory = User {
        handle: bob.handle.clone(),
        token: String::new(),
        signing: Ed25519SecretKey::generate(&mut OsRng),
        encryption: X25519SecretKey::generate(&mut OsRng),
    };
    let forged = invite(&mallory, &alice.handle);
    let wrong_user = raw(&b, &b.key, &a, body_of(&forged), now_ms());
    expect(post_raw(&a, &wrong_user).await, 400, "invalid_signature");
    // `from` a user of a third server, relayed by B.
    let carol = User {
        handle: "carol@127.0.0.1:9".into(),
        token: String::new(),
        signing: Ed25519SecretKey::generate(&mut OsRng),
        encryption: X25519SecretKey::generate(&mut OsRng),
    };
    let third = raw(
        &b,
        &b.key,
        &a,
        body_of(&invite(&carol, &alice.handle)),
        now_ms(),
    );
    expect(post_raw(&a, &third).await, 400, "foreign_sender");
    // Unknown message type.
    let mut unknown = invite(&bob, &alice.handle);
    unknown.message_type = Some("FRIEND_POKE".into());
    let unknown = raw(&b, &b.key, &a, body_of(&unknown), now_ms());
    expect(post_raw(&a, &unknown).await, 400, "unsupported_type");
    // Oversized payload.
    let mut payload = Object::new();
    payload.insert("padding", CValue::string(&"x".repeat(100 * 1024)));
    let big = delivery(
        &b,
        &a,
        MessageType::LocationRequest,
        &bob,
        &alice.handle,
        payload,
    );
    expect(post_raw(&a, &big).await, 413, "payload_too_large");
    // Malformed JSON.
    let malformed = raw(&b, &b.key, &a, "{\"from\": ".into(), now_ms());
    expect(post_raw(&a, &malformed).await, 422, "validation_failed");
    // Missing signature header.
    let mut unsigned = raw(&b, &b.key, &a, body_of(&fresh), now_ms());
    unsigned.signature = String::new();
    assert_eq!(post_raw(&a, &unsigned).await.status, 401);

    // A legacy v1 envelope from the original's servers still verifies; a second invitation
    // from bob is idempotent.
    let mut legacy = Envelope {
        protocol_version: None,
        message_type: None,
        legacy_type: Some("FRIEND_INVITE".into()),
        message_version: None,
        nonce: None,
        from: bob.handle.clone(),
        to: alice.handle.clone(),
        timestamp: format_millis(now_ms()),
        signature: String::new(),
        payload: None,
    };
    legacy.signature = bob
        .signing
        .sign(legacy.signable().unwrap().as_bytes())
        .to_base64();
    let v1 = raw(&b, &b.key, &a, body_of(&legacy), now_ms());
    assert_eq!(post_raw(&a, &v1).await.status, 202);
    // The same v1 message again, in a fresh transport request: (from, signature) is
    // accepted once (before issue 13 it was accepted again for its whole window).
    let again = raw(&b, &b.key, &a, body_of(&legacy), now_ms());
    let replay = post_raw(&a, &again).await;
    assert_eq!(replay.status, 409, "{}", replay.text);

    // Issue 13: the v1 signature moved into the payload, under another type, recipient or
    // time, is refused (the original let payload members override the signed fields).
    let moved: parchment_core::canonical::Object = [
        (
            "type",
            parchment_core::canonical::Value::string("FRIEND_INVITE"),
        ),
        (
            "to",
            parchment_core::canonical::Value::string(&alice.handle),
        ),
        (
            "timestamp",
            parchment_core::canonical::Value::string(&legacy.timestamp),
        ),
    ]
    .into_iter()
    .collect();
    for kind in ["RELATIONSHIP_REVOKE", "LOCATION_REQUEST", "FRIEND_INVITE"] {
        let forged = Envelope {
            legacy_type: Some(kind.into()),
            timestamp: format_millis(now_ms() + 1000),
            payload: Some(moved.clone()),
            ..legacy.clone()
        };
        let reply = post_raw(&a, &raw(&b, &b.key, &a, body_of(&forged), now_ms())).await;
        assert_eq!(reply.status, 400, "{kind}: {}", reply.text);
    }
    // Friend-gated types are never accepted as v1, even honestly signed.
    let mut v1_request = Envelope {
        legacy_type: Some("LOCATION_REQUEST".into()),
        ..legacy.clone()
    };
    v1_request.signature = bob
        .signing
        .sign(v1_request.signable().unwrap().as_bytes())
        .to_base64();
    let refused = post_raw(&a, &raw(&b, &b.key, &a, body_of(&v1_request), now_ms())).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(
        refused.text.contains("legacy_not_allowed"),
        "{}",
        refused.text
    );

    // Nothing of the rejected messages was stored.
    assert_eq!(a.count(stored).await, 1);
    // The v2 message's (from, nonce) and the v1 invite's (from, signature).
    assert_eq!(
        a.count("SELECT COUNT(*) FROM federation_message_nonces")
            .await,
        2
    );
    assert_eq!(a.count("SELECT COUNT(*) FROM friendships").await, 0);
    let incoming = a
        .call(
            "GET",
            "/friends/invitations?direction=incoming",
            &alice,
            None,
        )
        .await
        .ok();
    assert_eq!(incoming["invitations"].as_array().unwrap().len(), 1);
}

async fn queued_while_peer_is_down_then_delivered_once(db: Db) {
    let a = Peer::start(db).await;
    let mut b = Peer::start(db).await;
    let alice = a.user("alice").await;
    let bob = b.user("bob").await;
    befriend(&a, &alice, &b, &bob).await;

    b.stop();
    for i in 0..3 {
        let mut payload = Object::new();
        payload.insert("resourceType", CValue::string("collection"));
        payload.insert("resourceId", CValue::string(&format!("c{i}")));
        payload.insert("encryptedData", CValue::string("AAAA"));
        payload.insert("nonce", CValue::string("BBBB"));
        payload.insert("role", CValue::string("viewer"));
        let body = send_body(MessageType::ResourceShare, &alice, &bob.handle, payload);
        a.call(
            "POST",
            &format!("/friends/{}/messages", bob.handle),
            &alice,
            Some(body),
        )
        .await
        .ok();
    }
    eventually("failed attempts while B is down", || async {
        let outbox = a.call("GET", "/federation/outbox", &alice, None).await.ok();
        outbox["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["messageType"] == "RESOURCE_SHARE")
            .all(|m| m["status"] == "pending" && m["attempts"].as_i64().unwrap() >= 1)
    })
    .await;

    b.spawn().await;
    eventually("delivery after B restarted", || async {
        let outbox = a.call("GET", "/federation/outbox", &alice, None).await.ok();
        outbox["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["status"] == "delivered")
    })
    .await;
    assert_eq!(b.count("SELECT COUNT(*) FROM incoming_shares").await, 3);
    assert_eq!(
        b.count("SELECT COUNT(DISTINCT resource_id) FROM incoming_shares")
            .await,
        3
    );
}

async fn changed_server_key_is_refused_until_unpinned(db: Db) {
    let a = Peer::start(db).await;
    let mut b = Peer::start(db).await;
    let alice = a.user("alice").await;
    let bob = b.user("bob").await;
    let invite = |to: &str| {
        let (m, signature) = message(MessageType::FriendInvite, &bob, to, Object::new());
        m.with_signature(&signature).body()
    };
    let first = raw(&b, &b.key, &a, invite(&alice.handle), now_ms());
    assert_eq!(post_raw(&a, &first).await.status, 202);

    // B comes back with another key: A re-fetches its manifest on the signature failure,
    // sees the changed key and refuses it.
    b.stop();
    b.key = Ed25519SecretKey::generate(&mut OsRng);
    b.spawn().await;
    let rotated = raw(&b, &b.key, &a, invite(&alice.handle), now_ms());
    expect(post_raw(&a, &rotated).await, 401, "federation_auth_failed");
    assert_eq!(
        a.count("SELECT COUNT(*) FROM federation_message_nonces")
            .await,
        1
    );
    // The operator accepts the rotation.
    let out = a.admin(&["federation", "unpin", "--domain", &b.domain()]);
    assert!(out.starts_with("unpinned"), "{out}");
    let again = raw(&b, &b.key, &a, invite(&alice.handle), now_ms());
    let reply = post_raw(&a, &again).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
}

async fn local_friends_reject_and_cancel(db: Db) {
    let a = Peer::start(db).await;
    let alice = a.user("alice").await;
    let carol = a.user("carol").await;
    let dave = a.user("dave").await;
    // Same server: delivered without HTTP, through the same checks.
    befriend(&a, &alice, &a, &carol).await;
    // dave invites alice; alice rejects.
    let mut body = signed(MessageType::FriendInvite, &dave, &alice.handle);
    body["handle"] = json!(alice.handle);
    a.call("POST", "/friends/invite", &dave, Some(body.clone()))
        .await
        .ok();
    // A second pending invitation to the same person is refused.
    let mut again = signed(MessageType::FriendInvite, &dave, &alice.handle);
    again["handle"] = json!(alice.handle);
    let dup = a.call("POST", "/friends/invite", &dave, Some(again)).await;
    assert_eq!(dup.status, 409, "{}", dup.text);
    let incoming = poll("dave's invitation", || async {
        let list = a
            .call(
                "GET",
                "/friends/invitations?direction=incoming",
                &alice,
                None,
            )
            .await
            .ok();
        list["invitations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["fromHandle"] == dave.handle && i["status"] == "pending")
            .cloned()
    })
    .await;
    let id = incoming["id"].as_str().unwrap();
    // A signature for another message type is refused.
    let wrong = a
        .call(
            "POST",
            &format!("/friends/invitations/{id}/reject"),
            &alice,
            Some(signed(MessageType::FriendAccept, &alice, &dave.handle)),
        )
        .await;
    assert_eq!(wrong.status, 400, "{}", wrong.text);
    a.call(
        "POST",
        &format!("/friends/invitations/{id}/reject"),
        &alice,
        Some(signed(MessageType::FriendReject, &alice, &dave.handle)),
    )
    .await
    .ok();
    poll("the rejection at dave", || async {
        let list = a
            .call(
                "GET",
                "/friends/invitations?direction=outgoing",
                &dave,
                None,
            )
            .await
            .ok();
        (list["invitations"][0]["status"] == "rejected").then_some(Value::Null)
    })
    .await;
    // Accepting a rejected invitation is a conflict.
    let late = a
        .call(
            "POST",
            &format!("/friends/invitations/{id}/accept"),
            &alice,
            Some(signed(MessageType::FriendAccept, &alice, &dave.handle)),
        )
        .await;
    assert_eq!(late.status, 409, "{}", late.text);
    // dave invites carol and cancels.
    let mut body = signed(MessageType::FriendInvite, &dave, &carol.handle);
    body["handle"] = json!(carol.handle);
    let created = a
        .call("POST", "/friends/invite", &dave, Some(body))
        .await
        .ok();
    let id = created["invitation"]["id"].as_str().unwrap();
    a.call("DELETE", &format!("/friends/invitations/{id}"), &dave, None)
        .await
        .ok();
    let list = a
        .call(
            "GET",
            "/friends/invitations?direction=outgoing",
            &dave,
            None,
        )
        .await
        .ok();
    assert_eq!(list["invitations"][0]["status"], "cancelled");
    let friends = a.call("GET", "/friends", &dave, None).await.ok();
    assert_eq!(friends["friends"], json!([]));
}

fn share_payload(i: i64) -> Object {
    let mut payload = Object::new();
    payload.insert("resourceType", CValue::string("collection"));
    payload.insert("resourceId", CValue::string(&format!("c{i}")));
    payload.insert("encryptedData", CValue::string("AAAAAAAAAAAAAAAAAAAAAAAA"));
    payload.insert("nonce", CValue::string("BBBBBBBBBBBBBBBB"));
    payload
}

/// The inbox group-commits friend-gated messages: deliveries arriving together share a
/// transaction, yet each is applied or refused on its own — replays (transport and user
/// level, also within one batch), a non-friend and a stale location refuse only themselves,
/// and a refused message leaves no user-level nonce behind.
async fn concurrent_deliveries_are_applied_or_refused_each_alone(db: Db) {
    let a = Peer::start(db).await;
    let b = Peer::start(db).await;
    let alice = a.user("alice").await;
    let bob = b.user("bob").await;
    let carol = b.user("carol").await;
    befriend(&b, &bob, &a, &alice).await;
    let signed_body = |kind, from: &User, payload: Object| {
        let (m, signature) = message(kind, from, &alice.handle, payload);
        m.with_signature(&signature).body()
    };
    let mut requests = Vec::new();
    let mut expected = Vec::new();
    for i in 0..24 {
        let body = signed_body(MessageType::ResourceShare, &bob, share_payload(i));
        requests.push(raw(&b, &b.key, &a, body, now_ms()));
        expected.push("applied");
    }
    // One message relayed six times under fresh transport headers.
    let twice = signed_body(MessageType::ResourceShare, &bob, share_payload(100));
    for _ in 0..6 {
        requests.push(raw(&b, &b.key, &a, twice.clone(), now_ms()));
        expected.push("message");
    }
    // One request sent four times as is.
    let same = raw(
        &b,
        &b.key,
        &a,
        signed_body(MessageType::ResourceShare, &bob, share_payload(200)),
        now_ms(),
    );
    for _ in 0..4 {
        requests.push(same.clone());
        expected.push("transport");
    }
    for i in 0..6 {
        let body = signed_body(MessageType::ResourceShare, &carol, share_payload(300 + i));
        requests.push(raw(&b, &b.key, &a, body, now_ms()));
        expected.push("stranger");
    }
    let newest = now_ms() - 1_000;
    for (sent_at, text) in [(newest, "new"), (newest - 60_000, "old")] {
        let body = signed_body(
            MessageType::LocationUpdate,
            &bob,
            location_payload(&alice, text, sent_at),
        );
        requests.push(raw(&b, &b.key, &a, body, now_ms()));
        expected.push("location");
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (i, request) in requests.into_iter().enumerate() {
        let (http, inbox) = (a.http.clone(), a.url("/federation/inbox"));
        tasks.spawn(async move { (i, post_raw_to(&http, &inbox, &request).await) });
    }
    let mut replies: Vec<(usize, Reply)> = tasks.join_all().await;
    replies.sort_by_key(|(i, _)| *i);
    let replies: Vec<Reply> = replies.into_iter().map(|(_, r)| r).collect();
    let mut tally = std::collections::BTreeMap::<(&str, u16), usize>::new();
    for (kind, reply) in expected.iter().zip(&replies) {
        *tally.entry((kind, reply.status)).or_default() += 1;
        if reply.status >= 400 {
            let code = reply.json["code"].as_str().unwrap_or_default().to_owned();
            let want = match (*kind, reply.status) {
                ("message", 409) => "replay",
                ("transport", 401) => "federation_auth_failed",
                ("stranger", 400) => "not_friend",
                ("location", 400) => "stale_location",
                _ => panic!("{kind}: unexpected {} {}", reply.status, reply.text),
            };
            assert_eq!(code, want, "{kind}: {}", reply.text);
        }
    }
    assert_eq!(tally.get(&("applied", 202)), Some(&24), "{tally:?}");
    assert_eq!(tally.get(&("message", 202)), Some(&1), "{tally:?}");
    assert_eq!(tally.get(&("message", 409)), Some(&5), "{tally:?}");
    assert_eq!(tally.get(&("transport", 202)), Some(&1), "{tally:?}");
    assert_eq!(tally.get(&("transport", 401)), Some(&3), "{tally:?}");
    assert_eq!(tally.get(&("stranger", 400)), Some(&6), "{tally:?}");
    assert_eq!(a.count("SELECT COUNT(*) FROM incoming_shares").await, 26);
    // Whatever the order, the newest location is the one kept.
    let at: i64 = a.count("SELECT sent_at FROM friend_locations").await;
    assert_eq!(at, newest);
    // Carol's refused messages left no user-level nonce: her server may send them again.
    assert_eq!(
        a.count("SELECT COUNT(*) FROM federation_message_nonces WHERE from_handle LIKE 'carol@%'")
            .await,
        0
    );
}

/// Invitations and revocations are group-committed too: arriving together, repeated
/// invitations from one sender leave one pending invitation and one event, repeated
/// revocations end the friendship once (one event), an invitation and a revocation of one
/// pair are applied one after the other (whichever first), and a request sent twice is
/// accepted once.
async fn invitations_and_revocations_arriving_together_count_once(db: Db) {
    let a = Peer::start(db).await;
    let b = Peer::start(db).await;
    let alice = a.user("alice").await;
    let bob = b.user("bob").await;
    let carol = b.user("carol").await;
    let dave = b.user("dave").await;
    befriend(&b, &bob, &a, &alice).await;
    let signed_body = |kind, from: &User| {
        let (m, signature) = message(kind, from, &alice.handle, Object::new());
        m.with_signature(&signature).body()
    };
    let mut requests = Vec::new();
    for _ in 0..6 {
        let body = signed_body(MessageType::FriendInvite, &carol);
        requests.push(raw(&b, &b.key, &a, body, now_ms()));
    }
    for _ in 0..4 {
        let body = signed_body(MessageType::RelationshipRevoke, &bob);
        requests.push(raw(&b, &b.key, &a, body, now_ms()));
    }
    for kind in [MessageType::FriendInvite, MessageType::RelationshipRevoke] {
        let body = signed_body(kind, &dave);
        requests.push(raw(&b, &b.key, &a, body, now_ms()));
    }
    let twice = raw(
        &b,
        &b.key,
        &a,
        signed_body(MessageType::FriendInvite, &carol),
        now_ms(),
    );
    requests.push(twice.clone());
    requests.push(twice);
    let count = |sql: &'static str| a.count(sql);
    let removed = "SELECT COUNT(*) FROM user_events WHERE kind = 'friend-removed'";
    let invited = "SELECT COUNT(*) FROM user_events WHERE kind = 'invitation'";
    let nonces = "SELECT COUNT(*) FROM federation_message_nonces";
    let before = (
        count(removed).await,
        count(invited).await,
        count(nonces).await,
    );
    let mut tasks = tokio::task::JoinSet::new();
    for request in requests {
        let (http, inbox) = (a.http.clone(), a.url("/federation/inbox"));
        tasks.spawn(async move { post_raw_to(&http, &inbox, &request).await });
    }
    let mut statuses: Vec<u16> = tasks.join_all().await.iter().map(|r| r.status).collect();
    statuses.sort();
    assert_eq!(&statuses[..13], &[202; 13], "{statuses:?}");
    assert_eq!(statuses[13], 401, "the request sent twice: {statuses:?}");
    assert_eq!(count("SELECT COUNT(*) FROM friendships").await, 0);
    assert_eq!(
        count(
            "SELECT COUNT(*) FROM friend_invitations WHERE status = 'pending' \
             AND peer_key LIKE 'carol@%'"
        )
        .await,
        1
    );
    assert_eq!(count(removed).await, before.0 + 1);
    // carol's and dave's (dave's is cancelled or pending, by the order they were applied in).
    assert_eq!(count(invited).await, before.1 + 2);
    // Every message's (from, nonce) is remembered: none can be delivered again.
    assert_eq!(count(nonces).await, before.2 + 13);
}

/// A user's RESOURCE_SHAREs are capped per minute (each is a row at the friend's server):
/// the 61st is 429 and queues nothing; other messages have their own, larger budget.
async fn shares_are_rate_limited_per_user(db: Db) {
    let a = Peer::start(db).await;
    let b = Peer::start(db).await;
    let alice = a.user("alice").await;
    let bob = b.user("bob").await;
    befriend(&a, &alice, &b, &bob).await;
    common::fresh_rate_window(60).await;
    let path = format!("/friends/{}/messages", bob.handle);
    let limit = parchment_server::service::rate_limit::FRIEND_SHARES_PER_USER.limit;
    for i in 0..limit {
        let body = send_body(
            MessageType::ResourceShare,
            &alice,
            &bob.handle,
            share_payload(i),
        );
        a.call("POST", &path, &alice, Some(body)).await.ok();
    }
    let queued = a.count("SELECT COUNT(*) FROM federation_outbox").await;
    let body = send_body(
        MessageType::ResourceShare,
        &alice,
        &bob.handle,
        share_payload(limit),
    );
    expect(
        a.call("POST", &path, &alice, Some(body)).await,
        429,
        "rate_limited",
    );
    assert_eq!(
        a.count("SELECT COUNT(*) FROM federation_outbox").await,
        queued
    );
    a.call(
        "PUT",
        &format!("/friends/{}/location-sharing", bob.handle),
        &alice,
        Some(json!({ "expiresAt": null })),
    )
    .await
    .ok();
    let body = send_body(
        MessageType::LocationUpdate,
        &alice,
        &bob.handle,
        location_payload(&bob, "1,1", now_ms()),
    );
    a.call("POST", &path, &alice, Some(body)).await.ok();
}
