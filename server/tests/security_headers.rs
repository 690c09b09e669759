//! The headers the web app, the API and the docs are served with (issue 13, item 9).

mod common;

use common::{Db, Options, TestServer};
use parchment_server::security_headers::{API_CSP, APP_CSP, DOCS_CSP, HSTS, PERMISSIONS_POLICY};

db_tests!(every_surface_gets_its_policy);

async fn every_surface_gets_its_policy(db: Db) {
    let web = tempfile::TempDir::new().expect("web dir");
    std::fs::create_dir_all(web.path().join("assets")).expect("assets");
    std::fs::write(
        web.path().join("index.html"),
        "<!doctype html><script type=\"module\" src=\"/assets/app.js\"></script>",
    )
    .expect("index");
    std::fs::write(web.path().join("assets/app.js"), "export {}").expect("app.js");
    for https in [false, true] {
        let s = TestServer::start_with(
            db,
            Options {
                web_dir: Some(web.path().to_path_buf()),
                https_public_url: https,
                ..Options::default()
            },
        )
        .await;
        let cases = [
            ("/", APP_CSP, true),
            ("/assets/app.js", APP_CSP, true),
            // A client-side route falls back to index.html, under the same policy.
            ("/settings", APP_CSP, true),
            ("/users/me/identity", API_CSP, false),
            ("/.well-known/parchment-server", API_CSP, false),
            ("/openapi.json", API_CSP, false),
            ("/no/such/api", APP_CSP, true),
            ("/docs", DOCS_CSP, true),
        ];
        for (path, csp, permissions) in cases {
            let r = s.http.get(s.url(path)).send().await.expect("request");
            let h = r.headers();
            let header = |name: &str| {
                h.get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned()
            };
            assert_eq!(header("content-security-policy"), csp, "{path}");
            assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
            assert_eq!(header("referrer-policy"), "no-referrer", "{path}");
            assert_eq!(header("x-frame-options"), "DENY", "{path}");
            let expected_permissions = if permissions { PERMISSIONS_POLICY } else { "" };
            assert_eq!(header("permissions-policy"), expected_permissions, "{path}");
            let expected_hsts = if https { HSTS } else { "" };
            assert_eq!(header("strict-transport-security"), expected_hsts, "{path}");
        }
        // The policy the app runs under: no inline script, no foreign origin, no framing.
        for directive in [
            "script-src 'self' 'wasm-unsafe-eval'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ] {
            assert!(APP_CSP.contains(directive), "{directive}");
        }
        assert!(!APP_CSP.contains("unsafe-inline"));
        s.stop().await;
    }
}
