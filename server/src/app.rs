//! Routes, the OpenAPI service, the edge middleware (request span, client address, body
//! limit, time limit, session resolution, error shape, security headers) and the server loop.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use parchment_core::keys::Ed25519SecretKey;
use parchment_core::rand_core::OsRng;
use poem::endpoint::StaticFilesEndpoint;
use poem::http::{header, Method, StatusCode};
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use poem::{Body, Endpoint, EndpointExt, IntoEndpoint, IntoResponse, Request, Response, Route};
use poem_openapi::OpenApiService;
use tokio::io::AsyncReadExt;
use tracing::Instrument;

use crate::allowed_methods::AllowedMethods;
use crate::api::auth::AuthApi;
use crate::api::federation::FederationApi;
use crate::api::friends::FriendsApi;
use crate::api::identity::IdentityApi;
use crate::api::keys::KeysApi;
use crate::api::library::LibraryApi;
use crate::api::revocations::RevocationsApi;
use crate::api::users::UsersApi;
use crate::api::ClientIp;
use crate::config::ServeArgs;
use crate::error::{ApiError, AppError};
use crate::security_headers::{self, Surface};
use crate::service::mail::Mailer;
use crate::service::passkeys::build_webauthn;
use crate::service::rate_limit::RateLimiter;
use crate::service::sessions::{self, SessionCache, SESSION_COOKIE};
use crate::service::{now_ms, AppState, Inner, Settings};
use crate::store::Store;
use crate::strict_json::StrictJson;

/// Path prefixes the API owns; everything else is the web app (when configured).
pub const API_PREFIXES: &[&str] = &[
    "/auth",
    "/users",
    "/.well-known",
    "/federation",
    "/friends",
    "/library",
];

pub type Api = (
    AuthApi,
    UsersApi,
    IdentityApi,
    KeysApi,
    FederationApi,
    FriendsApi,
    LibraryApi,
    RevocationsApi,
);

/// The published document: poem-openapi's, completed (see `openapi_document`).
pub fn openapi_document() -> String {
    crate::openapi_document::complete(&openapi_service().spec())
}

/// The OpenAPI service. Independent of configuration so the checked-in document is stable.
pub fn openapi_service() -> OpenApiService<Api, ()> {
    OpenApiService::new(
        (
            AuthApi,
            UsersApi,
            IdentityApi,
            KeysApi,
            FederationApi,
            FriendsApi,
            LibraryApi,
            RevocationsApi,
        ),
        "Parchment",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Self-hostable end-to-end-encrypted identity and federation server. Every error \
             is JSON `{\"code\", \"message\"}` with its status. Sign in with an emailed code \
             (`POST /auth/verify`, then `POST /auth/sessions`) or a passkey; send the session \
             token as `Authorization: Bearer` or let the browser keep the cookie.",
    )
    .server("/")
}

/// Resolves configuration into the shared state (mailer, passkeys, server key).
pub fn build_state(store: Store, args: &ServeArgs, data_dir: &Path) -> anyhow::Result<AppState> {
    let federation = crate::federation::Client::new(args.federation_allow_http)?;
    build_state_with(store, args, data_dir, federation)
}

/// [`build_state`] with a given outbound client (tests inject its name resolver).
pub fn build_state_with(
    store: Store,
    args: &ServeArgs,
    data_dir: &Path,
    federation: crate::federation::Client,
) -> anyhow::Result<AppState> {
    let mailer = Mailer::new(
        args.smtp_url.as_deref(),
        args.mail_from.as_deref(),
        args.mail_dir.clone(),
    )?;
    if matches!(mailer, Mailer::Disabled) {
        tracing::warn!("no mail transport: set PARCHMENT_SMTP_URL or PARCHMENT_MAIL_DIR, or sign-in codes cannot be sent");
    }
    let server_key = load_server_key(args, data_dir)?;
    let settings = Settings {
        public_url: args.public_url.clone(),
        open_registration: args.open_registration,
        trusted_proxies: args.trusted_proxies.clone(),
        federation_allow_http: args.federation_allow_http,
        federation_max_age_ms: i64::try_from(args.federation_max_age_secs.max(60))
            .unwrap_or(i64::MAX / 2_000)
            .saturating_mul(1000),
    };
    Ok(AppState::new(Inner {
        limiter: RateLimiter::new(store.clone(), args.rate_limits == "on"),
        inbox: crate::federation::inbox::InboxBatcher::new(store.clone()),
        webauthn: build_webauthn(args.public_url.as_ref()),
        store,
        settings,
        mailer,
        server_key,
        session_cache: SessionCache::new(Duration::from_millis(args.session_cache_ms)),
        federation,
        outbox_wake: tokio::sync::Notify::new(),
    }))
}

/// `PARCHMENT_SERVER_KEY` wins; otherwise the key file, created (mode 0600) when absent.
fn load_server_key(args: &ServeArgs, data_dir: &Path) -> anyhow::Result<Ed25519SecretKey> {
    if let Some(text) = &args.server_key {
        return Ed25519SecretKey::from_base64(text.trim())
            .map_err(|e| anyhow::anyhow!("PARCHMENT_SERVER_KEY is not a base64 Ed25519 key: {e}"));
    }
    let path: PathBuf = args
        .server_key_file
        .clone()
        .unwrap_or_else(|| data_dir.join("server.key"));
    match std::fs::read_to_string(&path) {
        Ok(text) => Ed25519SecretKey::from_base64(text.trim())
            .map_err(|e| anyhow::anyhow!("{} is not a base64 Ed25519 key: {e}", path.display())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let key = Ed25519SecretKey::generate(&mut OsRng);
            write_private(&path, key.export_base64().as_bytes())
                .with_context(|| format!("creating server key {}", path.display()))?;
            tracing::info!(path = %path.display(), public_key = %key.public_key().to_base64(), "created server key");
            Ok(key)
        }
        Err(err) => Err(err).with_context(|| format!("reading server key {}", path.display())),
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(parent) = path.parent() {
        crate::store::private_files::create_private_dir(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.write_all(b"\n")
}

/// The whole HTTP application.
pub fn build_app(state: AppState, args: &ServeArgs) -> impl Endpoint<Output = Response> {
    let service = openapi_service();
    let document = openapi_document();
    // Swagger UI embeds the document: swap poem's for the completed one.
    let docs_html = service
        .swagger_ui_html()
        .replace(&service.spec(), &document);
    let docs = poem::endpoint::make_sync(move |_| poem::web::Html(docs_html.clone()));
    let spec_body = document.clone();
    let spec = poem::endpoint::make_sync(move |_| {
        Response::builder()
            .content_type("application/json")
            .body(spec_body.clone())
    });
    // `/users/` is `/users`: the published examples call the API with a trailing slash.
    let api = Arc::new(
        service
            .into_endpoint()
            .with(poem::middleware::NormalizePath::new(
                poem::middleware::TrailingSlash::Trim,
            )),
    );
    let mut route = Route::new();
    for prefix in API_PREFIXES {
        route = route.nest_no_strip(*prefix, api.clone());
    }
    route = route.nest("/docs", docs).at("/openapi.json", spec);
    if let Some(dir) = args.web_dir.as_ref().filter(|d| d.is_dir()) {
        route = route.nest(
            "/",
            StaticFilesEndpoint::new(dir)
                .index_file("index.html")
                .fallback_to_index(),
        );
    }
    let spec_text = document;
    let edge = Edge {
        allowed: AllowedMethods::from_spec(&spec_text),
        strict: StrictJson::from_spec(&spec_text),
        state: state.clone(),
        max_body: args.max_body_bytes,
        timeout: Duration::from_secs(args.request_timeout_secs.max(1)),
    };
    let edge = Arc::new(edge);
    route
        .data(state)
        // poem-openapi reads the cookie security scheme from the cookie jar.
        .with(poem::middleware::CookieJarManager::new())
        .around(move |ep, req| {
            let edge = edge.clone();
            async move { Ok(edge.handle(ep, req).await) }
        })
}

struct Edge {
    state: AppState,
    allowed: AllowedMethods,
    strict: StrictJson,
    max_body: usize,
    timeout: Duration,
}

impl Edge {
    async fn handle<E: Endpoint>(&self, ep: Arc<E>, mut req: Request) -> Response {
        let ip = client_ip(&req, &self.state.settings.trusted_proxies);
        let span = tracing::info_span!(
            "request",
            method = %req.method(),
            path = %req.uri().path(),
            client = %ip,
        );
        let surface = Surface::of(req.uri().path(), API_PREFIXES);
        let (method, path) = (req.method().clone(), req.uri().path().to_owned());
        async move {
            let started = std::time::Instant::now();
            req.extensions_mut().insert(ClientIp(ip));
            let response = match self.prepare(&mut req).await {
                Ok(refresh_cookie) => {
                    let mut response = match tokio::time::timeout(self.timeout, ep.call(req)).await
                    {
                        Ok(Ok(output)) => output.into_response(),
                        Ok(Err(err)) => error_response(err),
                        Err(_) => ApiError::from_status(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "The request took too long".into(),
                        )
                        .into_response(),
                    };
                    if let Some(cookie) = refresh_cookie {
                        if !response.headers().contains_key(header::SET_COOKIE) {
                            if let Ok(value) = cookie.parse() {
                                response.headers_mut().append(header::SET_COOKIE, value);
                            }
                        }
                    }
                    response
                }
                Err(err) => err.into_response(),
            };
            let mut response = self.method_not_allowed(&method, &path, response);
            security_headers::apply(
                response.headers_mut(),
                surface,
                self.state.settings.cookie_secure(),
            );
            let status = response.status();
            let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
            if status.is_server_error() {
                tracing::warn!(status = status.as_u16(), elapsed_ms, "request failed");
            } else {
                tracing::debug!(status = status.as_u16(), elapsed_ms, "request done");
            }
            response
        }
        .instrument(span)
        .await
    }

    /// A path the API serves, asked with a method it does not answer: 405 with `Allow`
    /// (the router says 404 or 405 without naming the methods).
    fn method_not_allowed(&self, method: &Method, path: &str, response: Response) -> Response {
        let status = response.status();
        if status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED {
            return response;
        }
        let Some(allow) = self.allowed.allow(path) else {
            return response;
        };
        if allow.split(", ").any(|m| m == method.as_str()) {
            return response; // the operation itself answered 404
        }
        let mut response = ApiError::method_not_allowed().into_response();
        if let Ok(value) = allow.parse() {
            response.headers_mut().insert(header::ALLOW, value);
        }
        response
    }

    /// Body limit and session resolution. Returns a cookie to re-issue when a cookie
    /// session was extended.
    async fn prepare(&self, req: &mut Request) -> Result<Option<String>, ApiError> {
        self.limit_body(req).await?;
        self.check_json_types(req).await?;
        let Some((token, via_cookie)) = session_token(req, &self.state.settings) else {
            return Ok(None);
        };
        let resolved = sessions::resolve(&self.state, &token, via_cookie)
            .await
            .map_err(ApiError::from)?;
        let Some(resolved) = resolved else {
            return Ok(None);
        };
        let refresh = (resolved.refreshed && via_cookie)
            .then(|| sessions::cookie_header(&self.state, &token, sessions::SESSION_TTL_MS / 1000));
        req.extensions_mut().insert(resolved.principal);
        Ok(refresh)
    }

    /// A JSON body whose values have other JSON types than the document declares is 422
    /// (see `strict_json`). The body is read here (within the limit just checked) and put
    /// back for the handler.
    async fn check_json_types(&self, req: &mut Request) -> Result<(), ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !is_json || !self.strict.has_schema(req.method(), req.uri().path()) {
            return Ok(());
        }
        let mut buf = Vec::new();
        req.take_body()
            .into_async_read()
            .take(self.max_body as u64 + 1)
            .read_to_end(&mut buf)
            .await
            .map_err(|e| ApiError::from_status(StatusCode::BAD_REQUEST, e.to_string()))?;
        if buf.len() > self.max_body {
            return Err(ApiError::from_status(
                StatusCode::PAYLOAD_TOO_LARGE,
                String::new(),
            ));
        }
        let checked = self.strict.check(req.method(), req.uri().path(), &buf);
        req.set_body(Body::from(buf));
        checked.map_err(|message| ApiError::from(AppError::Validation { message }))
    }

    /// Rejects bodies over the limit: by `Content-Length`, or by reading a chunked body up
    /// to the limit.
    async fn limit_body(&self, req: &mut Request) -> Result<(), ApiError> {
        let too_large = || ApiError::from_status(StatusCode::PAYLOAD_TOO_LARGE, String::new());
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        match declared {
            Some(len) if len > self.max_body as u64 => Err(too_large()),
            Some(_) => Ok(()),
            None if req.headers().contains_key(header::TRANSFER_ENCODING) => {
                let mut buf = Vec::new();
                req.take_body()
                    .into_async_read()
                    .take(self.max_body as u64 + 1)
                    .read_to_end(&mut buf)
                    .await
                    .map_err(|e| ApiError::from_status(StatusCode::BAD_REQUEST, e.to_string()))?;
                if buf.len() > self.max_body {
                    return Err(too_large());
                }
                req.set_body(Body::from(buf));
                Ok(())
            }
            None => Ok(()),
        }
    }
}

/// Handler errors already carry our JSON body (poem-openapi turns `ApiError` into a
/// `poem::Error` holding the response); anything else (unknown route, wrong method) is
/// mapped to the same shape here.
fn error_response(err: poem::Error) -> Response {
    let status = err.status();
    let detail = err.to_string();
    let response = err.into_response();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        response
    } else {
        ApiError::from_status(status, detail).into_response()
    }
}

/// The session token of a request: a bearer header wins; a cookie counts for writes only
/// when `Origin` is our own (CSRF), otherwise the request is anonymous.
fn session_token(req: &Request, settings: &Settings) -> Option<(String, bool)> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let value = value.to_str().ok()?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))?;
        return Some((token.trim().to_string(), false));
    }
    let token = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_string())?;
    let safe_method = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe_method && !origin_allowed(req, settings) {
        return None;
    }
    Some((token, true))
}

fn origin_allowed(req: &Request, settings: &Settings) -> bool {
    let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    match settings.public_origin() {
        Some(public) => origin == public,
        // Without a configured public URL the request's own host is the origin to match.
        None => req
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|host| {
                origin
                    .split_once("://")
                    .is_some_and(|(_, rest)| rest == host)
            }),
    }
}

/// The peer address, or the nearest untrusted `X-Forwarded-For` hop when the peer is a
/// configured proxy.
fn client_ip(req: &Request, trusted: &[IpAddr]) -> String {
    let peer = req
        .remote_addr()
        .as_socket_addr()
        .map(|addr| addr.ip().to_canonical());
    let Some(peer) = peer else {
        return "unknown".into();
    };
    if !trusted.contains(&peer) {
        return peer.to_string();
    }
    let forwarded: Vec<IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse().ok())
        .collect();
    forwarded
        .iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .unwrap_or(&peer)
        .to_string()
}

/// A bound, not yet serving, server: tests read the port before serving.
pub struct Bound {
    acceptor: TcpAcceptor,
    pub addr: SocketAddr,
}

pub async fn bind(addr: SocketAddr) -> anyhow::Result<Bound> {
    let acceptor = TcpListener::bind(addr)
        .into_acceptor()
        .await
        .with_context(|| format!("binding {addr}"))?;
    let local = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .unwrap_or(addr);
    Ok(Bound {
        acceptor,
        addr: local,
    })
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish (up to 30 s).
pub async fn serve(
    bound: Bound,
    state: AppState,
    args: &ServeArgs,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let housekeeping = tokio::spawn(housekeeping(state.clone()));
    let worker = args
        .federation_worker
        .then(|| tokio::spawn(crate::federation::outbox::worker(state.clone())));
    let app = build_app(state, args);
    tracing::info!(addr = %bound.addr, "listening");
    let result = poem::Server::new_with_acceptor(bound.acceptor)
        .run_with_graceful_shutdown(app.into_endpoint(), shutdown, Some(Duration::from_secs(30)))
        .await;
    housekeeping.abort();
    if let Some(worker) = worker {
        worker.abort();
    }
    result.context("server failed")
}

/// Deletes expired sessions, codes, challenges, old rate-limit windows and federation
/// replay memory past its window, and expires invitations, every 5 minutes (transport
/// nonces live 600 s, so a replay is caught for 600-900 s).
async fn housekeeping(state: AppState) {
    let period = Duration::from_secs(300);
    // The first round one period after start, not at once: start-up stays quick.
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        tick.tick().await;
        let now = now_ms();
        if let Err(err) = state
            .store
            .delete_expired(now, now - 24 * 3600 * 1000)
            .await
        {
            tracing::warn!(error = %err, "housekeeping failed");
        }
        let federation = async {
            state
                .store
                .prune_federation(
                    now - crate::service::federation::TRANSPORT_NONCE_TTL_MS,
                    now - state.settings.federation_max_age_ms
                        - crate::service::federation::TRANSPORT_NONCE_TTL_MS,
                    now - crate::federation::outbox::RETENTION_MS,
                )
                .await?;
            state.store.expire_invitations(now).await
        };
        if let Err(err) = federation.await {
            tracing::warn!(error = %err, "federation housekeeping failed");
        }
    }
}

/// Resolves on ctrl-c or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down; finishing in-flight requests");
}
