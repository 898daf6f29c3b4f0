//! Per-connection memory: what a server task holds for each idle connection.
//!
//! A task that accepts and then serves keeps its largest state for the connection's whole
//! life, so the handshake futures must stay small (their buffers are boxed and freed after
//! the handshake), and an idle socket must hold no receive buffer.

mod common;

use common::listen;
use tokio::net::TcpStream;
use ws_tokio::WebSocket;

#[tokio::test]
async fn handshake_futures_and_the_socket_stay_small() {
    let (listener, addr) = listen().await;
    let client = TcpStream::connect(addr).await.unwrap();
    let (server, _) = listener.accept().await.unwrap();

    let accept = ws_tokio::accept(server);
    assert!(std::mem::size_of_val(&accept) <= 1024, "accept: {}", std::mem::size_of_val(&accept));
    let connect = ws_tokio::connect("ws://127.0.0.1:9/");
    assert!(
        std::mem::size_of_val(&connect) <= 1024,
        "connect: {}",
        std::mem::size_of_val(&connect)
    );
    let request = ws_tokio::ClientRequest::new("x", "/");
    let handshake = ws_tokio::client(client, request, Default::default());
    assert!(
        std::mem::size_of_val(&handshake) <= 1024,
        "client: {}",
        std::mem::size_of_val(&handshake)
    );

    let socket = std::mem::size_of::<WebSocket<TcpStream>>();
    assert!(socket <= 1536, "WebSocket<TcpStream>: {socket} bytes");
}
