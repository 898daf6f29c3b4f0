//! What happens to connections once open: pub/sub, slow subscribers under each backpressure
//! policy, keepalive lag and the pong timeout, the async-function model.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;
use ws_server::{Backpressure, CloseCause, Message, Route, Sent, Server};

/// A raw client that completes the handshake with a tiny receive buffer and then reads
/// nothing (unless told to).
async fn non_reader(addr: SocketAddr, path: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(addr).await.unwrap();
    let (tcp, head) = handshake_on(tcp, addr, path).await;
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    tcp
}

async fn handshake_on(mut tcp: TcpStream, addr: SocketAddr, path: &str) -> (TcpStream, String) {
    use tokio::io::AsyncWriteExt;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && tcp.read(&mut byte).await.unwrap() == 1 {
        head.push(byte[0]);
    }
    (tcp, String::from_utf8_lossy(&head).into_owned())
}

/// Serves `route` at `path` with small kernel send buffers, so a peer that does not read
/// fills the server's own queue quickly.
async fn serve_small(path: &str, route: Route) -> (SocketAddr, ws_server::ServerHandle) {
    let mut settings = ws_server::ServerSettings::default();
    settings.socket_send_buffer = Some(16 << 10);
    let (addr, server, _) = serve(Server::builder().settings(settings).route(path, route)).await;
    (addr, server)
}

/// `n` subscribers of the feed, each counting what it receives.
async fn readers(addr: SocketAddr, n: usize) -> Vec<Arc<AtomicUsize>> {
    let mut counts = Vec::new();
    for _ in 0..n {
        let mut ws = connect(addr, "/feed").await.unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&count);
        tokio::spawn(async move {
            while let Some(Ok(m)) = ws.recv().await {
                if m.is_data() {
                    c.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        counts.push(count);
    }
    counts
}

/// Publishes `total` 1 KiB messages in batches of 8, each batch once every reader has the
/// previous one (so readers never fall behind: only the non-reader does).
async fn publish_paced(
    server: &ws_server::ServerHandle,
    readers: &[Arc<AtomicUsize>],
    total: usize,
) {
    let payload = vec![b'x'; 1024];
    let mut sent = 0;
    while sent < total {
        for _ in 0..8 {
            server.publish("feed", payload.clone());
            sent += 1;
        }
        while readers.iter().any(|c| c.load(Ordering::Relaxed) < sent) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

fn feed(bound: usize, policy: Backpressure, closed: mpsc::UnboundedSender<u16>) -> Route {
    Route::new()
        .backpressure(bound, policy)
        .close_timeout(Duration::from_millis(500))
        .on_open(|conn| conn.subscribe("feed"))
        .on_close(move |_, info| {
            let _ = closed.send(info.sent.as_ref().map_or(0, |f| f.code.0));
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_never_reads_loses_messages_while_1000_others_get_all() {
    let (closed, _closes) = mpsc::unbounded_channel();
    let (addr, server) = serve_small("/feed", feed(16 << 10, Backpressure::Drop, closed)).await;
    // A hang guard only (1 000 connections take a while on a loaded 2-core machine).
    tokio::time::timeout(Duration::from_secs(90), async {
        let slow = non_reader(addr, "/feed").await;
        let readers = readers(addr, 1000).await;
        while server.subscribers("feed") < 1001 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        publish_paced(&server, &readers, 256).await;
        assert!(readers.iter().all(|c| c.load(Ordering::Relaxed) == 256), "every reader got all");
        let slow_handle = server.get(1).expect("the non-reader is connection 1");
        assert!(slow_handle.dropped() > 0, "the non-reader lost messages");
        assert!(slow_handle.is_open(), "Drop keeps the connection");
        // Bounded: the queue plus what the socket holds stays near the bound.
        assert!(slow_handle.buffered_amount() <= (16 << 10) * 2 + 1100);
        assert_eq!(server.metrics().dropped, slow_handle.dropped());
        drop(slow);
    })
    .await
    .expect("timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_policies_close_the_slow_subscriber_with_their_code() {
    for (policy, code) in [(Backpressure::Close1008, 1008), (Backpressure::Close1013, 1013)] {
        let (closed, mut closes) = mpsc::unbounded_channel();
        let (addr, server) = serve_small("/feed", feed(16 << 10, policy, closed)).await;
        bounded(async {
            let _slow = non_reader(addr, "/feed").await;
            let readers = readers(addr, 100).await;
            while server.subscribers("feed") < 101 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            publish_paced(&server, &readers, 256).await;
            assert!(readers.iter().all(|c| c.load(Ordering::Relaxed) == 256));
            // The slow one's Close cannot be written either: it ends by the close timeout.
            assert_eq!(closes.recv().await, Some(code));
            assert_eq!(server.subscribers("feed"), 100);
        })
        .await;
    }
}

#[tokio::test]
async fn wait_policy_makes_send_async_wait_for_room() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let route = Route::new().backpressure(8 << 10, Backpressure::Wait).on_open(move |conn| {
        let _ = tx.send(conn.clone());
    });
    let (addr, _) = serve_small("/", route).await;
    bounded(async {
        let mut slow = non_reader(addr, "/").await;
        let conn = rx.recv().await.unwrap();
        let sender = tokio::spawn(async move {
            for _ in 0..400 {
                assert_eq!(conn.send_async(Message::binary(vec![7u8; 1024])).await, Sent::Queued);
            }
            conn
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !sender.is_finished(),
            "400 KiB cannot all be queued for a peer that reads nothing"
        );
        // Now read everything: the sender finishes.
        let mut got = 0usize;
        let mut buf = vec![0u8; 64 << 10];
        while got < 400 * (1024 + 4) {
            got += slow.read(&mut buf).await.unwrap();
        }
        let conn = sender.await.unwrap();
        assert_eq!(conn.send_text("x"), Sent::Queued);
    })
    .await;
}

#[tokio::test]
async fn keepalive_measures_lag_and_drops_a_silent_peer_with_1011() {
    let (lags, mut lag_rx) = mpsc::unbounded_channel();
    let (closed, mut closes) = mpsc::unbounded_channel();
    let route = echo()
        .keepalive(Some(Duration::from_millis(100)), Duration::from_millis(300))
        .ping_payload(|n| format!("ping {n}").into_bytes())
        .on_pong(move |conn, lag| {
            let _ = lags.send((lag, conn.lag()));
        })
        .on_close(move |_, info| {
            let _ = closed.send(info.cause);
        });
    let (addr, server, _) = serve_route("/", route).await;
    bounded(async {
        // A live client (ws-tokio answers pings while it receives) keeps sending: it is pinged
        // anyway, and its lag is measured.
        let mut ws = connect(addr, "/").await.unwrap();
        let (lag, on_handle) = loop {
            ws.send_text("busy").await.unwrap();
            tokio::select! {
                got = lag_rx.recv() => break got.unwrap(),
                _ = ws.recv() => {}
            }
        };
        assert!(lag < Duration::from_secs(5));
        assert_eq!(on_handle, Some(lag));
        assert!(server.metrics().lag_histogram.iter().sum::<u64>() >= 1);

        // A peer that stops answering is dropped with 1011 after the pong timeout.
        let mut silent = non_reader(addr, "/").await;
        assert_eq!(read_close_code(&mut silent).await, Some(1011));
        assert_eq!(closes.recv().await, Some(CloseCause::PongTimeout));
    })
    .await;
}

#[tokio::test]
async fn async_function_model_and_close_when_it_returns() {
    let (closed, mut closes) = mpsc::unbounded_channel();
    let route = Route::new()
        .handle(|mut socket| async move {
            if let Some(Ok(first)) = socket.recv().await {
                socket.send(first).await.unwrap();
                let _ = socket.conn().send_text("from the handle");
            }
        })
        .on_close(move |_, info| {
            let _ = closed.send((info.clean, info.sent.as_ref().map(|f| f.code.0)));
        });
    let (addr, _, _) = serve_route("/", route).await;
    bounded(async {
        let mut ws = connect(addr, "/").await.unwrap();
        ws.send_text("one").await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("one"));
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("from the handle"));
        let close = ws.recv().await.unwrap().unwrap();
        assert!(matches!(&close, Message::Close(Some(f)) if f.code.0 == 1000), "{close:?}");
        assert!(ws.recv().await.is_none());
        assert_eq!(closes.recv().await, Some((true, Some(1000))));
    })
    .await;
}

#[tokio::test]
async fn publish_reaches_subscribers_once_each_and_publish_others_skips_the_sender() {
    let route = Route::new().on_open(|conn| conn.subscribe("t")).on_message(|conn, msg| {
        if let Message::Text(t) = msg {
            let n = conn.publish_others("t", t);
            let _ = conn.send_text(format!("delivered to {n}"));
        }
    });
    let (addr, server, _) = serve(Server::builder().route("/", route)).await;
    bounded(async {
        let mut a = connect(addr, "/").await.unwrap();
        let mut b = connect(addr, "/").await.unwrap();
        let mut c = connect(addr, "/").await.unwrap();
        while server.subscribers("t") < 3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        a.send_text("hi").await.unwrap();
        assert_eq!(a.recv().await.unwrap().unwrap(), Message::text("delivered to 2"));
        assert_eq!(b.recv().await.unwrap().unwrap(), Message::text("hi"));
        assert_eq!(c.recv().await.unwrap().unwrap(), Message::text("hi"));
        assert_eq!(server.publish("t", "all"), 3);
        assert_eq!(server.publish_all("everyone"), 3);
        for ws in [&mut a, &mut b, &mut c] {
            assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("all"));
            assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("everyone"));
        }
        drop(c);
        while server.subscribers("t") > 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut ids = Vec::new();
        server.each(|h| ids.push(h.id()));
        assert_eq!((server.count(), ids.len()), (2, 2));
    })
    .await;
}
