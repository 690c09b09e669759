//! Two real `parchment-server` processes on loopback for the federation suites
//! (`federation.rs`, `reset.rs`): spawning peers, users with client-side keys, signed
//! client requests, hand-made server-to-server requests, and polling for asynchronous
//! delivery.

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{fresh_database, Db};
use parchment_core::canonical::{Object, Value as CValue};
use parchment_core::federation::message::new_nonce;
use parchment_core::federation::request::{body_hash, RequestSignable};
use parchment_core::federation::{MessageType, UnsignedMessage};
use parchment_core::keys::{Ed25519SecretKey, X25519SecretKey};
use parchment_core::rand_core::OsRng;
use parchment_core::timestamp::format_millis;
use serde_json::{json, Value};
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_parchment-server");

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One server process with its own database and key.
pub struct Peer {
    pub port: u16,
    pub key: Ed25519SecretKey,
    pub db_url: String,
    pub dir: TempDir,
    pub child: Option<Child>,
    pub http: reqwest::Client,
    pub extra: Vec<String>,
    /// How long the last `spawn` took until the server answered (polled every 2 ms).
    pub ready_after: Duration,
}

impl Peer {
    pub async fn start(db: Db) -> Peer {
        Self::start_with(db, &[]).await
    }

    pub async fn start_with(db: Db, extra: &[&str]) -> Peer {
        let dir = TempDir::new().unwrap();
        let db_url = fresh_database(db, &dir).await;
        let mut peer = Peer {
            port: free_port(),
            key: Ed25519SecretKey::generate(&mut OsRng),
            db_url,
            dir,
            child: None,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            ready_after: Duration::ZERO,
        };
        peer.spawn().await;
        peer
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg("--data-dir")
            .arg(self.dir.path())
            .arg("--database-url")
            .arg(&self.db_url)
            .env(
                "RUST_LOG",
                "warn,webauthn_rs=off,parchment_server::service::passkeys=error",
            );
        cmd
    }

    pub async fn spawn(&mut self) {
        let started = Instant::now();
        let child = self
            .command()
            .arg("serve")
            .arg("--bind")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--public-url")
            .arg(self.origin())
            .arg("--server-key")
            .arg(self.key.export_base64().as_str())
            .arg("--federation-allow-http")
            .arg("--mail-dir")
            .arg(self.dir.path().join("mail"))
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start parchment-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(resp) = self
                .http
                .get(self.url("/.well-known/parchment-server"))
                .send()
                .await
            {
                if resp.status().is_success() {
                    self.ready_after = started.elapsed();
                    return;
                }
            }
            assert!(Instant::now() < deadline, "server did not come up");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn domain(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn origin(&self) -> String {
        format!("http://{}", self.domain())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin())
    }

    pub fn admin(&self, args: &[&str]) -> String {
        let out = self.command().arg("admin").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "admin {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// A user with an alias and published keys.
    pub async fn user(&self, alias: &str) -> User {
        let email = format!("{alias}@example.com");
        self.admin(&[
            "create-user",
            "--email",
            &email,
            "--first-name",
            alias,
            "--last-name",
            "Test",
        ]);
        let token = self.admin(&["issue-token", "--email", &email]);
        let user = User {
            handle: format!("{alias}@{}", self.domain()),
            token,
            signing: Ed25519SecretKey::generate(&mut OsRng),
            encryption: X25519SecretKey::generate(&mut OsRng),
        };
        self.call(
            "PATCH",
            "/users/me/alias",
            &user,
            Some(json!({ "alias": alias })),
        )
        .await
        .ok();
        self.call(
            "PUT",
            "/users/me/keys",
            &user,
            Some(json!({
                "signingKey": user.signing.public_key().to_base64(),
                "encryptionKey": user.encryption.public_key().to_base64(),
            })),
        )
        .await
        .ok();
        user
    }

    pub async fn call(&self, method: &str, path: &str, user: &User, body: Option<Value>) -> Reply {
        let mut req = self
            .http
            .request(method.parse().unwrap(), self.url(path))
            .bearer_auth(&user.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        Reply {
            status,
            json: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        }
    }

    pub async fn count(&self, query: &str) -> i64 {
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&self.db_url)
            .await
            .unwrap();
        let (n,): (i64,) = sqlx::query_as(query).fetch_one(&mut conn).await.unwrap();
        n
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stop();
    }
}

pub struct User {
    pub handle: String,
    pub token: String,
    pub signing: Ed25519SecretKey,
    pub encryption: X25519SecretKey,
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub json: Value,
    pub text: String,
}

impl Reply {
    #[track_caller]
    pub fn ok(self) -> Value {
        assert!(self.status < 300, "{}: {}", self.status, self.text);
        self.json
    }
}

pub fn message(
    kind: MessageType,
    from: &User,
    to: &str,
    payload: Object,
) -> (UnsignedMessage, String) {
    let unsigned = UnsignedMessage {
        message_type: kind,
        message_version: 1,
        from: from.handle.clone(),
        to: to.to_string(),
        nonce: new_nonce(&mut OsRng),
        timestamp: format_millis(now_ms()),
        payload,
    };
    let signature = unsigned.sign(&from.signing).signature;
    (unsigned, signature)
}

/// `{signature, nonce, timestamp}` for a client-facing call.
pub fn signed(kind: MessageType, from: &User, to: &str) -> Value {
    let (m, signature) = message(kind, from, to, Object::new());
    json!({ "signature": signature, "nonce": m.nonce, "timestamp": m.timestamp })
}

pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    poll(what, || {
        let fut = check();
        async move { fut.await.then_some(Value::Null) }
    })
    .await;
}

pub async fn poll<F, Fut>(what: &str, mut check: F) -> Value
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<Value>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The client-facing body of a signed message (`POST /friends/...`).
pub fn send_body(kind: MessageType, from: &User, to: &str, payload: Object) -> Value {
    let (m, signature) = message(kind, from, to, payload.clone());
    json!({
        "messageType": kind.as_str(),
        "payload": Value::from(&CValue::Object(payload)),
        "signature": signature,
        "nonce": m.nonce,
        "timestamp": m.timestamp,
    })
}

/// A hand-made server-to-server request (signed with `key`, claiming to be `sender`).
#[derive(Clone)]
pub struct Raw {
    pub body: String,
    pub nonce: String,
    pub timestamp: String,
    pub signature: String,
    pub server_id: String,
}

/// `from`'s signed message of `kind` to `to`, as `sender`'s server delivers it straight into
/// `receiver`'s inbox, now.
pub fn delivery(
    sender: &Peer,
    receiver: &Peer,
    kind: MessageType,
    from: &User,
    to: &str,
    payload: Object,
) -> Raw {
    let (m, signature) = message(kind, from, to, payload);
    raw(
        sender,
        &sender.key,
        receiver,
        m.with_signature(&signature).body(),
        now_ms(),
    )
}

pub fn raw(sender: &Peer, key: &Ed25519SecretKey, receiver: &Peer, body: String, at: i64) -> Raw {
    raw_between(&sender.domain(), key, &receiver.domain(), body, at)
}

/// [`raw`] between server ids (`sender` need not be a [`Peer`]: the benchmark's fake peer).
pub fn raw_between(
    sender: &str,
    key: &Ed25519SecretKey,
    receiver: &str,
    body: String,
    at: i64,
) -> Raw {
    let nonce = new_nonce(&mut OsRng);
    let timestamp = format_millis(at);
    let hash = body_hash(&body);
    let headers = RequestSignable {
        method: "POST",
        path: "/federation/inbox",
        body_hash: &hash,
        nonce: &nonce,
        timestamp: &timestamp,
        peer_server_id: receiver,
        sender_server_id: sender,
        protocol_version: 2,
    }
    .sign(key);
    Raw {
        body,
        nonce,
        timestamp,
        signature: headers.signature,
        server_id: sender.to_owned(),
    }
}

pub async fn post_raw(receiver: &Peer, raw: &Raw) -> Reply {
    post_raw_to(&receiver.http, &receiver.url("/federation/inbox"), raw).await
}

pub async fn post_raw_to(http: &reqwest::Client, inbox: &str, raw: &Raw) -> Reply {
    let resp = http
        .post(inbox)
        .header("Content-Type", "application/json")
        .header("X-Parchment-Server-Id", &raw.server_id)
        .header("X-Parchment-Protocol-Version", "2")
        .header("X-Parchment-Nonce", &raw.nonce)
        .header("X-Parchment-Timestamp", &raw.timestamp)
        .header("X-Parchment-Server-Signature", &raw.signature)
        .body(raw.body.clone())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    Reply {
        status,
        json: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

/// alice@A invites bob@B and bob accepts; returns when both see the friendship.
pub async fn befriend(a: &Peer, alice: &User, b: &Peer, bob: &User) {
    let mut body = signed(MessageType::FriendInvite, alice, &bob.handle);
    body["handle"] = json!(bob.handle);
    a.call("POST", "/friends/invite", alice, Some(body))
        .await
        .ok();
    let id = poll("the invitation", || async {
        let incoming = b
            .call("GET", "/friends/invitations?direction=incoming", bob, None)
            .await
            .ok();
        incoming["invitations"]
            .as_array()?
            .iter()
            .find(|i| i["fromHandle"] == alice.handle && i["status"] == "pending")
            .map(|i| i["id"].clone())
    })
    .await;
    let id = id.as_str().unwrap_or_default();
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
        friends["friends"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["handle"] == bob.handle))
    })
    .await;
}

/// alice@A ends her friendship with `friend` (a signed RELATIONSHIP_REVOKE through A); returns
/// once A answered.
pub async fn unfriend(a: &Peer, alice: &User, friend: &User) {
    a.call(
        "DELETE",
        &format!("/friends/{}", friend.handle),
        alice,
        Some(signed(
            MessageType::RelationshipRevoke,
            alice,
            &friend.handle,
        )),
    )
    .await
    .ok();
}
