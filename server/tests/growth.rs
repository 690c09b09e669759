//! Tables a user or a peer could grow without bound are bounded: finished outbox rows are
//! pruned after their retention, collections per account and recipients per collection are
//! capped.

mod common;

use common::{Db, TestServer};
use parchment_server::federation::outbox::RETENTION_MS;
use parchment_server::service::library::{MAX_COLLECTIONS, MAX_SHARES_PER_COLLECTION};
use serde_json::json;

db_tests!(
    finished_outbox_rows_are_pruned_after_retention,
    collections_per_account_are_capped,
    recipients_per_collection_are_capped,
    housekeeping_runs_in_one_replica_per_round,
);

/// Replicas on one database take the housekeeping lease in turn: one per round.
async fn housekeeping_runs_in_one_replica_per_round(db: Db) {
    use parchment_server::housekeeping::{LEASE, LEASE_MS};
    let s = TestServer::start(db).await;
    let now = s.now_ms();
    let take = |holder: &'static str, at: i64| {
        let store = s.store.clone();
        async move {
            store
                .take_lease(LEASE, holder, at, at + LEASE_MS)
                .await
                .expect("lease")
        }
    };
    assert!(
        take("replica-a", now).await,
        "the first one takes the round"
    );
    assert!(!take("replica-b", now).await, "the second one skips it");
    assert!(!take("replica-b", now + LEASE_MS - 1).await);
    assert!(
        take("replica-b", now + LEASE_MS).await,
        "the next round is anybody's"
    );
    assert!(!take("replica-a", now + LEASE_MS + 1).await);
    s.stop().await;
}

async fn finished_outbox_rows_are_pruned_after_retention(db: Db) {
    let s = TestServer::start(db).await;
    let (id, _) = s.user("ada@example.com", "user").await;
    let now = 10 * RETENTION_MS;
    let old = now - RETENTION_MS - 1;
    let fresh = now - RETENTION_MS + 1;
    let rows = [
        ("delivered-old", "delivered", old),
        ("failed-old", "failed", old),
        ("pending-old", "pending", old),
        ("delivered-fresh", "delivered", fresh),
    ];
    for (row_id, status, at) in rows {
        s.sql(&format!(
            "INSERT INTO federation_outbox (id, user_id, message_type, to_handle, peer_host, \
             body, status, next_attempt_at, created_at, updated_at) VALUES ('{row_id}', '{id}', \
             'FRIEND_INVITE', 'bob@b.example', 'b.example', '{{}}', '{status}', {at}, {at}, {at})"
        ))
        .await;
    }
    s.store
        .prune_federation(0, 0, now - RETENTION_MS)
        .await
        .expect("prune");
    let left = s
        .sql_i64(
            "SELECT COUNT(*) FROM federation_outbox WHERE id IN ('pending-old', 'delivered-fresh')",
        )
        .await;
    assert_eq!(
        left, 2,
        "a pending row is never pruned; a fresh one is kept"
    );
    assert_eq!(s.sql_i64("SELECT COUNT(*) FROM federation_outbox").await, 2);
    s.stop().await;
}

async fn collections_per_account_are_capped(db: Db) {
    let s = TestServer::start(db).await;
    let (id, token) = s.user("ada@example.com", "user").await;
    let rows: Vec<String> = (1..MAX_COLLECTIONS)
        .map(|i| format!("('c{i}', '{id}', 0, 0)"))
        .collect();
    s.sql(&format!(
        "INSERT INTO collections (id, user_id, created_at, updated_at) VALUES {}",
        rows.join(", ")
    ))
    .await;
    s.post("/library/collections", Some(&token), json!({}))
        .await
        .expect(201);
    s.post("/library/collections", Some(&token), json!({}))
        .await
        .expect_error(400, "too_many_collections");
    assert_eq!(
        s.sql_i64(&format!(
            "SELECT COUNT(*) FROM collections WHERE user_id = '{id}'"
        ))
        .await,
        MAX_COLLECTIONS
    );
    s.stop().await;
}

/// A collection is shared with at most [`MAX_SHARES_PER_COLLECTION`] friends; changing the
/// role of one already on the list is still allowed, and a refusal writes nothing.
async fn recipients_per_collection_are_capped(db: Db) {
    let s = TestServer::start(db).await;
    let (id, token) = s.user("ada@example.com", "user").await;
    // Friends on another server, written directly (befriending each would take minutes).
    let friends: Vec<String> = (0..=MAX_SHARES_PER_COLLECTION)
        .map(|i| format!("friend{i}@remote.example"))
        .collect();
    let rows: Vec<String> = friends
        .iter()
        .map(|h| format!("('fr-{h}', '{id}', '{h}', '{h}', 'key', 0)"))
        .collect();
    s.sql(&format!(
        "INSERT INTO friendships (id, user_id, friend_handle, peer_key, signing_key, \
         established_at) VALUES {}",
        rows.join(", ")
    ))
    .await;
    let created = s
        .post("/library/collections", Some(&token), json!({}))
        .await
        .expect(201);
    let collection = created.json["id"].as_str().unwrap_or_default().to_owned();
    let (server, token) = (&s, token.as_str());
    let share = |handle: &str, role: &str| {
        let path = format!("/library/collections/{collection}/shares/{handle}");
        let body = json!({ "role": role });
        async move { server.put(&path, Some(token), body).await }
    };
    let (last, first) = friends.split_last().expect("friends");
    for handle in first {
        share(handle, "viewer").await.expect(200);
    }
    let revision = || {
        let query = format!("SELECT revision FROM collections WHERE id = '{collection}'");
        async move { server.sql_i64(&query).await }
    };
    assert_eq!(revision().await, MAX_SHARES_PER_COLLECTION);
    share(last, "viewer")
        .await
        .expect_error(400, "too_many_shares");
    share(&first[0], "editor").await.expect(200);
    assert_eq!(
        s.sql_i64(&format!(
            "SELECT COUNT(*) FROM collection_shares WHERE collection_id = '{collection}'"
        ))
        .await,
        MAX_SHARES_PER_COLLECTION
    );
    assert_eq!(
        s.sql_i64(&format!(
            "SELECT COUNT(*) FROM collection_shares WHERE collection_id = '{collection}' \
             AND role = 'editor'"
        ))
        .await,
        1
    );
    assert_eq!(
        revision().await,
        MAX_SHARES_PER_COLLECTION + 1,
        "the refusal did not bump the revision"
    );
    s.stop().await;
}
