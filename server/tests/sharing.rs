//! `/sharing/incoming*`: RESOURCE_SHAREs friends sent, pending until accepted; declining leaves
//! no row; a resource shared again updates its one row (and stays accepted). Two real server processes;
//! SQLite always, PostgreSQL when `PARCHMENT_TEST_POSTGRES_URL` is set.

mod common;
mod peers;

use common::Db;
use parchment_core::canonical::{Object, Value as CValue};
use parchment_core::derive::SymmetricKey;
use parchment_core::encoding::to_base64;
use parchment_core::envelope::{self, Aad, Algorithm};
use parchment_core::federation::MessageType;
use parchment_core::rand_core::OsRng;
use parchment_server::store::{MAX_PENDING_SHARES_PER_FRIEND, MAX_WITHDRAWN_SHARES_PER_FRIEND};
use peers::*;
use serde_json::json;
use serde_json::Value;

db_tests!(
    shares_are_pending_until_accepted_and_a_declined_one_leaves_no_row,
    a_collection_is_shared_updated_and_withdrawn_by_revision,
    shares_and_withdrawals_are_capped_per_friend_each_on_their_own,
    friends_flooding_at_once_are_each_capped
);

fn share(resource_id: &str, role: &str, name_bytes: u8) -> Object {
    let mut payload = Object::new();
    payload.insert("resourceType", CValue::string("collection"));
    payload.insert("resourceId", CValue::string(resource_id));
    payload.insert(
        "encryptedData",
        CValue::string(&to_base64(&[name_bytes; 48])),
    );
    payload.insert("nonce", CValue::string(&to_base64(&[1u8; 12])));
    payload.insert("role", CValue::string(role));
    payload
}

async fn pending_of(b: &Peer, bob: &User, resource: &str, role: &str) -> Value {
    poll("the share at B", || async {
        let list = b
            .call("GET", "/sharing/incoming/pending", bob, None)
            .await
            .ok();
        list["shares"]
            .as_array()?
            .iter()
            .find(|s| s["resourceId"] == resource && s["role"] == role)
            .cloned()
    })
    .await
}

async fn shares_at_b(b: &Peer, bob_alias: &str) -> i64 {
    b.count(&format!(
        "SELECT COUNT(*) FROM incoming_shares s JOIN users u ON u.id = s.user_id \
         WHERE u.email = '{bob_alias}@example.com'"
    ))
    .await
}

async fn shares_are_pending_until_accepted_and_a_declined_one_leaves_no_row(db: Db) {
    let mut a = Peer::start(db).await;
    let mut b = Peer::start(db).await;
    let alice = a.user("alice").await;
    let bob = b.user("bob").await;
    let carol = b.user("carol").await;
    befriend(&a, &alice, &b, &bob).await;
    let to_bob = Messages {
        server: &a,
        from: &alice,
        to: &bob,
    };

    // Shared, then shared again with another role: one pending share, the newest.
    to_bob
        .sent(MessageType::ResourceShare, share("col-1", "editor", 1))
        .await;
    pending_of(&b, &bob, "col-1", "editor").await;
    to_bob
        .sent(MessageType::ResourceShare, share("col-1", "viewer", 2))
        .await;
    let newest = pending_of(&b, &bob, "col-1", "viewer").await;
    assert_eq!(newest["fromHandle"], alice.handle);
    assert_eq!(newest["status"], "pending");
    assert_eq!(newest["encryptedData"], to_base64(&[2u8; 48]));
    assert!(newest["envelope"]
        .as_str()
        .is_some_and(|e| e.contains("RESOURCE_SHARE")));
    let listed = b.call("GET", "/sharing/incoming", &bob, None).await.ok();
    assert_eq!(listed["shares"].as_array().map(Vec::len), Some(1));
    let id = newest["id"].as_str().unwrap_or_default().to_owned();

    // Nobody else can answer it.
    let stranger = b
        .call(
            "POST",
            &format!("/sharing/incoming/{id}/accept"),
            &carol,
            None,
        )
        .await;
    assert_eq!(stranger.status, 404, "{}", stranger.text);

    // Accepted: the older message of the same resource goes; it can no longer be declined.
    let accepted = b
        .call(
            "POST",
            &format!("/sharing/incoming/{id}/accept"),
            &bob,
            None,
        )
        .await
        .ok();
    assert_eq!(accepted["status"], "accepted");
    assert_eq!(shares_at_b(&b, "bob").await, 1);
    let pending = b
        .call("GET", "/sharing/incoming/pending", &bob, None)
        .await
        .ok();
    assert_eq!(pending["shares"].as_array().map(Vec::len), Some(0));
    let late = b
        .call(
            "POST",
            &format!("/sharing/incoming/{id}/reject"),
            &bob,
            None,
        )
        .await;
    assert_eq!(late.status, 409, "{}", late.text);
    assert_eq!(late.json["code"], "share_accepted");

    // Shared again after it was accepted: updated in place, still accepted.
    to_bob
        .sent(MessageType::ResourceShare, share("col-1", "editor", 5))
        .await;
    poll("the update at B", || async {
        let list = b.call("GET", "/sharing/incoming", &bob, None).await.ok();
        list["shares"]
            .as_array()?
            .iter()
            .find(|s| s["resourceId"] == "col-1" && s["role"] == "editor")
            .cloned()
    })
    .await;
    let listed = b.call("GET", "/sharing/incoming", &bob, None).await.ok();
    assert_eq!(
        listed["shares"][0]["id"],
        id.as_str(),
        "same share, same id"
    );
    assert_eq!(listed["shares"][0]["status"], "accepted");
    assert_eq!(listed["shares"][0]["encryptedData"], to_base64(&[5u8; 48]));
    assert_eq!(shares_at_b(&b, "bob").await, 1);

    // Declined: gone, and repeats never made more than one row.
    to_bob
        .sent(MessageType::ResourceShare, share("col-2", "viewer", 3))
        .await;
    to_bob
        .sent(MessageType::ResourceShare, share("col-2", "editor", 4))
        .await;
    let second = pending_of(&b, &bob, "col-2", "editor").await;
    let second_id = second["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(shares_at_b(&b, "bob").await, 2);
    b.call(
        "POST",
        &format!("/sharing/incoming/{second_id}/reject"),
        &bob,
        None,
    )
    .await
    .ok();
    assert_eq!(
        shares_at_b(&b, "bob").await,
        1,
        "a declined share leaves no row"
    );

    // Removing the accepted one empties the list.
    b.call("DELETE", &format!("/sharing/incoming/{id}"), &bob, None)
        .await
        .ok();
    assert_eq!(shares_at_b(&b, "bob").await, 0);
    let gone = b
        .call(
            "POST",
            &format!("/sharing/incoming/{id}/accept"),
            &bob,
            None,
        )
        .await;
    assert_eq!(gone.status, 404);
    a.stop();
    b.stop();
}

/// A v2 envelope of `len` bytes of plaintext (the server only checks its shape).
fn sealed(len: usize) -> String {
    let aad = Aad {
        user_id: "owner@a",
        record_type: "collection-content",
        record_id: "c",
        key_context: "parchment-collection-c-v1",
    };
    let key = SymmetricKey::from_bytes([7; 32]);
    to_base64(&envelope::seal(&key, Algorithm::DEFAULT, &aad, &vec![1; len], &mut OsRng).unwrap())
}

/// A collection's RESOURCE_SHARE (our members beside the original's four).
fn collection_share(id: &str, revision: f64, content: &str) -> Object {
    let mut payload = share(id, "viewer", revision as u8);
    payload.insert("keyVersion", CValue::Number(1.0));
    payload.insert("keyWrap", CValue::string(&to_base64(&[9u8; 60])));
    payload.insert("keyWrapNonce", CValue::string(&to_base64(&[3u8; 12])));
    payload.insert("content", CValue::string(content));
    payload.insert("revision", CValue::Number(revision));
    payload
}

fn unshare(id: &str, revision: f64) -> Object {
    let mut payload = Object::new();
    payload.insert("resourceType", CValue::string("collection"));
    payload.insert("resourceId", CValue::string(id));
    payload.insert("revision", CValue::Number(revision));
    payload
}

/// One user's messages to one friend, signed by the user and sent through their server.
struct Messages<'a> {
    server: &'a Peer,
    from: &'a User,
    to: &'a User,
}

impl Messages<'_> {
    async fn send(&self, kind: MessageType, payload: Object) -> Reply {
        let body = send_body(kind, self.from, &self.to.handle, payload);
        let path = format!("/friends/{}/messages", self.to.handle);
        self.server.call("POST", &path, self.from, Some(body)).await
    }

    /// Sends and expects it queued.
    async fn sent(&self, kind: MessageType, payload: Object) {
        self.send(kind, payload).await.ok();
    }
}

/// Bob's visible shares of `id`, as (status, encryptedData).
async fn visible(b: &Peer, bob: &User, id: &str) -> Vec<(String, String)> {
    let list = b.call("GET", "/sharing/incoming", bob, None).await.ok();
    list["shares"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["resourceId"] == id)
        .map(|s| {
            (
                s["status"].as_str().unwrap_or_default().to_owned(),
                s["encryptedData"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

async fn a_collection_is_shared_updated_and_withdrawn_by_revision(db: Db) {
    let mut a = Peer::start(db).await;
    let mut b = Peer::start(db).await;
    let alice = a.user("alice").await;
    let bob = b.user("bob").await;
    let carol = a.user("carol").await;
    befriend(&a, &alice, &b, &bob).await;
    let to_bob = Messages {
        server: &a,
        from: &alice,
        to: &bob,
    };

    // The owner's side: content under a revision, shares that bump it.
    let id = a
        .call("POST", "/library/collections", &alice, Some(json!({})))
        .await
        .ok()["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let path = format!("/library/collections/{id}");
    let content = sealed(200);
    let owner = sealed(40);
    let write = |revision: i64, key_version: i64, content: &str| {
        json!({
            "contentEncrypted": content,
            "keyVersion": key_version,
            "revision": revision,
            "ownerEncrypted": owner
        })
    };
    let r1 = a
        .call(
            "PUT",
            &format!("{path}/content"),
            &alice,
            Some(write(0, 1, &content)),
        )
        .await
        .ok();
    assert_eq!(r1["revision"], 1);
    let stale = a
        .call(
            "PUT",
            &format!("{path}/content"),
            &alice,
            Some(write(0, 1, &content)),
        )
        .await;
    assert_eq!(stale.status, 409, "{}", stale.text);
    assert_eq!(stale.json["code"], "collection_changed");
    let jump = a
        .call(
            "PUT",
            &format!("{path}/content"),
            &alice,
            Some(write(1, 3, &content)),
        )
        .await;
    assert_eq!(
        jump.status, 422,
        "a key version moves one step: {}",
        jump.text
    );
    let not_envelope = a
        .call(
            "PUT",
            &format!("{path}/content"),
            &alice,
            Some(write(1, 1, &to_base64(&[0u8; 40]))),
        )
        .await;
    assert_eq!(not_envelope.status, 400, "{}", not_envelope.text);
    let huge = a
        .call(
            "PUT",
            &format!("{path}/content"),
            &alice,
            Some(write(1, 1, &sealed(40_000))),
        )
        .await;
    assert!(matches!(huge.status, 413 | 422), "{}", huge.text);
    let other = a
        .call(
            "PUT",
            &format!("{path}/content"),
            &carol,
            Some(write(1, 1, &content)),
        )
        .await;
    assert_eq!(other.status, 404, "not carol's collection");
    let stranger = a
        .call(
            "PUT",
            &format!("{path}/shares/{}", carol.handle),
            &alice,
            Some(json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(
        stranger.status, 404,
        "carol is no friend: {}",
        stranger.text
    );
    let r2 = a
        .call(
            "PUT",
            &format!("{path}/shares/{}", bob.handle),
            &alice,
            Some(json!({"role": "editor"})),
        )
        .await
        .ok();
    assert_eq!(r2["revision"], 2);
    let listed = a
        .call("GET", "/library/collections", &alice, None)
        .await
        .ok();
    let mine = &listed["collections"][0];
    assert_eq!(mine["revision"], 2);
    assert_eq!(mine["keyVersion"], 1);
    assert_eq!(mine["contentEncrypted"], content.as_str());
    assert_eq!(mine["ownerEncrypted"], owner.as_str());
    assert_eq!(mine["shares"][0]["handle"], bob.handle.as_str());
    assert_eq!(mine["shares"][0]["role"], "editor");

    // Hostile payloads are refused at the sender already.
    for (name, value) in [
        ("revision", CValue::Number(-1.0)),
        ("revision", CValue::Number(1.5)),
        ("revision", CValue::string("2")),
        ("keyVersion", CValue::Number(9.1e15)),
        ("content", CValue::string(&"A".repeat(49_153))),
        ("keyWrap", CValue::string(&"A".repeat(129))),
    ] {
        let mut payload = collection_share(&id, 2.0, &content);
        payload.insert(name, value);
        let refused = to_bob.send(MessageType::ResourceShare, payload).await;
        assert!(
            matches!(refused.status, 400 | 413),
            "{name}: {} {}",
            refused.status,
            refused.text
        );
    }
    let mut no_revision = unshare(&id, 1.0);
    no_revision.insert("revision", CValue::Null);
    assert_eq!(
        to_bob
            .send(MessageType::ResourceUnshare, no_revision)
            .await
            .status,
        400
    );

    // Revision 2 arrives, then a late revision 1: bob keeps revision 2.
    to_bob
        .sent(
            MessageType::ResourceShare,
            collection_share(&id, 2.0, &content),
        )
        .await;
    let rev2 = to_base64(&[2u8; 48]);
    eventually("revision 2 at B", || async {
        visible(&b, &bob, &id).await == [("pending".to_owned(), rev2.clone())]
    })
    .await;
    to_bob
        .sent(
            MessageType::ResourceShare,
            collection_share(&id, 1.0, &content),
        )
        .await;
    // Something after it, to know it was processed.
    to_bob
        .sent(MessageType::ResourceShare, share("marker", "viewer", 1))
        .await;
    pending_of(&b, &bob, "marker", "viewer").await;
    assert_eq!(
        visible(&b, &bob, &id).await,
        [("pending".to_owned(), rev2.clone())]
    );
    let share_id = b.call("GET", "/sharing/incoming", &bob, None).await.ok()["shares"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["resourceId"] == id.as_str())
        .and_then(|s| s["id"].as_str())
        .unwrap_or_default()
        .to_owned();
    b.call(
        "POST",
        &format!("/sharing/incoming/{share_id}/accept"),
        &bob,
        None,
    )
    .await
    .ok();

    // Withdrawn at revision 3: gone from bob's lists, its ciphertext cleared; a late revision 2
    // does not bring it back; a newer share (revision 4) does, pending again.
    let r3 = a
        .call(
            "DELETE",
            &format!("{path}/shares/{}", bob.handle),
            &alice,
            None,
        )
        .await
        .ok();
    assert_eq!(r3["revision"], 3);
    to_bob
        .sent(MessageType::ResourceUnshare, unshare(&id, 3.0))
        .await;
    eventually("the withdrawal at B", || async {
        visible(&b, &bob, &id).await.is_empty()
    })
    .await;
    let cleared = b
        .count(&format!(
            "SELECT COUNT(*) FROM incoming_shares WHERE resource_id = '{id}' \
             AND status = 'revoked' AND encrypted_data = '' AND envelope LIKE '%RESOURCE_UNSHARE%'"
        ))
        .await;
    assert_eq!(cleared, 1);
    let hidden = b
        .call(
            "POST",
            &format!("/sharing/incoming/{share_id}/accept"),
            &bob,
            None,
        )
        .await;
    assert_eq!(hidden.status, 404, "a withdrawn share cannot be accepted");
    to_bob
        .sent(
            MessageType::ResourceShare,
            collection_share(&id, 2.0, &content),
        )
        .await;
    to_bob
        .sent(MessageType::ResourceShare, share("marker2", "viewer", 1))
        .await;
    pending_of(&b, &bob, "marker2", "viewer").await;
    assert!(
        visible(&b, &bob, &id).await.is_empty(),
        "a late older share stays withdrawn"
    );
    to_bob
        .sent(
            MessageType::ResourceShare,
            collection_share(&id, 4.0, &content),
        )
        .await;
    let rev4 = to_base64(&[4u8; 48]);
    eventually("revision 4 at B", || async {
        visible(&b, &bob, &id).await == [("pending".to_owned(), rev4.clone())]
    })
    .await;

    // A local friend (same server) gets it the same way, and the withdrawal too.
    befriend(&a, &alice, &a, &carol).await;
    let to_carol = Messages {
        server: &a,
        from: &alice,
        to: &carol,
    };
    to_carol
        .sent(
            MessageType::ResourceShare,
            collection_share(&id, 5.0, &content),
        )
        .await;
    let rev5 = to_base64(&[5u8; 48]);
    eventually("the local share", || async {
        visible(&a, &carol, &id).await == [("pending".to_owned(), rev5.clone())]
    })
    .await;
    to_carol
        .sent(MessageType::ResourceUnshare, unshare(&id, 6.0))
        .await;
    eventually("the local withdrawal", || async {
        visible(&a, &carol, &id).await.is_empty()
    })
    .await;

    // A withdrawal that arrives before its share (delivered out of order) leaves a hidden
    // marker, and the older share stays withdrawn when it comes.
    to_bob
        .sent(MessageType::ResourceUnshare, unshare("late-col", 9.0))
        .await;
    to_bob
        .sent(
            MessageType::ResourceShare,
            collection_share("late-col", 8.0, &content),
        )
        .await;
    to_bob
        .sent(MessageType::ResourceShare, share("marker3", "viewer", 1))
        .await;
    pending_of(&b, &bob, "marker3", "viewer").await;
    assert!(visible(&b, &bob, "late-col").await.is_empty());
    assert_eq!(
        b.count(
            "SELECT COUNT(*) FROM incoming_shares WHERE resource_id = 'late-col' \
             AND status = 'revoked' AND encrypted_data = ''"
        )
        .await,
        1
    );

    // Ending the friendship ends the owner's share list too.
    a.call(
        "PUT",
        &format!("{path}/shares/{}", bob.handle),
        &alice,
        Some(json!({"role": "viewer"})),
    )
    .await
    .ok();
    assert_eq!(a.count("SELECT COUNT(*) FROM collection_shares").await, 1);
    unfriend(&a, &alice, &bob).await;
    assert_eq!(a.count("SELECT COUNT(*) FROM collection_shares").await, 0);
    a.stop();
    b.stop();
}

async fn shares_and_withdrawals_are_capped_per_friend_each_on_their_own(db: Db) {
    let mut a = Peer::start(db).await;
    // The inbox's per-sender rate limit would stop the floods first: off, to reach the caps.
    let mut b = Peer::start_with(db, &["--rate-limits", "off"]).await;
    let alice = a.user("alice").await;
    let bob = b.user("bob").await;
    befriend(&a, &alice, &b, &bob).await;
    // Straight into B's inbox, as A's server would deliver them.
    let deliver = |kind: MessageType, payload: Object| {
        let delivery = delivery(&a, &b, kind, &alice, &bob.handle, payload);
        let b = &b;
        async move { assert_eq!(post_raw(b, &delivery).await.status, 202) }
    };
    let rows = |status: &str| {
        let query = format!("SELECT COUNT(*) FROM incoming_shares WHERE status = '{status}'");
        let b = &b;
        async move { b.count(&query).await }
    };
    let has = |id: &str| {
        let query = format!("SELECT COUNT(*) FROM incoming_shares WHERE resource_id = '{id}'");
        let b = &b;
        async move { b.count(&query).await == 1 }
    };

    // A withdrawal, then a flood of shares: pending shares are capped on their own (past 200
    // the newest 150 stay), and no share pushes the withdrawal out.
    deliver(MessageType::ResourceUnshare, unshare("withdrawn", 2.0)).await;
    let shares = MAX_PENDING_SHARES_PER_FRIEND + 10;
    for i in 0..shares {
        deliver(
            MessageType::ResourceShare,
            share(&format!("share-{i}"), "viewer", 1),
        )
        .await;
    }
    // The 201st left 150, then 9 more.
    assert_eq!(rows("pending").await, 159);
    assert!(!has("share-40").await, "the oldest shares went");
    assert!(has("share-60").await && has(&format!("share-{}", shares - 1)).await);
    assert!(
        has("withdrawn").await,
        "the flood of shares kept the withdrawal"
    );
    // Its older share, delivered late, stays withdrawn.
    deliver(
        MessageType::ResourceShare,
        collection_share("withdrawn", 1.0, &sealed(200)),
    )
    .await;
    assert_eq!(
        b.count("SELECT COUNT(*) FROM incoming_shares WHERE resource_id = 'withdrawn' AND status = 'revoked'")
            .await,
        1
    );

    // A flood of withdrawals of resources never shared: each leaves a marker, capped on
    // their own (past 1,000 the newest 750 stay).
    let withdrawals = MAX_WITHDRAWN_SHARES_PER_FRIEND + 10;
    for i in 0..withdrawals {
        deliver(
            MessageType::ResourceUnshare,
            unshare(&format!("flood-{i}"), 1.0),
        )
        .await;
    }
    // The marker that made 1,001 left the newest 750 ("withdrawn", the oldest, among those
    // pushed out), then 10 more.
    assert_eq!(rows("revoked").await, 760);
    assert!(!has("withdrawn").await && !has("flood-200").await);
    assert!(has("flood-300").await && has(&format!("flood-{}", withdrawals - 1)).await);
    assert_eq!(
        rows("pending").await,
        159,
        "the withdrawals left the shares alone"
    );
    a.stop();
    b.stop();
}

/// Several friends' shares in one inbox batch: one statement counts every friend of the batch,
/// and each friend over the cap is pruned on its own.
async fn friends_flooding_at_once_are_each_capped(db: Db) {
    use futures_util::stream::{self, StreamExt};
    let mut a = Peer::start(db).await;
    let mut b = Peer::start_with(db, &["--rate-limits", "off"]).await;
    let bob = b.user("bob").await;
    let mut senders = Vec::new();
    for name in ["alice", "carol", "dave"] {
        let sender = a.user(name).await;
        befriend(&a, &sender, &b, &bob).await;
        senders.push(sender);
    }
    let shares = MAX_PENDING_SHARES_PER_FRIEND as usize + 30;
    // Interleaved and 24 in flight, so the inbox's batches mix the three friends.
    let deliveries: Vec<_> = (0..shares)
        .flat_map(|i| senders.iter().map(move |s| (s, i)))
        .map(|(sender, i)| {
            delivery(
                &a,
                &b,
                MessageType::ResourceShare,
                sender,
                &bob.handle,
                share(&format!("{}-{i}", sender.handle), "viewer", 1),
            )
        })
        .collect();
    let statuses: Vec<u16> = stream::iter(&deliveries)
        .map(|delivery| {
            let b = &b;
            async move { post_raw(b, delivery).await.status }
        })
        .buffer_unordered(24)
        .collect()
        .await;
    assert!(statuses.iter().all(|&s| s == 202), "{statuses:?}");
    for sender in &senders {
        let pending = b
            .count(&format!(
                "SELECT COUNT(*) FROM incoming_shares WHERE status = 'pending' \
                 AND from_handle = '{}'",
                sender.handle
            ))
            .await;
        // Past 200 the newest 150 stay, then more arrive until the next prune.
        let cap = MAX_PENDING_SHARES_PER_FRIEND;
        assert!(
            (cap - cap / 4..=cap).contains(&pending),
            "{}: {pending} pending",
            sender.handle
        );
        // The prune kept each friend's newest and pushed out its oldest.
        let has = |i: usize| {
            let query = format!(
                "SELECT COUNT(*) FROM incoming_shares WHERE resource_id = '{}-{i}'",
                sender.handle
            );
            let b = &b;
            async move { b.count(&query).await == 1 }
        };
        assert!(
            has(shares - 1).await,
            "{}: the newest share stays",
            sender.handle
        );
        assert!(!has(0).await, "{}: the oldest share went", sender.handle);
    }
    a.stop();
    b.stop();
}
