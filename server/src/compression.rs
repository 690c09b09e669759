//! gzip for what the server generates (large JSON answers of the API, `/docs`,
//! `/openapi.json`); the web app's files come precompressed from its build (`web_app`).
//!
//! Only answers of at least [`MIN_BYTES`] are compressed, never `/auth/*` (tokens and
//! codes: compression beside attacker-chosen text leaks secrets by length, as in BREACH)
//! and never the push channel (a compressor would hold events back).

use std::io::Write;
use std::sync::Arc;

use poem::IntoResponse as _;

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
/// compressed on its first request, on a blocking thread, not at start-up: the docs page
/// (~2 MB of HTML) and gzipping it and the OpenAPI document took ~45 ms of start-up, and the
/// ~3 MB they hold are never needed by a server whose `/docs` nobody opens. (The document is
/// still generated at start-up once, for the edge's method and body checks, and dropped.)
pub struct Precompressed {
    make: Arc<dyn Fn() -> String + Send + Sync>,
    /// Concurrent first requests wait here for the one that makes it (not on threads).
    bodies: tokio::sync::OnceCell<(bytes::Bytes, bytes::Bytes)>,
    content_type: &'static str,
}

impl Precompressed {
    /// A document `make` writes when it is first asked for.
    pub fn new(
        make: impl Fn() -> String + Send + Sync + 'static,
        content_type: &'static str,
    ) -> Self {
        Precompressed {
            make: Arc::new(make),
            bodies: tokio::sync::OnceCell::new(),
            content_type,
        }
    }

    /// The endpoint that answers with this document.
    pub fn into_endpoint(self) -> impl poem::Endpoint<Output = Response> {
        let document = Arc::new(self);
        poem::endpoint::make(move |req: poem::Request| {
            let document = Arc::clone(&document);
            async move { document.response(req.headers()).await }
        })
    }

    /// The answer for a request with `headers`: 503 if making the document failed (it is
    /// tried again on the next request).
    pub async fn response(&self, headers: &HeaderMap) -> Response {
        let make = Arc::clone(&self.make);
        let made = self
            .bodies
            .get_or_try_init(|| async move {
                // Tens of milliseconds of CPU: on a blocking thread, not an async worker.
                tokio::task::spawn_blocking(move || {
                    let text = make();
                    let gzipped = gzip(text.as_bytes()).into();
                    (text.into(), gzipped)
                })
                .await
            })
            .await;
        let Ok((plain, gzipped)) = made else {
            return crate::error::ApiError::from_status(
                poem::http::StatusCode::SERVICE_UNAVAILABLE,
                "the document could not be generated".to_owned(),
            )
            .into_response();
        };
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
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_document_is_made_once_on_first_use_whoever_asks_at_once() {
        let made = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&made);
        let doc = Arc::new(Precompressed::new(
            move || {
                counter.fetch_add(1, Ordering::SeqCst);
                "x".repeat(10_000)
            },
            "text/plain",
        ));
        assert_eq!(
            made.load(Ordering::SeqCst),
            0,
            "nothing is made before it is asked for"
        );
        let mut gzip_headers = HeaderMap::new();
        gzip_headers.insert(header::ACCEPT_ENCODING, "gzip".parse().unwrap());
        let asks: Vec<_> = (0..16)
            .map(|i| {
                let doc = Arc::clone(&doc);
                let headers = if i % 2 == 0 {
                    gzip_headers.clone()
                } else {
                    HeaderMap::new()
                };
                tokio::spawn(async move { doc.response(&headers).await })
            })
            .collect();
        for (i, ask) in asks.into_iter().enumerate() {
            let response = ask.await.unwrap();
            assert_eq!(response.status(), poem::http::StatusCode::OK);
            let gzipped = response.headers().get(header::CONTENT_ENCODING).is_some();
            assert_eq!(gzipped, i % 2 == 0);
            let body = response.into_body().into_bytes().await.unwrap();
            assert_eq!(body.len() == 10_000, !gzipped);
        }
        assert_eq!(made.load(Ordering::SeqCst), 1);
    }

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
