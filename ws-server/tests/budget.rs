//! The server-wide memory budget: on by default, shared by every route's connections, the
//! connection that needs more than is left closed with 1013 while the others go on, and the
//! figures in the metrics.

mod common;

use std::time::Duration;

use common::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use ws_server::{Server, ServerSettings};

/// A masked frame (zero mask key, so the payload goes as is).
fn frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![b0];
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n if n < 1 << 16 => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&[0, 0, 0, 0]);
    f.extend_from_slice(payload);
    f
}

#[test]
fn a_budget_is_on_by_default() {
    let budget = ServerSettings::default().memory_budget.expect("a default budget");
    assert_eq!(budget.limit(), 256 << 20);
    assert_eq!(budget.floor(), 64 << 10);
}

/// Sends the first `fragments` fragments of 100 KiB of a message that is never finished.
async fn pin(tcp: &mut TcpStream, fragments: usize) {
    let part = vec![b'p'; 100 << 10];
    for i in 0..fragments {
        let b0 = if i == 0 { 0x02 } else { 0x00 };
        if tcp.write_all(&frame(b0, &part)).await.is_err() {
            return;
        }
    }
}

/// Two connections each hold 600 KiB of an unfinished message under a 1 MiB budget: the one
/// that does not fit is closed with 1013; a third client is still echoed; the metrics count
/// the refusal and the charge comes back once the connections are gone.
#[tokio::test]
async fn the_connection_past_the_budget_gets_1013_and_the_others_are_served() {
    let route = echo().max_message_size(4 << 20, 4 << 20);
    let builder = Server::builder().memory_budget(Some(1 << 20)).route("/", route);
    let (addr, server, _task) = serve(builder).await;

    let (mut first, head) = raw_handshake(addr, "/", "").await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    pin(&mut first, 6).await;
    bounded(async {
        while server.metrics().memory_budget_used < (500 << 10) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;

    let (mut second, _) = raw_handshake(addr, "/", "").await;
    pin(&mut second, 6).await;
    assert_eq!(bounded(read_close_code(&mut second)).await, Some(1013));

    let mut fresh = connect(addr, "/").await.expect("a fresh client is accepted");
    fresh.send_text("still served").await.unwrap();
    let reply = bounded(fresh.recv()).await.expect("an echo").expect("no error");
    assert_eq!(reply, ws_server::Message::text("still served"));

    let metrics = server.metrics();
    assert_eq!(metrics.memory_budget_refusals, 1);
    assert!(metrics.memory_budget_used <= 1 << 20, "{metrics:?}");
    drop((first, second, fresh));
    bounded(async {
        loop {
            let m = server.metrics();
            if m.connections_open == 0 && m.memory_budget_used == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}
