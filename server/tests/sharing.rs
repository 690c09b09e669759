//! `/sharing/incoming*`: RESOURCE_SHAREs friends sent, pending until accepted; declining leaves
//! no row; a resource shared again updates its one row (and stays accepted). Two real server processes;
//! SQLite always, PostgreSQL when `PARCHMENT_TEST_POSTGRES_URL` is set.

mod common;
mod peers;

use common::Db;
use parchment_core::canonical::{Object, Value as CValue};
use parchment_core::encoding::to_base64;
use parchment_core::federation::MessageType;
use peers::*;
use serde_json::Value;

db_tests!(shares_are_pending_until_accepted_and_a_declined_one_leaves_no_row);

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

async fn send_share(a: &Peer, alice: &User, bob: &User, payload: Object) {
    a.call(
        "POST",
        &format!("/friends/{}/messages", bob.handle),
        alice,
        Some(send_body(
            MessageType::ResourceShare,
            alice,
            &bob.handle,
            payload,
        )),
    )
    .await
    .ok();
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

    // Shared, then shared again with another role: one pending share, the newest.
    send_share(&a, &alice, &bob, share("col-1", "editor", 1)).await;
    pending_of(&b, &bob, "col-1", "editor").await;
    send_share(&a, &alice, &bob, share("col-1", "viewer", 2)).await;
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
    send_share(&a, &alice, &bob, share("col-1", "editor", 5)).await;
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
    send_share(&a, &alice, &bob, share("col-2", "viewer", 3)).await;
    send_share(&a, &alice, &bob, share("col-2", "editor", 4)).await;
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
