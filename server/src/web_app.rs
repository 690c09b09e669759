//! `/` and every path the API does not own: the built web app (`--web-dir`), with the
//! single-page fallback to `index.html`.
//!
//! - GET and HEAD (a HEAD answers what GET would, without the body).
//! - Precompressed variants written at build time (`file.br`, `file.gz`, see
//!   `web/scripts/precompress.mjs`) go to browsers that accept them (`Vary: Accept-Encoding`).
//! - Hashed build assets (`/assets/…`) are immutable for a year; everything else (the
//!   `index.html` that names them) is `no-cache`, revalidated by `ETag` (304).

use std::path::{Component, Path, PathBuf};

use poem::http::{header, HeaderMap, Method, StatusCode};
use poem::{Endpoint, Request, Response};

/// The files Vite names by content hash.
const ASSETS: &str = "assets/";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// The web app's files.
pub struct WebApp {
    root: PathBuf,
}

impl WebApp {
    /// Serves `root` (a built `web/dist`).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        WebApp { root: root.into() }
    }

    /// The file a request path names, if it is inside the root (`None` for `..` and the like).
    fn file_for(&self, path: &str) -> Option<(PathBuf, String)> {
        let decoded = percent_decode(path.trim_start_matches('/'))?;
        let relative = Path::new(&decoded);
        if relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return None;
        }
        Some((self.root.join(relative), decoded))
    }
}

impl Endpoint for WebApp {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let head = req.method() == Method::HEAD;
        if !head && req.method() != Method::GET {
            return Ok(Response::builder()
                .status(StatusCode::METHOD_NOT_ALLOWED)
                .header(header::ALLOW, "GET, HEAD")
                .finish());
        }
        let (file, name) = match self.file_for(req.uri().path()) {
            Some((file, name)) if file.is_file() => (file, name),
            // Not a file: a screen of the app (client-side routing).
            Some(_) => (self.root.join("index.html"), "index.html".to_owned()),
            None => return Ok(Response::builder().status(StatusCode::NOT_FOUND).finish()),
        };
        serve(&file, &name, req.headers(), head).await
    }
}

async fn serve(file: &Path, name: &str, headers: &HeaderMap, head: bool) -> poem::Result<Response> {
    let Ok(meta) = tokio::fs::metadata(file).await else {
        return Ok(Response::builder().status(StatusCode::NOT_FOUND).finish());
    };
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    let (path, encoding) = pick_encoding(file, headers).await;
    // One tag per representation: the br, gzip and plain bodies differ (RFC 9110 §8.8.3).
    let etag = format!(
        "\"{:x}-{:x}{}\"",
        meta.len(),
        modified,
        encoding.map_or(String::new(), |e| format!("-{e}"))
    );
    let cache = if name.starts_with(ASSETS) {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    let builder = Response::builder()
        .header(header::CACHE_CONTROL, cache)
        .header(header::ETAG, etag.as_str())
        .header(header::VARY, "Accept-Encoding");
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag))
    {
        return Ok(builder.status(StatusCode::NOT_MODIFIED).finish());
    }
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|_| poem::Error::from_status(StatusCode::NOT_FOUND))?;
    let mut builder = builder
        .content_type(content_type(name))
        .header(header::CONTENT_LENGTH, bytes.len());
    if let Some(encoding) = encoding {
        builder = builder.header(header::CONTENT_ENCODING, encoding);
    }
    Ok(if head {
        builder.finish()
    } else {
        builder.body(bytes)
    })
}

/// The best precompressed variant the client accepts (`br`, then `gzip`), else the file.
async fn pick_encoding(file: &Path, headers: &HeaderMap) -> (PathBuf, Option<&'static str>) {
    for (coding, suffix) in [("br", "br"), ("gzip", "gz")] {
        if crate::compression::accepts(headers, coding) {
            let mut variant = file.as_os_str().to_owned();
            variant.push(".");
            variant.push(suffix);
            let variant = PathBuf::from(variant);
            if tokio::fs::metadata(&variant)
                .await
                .is_ok_and(|m| m.is_file())
            {
                return (variant, Some(coding));
            }
        }
    }
    (file.to_path_buf(), None)
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// `%XX` decoding of a path; `None` for malformed escapes or non-UTF-8 results.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_root() {
        let app = WebApp::new("/srv/web");
        assert_eq!(
            app.file_for("/assets/index-abc.js").map(|(p, _)| p),
            Some(PathBuf::from("/srv/web/assets/index-abc.js"))
        );
        for escape in [
            "/../etc/passwd",
            "/assets/%2e%2e/%2e%2e/x",
            "/a/../../b",
            "/%zz",
        ] {
            assert_eq!(app.file_for(escape), None, "{escape}");
        }
    }

    #[test]
    fn types_of_the_build_output() {
        assert_eq!(content_type("assets/x.wasm"), "application/wasm");
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(
            content_type("assets/w.mjs"),
            "text/javascript; charset=utf-8"
        );
    }
}
