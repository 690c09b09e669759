//! Test harness: the real app on an ephemeral loopback port, over real HTTP, on a fresh
//! SQLite file or a fresh PostgreSQL database (when `PARCHMENT_TEST_POSTGRES_URL` is set).

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use parchment_server::app;
use parchment_server::config::ServeArgs;
use parchment_server::service::sessions::{self, SESSION_TTL_MS};
use parchment_server::service::users::{self, CreateUser};
use parchment_server::store::Store;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::Executor;
use tempfile::TempDir;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Runs a test body on SQLite, or on PostgreSQL when a test cluster is configured.
#[macro_export]
macro_rules! db_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Db::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if std::env::var("PARCHMENT_TEST_POSTGRES_URL").is_err() {
                        eprintln!("PARCHMENT_TEST_POSTGRES_URL not set: PostgreSQL run skipped");
                        return;
                    }
                    super::$name($crate::common::Db::Postgres).await
                }
            )*
        }
    };
}

pub struct Options {
    pub open_registration: bool,
    pub rate_limits: bool,
    pub max_body_bytes: usize,
    /// 0 in tests that age or delete sessions behind the server's back.
    pub session_cache_ms: u64,
    /// `--federation-allow-http` (loopback peers); off: the production address policy.
    pub federation_allow_http: bool,
    /// `--web-dir`: the static web app to serve at `/`.
    pub web_dir: Option<PathBuf>,
    /// The public URL is `https://localhost:PORT` (the server itself still speaks http).
    pub https_public_url: bool,
    /// `--trusted-proxies`: whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// `--request-timeout-secs` (default 30).
    pub request_timeout_secs: u64,
    /// The outbound client's name resolver (default: the system's).
    pub lookup:
        Option<std::sync::Arc<dyn parchment_server::federation::address_policy::HostLookup>>,
}

/// What a test moves instead of sleeping: the server's clock.
pub use parchment_server::clock::ShiftedClock;

impl Default for Options {
    fn default() -> Self {
        Options {
            open_registration: false,
            rate_limits: true,
            max_body_bytes: 64 * 1024,
            session_cache_ms: 0,
            federation_allow_http: false,
            web_dir: None,
            https_public_url: false,
            trusted_proxies: Vec::new(),
            request_timeout_secs: 30,
            lookup: None,
        }
    }
}

pub struct TestServer {
    pub base: String,
    pub origin: String,
    pub http: reqwest::Client,
    pub store: Store,
    pub db_url: String,
    pub mail_dir: PathBuf,
    pub dir: TempDir,
    /// The server's clock: `clock.advance(ms)` moves its time (windows, expiries).
    pub clock: ShiftedClock,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// A fresh database URL for one test.
pub async fn fresh_database(db: Db, dir: &TempDir) -> String {
    match db {
        Db::Sqlite => format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display()),
        Db::Postgres => {
            let admin_url =
                std::env::var("PARCHMENT_TEST_POSTGRES_URL").expect("PARCHMENT_TEST_POSTGRES_URL");
            // The creation time is in the name: databases of runs long past are dropped here,
            // so a cluster kept between runs does not fill the disk.
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let name = format!(
                "t_{now}_{}",
                parchment_server::secrets::random_id().to_lowercase()
            );
            sqlx::any::install_default_drivers();
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin_url)
                .await
                .expect("connect to the PostgreSQL test cluster");
            drop_stale_databases(&mut conn, now).await;
            conn.execute(format!("CREATE DATABASE {name}").as_str())
                .await
                .expect("create test database");
            let (base, _) = admin_url.rsplit_once('/').expect("URL with a database");
            format!("{base}/{name}")
        }
    }
}

/// Test databases older than two hours (no test runs that long), and those of the older naming
/// (`t_<random>`, no time). Another run may be dropping the same one: errors are ignored.
async fn drop_stale_databases(conn: &mut sqlx::AnyConnection, now: u64) {
    let names: Vec<(String,)> =
        sqlx::query_as("SELECT datname::text FROM pg_database WHERE datname LIKE 't\\_%'")
            .fetch_all(&mut *conn)
            .await
            .unwrap_or_default();
    for (name,) in names {
        let created = name
            .split('_')
            .nth(1)
            .and_then(|t| t.parse::<u64>().ok())
            .unwrap_or(0);
        if created + 2 * 3600 < now && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            let _ = conn
                .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                .await;
        }
    }
}

impl TestServer {
    pub async fn start(db: Db) -> TestServer {
        Self::start_with(db, Options::default()).await
    }

    pub async fn start_with(db: Db, options: Options) -> TestServer {
        let dir = TempDir::new().expect("temp dir");
        let db_url = fresh_database(db, &dir).await;
        let store = Store::connect(&db_url).await.expect("connect");
        store.migrate().await.expect("migrate");
        let bound = app::bind("127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("bind");
        let port = bound.addr.port();
        let scheme = if options.https_public_url {
            "https"
        } else {
            "http"
        };
        let origin = format!("{scheme}://localhost:{port}");
        let mail_dir = dir.path().join("mail");
        let mut args = ServeArgs::defaults();
        args.bind = bound.addr;
        args.public_url = Some(origin.parse().expect("url"));
        args.server_key_file = Some(dir.path().join("server.key"));
        args.server_key = None;
        args.open_registration = options.open_registration;
        args.web_dir = options.web_dir.clone();
        args.smtp_url = None;
        args.mail_from = None;
        args.mail_dir = Some(mail_dir.clone());
        args.rate_limits = if options.rate_limits { "on" } else { "off" }.into();
        args.trusted_proxies = options.trusted_proxies.clone();
        args.max_body_bytes = options.max_body_bytes;
        args.request_timeout_secs = options.request_timeout_secs;
        args.session_cache_ms = options.session_cache_ms;
        args.federation_allow_http = options.federation_allow_http;
        let client = match options.lookup.clone() {
            Some(lookup) => parchment_server::federation::Client::with_lookup(
                options.federation_allow_http,
                lookup,
            ),
            None => parchment_server::federation::Client::new(options.federation_allow_http),
        }
        .expect("client");
        let clock = ShiftedClock::new();
        let state = app::build_state_with(
            store.clone(),
            &args,
            dir.path(),
            client,
            std::sync::Arc::new(clock.clone()),
        )
        .expect("state");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            app::serve(bound, state, &args, async {
                let _ = rx.await;
            })
            .await
            .expect("serve");
        });
        TestServer {
            base: format!("http://127.0.0.1:{port}"),
            origin,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            store,
            db_url,
            mail_dir,
            dir,
            clock,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Stops serving and waits for in-flight requests.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Creates a user directly in the store and returns (user id, bearer token).
    pub async fn user(&self, email: &str, role: &str) -> (String, String) {
        let (row, _) = users::create(
            &self.store,
            CreateUser {
                email,
                first_name: Some("Test"),
                last_name: Some("User"),
                picture: None,
                roles: vec![role.to_string()],
            },
            self.now_ms(),
        )
        .await
        .expect("create user");
        let session = sessions::create(
            &self.store,
            &row.id,
            SESSION_TTL_MS,
            None,
            None,
            self.now_ms(),
        )
        .await
        .expect("session");
        (row.id, session.token)
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.http.request(method, self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        Reply::read(req.send().await.expect("request")).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(Method::POST, path, token, Some(body)).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(Method::PUT, path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(Method::PATCH, path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(Method::DELETE, path, token, None).await
    }

    /// The newest sign-in code mailed to `email`.
    pub fn code_for(&self, email: &str) -> String {
        let mut files: Vec<_> = std::fs::read_dir(&self.mail_dir)
            .expect("mail dir")
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| {
                std::fs::read_to_string(p)
                    .map(|t| {
                        t.to_lowercase()
                            .contains(&format!("to: {}", email.to_lowercase()))
                    })
                    .unwrap_or(false)
            })
            .collect();
        files.sort();
        let text = std::fs::read_to_string(files.last().expect("a mail for this address"))
            .expect("read mail");
        let start = text.find("code is: ").expect("code line") + "code is: ".len();
        text[start..start + 8].to_string()
    }

    /// Requests a sign-in code (201 expected) and returns it from the mail.
    pub async fn request_code(&self, email: &str) -> String {
        let sent = self
            .post("/auth/verify", None, json!({ "email": email }))
            .await;
        assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.text);
        self.code_for(email)
    }

    /// Requests a code and exchanges it; returns the bearer token.
    pub async fn sign_in(&self, email: &str) -> String {
        let code = self.request_code(email).await;
        let done = self
            .post(
                "/auth/sessions",
                None,
                json!({ "method": "otp", "email": email, "token": code }),
            )
            .await;
        assert_eq!(done.status, StatusCode::CREATED, "{}", done.text);
        done.json["token"].as_str().expect("token").to_string()
    }

    /// Runs raw SQL against the test database (to age codes and sessions).
    pub async fn sql(&self, statement: &str) {
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&self.db_url)
            .await
            .expect("connect");
        conn.execute(statement).await.expect("sql");
    }

    pub async fn sql_i64(&self, query: &str) -> i64 {
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&self.db_url)
            .await
            .expect("connect");
        let (value,): (i64,) = sqlx::query_as(query)
            .fetch_one(&mut conn)
            .await
            .expect("query");
        value
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Reply {
    pub async fn read(resp: reqwest::Response) -> Reply {
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            text,
            json,
        }
    }

    /// Asserts the status and, for errors, the `{code, message}` shape; returns self.
    #[track_caller]
    pub fn expect(self, status: u16) -> Reply {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        if status >= 400 {
            self.assert_error_shape();
        }
        self
    }

    #[track_caller]
    pub fn expect_error(self, status: u16, code: &str) -> Reply {
        let reply = self.expect(status);
        assert_eq!(reply.json["code"], code, "body: {}", reply.text);
        reply
    }

    #[track_caller]
    pub fn assert_error_shape(&self) {
        let obj = self
            .json
            .as_object()
            .unwrap_or_else(|| panic!("error body is not JSON: {}", self.text));
        assert!(
            obj["code"].is_string() && obj["message"].is_string(),
            "{}",
            self.text
        );
        assert_eq!(obj.len(), 2, "{}", self.text);
        let content_type = self
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(
            content_type.starts_with("application/json"),
            "{content_type}"
        );
    }

    pub fn set_cookie(&self) -> Option<String> {
        self.headers
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    }
}

/// Rate limits use fixed windows aligned to the clock; a test that fills one from a server
/// process it cannot move the clock of (a spawned peer) sleeps past the boundary first when
/// it is less than 10 s away, so the window cannot roll over mid-test. In-process servers
/// use [`TestServer::fresh_rate_window`] instead, which moves the clock.
pub async fn fresh_rate_window(window_secs: i64) {
    let now = chrono::Utc::now().timestamp_millis();
    let window_ms = window_secs * 1000;
    let left = window_ms - now.rem_euclid(window_ms);
    if left < 10_000 {
        tokio::time::sleep(Duration::from_millis(left as u64 + 50)).await;
    }
}

impl TestServer {
    /// The server's current time.
    pub fn now_ms(&self) -> i64 {
        use parchment_server::clock::Clock;
        self.clock.now_ms()
    }

    /// Moves the server's clock to the start of the next `window_secs` rate-limit window:
    /// a test then has the whole window to fill it, and nothing sleeps.
    pub fn fresh_rate_window(&self, window_secs: i64) {
        let window_ms = window_secs * 1000;
        let left = window_ms - self.now_ms().rem_euclid(window_ms);
        self.clock.advance(left + 1);
    }
}

/// A km-version commit `body` with its `currentKeySignature`: `current` (the account's signing
/// key) signs the key change the body asks for.
pub fn sign_commit(
    mut body: Value,
    user_id: &str,
    current: &parchment_core::keys::Ed25519SecretKey,
) -> Value {
    use parchment_core::key_change::KeyChange;
    use parchment_core::keys::{Ed25519PublicKey, X25519PublicKey};
    let field = |name: &str| body[name].as_str().unwrap_or_default().to_owned();
    let signing = Ed25519PublicKey::from_base64(&field("signingKey")).expect("signingKey");
    let encryption = X25519PublicKey::from_base64(&field("encryptionKey")).expect("encryptionKey");
    let change = KeyChange {
        user_id,
        expected_current: body["expectedCurrent"].as_u64().unwrap_or(0),
        signing_key: &signing,
        encryption_key: &encryption,
    };
    body["currentKeySignature"] = json!(change.sign(current).to_base64());
    body
}
