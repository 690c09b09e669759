//! A fake federation peer: a server id on a loopback port that serves its manifest and its
//! users' documents from memory and accepts whatever is posted to its inbox, and whose users
//! and server key sign messages and server-to-server requests as a real server's would. No
//! database and no process of its own, so thousands of distinct senders cost nothing to
//! set up (the inbox benchmark's FRIEND_INVITE row needs one per message).

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use parchment_core::federation::discovery::{ManifestDocument, UserDocumentWire};
use parchment_core::keys::{Ed25519SecretKey, X25519SecretKey};
use parchment_core::rand_core::OsRng;
use poem::http::StatusCode;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::{Data, Path};
use poem::{get, handler, post, EndpointExt, Response, Route};

use crate::peers::{now_ms, raw_between, Raw, User};

/// User documents by lowercased alias, as served.
type Documents = Arc<Mutex<HashMap<String, String>>>;

/// The fake server; stops serving when dropped.
pub struct FakePeer {
    pub port: u16,
    pub key: Ed25519SecretKey,
    documents: Documents,
    task: tokio::task::JoinHandle<()>,
}

#[handler]
fn serve_manifest(Data(manifest): Data<&Arc<String>>) -> Response {
    json(StatusCode::OK, manifest.as_str().to_owned())
}

#[handler]
fn serve_user_document(Path(alias): Path<String>, Data(documents): Data<&Documents>) -> Response {
    let found = documents
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&alias.to_ascii_lowercase())
        .cloned();
    match found {
        Some(document) => json(StatusCode::OK, document),
        None => json(
            StatusCode::NOT_FOUND,
            r#"{"code":"user_not_found","message":"no such user"}"#.to_owned(),
        ),
    }
}

/// Deliveries to the fake peer's users (the receiving server's outbox sends invitations
/// here): accepted and forgotten.
#[handler]
fn accept_delivery() -> Response {
    json(StatusCode::ACCEPTED, r#"{"success":true}"#.to_owned())
}

fn json(status: StatusCode, body: String) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(body)
}

impl FakePeer {
    pub async fn start() -> FakePeer {
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .expect("bind the fake peer");
        let port = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .expect("the fake peer's address")
            .port();
        let key = Ed25519SecretKey::generate(&mut OsRng);
        let manifest = ManifestDocument::ours(&format!("127.0.0.1:{port}"), &key.public_key());
        let manifest = Arc::new(serde_json::to_string(&manifest).expect("manifest"));
        let documents = Documents::default();
        let app = Route::new()
            .at("/.well-known/parchment-server", get(serve_manifest))
            .at("/.well-known/user/:alias", get(serve_user_document))
            .at("/federation/inbox", post(accept_delivery))
            .data(manifest)
            .data(documents.clone());
        let task = tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor).run(app).await;
        });
        FakePeer {
            port,
            key,
            documents,
            task,
        }
    }

    pub fn domain(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A user of this server with fresh keys, its document served from now on.
    pub fn user(&self, alias: &str) -> User {
        let user = User {
            handle: format!("{alias}@{}", self.domain()),
            token: String::new(),
            signing: Ed25519SecretKey::generate(&mut OsRng),
            encryption: X25519SecretKey::generate(&mut OsRng),
        };
        let document = UserDocumentWire {
            handle: user.handle.clone(),
            signing_key: user.signing.public_key().to_base64(),
            encryption_key: user.encryption.public_key().to_base64(),
            inbox: format!("http://{}/federation/inbox", self.domain()),
            name: Some(alias.to_owned()),
            picture: None,
        };
        self.documents
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                alias.to_ascii_lowercase(),
                serde_json::to_string(&document).expect("user document"),
            );
        user
    }

    /// `body` (a signed envelope) as this server would POST it to `receiver`'s inbox now.
    pub fn request(&self, receiver: &str, body: String) -> Raw {
        raw_between(&self.domain(), &self.key, receiver, body, now_ms())
    }
}

impl Drop for FakePeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
