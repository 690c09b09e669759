//! The inbox under load (issue 18), figures not pass/fail:
//!   cargo test --release -p parchment-server --test inbox_bench -- --ignored --nocapture
//! A release `parchment-server` process (rate limits off) receives from a fake peer (an
//! in-test server id with its manifest and users' documents, `fake_peer`) N distinct
//! pre-signed v2 messages per type, each sent once, 32 in flight (32 connections, each
//! sending its share in turn, built into wire bytes beforehand: `load_client`). Per type: msg/s, p50/p99/p999 latency and the non-2xx
//! count; the CPU time per message of the server and of this test (the client and the fake
//! peer), and how busy the machine was with anything else (in % of one core: PostgreSQL's
//! backends on PostgreSQL, and any other work, which skews a row); then the server's RSS
//! (anonymous and file-backed; each large mapping with `BENCH_SMAPS=1`). SQLite always,
//! PostgreSQL when `PARCHMENT_TEST_POSTGRES_URL` is set. `BENCH_N` sets N (default 10,000).
//!
//! Rows: RELATIONSHIP_REVOKE to a non-friend (one sender; its first contact, the manifest
//! and user document fetch, is part of the run); LOCATION_UPDATE between friends (32
//! friends, one per connection, so each friend's positions arrive in the order sent and
//! none is refused as stale); FRIEND_INVITE each from a new sender (a user document fetch
//! per message); RESOURCE_SHARE between friends; and the revocations sent again, which must
//! all be refused (401: transport replay).

mod common;
mod fake_peer;
mod load_client;
mod peers;

use std::time::{Duration, Instant};

use common::Db;
use fake_peer::FakePeer;
use parchment_core::canonical::{Object, Value as CValue};
use parchment_core::ecies;
use parchment_core::encoding::to_base64;
use parchment_core::federation::MessageType;
use parchment_core::rand_core::OsRng;
use parchment_core::timestamp::format_millis;
use peers::*;
use serde_json::json;

/// Requests in flight (connections).
const IN_FLIGHT: usize = 32;

/// One pre-signed inbox request as the bytes that go on the wire.
fn inbox_request(authority: &str, raw: &Raw) -> Vec<u8> {
    load_client::request(
        "POST",
        authority,
        "/federation/inbox",
        &[
            ("content-type", "application/json"),
            ("x-parchment-server-id", raw.server_id.as_str()),
            ("x-parchment-protocol-version", "2"),
            ("x-parchment-nonce", raw.nonce.as_str()),
            ("x-parchment-timestamp", raw.timestamp.as_str()),
            ("x-parchment-server-signature", raw.signature.as_str()),
        ],
        raw.body.as_bytes(),
    )
}

/// `requests` dealt round-robin into [`IN_FLIGHT`] lanes.
fn deal(requests: Vec<Raw>) -> Vec<Vec<Raw>> {
    let mut lanes: Vec<Vec<Raw>> = (0..IN_FLIGHT).map(|_| Vec::new()).collect();
    for (i, raw) in requests.into_iter().enumerate() {
        lanes[i % IN_FLIGHT].push(raw);
    }
    lanes
}

/// What one run measured: wall time, (status, latency) per request in lane order, the
/// server's CPU time over the run and the CPU time of everything else on the machine but
/// this test process (other work skews a run: it is printed beside the figures).
struct Run {
    elapsed: Duration,
    results: Vec<(u16, Duration)>,
    server_cpu: Duration,
    client_cpu: Duration,
    others_cpu: Duration,
}

/// CPU time (user and system) of a `/proc/<pid>/stat` file's process.
fn process_cpu(stat_path: &str) -> Duration {
    let stat = std::fs::read_to_string(stat_path).unwrap_or_default();
    // Fields after the command name (which may hold spaces, hence the last ')'): utime and
    // stime are the 12th and 13th, in clock ticks (100 a second on Linux).
    let ticks: u64 = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|t| t.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// CPU time the whole machine has been busy (all cores, `/proc/stat`; idle and iowait
/// excluded).
fn machine_busy() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = stat
        .lines()
        .next()
        .map(|cpu| {
            cpu.split_whitespace()
                .skip(1)
                .enumerate()
                .filter(|(i, _)| *i != 3 && *i != 4)
                .take(6)
                .filter_map(|(_, t)| t.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// (server, this process, whole machine) CPU time so far.
fn cpu_times(peer: &Peer) -> (Duration, Duration, Duration) {
    (
        process_cpu(&server_proc_path(peer, "stat")),
        process_cpu("/proc/self/stat"),
        machine_busy(),
    )
}

/// Sends every lane's requests in order, the lanes at once (one connection each).
async fn blast(peer: &Peer, lanes: &[Vec<Raw>]) -> Run {
    let authority = peer.domain();
    let lanes = lanes
        .iter()
        .map(|lane| {
            lane.iter()
                .map(|raw| inbox_request(&authority, raw))
                .collect()
        })
        .collect();
    timed(peer, lanes).await
}

/// `n` authenticated GETs of `path`, [`IN_FLIGHT`] at a time.
async fn blast_get(peer: &Peer, path: &str, token: &str, n: usize) -> Run {
    let authority = peer.domain();
    let bearer = format!("Bearer {token}");
    let get = load_client::request("GET", &authority, path, &[("authorization", &bearer)], b"");
    let lanes = (0..IN_FLIGHT)
        .map(|lane| {
            let count = n / IN_FLIGHT + usize::from(lane < n % IN_FLIGHT);
            vec![get.clone(); count]
        })
        .collect();
    timed(peer, lanes).await
}

/// Sends each lane's requests in order over its own connection, the lanes at once, timing
/// each answer and the CPU the server, the client and everything else used meanwhile.
async fn timed(peer: &Peer, lanes: Vec<Vec<Vec<u8>>>) -> Run {
    let authority = peer.domain();
    let mut connections = Vec::new();
    for _ in &lanes {
        connections.push(
            load_client::Connection::open(&authority)
                .await
                .expect("connect"),
        );
    }
    let before = cpu_times(peer);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (lane, mut connection) in lanes.into_iter().zip(connections) {
        tasks.push(tokio::spawn(async move {
            let mut results = Vec::with_capacity(lane.len());
            for request in lane {
                let sent = Instant::now();
                // A transport failure counts as a non-2xx answer.
                let status = connection.exchange(&request).await.unwrap_or(0);
                results.push((status, sent.elapsed()));
            }
            results
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.extend(task.await.expect("lane"));
    }
    let elapsed = started.elapsed();
    let after = cpu_times(peer);
    let server_cpu = after.0.saturating_sub(before.0);
    let client_cpu = after.1.saturating_sub(before.1);
    let busy = after.2.saturating_sub(before.2);
    Run {
        elapsed,
        results,
        server_cpu,
        client_cpu,
        others_cpu: busy.saturating_sub(server_cpu).saturating_sub(client_cpu),
    }
}

/// How many requests of a run were answered 202 (each of them stored something).
fn accepted(run: &Run) -> i64 {
    run.results.iter().filter(|(s, _)| *s == 202).count() as i64
}

/// Nearest-rank percentile of sorted latencies, in ms.
fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}

fn report(db: Db, label: &str, run: &Run) {
    let mut latencies: Vec<Duration> = run.results.iter().map(|(_, l)| *l).collect();
    latencies.sort();
    let non_2xx = run
        .results
        .iter()
        .filter(|(s, _)| !(200..300).contains(s))
        .count();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for (status, _) in &run.results {
        *statuses.entry(*status).or_default() += 1;
    }
    println!(
        "{:<9} {label:<34} {:>6} {:>8.0} {:>8.1} {:>8.1} {:>8.1} {:>8} {:>10.0} {:>10.0} {:>8.0}   {statuses:?}",
        format!("{db:?}"),
        run.results.len(),
        run.results.len() as f64 / run.elapsed.as_secs_f64(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        percentile(&latencies, 0.999),
        non_2xx,
        run.server_cpu.as_secs_f64() * 1e6 / run.results.len() as f64,
        run.client_cpu.as_secs_f64() * 1e6 / run.results.len() as f64,
        run.others_cpu.as_secs_f64() * 100.0 / run.elapsed.as_secs_f64(),
    );
}

/// The server process's resident and peak resident memory, in KiB.
fn memory_kib(peer: &Peer) -> (u64, u64) {
    let status = server_status(peer);
    (
        status_value(&status, "VmRSS"),
        status_value(&status, "VmHWM"),
    )
}

/// `/proc/<pid>/<name>` of the server process.
fn server_proc_path(peer: &Peer, name: &str) -> String {
    let pid = peer.child.as_ref().map(|c| c.id()).unwrap_or_default();
    format!("/proc/{pid}/{name}")
}

/// The server's `/proc/<pid>/status` (empty when unreadable).
fn server_status(peer: &Peer) -> String {
    std::fs::read_to_string(server_proc_path(peer, "status")).unwrap_or_default()
}

/// The number on `name`'s line of a `/proc/<pid>/status` (kB for memory), 0 when absent.
fn status_value(status: &str, name: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The server's resident memory by kind (anonymous, file: mostly its own code), its thread
/// count and, with `BENCH_SMAPS=1`, each mapping holding more than 256 KiB.
fn print_where_memory_is(peer: &Peer) {
    let status = server_status(peer);
    println!(
        "  RssAnon: {} kB, RssFile: {} kB, Threads: {}",
        status_value(&status, "RssAnon"),
        status_value(&status, "RssFile"),
        status_value(&status, "Threads")
    );
    if std::env::var("BENCH_SMAPS").is_err() {
        return;
    }
    let smaps = std::fs::read_to_string(server_proc_path(peer, "smaps")).unwrap_or_default();
    let mut mapping = "";
    let mut rows = Vec::new();
    for line in smaps.lines() {
        if line.starts_with("Rss:") {
            let kib = status_value(line, "Rss");
            if kib > 256 {
                rows.push((kib, mapping));
            }
        } else if !line
            .split_whitespace()
            .next()
            .is_some_and(|f| f.ends_with(':'))
        {
            mapping = line;
        }
    }
    rows.sort();
    for (kib, mapping) in rows.iter().rev() {
        println!("  {kib:>7} KiB  {mapping}");
    }
}

fn envelope(kind: MessageType, from: &User, to: &str, payload: Object) -> String {
    let (m, signature) = message(kind, from, to, payload);
    m.with_signature(&signature).body()
}

fn location_payload(to: &User, sent_at: i64) -> Object {
    let sealed =
        ecies::seal(&to.encryption.public_key(), b"52.5200,13.4050", &mut OsRng).expect("seal");
    let mut payload = Object::new();
    payload.insert("encryptedLocation", CValue::string(&to_base64(&sealed)));
    payload.insert("nonce", CValue::string(&format_millis(sent_at)));
    payload
}

fn share_payload(i: usize) -> Object {
    let mut payload = Object::new();
    payload.insert("resourceType", CValue::string("collection"));
    payload.insert("resourceId", CValue::string(&format!("c{i}")));
    payload.insert("encryptedData", CValue::string("AAAAAAAAAAAAAAAAAAAAAAAA"));
    payload.insert("nonce", CValue::string("BBBBBBBBBBBBBBBB"));
    payload
}

/// `alice` (at `peer`) invites `friend` (at the fake peer), who accepts through the inbox.
async fn befriend(peer: &Peer, alice: &User, fake: &FakePeer, friend: &User) {
    let mut body = signed(MessageType::FriendInvite, alice, &friend.handle);
    body["handle"] = json!(friend.handle);
    peer.call("POST", "/friends/invite", alice, Some(body))
        .await
        .ok();
    let accept = envelope(
        MessageType::FriendAccept,
        friend,
        &alice.handle,
        Object::new(),
    );
    let reply = post_raw(peer, &fake.request(&peer.domain(), accept)).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
}

async fn run(db: Db, n: usize) {
    let peer = Peer::start_with(db, &["--rate-limits", "off"]).await;
    let fake = FakePeer::start().await;
    let alice = peer.user("alice").await;
    let to = peer.domain();
    println!(
        "{db:?}: start to ready {:.1} ms (a new database: every migration runs)",
        peer.ready_after.as_secs_f64() * 1e3
    );
    let (rss, _) = memory_kib(&peer);
    println!("{db:?}: server RSS at start {} KiB", rss);
    // The server hands back what start-up used and freed within 5 s (`resident_memory.rs`).
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (rss, _) = memory_kib(&peer);
    println!("{db:?}: server RSS 6 s after start {} KiB", rss);

    // RELATIONSHIP_REVOKE to a non-friend: accepted, changes nothing.
    let stranger = fake.user("stranger");
    let revokes: Vec<Raw> = (0..n)
        .map(|_| {
            let body = envelope(
                MessageType::RelationshipRevoke,
                &stranger,
                &alice.handle,
                Object::new(),
            );
            fake.request(&to, body)
        })
        .collect();
    let revokes = deal(revokes);
    let signed_at = Instant::now();
    let run = blast(&peer, &revokes).await;
    report(db, "RELATIONSHIP_REVOKE (non-friend)", &run);
    let first_answers: Vec<u16> = run.results.iter().map(|(s, _)| *s).collect();

    // LOCATION_UPDATE between friends: one friend per connection, positions in order.
    let friends: Vec<User> = (0..IN_FLIGHT)
        .map(|i| fake.user(&format!("friend{i}")))
        .collect();
    for friend in &friends {
        befriend(&peer, &alice, &fake, friend).await;
    }
    let start = now_ms() - 60_000;
    let lanes: Vec<Vec<Raw>> = friends
        .iter()
        .map(|friend| {
            (0..n.div_ceil(IN_FLIGHT))
                .map(|i| {
                    let payload = location_payload(&alice, start + i as i64);
                    let body =
                        envelope(MessageType::LocationUpdate, friend, &alice.handle, payload);
                    fake.request(&to, body)
                })
                .collect()
        })
        .collect();
    let run = blast(&peer, &lanes).await;
    report(db, "LOCATION_UPDATE (friends)", &run);

    // FRIEND_INVITE, each from a sender never seen before.
    let invites: Vec<Raw> = (0..n)
        .map(|i| {
            let sender = fake.user(&format!("new{i}"));
            let body = envelope(
                MessageType::FriendInvite,
                &sender,
                &alice.handle,
                Object::new(),
            );
            fake.request(&to, body)
        })
        .collect();
    let run = blast(&peer, &deal(invites)).await;
    report(db, "FRIEND_INVITE (new senders)", &run);
    let invited = accepted(&run);

    // RESOURCE_SHARE between friends (the inbox benchmark before issue 18).
    let shares: Vec<Raw> = (0..n)
        .map(|i| {
            let body = envelope(
                MessageType::ResourceShare,
                &friends[i % IN_FLIGHT],
                &alice.handle,
                share_payload(i),
            );
            fake.request(&to, body)
        })
        .collect();
    let run = blast(&peer, &deal(shares)).await;
    report(db, "RESOURCE_SHARE (friends)", &run);
    let shared = accepted(&run);

    // The revocations again: every one accepted before is a transport replay now (401).
    // Their transport timestamps must still be inside the ±300 s window, or the 401 would
    // come from the cheaper timestamp check and the row would measure that.
    assert!(
        signed_at.elapsed() < Duration::from_secs(270),
        "the replays were signed {:?} ago: lower BENCH_N",
        signed_at.elapsed()
    );
    let run = blast(&peer, &revokes).await;
    report(db, "replayed requests (401 expected)", &run);
    let twice = first_answers
        .iter()
        .zip(&run.results)
        .filter(|(first, (again, _))| **first == 202 && *again != 401)
        .count();

    // The read row: authenticated GET /users/me/identity, 32 in flight.
    let run = blast_get(&peer, "/users/me/identity", &alice.token, n).await;
    report(db, "GET /users/me/identity (bearer)", &run);
    assert_eq!(
        run.results.iter().filter(|(s, _)| *s == 200).count(),
        run.results.len(),
        "every read answered 200"
    );

    let (rss, peak) = memory_kib(&peer);
    println!("{db:?}: server RSS after the loads {rss} KiB (peak {peak} KiB)");
    // The server hands freed memory back every 5 s when idle (main.rs): what it keeps.
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    let (idle, _) = memory_kib(&peer);
    println!("{db:?}: server RSS 6 s after the loads {idle} KiB");
    print_where_memory_is(&peer);
    // The start-to-ready figure: a restart on the database the loads filled.
    let mut peer = peer;
    peer.stop();
    peer.spawn().await;
    println!(
        "{db:?}: restart to ready {:.1} ms (the database the loads filled)",
        peer.ready_after.as_secs_f64() * 1e3
    );

    // What the runs must have left, whatever their speed.
    assert_eq!(
        twice, 0,
        "a request accepted once is refused when sent again"
    );
    let count = |sql: &'static str| peer.count(sql);
    assert_eq!(
        count("SELECT COUNT(*) FROM friend_invitations WHERE direction = 'incoming'").await,
        invited
    );
    // Each share was stored, but a friend's pending shares are capped (a flood pushes out
    // that friend's oldest), so fewer may remain.
    let stored = count("SELECT COUNT(*) FROM incoming_shares").await;
    assert!(stored > 0 && stored <= shared, "{stored} of {shared}");
    assert_eq!(
        count("SELECT COUNT(*) FROM friend_locations").await,
        IN_FLIGHT as i64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run explicitly with --ignored --nocapture"]
async fn inbox_throughput() {
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    println!(
        "inbox, {IN_FLIGHT} in flight, {n} distinct pre-signed messages per row, each sent once"
    );
    println!(
        "{:<9} {:<34} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10} {:>10} {:>8}   statuses",
        "database",
        "message",
        "sent",
        "msg/s",
        "p50 ms",
        "p99 ms",
        "p999 ms",
        "non-2xx",
        "srv µs/msg",
        "cli µs/msg",
        "others %"
    );
    run(Db::Sqlite, n).await;
    if std::env::var("PARCHMENT_TEST_POSTGRES_URL").is_ok() {
        run(Db::Postgres, n).await;
    } else {
        println!("PARCHMENT_TEST_POSTGRES_URL not set: PostgreSQL skipped");
    }
}
