//! Issue 13: what an unauthenticated inbox request or a signed-in user can make the server
//! fetch. A listener in the test counts every connection the server opens.

mod common;

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{Db, Options, TestServer};
use parchment_core::federation::request::{
    HEADER_NONCE, HEADER_PROTOCOL_VERSION, HEADER_SERVER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP,
};
use parchment_core::timestamp::format_millis;
use parchment_server::federation::address_policy::{HostLookup, LookupFuture};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A listener on 127.0.0.1 that counts connections and answers each with `reply`, then
/// `body_bytes` of body (streamed in 64 KiB writes) if any.
async fn listener(body_bytes: usize) -> (u16, Arc<AtomicUsize>) {
    let socket = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = socket.local_addr().expect("addr").port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = socket.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {body_bytes}\r\n\r\n"
                );
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b' '; 64 * 1024];
                let mut sent = 0;
                while sent < body_bytes {
                    let n = chunk.len().min(body_bytes - sent);
                    if stream.write_all(&chunk[..n]).await.is_err() {
                        return;
                    }
                    sent += n;
                }
            });
        }
    });
    (port, count)
}

/// An inbox request claiming to come from `server_id` (any signature: the server must
/// resolve the claimed sender before it can check one).
async fn inbox(http: reqwest::Client, inbox_url: String, server_id: String) -> u16 {
    let server_id = server_id.as_str();
    let now = format_millis(parchment_server::clock::Clock::now_ms(
        &parchment_server::clock::SystemClock,
    ));
    let body = json!({
        "from": format!("eve@{server_id}"),
        "to": "alice@localhost",
        "timestamp": now,
        "signature": "AAAA",
    });
    http.post(inbox_url)
        .header(HEADER_SERVER_ID, server_id)
        .header(HEADER_PROTOCOL_VERSION, "2")
        .header(HEADER_NONCE, parchment_server::secrets::random_id())
        .header(HEADER_TIMESTAMP, now)
        .header(HEADER_SIGNATURE, "AAAA")
        .json(&body)
        .send()
        .await
        .expect("inbox request")
        .status()
        .as_u16()
}

fn rss_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

/// Names of the test's own: one resolving to loopback, one to a private and a loopback
/// address (an attacker's DNS can answer anything).
struct TestLookup;

impl HostLookup for TestLookup {
    fn lookup(&self, host: &str) -> LookupFuture {
        let answer: Vec<IpAddr> = match host {
            "loopback.example" => vec![[127, 0, 0, 1].into()],
            "mixed.example" => vec![[10, 0, 0, 5].into(), [127, 0, 0, 1].into()],
            _ => Vec::new(),
        };
        Box::pin(async move { Ok(answer) })
    }
}

async fn internal_addresses_get_no_connection(db: Db) {
    // https only: the production policy.
    let s = TestServer::start_with(
        db,
        Options {
            lookup: Some(Arc::new(TestLookup)),
            ..Options::default()
        },
    )
    .await;
    let (port, connections) = listener(10).await;
    let (_, token) = s.user("ada@example.com", "user").await;
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        format!("2130706433:{port}"),
        format!("0x7f000001:{port}"),
        "10.0.0.1".to_owned(),
        "169.254.169.254".to_owned(),
        format!("loopback.example:{port}"),
        format!("mixed.example:{port}"),
    ] {
        let status = inbox(s.http.clone(), s.url("/federation/inbox"), host.clone()).await;
        assert!(
            (400..500).contains(&status),
            "inbox naming {host}: {status}"
        );
        let handle: String =
            url::form_urlencoded::byte_serialize(format!("bob@{host}").as_bytes()).collect();
        let path = format!("/friends/resolve/{handle}");
        let reply = s.get(&path, Some(&token)).await;
        assert!(
            (400..500).contains(&reply.status.as_u16()),
            "resolve {host}: {} {}",
            reply.status,
            reply.text
        );
        let invite = s
            .post(
                "/friends/invite",
                Some(&token),
                json!({ "handle": format!("bob@{host}") }),
            )
            .await;
        assert!(
            (400..500).contains(&invite.status.as_u16()),
            "invite {host}: {} {}",
            invite.status,
            invite.text
        );
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "no connection may reach the listener"
    );
    s.stop().await;

    // Control: the same injected name does reach the listener where loopback is allowed
    // (--federation-allow-http), so the zero above is the policy's doing.
    let open = TestServer::start_with(
        db,
        Options {
            lookup: Some(Arc::new(TestLookup)),
            federation_allow_http: true,
            ..Options::default()
        },
    )
    .await;
    let (_, token) = open.user("ada@example.com", "user").await;
    let handle: String =
        url::form_urlencoded::byte_serialize(format!("bob@loopback.example:{port}").as_bytes())
            .collect();
    open.get(&format!("/friends/resolve/{handle}"), Some(&token))
        .await;
    assert!(
        connections.load(Ordering::SeqCst) > 0,
        "the control reached the listener"
    );
    open.stop().await;
}

async fn huge_manifests_are_not_buffered(db: Db) {
    let s = TestServer::start_with(
        db,
        Options {
            federation_allow_http: true,
            ..Options::default()
        },
    )
    .await;
    // 400 MB "manifest".
    let (port, connections) = listener(400 * 1024 * 1024).await;
    let before = rss_mb();
    let host = format!("127.0.0.1:{port}");
    // Concurrent: all 100 requests are in flight together.
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..100 {
        tasks.spawn(inbox(
            s.http.clone(),
            s.url("/federation/inbox"),
            host.clone(),
        ));
    }
    let statuses: Vec<u16> = tasks.join_all().await;
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    let after = rss_mb();
    assert!(
        after < before + 100,
        "RSS grew from {before} MB to {after} MB"
    );
    // Failures are remembered and fetches per claimed sender are rationed: 100 requests
    // cost at most a handful of connections.
    let opened = connections.load(Ordering::SeqCst);
    assert!(opened <= 5, "{opened} connections for 100 requests");
    // The server still answers.
    assert_eq!(
        s.get("/.well-known/parchment-server", None)
            .await
            .status
            .as_u16(),
        200
    );
    s.stop().await;
}

db_tests!(
    internal_addresses_get_no_connection,
    huge_manifests_are_not_buffered
);
