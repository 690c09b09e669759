//! Security headers on every response: the web app (`/` and its assets) under a strict
//! Content-Security-Policy, the API (`/users`, `/auth`, …) under one that allows nothing, the
//! Swagger UI (`/docs`) under the inline scripts it needs.
//!
//! The identity seed lives in the WASM memory of the app's page, so injected script is the
//! one way left to it: no inline script, no foreign origin, no framing.

use poem::http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// The web app: its own scripts (and WebAssembly compilation), its own API, images from
/// itself or `data:`/`blob:` URLs (QR codes, map sprites).
pub const APP_CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; \
worker-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; \
frame-ancestors 'none'";

/// JSON and other API answers are never documents: nothing may load from or frame them.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/// poem-openapi's Swagger UI is one page with inline script and style; it talks only to
/// this server.
pub const DOCS_CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; \
style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// What the app uses (geolocation for live location, the camera for QR, WebAuthn), and
/// nothing else.
pub const PERMISSIONS_POLICY: &str = "geolocation=(self), camera=(self), \
publickey-credentials-get=(self), publickey-credentials-create=(self), microphone=(), \
payment=(), usb=(), serial=(), bluetooth=(), hid=(), midi=(), interest-cohort=()";

/// One year, subdomains included: sent only when the public URL is https.
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Which policy a path gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// The web app (everything else).
    App,
    /// The API and `/openapi.json`.
    Api,
    /// The API documentation under `/docs`.
    Docs,
}

impl Surface {
    /// `api_prefixes` are the first path segments the API serves (`/users`, `/auth`, …).
    pub fn of(path: &str, api_prefixes: &[&str]) -> Surface {
        let under = |prefix: &str| {
            path == prefix
                || path
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('/'))
        };
        if under("/docs") {
            Surface::Docs
        } else if under("/openapi.json") || api_prefixes.iter().any(|p| under(p)) {
            Surface::Api
        } else {
            Surface::App
        }
    }

    fn csp(self) -> &'static str {
        match self {
            Surface::App => APP_CSP,
            Surface::Api => API_CSP,
            Surface::Docs => DOCS_CSP,
        }
    }
}

/// The app's policy when the map loads from other origins (the style URL's, and
/// `PARCHMENT_MAP_ORIGINS` for tiles, glyphs and sprites served elsewhere): MapLibre fetches
/// from them and draws sprite images. `None` when there are none (the const policy applies).
pub fn app_csp_with_map(map_origins: &[String]) -> Option<HeaderValue> {
    if map_origins.is_empty() {
        return None;
    }
    let origins = map_origins.join(" ");
    let policy = APP_CSP
        .replace(
            "connect-src 'self'",
            &format!("connect-src 'self' {origins}"),
        )
        .replace("img-src 'self'", &format!("img-src 'self' {origins}"));
    HeaderValue::from_str(&policy).ok()
}

/// Sets the headers a response lacks (a handler that chose its own keeps it). `app_csp`
/// replaces the app's policy (see [`app_csp_with_map`]).
pub fn apply(
    headers: &mut HeaderMap,
    surface: Surface,
    https: bool,
    app_csp: Option<&HeaderValue>,
) {
    if let (Surface::App, Some(policy)) = (surface, app_csp) {
        headers
            .entry(header::CONTENT_SECURITY_POLICY)
            .or_insert_with(|| policy.clone());
    }
    let mut set = |name: HeaderName, value: &'static str| {
        headers
            .entry(name)
            .or_insert_with(|| HeaderValue::from_static(value));
    };
    set(header::CONTENT_SECURITY_POLICY, surface.csp());
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "no-referrer");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    );
    if surface != Surface::Api {
        set(
            HeaderName::from_static("permissions-policy"),
            PERMISSIONS_POLICY,
        );
    }
    if https {
        set(header::STRICT_TRANSPORT_SECURITY, HSTS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFIXES: &[&str] = &["/users", "/auth", "/.well-known", "/federation"];

    #[test]
    fn paths_get_their_surface() {
        assert_eq!(Surface::of("/", PREFIXES), Surface::App);
        assert_eq!(Surface::of("/assets/index-abc.js", PREFIXES), Surface::App);
        assert_eq!(Surface::of("/settings", PREFIXES), Surface::App);
        assert_eq!(Surface::of("/users", PREFIXES), Surface::Api);
        assert_eq!(Surface::of("/users/me/identity", PREFIXES), Surface::Api);
        // A page route that merely starts like an API prefix is the app's.
        assert_eq!(Surface::of("/usersettings", PREFIXES), Surface::App);
        assert_eq!(Surface::of("/openapi.json", PREFIXES), Surface::Api);
        assert_eq!(Surface::of("/docs", PREFIXES), Surface::Docs);
        assert_eq!(Surface::of("/docs/index.html", PREFIXES), Surface::Docs);
    }

    #[test]
    fn headers_are_added_not_overwritten() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
        apply(&mut headers, Surface::App, false, None);
        assert_eq!(headers[header::REFERRER_POLICY], "same-origin");
        assert_eq!(headers[header::CONTENT_SECURITY_POLICY], APP_CSP);
        assert!(!headers.contains_key(header::STRICT_TRANSPORT_SECURITY));
        let mut https = HeaderMap::new();
        apply(&mut https, Surface::Api, true, None);
        assert_eq!(https[header::STRICT_TRANSPORT_SECURITY], HSTS);
        assert_eq!(https[header::CONTENT_SECURITY_POLICY], API_CSP);
        assert!(!https.contains_key("permissions-policy"));
    }

    #[test]
    fn a_map_style_origin_is_allowed_for_the_app_only() {
        let policy = app_csp_with_map(&["https://tiles.example.org".to_owned()]);
        let mut app = HeaderMap::new();
        apply(&mut app, Surface::App, true, policy.as_ref());
        let csp = app[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap_or_default();
        assert!(csp.contains("connect-src 'self' https://tiles.example.org;"));
        assert!(csp.contains("img-src 'self' https://tiles.example.org data: blob:;"));
        assert!(
            csp.contains("script-src 'self' 'wasm-unsafe-eval';"),
            "scripts stay local"
        );
        let mut api = HeaderMap::new();
        apply(&mut api, Surface::Api, true, policy.as_ref());
        assert_eq!(api[header::CONTENT_SECURITY_POLICY], API_CSP);
        assert_eq!(app_csp_with_map(&[]), None);
        let two = app_csp_with_map(&["https://a.example".into(), "https://b.example".into()]);
        let two = two
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(two.contains("connect-src 'self' https://a.example https://b.example;"));
    }
}
