//! The connection hyper serves, the dispatch of its requests (WebSocket upgrades to a route,
//! static files, the handler), and a WebSocket upgrade whose HTTP exchange is hyper's.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::upgrade::Upgraded;
use hyper_util::rt::{TokioIo, TokioTimer};
use ws_proto::handshake::{RequestParser, reject};
use ws_proto::{Connection, Role};
use ws_tokio::WebSocket;

use super::{Body, Handler, HttpRequest, HttpResponse, StaticDir, full};
use crate::server::{Shared, TaskGuard};
use crate::session::ErasedRoute;
use crate::{PeerAddr, ServerHandle, ServerStream};

/// What answers a server's HTTP requests.
pub(crate) struct App {
    pub(crate) handler: Option<Handler>,
    pub(crate) files: Option<StaticDir>,
    pub(crate) max_body: usize,
}

/// Serves one connection with hyper until it ends, is upgraded, or the server shuts down
/// (then the request in progress is finished and the connection closed).
pub(crate) async fn serve_connection(
    stream: ServerStream,
    peer: PeerAddr,
    shared: Arc<Shared>,
    app: Arc<App>,
) {
    let service = {
        let shared = Arc::clone(&shared);
        service_fn(move |req| {
            let (shared, app, peer) = (Arc::clone(&shared), Arc::clone(&app), peer.clone());
            async move { Ok::<_, Infallible>(dispatch(req, peer, shared, &app).await) }
        })
    };
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(shared.settings.handshake_timeout);
    let conn = builder.serve_connection(TokioIo::new(stream), service).with_upgrades();
    let mut conn = std::pin::pin!(conn);
    let mut stop = shared.shutdown.subscribe();
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = stop.wait_for(Option::is_some) => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(shared.settings.shutdown_timeout, conn).await;
}

async fn dispatch(
    mut req: ::http::Request<Incoming>,
    peer: PeerAddr,
    shared: Arc<Shared>,
    app: &App,
) -> ::http::Response<Body> {
    if is_websocket_upgrade(req.headers()) {
        if let Some(route) = shared.router.find(req.uri().path()).cloned() {
            return upgrade(req, route, peer, shared).await;
        }
    }
    let read = matches!(*req.method(), ::http::Method::GET | ::http::Method::HEAD);
    if let (Some(files), true) = (&app.files, read) {
        if let Some(response) = files.lookup(req.uri().path()).await {
            return response.into_inner();
        }
    }
    match &app.handler {
        Some(Handler::Fn(handler)) => {
            let server = ServerHandle { shared };
            handler(HttpRequest::new(req, peer, app.max_body, server)).await.into_inner()
        }
        Some(Handler::Service(service)) => {
            #[cfg(feature = "axum")]
            if let PeerAddr::Tcp(addr) = &peer {
                req.extensions_mut().insert(axum::extract::ConnectInfo(*addr));
            }
            req.extensions_mut().insert(peer);
            req.extensions_mut().insert(ServerHandle { shared });
            service(req).await
        }
        None if read => HttpResponse::not_found().into_inner(),
        None => HttpResponse::new(405).header("allow", "GET, HEAD").into_inner(),
    }
}

/// `Upgrade: websocket` is present.
fn is_websocket_upgrade(headers: &::http::HeaderMap) -> bool {
    headers.get_all(::http::header::UPGRADE).iter().any(|value| {
        value
            .as_bytes()
            .split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"websocket"))
    })
}

/// A WebSocket upgrade to `route` answered through hyper (or any HTTP stack that gives
/// `hyper::upgrade::on` a connection): the request is checked by the protocol core's parser,
/// decided by the route's policy and hook exactly as a first request on a connection is, and
/// answered with the `101` the core computes (subprotocol, permessage-deflate); once upgraded,
/// the connection runs with the bytes the client sent after its request.
pub(crate) async fn upgrade<B>(
    mut req: ::http::Request<B>,
    route: Arc<dyn ErasedRoute>,
    peer: PeerAddr,
    shared: Arc<Shared>,
) -> ::http::Response<Body> {
    let deadline = Instant::now() + shared.settings.handshake_timeout;
    let config = route.config(&shared.settings);
    let request = match RequestParser::new(config.handshake_limits).feed(&request_head(&req)) {
        Ok(Some(request)) => request,
        Ok(None) => return refuse(&shared, &reject(400, &[], b"")),
        Err(e) => return refuse(&shared, &e.response().unwrap_or_else(|| reject(400, &[], b""))),
    };
    let decision = route.decide_upgrade(request.clone(), peer, Arc::clone(&shared));
    let (accept, open) = match tokio::time::timeout_at(deadline.into(), decision).await {
        Ok(Ok(decided)) => decided,
        Ok(Err(rejection)) => return refuse(&shared, &rejection.response()),
        Err(_) => return refuse(&shared, &reject(503, &[], b"handshake timeout")),
    };
    let (response, negotiated) = match request.accept_response(&accept, &config) {
        Ok(accepted) => accepted,
        Err(_) => return refuse(&shared, &reject(500, &[], b"")),
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    let guard = TaskGuard::new(&shared);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let (stream, read_ahead) = into_stream(upgraded);
                let now = Instant::now();
                let mut conn =
                    Connection::new(Role::Server, config, now).with_negotiated(&negotiated);
                conn.handle_data(now, &read_ahead);
                open(WebSocket::from_connection(stream, conn)).await;
            }
            // The 101 was not delivered: the reservation is released with `open`.
            Err(_) => {
                shared.metrics.refused.fetch_add(1, Ordering::Relaxed);
            }
        }
        drop(guard);
    });
    response_from_bytes(&response)
}

/// The upgraded transport and the bytes hyper read past the request. The transports this
/// crate and `axum::serve` give hyper come back as they are; others stay wrapped (and replay
/// their read-ahead themselves).
fn into_stream(upgraded: Upgraded) -> (ServerStream, Bytes) {
    let upgraded = match upgraded.downcast::<TokioIo<ServerStream>>() {
        Ok(parts) => return (parts.io.into_inner(), parts.read_buf),
        Err(upgraded) => upgraded,
    };
    match upgraded.downcast::<TokioIo<tokio::net::TcpStream>>() {
        Ok(parts) => (ServerStream::Tcp(parts.io.into_inner()), parts.read_buf),
        Err(upgraded) => (ServerStream::Boxed(Box::new(TokioIo::new(upgraded))), Bytes::new()),
    }
}

/// The request head as it came on the wire, for the core's parser (header names lower-case).
fn request_head<B>(req: &::http::Request<B>) -> Vec<u8> {
    let mut head = Vec::with_capacity(512);
    head.extend_from_slice(req.method().as_str().as_bytes());
    head.push(b' ');
    let target = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    head.extend_from_slice(target.as_bytes());
    head.extend_from_slice(match req.version() {
        ::http::Version::HTTP_09 | ::http::Version::HTTP_10 => b" HTTP/1.0\r\n",
        _ => b" HTTP/1.1\r\n",
    });
    for (name, value) in req.headers() {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head
}

fn refuse(shared: &Shared, response: &[u8]) -> ::http::Response<Body> {
    shared.metrics.refused.fetch_add(1, Ordering::Relaxed);
    response_from_bytes(response)
}

/// A response the core wrote as bytes, for hyper (which sets `Content-Length` itself).
fn response_from_bytes(bytes: &[u8]) -> ::http::Response<Body> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut headers);
    let Ok(httparse::Status::Complete(len)) = parsed.parse(bytes) else {
        return HttpResponse::new(500).into_inner();
    };
    let mut response = ::http::Response::new(full(Bytes::copy_from_slice(&bytes[len..])));
    *response.status_mut() = parsed
        .code
        .and_then(|code| ::http::StatusCode::from_u16(code).ok())
        .unwrap_or(::http::StatusCode::INTERNAL_SERVER_ERROR);
    for h in parsed.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            continue;
        }
        let name = ::http::HeaderName::from_bytes(h.name.as_bytes());
        if let (Ok(name), Ok(value)) = (name, ::http::HeaderValue::from_bytes(h.value)) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_round_trip_through_the_core() {
        let req = ::http::Request::get("/chat?room=1")
            .header("host", "example.com")
            .header("upgrade", "websocket")
            .header("connection", "Upgrade")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-protocol", "chat, superchat")
            .body(())
            .unwrap();
        assert!(is_websocket_upgrade(req.headers()));
        let head = request_head(&req);
        let parsed = RequestParser::new(Default::default()).feed(&head).unwrap().unwrap();
        assert_eq!((parsed.path(), parsed.query()), ("/chat", Some("room=1")));
        assert_eq!(parsed.protocols(), ["chat", "superchat"]);
        let accept = ws_proto::handshake::Accept::new().protocol("chat");
        let (bytes, _) = parsed.accept_response(&accept, &Default::default()).unwrap();
        let response = response_from_bytes(&bytes);
        assert_eq!(response.status(), 101);
        assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
        assert_eq!(response.headers()["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");

        let refusal = response_from_bytes(&reject(403, &[("x-why", "origin")], b"no"));
        assert_eq!(refusal.status(), 403);
        assert_eq!(refusal.headers()["x-why"], "origin");
        assert!(refusal.headers().get("content-length").is_none());
    }
}
