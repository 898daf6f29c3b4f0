//! axum, both ways (feature `axum`).
//!
//! * **A route in an axum app**: [`route`] turns a [`Route`] into an axum `MethodRouter`, so
//!   `Router::route("/ws", ws_server::axum::route(&server, chat))` serves it ([`routes`]: all
//!   the routes given to the server's builder, by path). The upgrade is
//!   still this crate's: the origin policy, caps, upgrade hook, subprotocol and
//!   permessage-deflate negotiation run as on a ws-server listener, the bytes the client sent
//!   right behind its request are kept, and the connections share the hub, registry and metrics
//!   of `server`: a [`Server`](crate::Server) with listeners, or one without
//!   ([`ServerBuilder::build_embedded`](crate::ServerBuilder::build_embedded)).
//! * **An axum app on a ws-server port**:
//!   [`ServerBuilder::http_service`](crate::ServerBuilder::http_service) takes a `Router`; it
//!   answers everything that is not a WebSocket upgrade to one of the server's routes.
//!
//! ```no_run
//! use ws_server::{Route, Server};
//!
//! # async fn run() -> std::io::Result<()> {
//! let ws = Server::builder().build_embedded();
//! let echo = Route::new().compression(true).on_message(|conn, msg| drop(conn.send(msg)));
//! let app = axum::Router::new()
//!     .route("/", axum::routing::get(|| async { "hello" }))
//!     .route("/echo", ws_server::axum::route(&ws.handle(), echo));
//! let handle = ws.handle();
//! tokio::spawn(ws.serve()); // closes the WebSocket connections on handle.shutdown()
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
//! axum::serve(listener, app).with_graceful_shutdown(async move { handle.shutdown() }).await
//! # }
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request};
use axum::routing::MethodRouter;

use crate::session::ErasedRoute;
use crate::{PeerAddr, Route, ServerHandle};

/// `route` as an axum `GET` handler belonging to `server`: mount it with
/// `Router::route(path, ..)` at any path (the server's own routing is not consulted). A
/// request that is not a valid upgrade is refused as the handshake refuses it (400, 426, ...).
///
/// The peer's address is axum's `ConnectInfo<SocketAddr>` when the app is served with
/// `into_make_service_with_connect_info::<SocketAddr>()` (or by a ws-server listener), else
/// [`PeerAddr::Other`].
pub fn route<D, S>(server: &ServerHandle, route: Route<D>) -> MethodRouter<S>
where
    D: Send + Sync + 'static,
    S: Clone + Send + Sync + 'static,
{
    let route: Arc<dyn ErasedRoute> = Arc::new(route);
    let shared = Arc::clone(&server.shared);
    axum::routing::get(move |req: Request| {
        let (route, shared) = (Arc::clone(&route), Arc::clone(&shared));
        async move {
            let peer = peer_addr(&req);
            crate::http::upgrade(req, route, peer, shared).await
        }
    })
}

/// Every route given to `server`'s builder ([`ServerBuilder::route`](crate::ServerBuilder::route),
/// [`route_prefix`](crate::ServerBuilder::route_prefix)) as one axum `GET` handler, chosen by
/// the request's path as axum passes it (exact routes first, then the longest prefix; 404 when
/// none matches): mount it with `Router::fallback` or at a wildcard path, for a server built
/// with [`build_embedded`](crate::ServerBuilder::build_embedded).
pub fn routes<S>(server: &ServerHandle) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    let shared = Arc::clone(&server.shared);
    axum::routing::get(move |req: Request| {
        let shared = Arc::clone(&shared);
        async move {
            let Some(route) = shared.router.find(req.uri().path()).cloned() else {
                return crate::http::HttpResponse::not_found().into_inner();
            };
            let peer = peer_addr(&req);
            crate::http::upgrade(req, route, peer, shared).await
        }
    })
}

fn peer_addr(req: &Request) -> PeerAddr {
    let extensions = req.extensions();
    if let Some(peer) = extensions.get::<PeerAddr>() {
        return peer.clone();
    }
    match extensions.get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(addr)) => PeerAddr::Tcp(*addr),
        None => PeerAddr::Other("axum".to_owned()),
    }
}
