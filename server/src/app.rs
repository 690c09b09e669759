//! The composition root: routes, the OpenAPI service, building the state from the command
//! line, and the server loop. The edge middleware is `edge.rs`, the server key
//! `server_key.rs`, the periodic clean-up `housekeeping.rs`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use poem::http::StatusCode;
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use poem::{Endpoint, EndpointExt, IntoEndpoint, Response, Route};
use poem_openapi::OpenApiService;

use crate::allowed_methods::AllowedMethods;
use crate::api::auth::AuthApi;
use crate::api::blobs::BlobsApi;
use crate::api::config::ConfigApi;
use crate::api::device_transfer::DeviceTransferApi;
use crate::api::devices::DevicesApi;
use crate::api::events::EventsApi;
use crate::api::federation::FederationApi;
use crate::api::friends::FriendsApi;
use crate::api::identity::IdentityApi;
use crate::api::key_slots::KeySlotsApi;
use crate::api::keys::KeysApi;
use crate::api::library::LibraryApi;
use crate::api::location::LocationApi;
use crate::api::revocations::RevocationsApi;
use crate::api::sharing::SharingApi;
use crate::api::users::UsersApi;
use crate::clock::{SharedClock, SystemClock};
use crate::config::ServeArgs;
use crate::edge::Edge;
use crate::service::mail::Mailer;
use crate::service::passkeys::build_webauthn;
use crate::service::rate_limit::RateLimiter;
use crate::service::sessions::SessionCache;
use crate::state::{AppState, Inner, Settings};
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
    "/events",
    "/config",
    "/device-transfer",
    "/sharing",
];

/// Every handler group of the API, as poem-openapi's service takes them.
pub type Api = (
    AuthApi,
    UsersApi,
    IdentityApi,
    KeysApi,
    BlobsApi,
    DevicesApi,
    KeySlotsApi,
    DeviceTransferApi,
    FederationApi,
    // Nested: `Default` (which the service needs) exists for tuples of up to 12.
    (FriendsApi, LocationApi, EventsApi, ConfigApi),
    (LibraryApi, SharingApi),
    RevocationsApi,
);

/// The published document: poem-openapi's, completed (see `openapi_document`).
pub fn openapi_document() -> String {
    crate::openapi_document::complete(&openapi_service().spec())
}

/// The docs page (`/docs`, `parchment-server openapi --html`): Swagger UI with the published
/// document embedded in place of poem's own.
pub fn docs_html() -> String {
    let service = openapi_service();
    service
        .swagger_ui_html()
        .replace(&service.spec(), &openapi_document())
}

/// The OpenAPI service. Independent of configuration so the checked-in document is stable.
pub fn openapi_service() -> OpenApiService<Api, ()> {
    OpenApiService::new(Api::default(), "Parchment", env!("CARGO_PKG_VERSION"))
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
    build_state_with(store, args, data_dir, federation, Arc::new(SystemClock))
}

/// [`build_state`] with a given outbound client (tests inject its name resolver) and clock.
pub fn build_state_with(
    store: Store,
    args: &ServeArgs,
    data_dir: &Path,
    federation: crate::federation::Client,
    clock: SharedClock,
) -> anyhow::Result<AppState> {
    let mailer = Mailer::new(
        args.smtp_url.as_deref(),
        args.mail_from.as_deref(),
        args.mail_dir.clone(),
    )?;
    if matches!(mailer, Mailer::Disabled) {
        tracing::warn!("no mail transport: set PARCHMENT_SMTP_URL or PARCHMENT_MAIL_DIR, or sign-in codes cannot be sent");
    }
    let server_key = crate::server_key::load(args, data_dir)?;
    let settings = Settings {
        public_url: args.public_url.clone(),
        open_registration: args.open_registration,
        trusted_proxies: args.trusted_proxies.clone(),
        federation_allow_http: args.federation_allow_http,
        federation_max_age_ms: i64::try_from(args.federation_max_age_secs.max(60))
            .unwrap_or(i64::MAX / 2_000)
            .saturating_mul(1000),
        map_style_url: match &args.map_style_url {
            Some(url) if !matches!(url.scheme(), "https" | "http") => {
                anyhow::bail!("PARCHMENT_MAP_STYLE_URL must be an http(s) URL")
            }
            other => other.clone(),
        },
        map_origins: args.map_origins.clone(),
    };
    Ok(AppState::new(Inner {
        limiter: RateLimiter::new(store.clone(), args.rate_limits == "on"),
        inbox: crate::federation::inbox::InboxBatcher::new(store.clone(), clock.clone()),
        clock,
        webauthn: build_webauthn(args.public_url.as_ref()),
        store,
        settings,
        mailer,
        server_key,
        session_cache: SessionCache::new(Duration::from_millis(args.session_cache_ms)),
        federation,
        outbox_wake: Arc::new(tokio::sync::Notify::new()),
        push: Arc::default(),
    }))
}

/// The whole HTTP application.
pub fn build_app(state: AppState, args: &ServeArgs) -> impl Endpoint<Output = Response> {
    let service = openapi_service();
    let document = openapi_document();
    // Generated and gzipped once, on first use: the docs page is ~2 MB of HTML.
    let docs = crate::compression::Precompressed::new(docs_html, "text/html; charset=utf-8")
        .into_endpoint();
    let spec = crate::compression::Precompressed::new(openapi_document, "application/json")
        .into_endpoint();
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
        route = route.nest("/", crate::web_app::WebApp::new(dir));
    }
    let spec_text = document;
    let edge = Edge {
        allowed: AllowedMethods::from_spec(&spec_text),
        strict: StrictJson::from_spec(&spec_text),
        state: state.clone(),
        max_body: args.max_body_bytes,
        timeout: Duration::from_secs(args.request_timeout_secs.max(1)),
        app_csp: crate::security_headers::app_csp_with_map(&map_origins(&state.settings)),
    };
    let edge = Arc::new(edge);
    let store = state.store.clone();
    let app = route
        .data(state)
        // poem-openapi reads the cookie security scheme from the cookie jar.
        .with(poem::middleware::CookieJarManager::new())
        .around(move |ep, req| {
            let edge = edge.clone();
            async move { Ok(edge.handle(ep, req).await) }
        });
    // Probes skip the edge: no session, no rate limit, no access log.
    Route::new()
        .at(
            "/healthz",
            poem::endpoint::make_sync(|_| probe(StatusCode::OK, "ok")),
        )
        .at(
            "/readyz",
            poem::endpoint::make(move |_| {
                let store = store.clone();
                async move { readiness(&store).await }
            }),
        )
        .nest("/", app)
}

/// Every origin the map loads from: the style URL's and `PARCHMENT_MAP_ORIGINS`, once each.
fn map_origins(settings: &Settings) -> Vec<String> {
    let mut origins: Vec<String> = Vec::new();
    for url in settings.map_style_url.iter().chain(&settings.map_origins) {
        let origin = url.origin().ascii_serialization();
        if origin != "null" && !origins.contains(&origin) {
            origins.push(origin);
        }
    }
    origins
}

/// `GET /readyz`: 200 when the database answers and is migrated, else 503.
async fn readiness(store: &Store) -> Response {
    match store.ready().await {
        Ok(true) => probe(StatusCode::OK, "ready"),
        Ok(false) => probe(StatusCode::SERVICE_UNAVAILABLE, "migrations pending"),
        Err(err) => {
            tracing::warn!(error = %err, "readiness: database unreachable");
            probe(StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
    }
}

fn probe(status: StatusCode, text: &str) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        .header("cache-control", "no-store")
        .body(serde_json::json!({ "status": text }).to_string())
}

/// A bound, not yet serving, server: tests read the port before serving.
pub struct Bound {
    acceptor: TcpAcceptor,
    /// The address it is bound to (the port the system chose for port 0).
    pub addr: SocketAddr,
}

/// Binds `addr` without serving yet (then [`serve`]).
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
    let housekeeping = tokio::spawn(crate::housekeeping::run(state.clone()));
    // On PostgreSQL, events committed by other replicas wake this one's streams.
    let listener = state.store.spawn_event_listener();
    let metrics = match args.metrics_bind {
        Some(bind) => {
            let handle = crate::metrics::install()?;
            Some(tokio::spawn(crate::metrics::serve(
                bind,
                state.clone(),
                handle,
            )))
        }
        None => None,
    };
    let push = state.push.clone();
    let shutdown = async move {
        shutdown.await;
        push.close_all();
    };
    let worker = args
        .federation_worker
        .then(|| tokio::spawn(crate::service::federation::delivery::worker(&state).run()));
    let app = build_app(state, args);
    tracing::info!(addr = %bound.addr, "listening");
    let result = poem::Server::new_with_acceptor(bound.acceptor)
        .run_with_graceful_shutdown(app.into_endpoint(), shutdown, Some(Duration::from_secs(30)))
        .await;
    housekeeping.abort();
    for task in [listener, metrics].into_iter().flatten() {
        task.abort();
    }
    if let Some(worker) = worker {
        worker.abort();
    }
    result.context("server failed")
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
