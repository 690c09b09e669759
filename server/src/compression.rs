//! gzip for what the server generates (large JSON answers of the API, `/docs`,
//! `/openapi.json`); the web app's files come precompressed from its build (`web_app`).
//!
//! Only answers of at least [`MIN_BYTES`] are compressed, never `/auth/*` (tokens and
//! codes: compression beside attacker-chosen text leaks secrets by length, as in BREACH)
//! and never the push channel (a compressor would hold events back).

use std::io::Write;
use std::sync::{Arc, OnceLock};

use flate2::write::GzEncoder;
use poem::http::{header, HeaderMap};
use poem::Response;

/// Smaller answers gain too little to be worth the CPU.
pub const MIN_BYTES: usize = 8 * 1024;

/// Whether the client takes `gzip` (and does not refuse it with `q=0`).
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    accepts(headers, "gzip")
}

/// Whether `Accept-Encoding` allows `coding`: named, or `*`, without `q=0`.
pub fn accepts(headers: &HeaderMap, coding: &str) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q == 0.0))
            });
            (name.eq_ignore_ascii_case(coding) || name == "*") && !refused
        })
}

/// gzip (level 6) of `bytes`.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4),
        flate2::Compression::default(),
    );
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

/// Whether an API answer to `path` may be compressed at all.
pub fn compressible_path(path: &str) -> bool {
    !(path == "/auth" || path.starts_with("/auth/") || path == "/events")
}

/// Compresses a JSON answer of at least [`MIN_BYTES`] (others are returned as they are).
pub async fn compress_json(mut response: Response) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json || response.headers().contains_key(header::CONTENT_ENCODING) {
        return response;
    }
    let Ok(bytes) = response.take_body().into_bytes().await else {
        return response;
    };
    if bytes.len() < MIN_BYTES {
        response.set_body(bytes);
        return response;
    }
    let compressed = gzip(&bytes);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_ENCODING,
        header::HeaderValue::from_static("gzip"),
    );
    headers.append(
        header::VARY,
        header::HeaderValue::from_static("Accept-Encoding"),
    );
    headers.remove(header::CONTENT_LENGTH);
    response.set_body(compressed);
    response
}

/// A generated document served as is or gzipped, whichever the client takes. Made and
/// compressed on its first request, off the async workers, not at start-up: the docs page
/// (~2 MB of HTML) and the OpenAPI document took ~45 ms of start-up and ~2.5 MB of memory
/// that a server whose `/docs` nobody opens never needs.
pub struct Precompressed {
    make: Box<dyn Fn() -> String + Send + Sync>,
    bodies: OnceLock<(bytes::Bytes, bytes::Bytes)>,
    content_type: &'static str,
}

impl Precompressed {
    /// A document `make` writes when it is first asked for.
    pub fn new(
        make: impl Fn() -> String + Send + Sync + 'static,
        content_type: &'static str,
    ) -> Self {
        Precompressed {
            make: Box::new(make),
            bodies: OnceLock::new(),
            content_type,
        }
    }

    /// The plain and the gzipped body, made once.
    fn bodies(&self) -> &(bytes::Bytes, bytes::Bytes) {
        self.bodies.get_or_init(|| {
            let text = (self.make)();
            let gzipped = gzip(text.as_bytes()).into();
            (text.into(), gzipped)
        })
    }

    /// The answer for a request with `headers`.
    pub async fn response(self: Arc<Self>, headers: &HeaderMap) -> Response {
        if self.bodies.get().is_none() {
            // Tens of milliseconds of CPU: on a blocking thread, not an async worker.
            let this = Arc::clone(&self);
            let _ = tokio::task::spawn_blocking(move || {
                this.bodies();
            })
            .await;
        }
        let (plain, gzipped) = self.bodies();
        let builder = Response::builder()
            .content_type(self.content_type)
            .header(header::VARY, "Accept-Encoding")
            .header(header::CACHE_CONTROL, "no-cache");
        if accepts_gzip(headers) {
            builder
                .header(header::CONTENT_ENCODING, "gzip")
                .body(gzipped.clone())
        } else {
            builder.body(plain.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_negotiated() {
        let mut headers = HeaderMap::new();
        assert!(!accepts_gzip(&headers));
        headers.insert(
            header::ACCEPT_ENCODING,
            "br, gzip;q=0.8"
                .parse()
                .unwrap_or(header::HeaderValue::from_static("")),
        );
        assert!(accepts_gzip(&headers));
        headers.insert(
            header::ACCEPT_ENCODING,
            header::HeaderValue::from_static("gzip;q=0, br"),
        );
        assert!(!accepts_gzip(&headers));
        assert!(!compressible_path("/auth/sessions"));
        assert!(!compressible_path("/events"));
        assert!(compressible_path("/users"));
    }
}
