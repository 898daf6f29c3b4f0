//! Graceful shutdown: listeners stop, `on_shutdown` runs, every connection gets 1001 (1012 for
//! a restart), and the server returns within its deadline even if a peer never answers.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use ws_server::{Message, Route, Server};

fn counting_route(closed: &Arc<AtomicUsize>) -> Route {
    let closed = Arc::clone(closed);
    echo().on_close(move |_, _| {
        closed.fetch_add(1, Ordering::Relaxed);
    })
}

#[tokio::test]
async fn shutdown_sends_1001_to_all_and_ends_within_the_deadline() {
    let closed = Arc::new(AtomicUsize::new(0));
    let shutdowns = Arc::new(AtomicUsize::new(0));
    let s = Arc::clone(&shutdowns);
    let builder = Server::builder()
        .route("/", counting_route(&closed))
        .shutdown_timeout(Duration::from_millis(800))
        .on_shutdown(move |server| {
            s.fetch_add(server.count(), Ordering::Relaxed);
        });
    let (addr, server, served) = serve(builder).await;
    bounded(async {
        let mut clients = Vec::new();
        for _ in 0..3 {
            clients.push(connect(addr, "/").await.unwrap());
        }
        // A peer that never reads or answers the Close.
        let (_silent, head) = raw_handshake(addr, "/", "").await;
        assert!(head.starts_with("HTTP/1.1 101 "));
        while server.count() < 4 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let started = Instant::now();
        server.shutdown();
        for ws in &mut clients {
            let close = ws.recv().await.unwrap().unwrap();
            assert!(matches!(&close, Message::Close(Some(f)) if f.code.0 == 1001), "{close:?}");
            assert!(ws.recv().await.is_none(), "then the end");
        }
        served.await.unwrap().unwrap();
        let took = started.elapsed();
        assert!(took < Duration::from_secs(3), "{took:?}");
        assert!(took >= Duration::from_millis(700), "waited for the silent peer: {took:?}");
        assert_eq!(shutdowns.load(Ordering::Relaxed), 4);
        assert_eq!(closed.load(Ordering::Relaxed), 4, "on_close ran for every connection");
        // The listener is gone.
        assert!(connect(addr, "/").await.is_err());
    })
    .await;
}

#[tokio::test]
async fn restart_sends_1012_and_a_quiet_server_stops_at_once() {
    let closed = Arc::new(AtomicUsize::new(0));
    let (addr, server, served) = serve(Server::builder().route("/", counting_route(&closed))).await;
    bounded(async {
        let mut ws = connect(addr, "/").await.unwrap();
        while server.count() < 1 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let started = Instant::now();
        server.restart();
        let close = ws.recv().await.unwrap().unwrap();
        assert!(matches!(&close, Message::Close(Some(f)) if f.code.0 == 1012), "{close:?}");
        assert!(ws.recv().await.is_none());
        served.await.unwrap().unwrap();
        assert!(started.elapsed() < Duration::from_secs(2), "no waiting when everyone answered");
        assert_eq!(closed.load(Ordering::Relaxed), 1);
    })
    .await;
}

#[tokio::test]
async fn upgrades_during_shutdown_get_503() {
    let route = Route::with_upgrade(|_| async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok(ws_server::Upgrade::accept())
    });
    let (addr, server, served) = serve(Server::builder().route("/", route)).await;
    bounded(async {
        let pending = tokio::spawn(async move { raw_handshake(addr, "/", "").await.1 });
        tokio::time::sleep(Duration::from_millis(100)).await;
        server.shutdown();
        let head = pending.await.unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
        served.await.unwrap().unwrap();
    })
    .await;
}
