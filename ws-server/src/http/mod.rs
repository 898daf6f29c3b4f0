//! HTTP on the WebSocket port, served by hyper (feature `http`, on by default).
//!
//! A server with an HTTP side ([`ServerBuilder::http`], [`ServerBuilder::http_service`],
//! [`ServerBuilder::static_dir`]) answers every request that is not a WebSocket upgrade to one
//! of its routes with hyper: keep-alive, chunked bodies and pipelining are hyper's. An upgrade
//! that arrives later on such a connection still reaches its route, with the same origin
//! policy, caps, upgrade hook and negotiation as a first request. A connection whose first
//! request is an upgrade to a route never goes through hyper.
//!
//! ```no_run
//! use ws_server::http::{HttpRequest, HttpResponse};
//! use ws_server::{Route, Server};
//!
//! # async fn run() -> std::io::Result<()> {
//! async fn api(mut req: HttpRequest) -> HttpResponse {
//!     match (req.method().as_str(), req.path()) {
//!         ("POST", "/notes") => match req.body().await {
//!             Ok(body) => HttpResponse::text(format!("{} bytes stored", body.len())).status(201),
//!             Err(e) => e.into(), // 413 past the limit
//!         },
//!         ("GET", "/old") => HttpResponse::redirect("/"),
//!         _ => HttpResponse::not_found(),
//!     }
//! }
//!
//! Server::builder()
//!     .bind("127.0.0.1:9001")
//!     .route("/ws", Route::new().on_message(|conn, msg| drop(conn.send(msg))))
//!     .static_dir("www") // GET / serves www/index.html
//!     .http(api) // what the directory does not have
//!     .max_body_size(64 << 10)
//!     .build()
//!     .await?
//!     .serve()
//!     .await
//! # }
//! ```

mod files;
mod serve;

use std::fmt;
use std::future::{Future, poll_fn};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;

pub use files::StaticDir;
#[cfg(feature = "axum")]
pub(crate) use serve::upgrade;

use crate::route::BoxFuture;
use crate::server::Fallback;
use crate::{PeerAddr, ServerBuilder, ServerHandle};

/// Errors of bodies and services, boxed.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body type of [`HttpResponse`]: any body, boxed.
pub type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;

/// The request body limit when none is set: 1 MiB.
pub const DEFAULT_MAX_BODY_SIZE: usize = 1 << 20;

/// An HTTP request as a [`ServerBuilder::http`] handler sees it: method, URI, headers, the
/// peer's address, and the body, read with a size limit.
pub struct HttpRequest {
    head: ::http::request::Parts,
    body: Option<Incoming>,
    peer: PeerAddr,
    max_body: usize,
    server: ServerHandle,
}

impl HttpRequest {
    fn new(
        request: ::http::Request<Incoming>,
        peer: PeerAddr,
        max_body: usize,
        server: ServerHandle,
    ) -> Self {
        let (head, body) = request.into_parts();
        HttpRequest { head, body: Some(body), peer, max_body, server }
    }

    /// The server answering: publish to its WebSocket connections, count them, read its
    /// metrics.
    pub fn server(&self) -> &ServerHandle {
        &self.server
    }

    /// The method.
    pub fn method(&self) -> &::http::Method {
        &self.head.method
    }

    /// The request target.
    pub fn uri(&self) -> &::http::Uri {
        &self.head.uri
    }

    /// The path, without the query (undecoded).
    pub fn path(&self) -> &str {
        self.head.uri.path()
    }

    /// The query (after `?`), if any, undecoded.
    pub fn query(&self) -> Option<&str> {
        self.head.uri.query()
    }

    /// The value of the first query parameter `name` (`a=1&b=2`), undecoded.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query()?.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then_some(v)
        })
    }

    /// Every header.
    pub fn headers(&self) -> &::http::HeaderMap {
        &self.head.headers
    }

    /// The first value of header `name` (case-insensitive), if it is visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.headers.get(name)?.to_str().ok()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> &PeerAddr {
        &self.peer
    }

    /// The whole body, up to the server's limit ([`ServerBuilder::max_body_size`], default
    /// 1 MiB): past it, [`BodyError::TooLarge`] (whose response is 413). A body announced
    /// larger than the limit is refused before any of it is read. Once read (or refused), the
    /// body is gone: a second call returns it empty.
    pub async fn body(&mut self) -> Result<Bytes, BodyError> {
        self.body_with_limit(self.max_body).await
    }

    /// [`body`](Self::body) with another limit, in bytes.
    pub async fn body_with_limit(&mut self, limit: usize) -> Result<Bytes, BodyError> {
        let Some(body) = self.body.take() else { return Ok(Bytes::new()) };
        let announced = self.header("content-length").and_then(|v| v.parse::<u64>().ok());
        if announced.is_some_and(|len| len > limit as u64) {
            return Err(BodyError::TooLarge { limit });
        }
        match Limited::new(body, limit).collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(e) if e.is::<LengthLimitError>() => Err(BodyError::TooLarge { limit }),
            Err(e) => Err(BodyError::Read(e)),
        }
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRequest")
            .field("method", &self.head.method)
            .field("uri", &self.head.uri)
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

/// Why a request body could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum BodyError {
    /// The body is larger than the limit (in bytes). Its response is 413, and the connection
    /// is closed after it (the rest of the body is not read).
    TooLarge {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The transport failed or the body was malformed. Its response is 400.
    Read(BoxError),
}

impl BodyError {
    /// The response that reports this error: 413 or 400.
    pub fn response(&self) -> HttpResponse {
        match self {
            BodyError::TooLarge { limit } => {
                HttpResponse::text(format!("request body larger than {limit} bytes"))
                    .status(413)
                    .header("connection", "close")
            }
            BodyError::Read(_) => HttpResponse::text("unreadable request body").status(400),
        }
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::TooLarge { limit } => write!(f, "request body larger than {limit} bytes"),
            BodyError::Read(e) => write!(f, "reading the request body: {e}"),
        }
    }
}

impl std::error::Error for BodyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BodyError::Read(e) => Some(&**e),
            BodyError::TooLarge { .. } => None,
        }
    }
}

impl From<BodyError> for HttpResponse {
    fn from(e: BodyError) -> Self {
        e.response()
    }
}

/// An HTTP response: a status, headers and a body, built in a line.
///
/// ```
/// use ws_server::http::HttpResponse;
/// let page = HttpResponse::html("<h1>hi</h1>");
/// let created = HttpResponse::json(r#"{"id":7}"#).status(201).header("location", "/notes/7");
/// let moved = HttpResponse::redirect("/new").status(301);
/// assert_eq!((page.status_code(), created.status_code(), moved.status_code()), (200, 201, 301));
/// ```
pub struct HttpResponse {
    inner: ::http::Response<Body>,
}

impl HttpResponse {
    /// An empty response with `status` (an invalid status is sent as 500).
    pub fn new(status: u16) -> Self {
        HttpResponse { inner: ::http::Response::new(full(Bytes::new())) }.status(status)
    }

    /// 200 with a `text/plain; charset=utf-8` body.
    pub fn text(body: impl Into<String>) -> Self {
        Self::bytes("text/plain; charset=utf-8", body.into())
    }

    /// 200 with a `text/html; charset=utf-8` body.
    pub fn html(body: impl Into<String>) -> Self {
        Self::bytes("text/html; charset=utf-8", body.into())
    }

    /// 200 with an `application/json` body (already encoded).
    pub fn json(body: impl Into<String>) -> Self {
        Self::bytes("application/json", body.into())
    }

    /// 200 with `body` of type `content_type`.
    pub fn bytes(content_type: &str, body: impl Into<Bytes>) -> Self {
        Self::new(200).header("content-type", content_type).body(body)
    }

    /// `302 Found` to `location` (change it with [`status`](Self::status): 301, 303, 307,
    /// 308).
    pub fn redirect(location: &str) -> Self {
        Self::new(302).header("location", location)
    }

    /// `404 Not Found`, with a short text body.
    pub fn not_found() -> Self {
        Self::text("not found").status(404)
    }

    /// Sets the status (an invalid status is sent as 500).
    pub fn status(mut self, status: u16) -> Self {
        *self.inner.status_mut() = ::http::StatusCode::from_u16(status)
            .unwrap_or(::http::StatusCode::INTERNAL_SERVER_ERROR);
        self
    }

    /// Sets header `name` to `value`, replacing earlier values (a name or value that cannot be
    /// sent, with CR or LF for instance, is ignored).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let Some((name, value)) = header(name, value) {
            self.inner.headers_mut().insert(name, value);
        }
        self
    }

    /// Adds a value of header `name`, keeping earlier ones (`Set-Cookie`).
    pub fn append_header(mut self, name: &str, value: &str) -> Self {
        if let Some((name, value)) = header(name, value) {
            self.inner.headers_mut().append(name, value);
        }
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        *self.inner.body_mut() = full(body.into());
        self
    }

    /// The status.
    pub fn status_code(&self) -> u16 {
        self.inner.status().as_u16()
    }

    /// The headers.
    pub fn headers(&self) -> &::http::HeaderMap {
        self.inner.headers()
    }

    /// The response as an `http` response, for hyper or tower.
    pub fn into_inner(self) -> ::http::Response<Body> {
        self.inner
    }
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.inner.status())
            .field("headers", self.inner.headers())
            .finish_non_exhaustive()
    }
}

impl<B> From<::http::Response<B>> for HttpResponse
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    fn from(response: ::http::Response<B>) -> Self {
        HttpResponse { inner: response.map(|b| b.map_err(Into::into).boxed_unsync()) }
    }
}

fn header(name: &str, value: &str) -> Option<(::http::HeaderName, ::http::HeaderValue)> {
    Some((name.parse().ok()?, ::http::HeaderValue::from_str(value).ok()?))
}

pub(crate) fn full(bytes: Bytes) -> Body {
    Full::new(bytes).map_err(|never| match never {}).boxed_unsync()
}

type FnHandler = Arc<dyn Fn(HttpRequest) -> BoxFuture<HttpResponse> + Send + Sync>;
type ServiceHandler =
    Arc<dyn Fn(::http::Request<Incoming>) -> BoxFuture<::http::Response<Body>> + Send + Sync>;

/// What answers the HTTP requests.
pub(crate) enum Handler {
    Fn(FnHandler),
    Service(ServiceHandler),
}

/// The HTTP side of a server being built.
#[derive(Default)]
pub(crate) struct HttpConfig {
    handler: Option<Handler>,
    files: Option<StaticDir>,
    max_body: Option<usize>,
}

impl HttpConfig {
    /// The fallback serving this configuration, if there is anything to serve.
    pub(crate) fn into_fallback(self) -> Option<Fallback> {
        if self.handler.is_none() && self.files.is_none() {
            return None;
        }
        let app = Arc::new(serve::App {
            handler: self.handler,
            files: self.files,
            max_body: self.max_body.unwrap_or(DEFAULT_MAX_BODY_SIZE),
        });
        Some(Arc::new(move |stream, peer, shared| {
            Box::pin(serve::serve_connection(stream, peer, shared, Arc::clone(&app)))
        }))
    }
}

/// The HTTP side (feature `http`): see the [`http`](crate::http) module.
impl ServerBuilder {
    /// Answers requests that are not WebSocket upgrades to a route with `handler`, an async
    /// function from [`HttpRequest`] to [`HttpResponse`] (replaces an earlier
    /// [`http_service`](Self::http_service)). Without an HTTP side, such requests are refused
    /// by the WebSocket handshake (400, or 404 where no route matches).
    pub fn http<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(HttpRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HttpResponse> + Send + 'static,
    {
        self.http.handler = Some(Handler::Fn(Arc::new(move |req| Box::pin(handler(req)))));
        self
    }

    /// Answers requests that are not WebSocket upgrades to a route with a tower service, an
    /// `axum::Router` for instance (replaces an earlier [`http`](Self::http)). The request
    /// carries the peer's [`PeerAddr`] and the server's [`ServerHandle`] as extensions (and,
    /// with the `axum` feature, axum's `ConnectInfo<SocketAddr>` for TCP peers): an axum
    /// handler takes them with `Extension<ServerHandle>`. A service error is answered with 500.
    pub fn http_service<S, B>(mut self, service: S) -> Self
    where
        S: tower_service::Service<::http::Request<Incoming>, Response = ::http::Response<B>>
            + Clone
            + Send
            + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let service = Mutex::new(service);
        let handler: ServiceHandler = Arc::new(move |req| {
            let mut service = service.lock().unwrap_or_else(|e| e.into_inner()).clone();
            Box::pin(async move {
                let failed = || HttpResponse::text("internal error").status(500).into_inner();
                if poll_fn(|cx| service.poll_ready(cx)).await.is_err() {
                    return failed();
                }
                match service.call(req).await {
                    Ok(response) => HttpResponse::from(response).into_inner(),
                    Err(_) => failed(),
                }
            })
        });
        self.http.handler = Some(Handler::Service(handler));
        self
    }

    /// Serves the files under `root` to `GET` and `HEAD` requests (see [`StaticDir`]: no
    /// escape from `root`, no hidden files, content types by extension). Requests it has no
    /// file for go to the [`http`](Self::http) handler or service if there is one, else get
    /// 404 (405 for other methods).
    pub fn static_dir(mut self, root: impl Into<PathBuf>) -> Self {
        self.http.files = Some(StaticDir::new(root));
        self
    }

    /// The largest request body [`HttpRequest::body`] reads (default 1 MiB); past it, 413.
    pub fn max_body_size(mut self, bytes: usize) -> Self {
        self.http.max_body = Some(bytes);
        self
    }
}
