//! Sign-in codes over real SMTP: a local SMTP server (a minimal one, in the test) receives
//! the code and the user signs in with it; while the SMTP server is down the user is told
//! the code is late, the server retries, and the code arrives once it is back.
//! SQLite always, PostgreSQL when `PARCHMENT_TEST_POSTGRES_URL` is set.

mod common;
mod peers;

use std::sync::{Arc, Mutex};

use common::Db;
use peers::*;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

db_tests!(
    a_code_sent_over_smtp_signs_in,
    a_refused_code_is_retried_until_the_smtp_server_answers,
);

/// The messages an SMTP sink received (whole DATA sections).
type Inbox = Arc<Mutex<Vec<String>>>;

/// A minimal SMTP server on `listener`: enough of RFC 5321 for lettre's client (EHLO,
/// MAIL, RCPT, DATA, QUIT), no TLS, no authentication.
fn smtp_sink(listener: TcpListener) -> Inbox {
    let inbox: Inbox = Arc::default();
    let store = inbox.clone();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            let store = store.clone();
            tokio::spawn(async move {
                let (read, mut write) = conn.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(body) = data.as_mut() {
                        if line == "." {
                            if let Ok(mut inbox) = store.lock() {
                                inbox.push(std::mem::take(body));
                            }
                            data = None;
                            let _ = write.write_all(b"250 queued\r\n").await;
                        } else {
                            body.push_str(&line);
                            body.push('\n');
                        }
                        continue;
                    }
                    let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
                        "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 ok\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go ahead\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        _ => b"502 not implemented\r\n",
                    };
                    let _ = write.write_all(reply).await;
                }
            });
        }
    });
    inbox
}

/// The 8-digit code in the newest mail of `inbox`, waiting up to 30 s for one.
async fn code_from(inbox: &Inbox) -> String {
    let mail = poll("the sign-in mail", || async {
        let inbox = inbox.lock().ok()?;
        inbox.last().map(|m| Value::String(m.clone()))
    })
    .await;
    let text = mail.as_str().unwrap_or_default().replace("=\n", "");
    let at = text.find("code is: ").expect("the mail carries the code") + "code is: ".len();
    text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect()
}

async fn smtp_peer(db: Db, port: u16) -> Peer {
    Peer::start_with(
        db,
        &[
            "--smtp-url",
            &format!("smtp://127.0.0.1:{port}"),
            "--mail-from",
            "Parchment <parchment@example.org>",
        ],
    )
    .await
}

async fn sign_in(peer: &Peer, email: &str, code: &str) -> reqwest::StatusCode {
    reqwest::Client::new()
        .post(peer.url("/auth/sessions"))
        .json(&json!({ "method": "otp", "email": email, "token": code }))
        .send()
        .await
        .expect("sign in")
        .status()
}

async fn a_code_sent_over_smtp_signs_in(db: Db) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let inbox = smtp_sink(listener);
    let peer = smtp_peer(db, port).await;
    peer.user("ada").await;
    let sent = reqwest::Client::new()
        .post(peer.url("/auth/verify"))
        .json(&json!({ "email": "ada@example.com" }))
        .send()
        .await
        .expect("verify");
    assert_eq!(sent.status(), 201);
    let code = code_from(&inbox).await;
    assert_eq!(code.len(), 8, "{code}");
    let mail = inbox.lock().map(|m| m.join("")).unwrap_or_default();
    assert!(mail.contains("To: ada@example.com"), "{mail}");
    assert_eq!(sign_in(&peer, "ada@example.com", &code).await, 201);
}

async fn a_refused_code_is_retried_until_the_smtp_server_answers(db: Db) {
    // A port nothing listens on yet: the first attempt is refused.
    let port = free_port();
    let peer = smtp_peer(db, port).await;
    peer.user("ada").await;
    let late = reqwest::Client::new()
        .post(peer.url("/auth/verify"))
        .json(&json!({ "email": "ada@example.com" }))
        .send()
        .await
        .expect("verify");
    assert_eq!(late.status(), 503);
    let body: Value = late.json().await.expect("problem body");
    assert_eq!(body["code"], "mail_delayed", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("keeps trying"),
        "{body}"
    );
    // The mail server comes back: the retry delivers the same code, which signs in.
    let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
    let inbox = smtp_sink(listener);
    let code = code_from(&inbox).await;
    assert_eq!(sign_in(&peer, "ada@example.com", &code).await, 201);
    assert_eq!(
        inbox.lock().map(|m| m.len()).unwrap_or_default(),
        1,
        "sent once"
    );
}
