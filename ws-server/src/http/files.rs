//! Files under a directory, served safely: demo pages next to the WebSocket routes.

use std::path::{Component, Path, PathBuf};

use super::{HttpRequest, HttpResponse};

/// Serves the files under a directory: `/` and paths ending in `/` serve `index.html`, a
/// directory without the slash is redirected to it, and the content type follows the extension
/// (`html`, `js`, `css`, `json`, `png`, `svg`, `txt` and a few more; anything else is
/// `application/octet-stream`).
///
/// Safe for a public server: percent-escapes are decoded before checking, and a path with a
/// `..` or `.` segment, a hidden name (starting with `.`), a backslash or NUL is refused with
/// 403; the file found must still be under the directory once symbolic links are resolved
/// (403 otherwise). Files are read whole: this is for pages and scripts, not large downloads.
///
/// Use it through [`ServerBuilder::static_dir`](crate::ServerBuilder::static_dir), or call it
/// from a handler:
///
/// ```no_run
/// use ws_server::http::{HttpRequest, HttpResponse, StaticDir};
/// # async fn run() -> std::io::Result<()> {
/// let files = StaticDir::new("www");
/// let server = ws_server::Server::builder()
///     .bind("127.0.0.1:9001")
///     .http(move |req: HttpRequest| {
///         let files = files.clone();
///         async move {
///             match req.path() {
///                 "/health" => HttpResponse::text("ok"),
///                 _ => files.serve(&req).await,
///             }
///         }
///     })
///     .build()
///     .await?;
/// # let _ = server; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct StaticDir {
    root: PathBuf,
}

impl StaticDir {
    /// The files under `root` (which need not exist yet: until it does, everything is 404).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        StaticDir { root: root.into() }
    }

    /// The response to `req`: the file (200), a refusal (403), a redirect to a directory's
    /// slash, 404 when there is no such file, 405 for methods other than `GET` and `HEAD`.
    pub async fn serve(&self, req: &HttpRequest) -> HttpResponse {
        if !matches!(*req.method(), ::http::Method::GET | ::http::Method::HEAD) {
            return HttpResponse::new(405).header("allow", "GET, HEAD");
        }
        self.lookup(req.path()).await.unwrap_or_else(HttpResponse::not_found)
    }

    /// The response for URL path `path` (undecoded, without the query): the file, a refusal
    /// (403) or a redirect; `None` when there is no such file.
    pub async fn lookup(&self, path: &str) -> Option<HttpResponse> {
        let Some((relative, segments)) = relative_path(path) else {
            return Some(forbidden());
        };
        let root = tokio::fs::canonicalize(&self.root).await.ok()?;
        let mut file = root.join(&relative);
        if tokio::fs::metadata(&file).await.ok()?.is_dir() {
            if !path.ends_with('/') {
                // Relative links in the index need the slash. Built from the checked
                // segments, so never `//host` (another site).
                let location = format!("/{}/", segments.join("/"));
                return Some(HttpResponse::redirect(&location).status(301));
            }
            file.push("index.html");
        }
        let real = tokio::fs::canonicalize(&file).await.ok()?;
        if !real.starts_with(&root) {
            return Some(forbidden());
        }
        if !tokio::fs::metadata(&real).await.ok()?.is_file() {
            return None;
        }
        let body = tokio::fs::read(&real).await.ok()?;
        Some(
            HttpResponse::bytes(content_type(&real), body)
                .header("x-content-type-options", "nosniff"),
        )
    }
}

fn forbidden() -> HttpResponse {
    HttpResponse::text("forbidden").status(403)
}

/// The file path under the root for URL path `path` (`index.html` for a path ending in `/`)
/// and its segments as sent; `None` if a segment is not allowed.
fn relative_path(path: &str) -> Option<(PathBuf, Vec<&str>)> {
    let mut relative = PathBuf::new();
    let mut segments = Vec::new();
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        let name = percent_decode(segment)?;
        let single = {
            let mut parts = Path::new(&name).components();
            matches!((parts.next(), parts.next()), (Some(Component::Normal(_)), None))
        };
        if !single || name.starts_with('.') || name.contains(['/', '\\', '\0']) {
            return None;
        }
        relative.push(name);
        segments.push(segment);
    }
    if path.ends_with('/') || segments.is_empty() {
        relative.push("index.html");
    }
    Some((relative, segments))
}

/// `%XX` escapes decoded; `None` for a malformed escape or a result that is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn content_type(path: &Path) -> &'static str {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "txt" => "text/plain; charset=utf-8",
        "ico" => "image/x-icon",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_stay_inside() {
        let ok = |p: &str| relative_path(p).map(|(r, _)| r);
        assert_eq!(ok("/"), Some(PathBuf::from("index.html")));
        assert_eq!(ok("/a/b.js"), Some(PathBuf::from("a/b.js")));
        assert_eq!(ok("//a//"), Some(PathBuf::from("a/index.html")));
        assert_eq!(ok("/my%20page.html"), Some(PathBuf::from("my page.html")));
        for bad in ["/../x", "/a/../../x", "/%2e%2e/x", "/a%2f..%2fx", "/.env", "/a/./b", "/%00"] {
            assert_eq!(ok(bad), None, "{bad}");
        }
        assert_eq!(ok("/a%5c..%5cx"), None);
        assert_eq!(ok("/%zz"), None);
        assert_eq!(content_type(Path::new("a/B.PNG")), "image/png");
        assert_eq!(content_type(Path::new("a/b")), "application/octet-stream");
    }
}
