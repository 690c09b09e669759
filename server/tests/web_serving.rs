//! How the web app, the docs and large API answers travel: precompressed variants of the
//! build, immutable hashed assets and a revalidated `index.html` (ETag, 304), HEAD wherever
//! GET works, gzip for large JSON answers but never for `/auth/*`.

mod common;

use std::io::Read;

use common::{Db, Options, TestServer};
use reqwest::header;

db_tests!(the_web_app_and_large_answers_are_sent_compressed_and_cached);

async fn the_web_app_and_large_answers_are_sent_compressed_and_cached(db: Db) {
    let web = tempfile::TempDir::new().expect("web dir");
    let assets = web.path().join("assets");
    std::fs::create_dir_all(&assets).expect("assets");
    std::fs::write(web.path().join("index.html"), "<!doctype html><p>app</p>").expect("index");
    let script = "export const x = 1;\n".repeat(200);
    std::fs::write(assets.join("app-abc123.js"), &script).expect("script");
    std::fs::write(assets.join("app-abc123.js.br"), b"brotli bytes").expect("br");
    std::fs::write(assets.join("app-abc123.js.gz"), flate(script.as_bytes())).expect("gz");
    let s = TestServer::start_with(
        db,
        Options {
            web_dir: Some(web.path().to_path_buf()),
            ..Options::default()
        },
    )
    .await;
    // reqwest here neither asks for nor decodes compression: the headers are ours.
    let http = reqwest::Client::new();
    let get = |path: &str, encoding: Option<&str>| {
        let mut req = http.get(s.url(path));
        if let Some(e) = encoding {
            req = req.header(header::ACCEPT_ENCODING, e);
        }
        req.send()
    };

    let index = get("/", None).await.expect("index");
    assert_eq!(index.status(), 200);
    assert_eq!(index.headers()[header::CACHE_CONTROL], "no-cache");
    let etag = index.headers()[header::ETAG].clone();
    let again = http
        .get(s.url("/"))
        .header(header::IF_NONE_MATCH, etag)
        .send()
        .await
        .expect("revalidate");
    assert_eq!(again.status(), 304, "a return visit costs no body");
    let route = get("/settings", None).await.expect("screen");
    assert_eq!(
        route.text().await.unwrap_or_default(),
        "<!doctype html><p>app</p>"
    );

    let br = get("/assets/app-abc123.js", Some("gzip, deflate, br"))
        .await
        .expect("br");
    assert_eq!(br.headers()[header::CONTENT_ENCODING], "br");
    assert_eq!(
        br.headers()[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(br.headers()[header::VARY], "Accept-Encoding");
    assert_eq!(
        br.headers()[header::CONTENT_TYPE],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        br.bytes().await.unwrap_or_default().as_ref(),
        b"brotli bytes"
    );
    let gz = get("/assets/app-abc123.js", Some("gzip"))
        .await
        .expect("gz");
    assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip");
    assert_eq!(unflate(&gz.bytes().await.unwrap_or_default()), script);
    let plain = get("/assets/app-abc123.js", Some("gzip;q=0"))
        .await
        .expect("plain");
    assert!(!plain.headers().contains_key(header::CONTENT_ENCODING));
    assert_eq!(plain.text().await.unwrap_or_default(), script);

    for path in ["/", "/assets/app-abc123.js", "/settings"] {
        let head = http.head(s.url(path)).send().await.expect("head");
        assert_eq!(head.status(), 200, "HEAD {path}");
        assert!(
            head.headers().contains_key(header::CONTENT_LENGTH),
            "HEAD {path}"
        );
        assert!(head.bytes().await.unwrap_or_default().is_empty());
    }
    let post = http.post(s.url("/settings")).send().await.expect("post");
    assert_eq!(post.status(), 405);
    assert_eq!(post.headers()[header::ALLOW], "GET, HEAD");
    // Dot segments never leave the root (whatever the client normalises, the app answers).
    let escape = get("/assets/%2e%2e/%2e%2e/etc/passwd", None)
        .await
        .expect("escape");
    assert_eq!(
        escape.text().await.unwrap_or_default(),
        "<!doctype html><p>app</p>"
    );

    // The docs page (~2 MB) and the document, made and gzipped once, on first use; HEAD
    // first, so it is HEAD that makes the page.
    let head = http.head(s.url("/docs")).send().await.expect("HEAD /docs");
    assert_eq!(head.status(), 200);
    assert!(head.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap_or_default()
        .starts_with("text/html"));
    assert!(head.bytes().await.unwrap_or_default().is_empty());
    let docs = get("/docs", Some("gzip")).await.expect("docs");
    assert_eq!(docs.headers()[header::CONTENT_ENCODING], "gzip");
    let html = unflate(&docs.bytes().await.unwrap_or_default());
    assert!(html.contains("postFederationInbox"));
    let spec = get("/openapi.json", Some("gzip")).await.expect("spec");
    assert_eq!(spec.headers()[header::CONTENT_ENCODING], "gzip");

    // A large JSON answer is gzipped when asked; a small one and sign-in never are.
    let (_, admin) = s.user("root@example.com", "admin").await;
    for i in 0..40 {
        s.user(&format!("member{i}@example.com"), "user").await;
    }
    let list = http
        .get(s.url("/users?limit=100"))
        .bearer_auth(&admin)
        .header(header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .expect("users");
    assert_eq!(list.status(), 200, "{:?}", list.headers());
    assert_eq!(list.headers()[header::CONTENT_ENCODING], "gzip");
    let text = unflate(&list.bytes().await.unwrap_or_default());
    let json: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert!(
        json.is_object() && text.contains("member1@example.com"),
        "{text}"
    );
    let small = http
        .get(s.url("/users/me/preferences"))
        .bearer_auth(&admin)
        .header(header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .expect("preferences");
    assert!(!small.headers().contains_key(header::CONTENT_ENCODING));
    let session = http
        .get(s.url("/auth/sessions"))
        .bearer_auth(&admin)
        .header(header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .expect("sessions");
    assert!(!session.headers().contains_key(header::CONTENT_ENCODING));
    s.stop().await;
}

fn flate(bytes: &[u8]) -> Vec<u8> {
    parchment_server::compression::gzip(bytes)
}

fn unflate(bytes: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut out)
        .expect("gzip");
    out
}
