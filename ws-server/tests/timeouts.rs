//! The time bounds a server starts with: the message deadline, the idle timeout and the
//! closing handshake's cap, and that the defaults have them on.

mod common;

use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use ws_server::{RouteSettings, Server};

/// A masked frame (zero mask key, so the payload goes as is) with the given first byte.
fn frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut f = vec![b0, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    f.extend_from_slice(payload);
    f
}

#[test]
fn the_defaults_bound_every_wait() {
    let s = RouteSettings::default();
    assert_eq!(s.idle_timeout, Some(Duration::from_secs(60)));
    assert_eq!(s.message_timeout, Some(Duration::from_secs(30)));
    assert_eq!(s.close_timeout, Duration::from_secs(5));
    assert_eq!(s.ping_interval, Some(Duration::from_secs(20)));
    assert_eq!(s.pong_timeout, Duration::from_secs(20));
}

/// A client that starts a fragmented message and never finishes it is closed with 1008 once
/// the deadline passes, not before.
#[tokio::test]
async fn a_stalled_fragmented_message_is_closed_with_1008() {
    let deadline = Duration::from_millis(300);
    let route = echo().message_timeout(deadline).close_timeout(Duration::from_millis(200));
    let (addr, server, _task) = serve_route("/", route).await;
    let (mut tcp, head) = raw_handshake(addr, "/", "").await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let started = Instant::now();
    tcp.write_all(&frame(0x01, b"first part")).await.unwrap();
    // Dribbling more fragments does not move the deadline.
    tcp.write_all(&frame(0x00, b"more")).await.unwrap();
    assert_eq!(bounded(read_close_code(&mut tcp)).await, Some(1008));
    let waited = started.elapsed();
    assert!(waited >= deadline, "closed after {waited:?}");
    bounded(async {
        while server.metrics().connections_open > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

/// Messages that finish in time are echoed, however slowly their fragments come within it.
#[tokio::test]
async fn messages_finished_in_time_are_echoed() {
    let route = echo().message_timeout(Duration::from_millis(400));
    let (addr, _server, _task) = serve_route("/", route).await;
    let (mut tcp, _) = raw_handshake(addr, "/", "").await;
    for _ in 0..3 {
        tcp.write_all(&frame(0x01, b"a")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
        tcp.write_all(&frame(0x80, b"b")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
        // The echo: one unmasked text frame "ab".
        let mut echo = [0u8; 4];
        bounded(tcp.read_exact(&mut echo)).await.unwrap();
        assert_eq!(echo, [0x81, 2, b'a', b'b']);
    }
    // Then a Close: everything before it was echoed and the close is a normal one.
    tcp.write_all(&frame(0x88, &1000u16.to_be_bytes())).await.unwrap();
    assert_eq!(bounded(read_close_code(&mut tcp)).await, Some(1000));
}

/// With Pings off, the idle timeout still drops a silent client (1001).
#[tokio::test]
async fn the_idle_timeout_drops_a_silent_client_with_pings_off() {
    let route =
        echo().keepalive(None, Duration::from_secs(20)).idle_timeout(Duration::from_millis(300));
    let (addr, _server, _task) = serve_route("/", route).await;
    // Before the handshake: the server's idle clock starts once it has the request, so a
    // start taken after the 101 arrived could be later than the server's.
    let started = Instant::now();
    let (mut tcp, _) = raw_handshake(addr, "/", "").await;
    assert_eq!(bounded(read_close_code(&mut tcp)).await, Some(1001));
    assert!(started.elapsed() >= Duration::from_millis(300));
}

/// A client that never answers our Close is dropped after the close timeout: the connection
/// count returns to zero.
#[tokio::test]
async fn a_client_that_never_answers_the_close_is_dropped_after_the_close_timeout() {
    let route = echo()
        .keepalive(None, Duration::from_secs(20))
        .idle_timeout(Duration::from_millis(100))
        .close_timeout(Duration::from_millis(300));
    let (addr, server, _task) = serve(Server::builder().route("/", route)).await;
    let (mut tcp, _) = raw_handshake(addr, "/", "").await;
    let started = Instant::now();
    assert_eq!(bounded(read_close_code(&mut tcp)).await, Some(1001));
    bounded(async {
        while server.metrics().connections_open > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(300), "{took:?}");
    drop(tcp);
}
