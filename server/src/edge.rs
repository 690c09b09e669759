//! The edge middleware every request passes: body limit, strict JSON types, the session
//! (bearer token, or cookie under the `Origin` CSRF rule), the client address, 405 with
//! `Allow`, security headers and the access log. Errors are mapped to JSON problems here.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use poem::http::{header, HeaderValue, Method, StatusCode};
use poem::{Body, Endpoint, IntoResponse, Request, Response};
use tokio::io::AsyncReadExt;
use tracing::Instrument;

use crate::allowed_methods::AllowedMethods;
use crate::api::ClientIp;
use crate::app::API_PREFIXES;
use crate::error::{ApiError, AppError};
use crate::security_headers::{self, Surface};
use crate::service::sessions;
use crate::state::{AppState, Settings};
use crate::strict_json::StrictJson;

/// The middleware's configuration, built once per app.
pub struct Edge {
    /// What handlers reach.
    pub state: AppState,
    /// The document's methods per path (405 with `Allow`).
    pub allowed: AllowedMethods,
    /// The document's JSON body types (422 for a wrong type).
    pub strict: StrictJson,
    /// Largest request body.
    pub max_body: usize,
    /// Longest a handler may take.
    pub timeout: Duration,
    /// The app's Content-Security-Policy when it differs from the default (a map style
    /// origin is configured).
    pub app_csp: Option<HeaderValue>,
}

impl Edge {
    /// Runs `ep` for `req` inside the edge's checks.
    pub async fn handle<E: Endpoint>(&self, ep: Arc<E>, mut req: Request) -> Response {
        let ip = client_address(&req, &self.state.settings.trusted_proxies);
        let span = tracing::info_span!(
            "request",
            method = %req.method(),
            path = %req.uri().path(),
            client = %ip,
        );
        let surface = Surface::of(req.uri().path(), API_PREFIXES);
        let (method, path) = (req.method().clone(), req.uri().path().to_owned());
        let gzip = surface == Surface::Api
            && crate::compression::accepts_gzip(req.headers())
            && crate::compression::compressible_path(&path);
        async move {
            let started = std::time::Instant::now();
            req.extensions_mut().insert(ClientIp(ip));
            // The body is read here: under the same time limit as the handler, so a client
            // that trickles its body cannot hold a buffer and a connection for ever.
            let prepared = tokio::time::timeout(self.timeout, self.prepare(&mut req))
                .await
                .unwrap_or_else(|_| {
                    Err(ApiError::from_status(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "The request body took too long".into(),
                    ))
                });
            let response = match prepared {
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
            if gzip {
                response = crate::compression::compress_json(response).await;
            }
            security_headers::apply(
                response.headers_mut(),
                surface,
                self.state.settings.cookie_secure(),
                self.app_csp.as_ref(),
            );
            let status = response.status();
            let elapsed = started.elapsed().as_secs_f64();
            crate::metrics::record_request(
                self.allowed.template(&path).unwrap_or(match surface {
                    Surface::App => "app",
                    _ => "unknown",
                }),
                method.as_str(),
                status.as_u16(),
                elapsed,
            );
            let elapsed_ms = elapsed * 1000.0;
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
        let body = self.buffer_body(req).await?;
        self.check_json_types(req, body)?;
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
    /// (see `strict_json`).
    fn check_json_types(&self, req: &Request, body: Option<bytes::Bytes>) -> Result<(), ApiError> {
        let is_json = req
            .header(header::CONTENT_TYPE)
            .is_some_and(|v| v.starts_with("application/json"));
        let Some(buf) = body.filter(|_| is_json) else {
            return Ok(());
        };
        if !self.strict.has_schema(req.method(), req.uri().path()) {
            return Ok(());
        }
        self.strict
            .check(req.method(), req.uri().path(), &buf)
            .map_err(|message| ApiError::from(AppError::Validation { message }))
    }

    /// Reads the whole request body (at most the limit) before anything answers, and puts
    /// it back for the handler: an answer sent while body bytes are still unread makes the
    /// connection close with data pending, and the TCP reset that follows can destroy the
    /// answer on its way (seen behind Caddy as 502s for 401/422). Over the limit: 413, once
    /// what follows is drained (see [`Edge::drain`]). `None` when there is no body.
    async fn buffer_body(&self, req: &mut Request) -> Result<Option<bytes::Bytes>, ApiError> {
        let declared = req
            .header(header::CONTENT_LENGTH)
            .and_then(|v| v.parse::<u64>().ok());
        let chunked = req.headers().contains_key(header::TRANSFER_ENCODING);
        match declared {
            Some(0) => return Ok(None),
            None if !chunked => return Ok(None),
            Some(len) if len > self.max_body as u64 => {
                self.drain(req.take_body(), len).await;
                return Err(too_large());
            }
            _ => {}
        }
        let mut reader = req.take_body().into_async_read();
        let mut buf = Vec::new();
        (&mut reader)
            .take(self.max_body as u64 + 1)
            .read_to_end(&mut buf)
            .await
            .map_err(|e| ApiError::from_status(StatusCode::BAD_REQUEST, e.to_string()))?;
        if buf.len() > self.max_body {
            self.drain(Body::from_async_read(reader), u64::MAX).await;
            return Err(too_large());
        }
        let buf = bytes::Bytes::from(buf);
        req.set_body(Body::from(buf.clone()));
        Ok(Some(buf))
    }

    /// Reads and discards an over-limit body, up to [`DRAIN_FACTOR`] times the limit and
    /// [`DRAIN_TIME`]: the 413 then reaches a client that sent a moderately large body
    /// (HTTP's lingering close, as nginx does). Beyond that the connection is dropped.
    async fn drain(&self, body: Body, declared: u64) {
        let cap = (self.max_body as u64).saturating_mul(DRAIN_FACTOR);
        if declared != u64::MAX && declared > cap {
            return;
        }
        let mut sink = tokio::io::sink();
        let mut reader = body.into_async_read().take(cap);
        let _ = tokio::time::timeout(DRAIN_TIME, tokio::io::copy(&mut reader, &mut sink)).await;
    }
}

/// How much more than the body limit is read and thrown away before a 413.
const DRAIN_FACTOR: u64 = 4;
/// How long at most.
const DRAIN_TIME: Duration = Duration::from_secs(5);

fn too_large() -> ApiError {
    ApiError::from_status(StatusCode::PAYLOAD_TOO_LARGE, String::new())
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
        .find(|(name, _)| *name == sessions::SESSION_COOKIE)
        .map(|(_, value)| value.to_string())?;
    let safe_method = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe_method && !origin_allowed(req, settings) {
        return None;
    }
    Some((token, true))
}

fn origin_allowed(req: &Request, settings: &Settings) -> bool {
    let Some(origin) = req.header(header::ORIGIN) else {
        return false;
    };
    match settings.public_origin() {
        Some(public) => origin == public,
        // Without a configured public URL the request's own host is the origin to match.
        None => req.header(header::HOST).is_some_and(|host| {
            origin
                .split_once("://")
                .is_some_and(|(_, rest)| rest == host)
        }),
    }
}

/// The peer address, or the nearest untrusted `X-Forwarded-For` hop when the peer is a
/// configured proxy.
fn client_address(req: &Request, trusted: &[IpAddr]) -> String {
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
