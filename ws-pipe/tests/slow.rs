//! Nobody slow stalls anybody else: an output pipe without a reader (or with one that stops
//! reading), and a client that never reads.

mod common;

use std::time::Duration;

use common::*;
use ws_tokio::Message;

#[tokio::test]
async fn an_absent_or_stuck_output_reader_does_not_stall_the_clients() {
    let dir = TempDir::new("slow-output");
    let pin = format!("--pipein={}", dir.path("in").display());
    let pout = format!("--pipeout={}", dir.path("out").display());
    let pipe = WsPipe::start(&[&pin, &pout, "--pipe-buffer=65536"]).await;
    let mut talker = pipe.connect("/").await;
    let mut listener = pipe.connect("/").await;
    let mut producer = producer(&dir.path("in")).await;
    synced(&mut producer, &mut [&mut talker, &mut listener]).await;
    // Nobody reads the output FIFO: 4 MiB from the talker fill the bounded queue, then drop.
    let chunk = "c".repeat(16 << 10);
    for round in 0..256 {
        talker.send_text(chunk.as_str()).await.unwrap();
        if round % 64 == 0 {
            // Meanwhile the input still reaches every client at once.
            let line = format!("tick {round}\n");
            write(&mut producer, line.as_bytes()).await;
            assert_eq!(next_data(&mut listener).await, Message::text(line));
        }
    }
    pipe.wait_stderr("reader slow or absent").await;
    // A reader that opens the FIFO and never reads: the kernel's pipe buffer fills, then the
    // queue, then drops; the clients are still served.
    let _stuck = consumer(&dir.path("out"));
    for _ in 0..256 {
        talker.send_text(chunk.as_str()).await.unwrap();
    }
    write(&mut producer, b"still live\n").await;
    assert_eq!(next_data(&mut listener).await, Message::text("still live\n"));
    assert_eq!(next_data(&mut talker).await, Message::text("tick 0\n"), "first after the sync");
}

#[tokio::test]
async fn a_client_that_never_reads_loses_messages_not_the_others() {
    let dir = TempDir::new("never-reads");
    let pin = format!("--pipein={}", dir.path("in").display());
    let pout = format!("--pipeout={}", dir.path("out").display());
    let log = format!("--access-log={}", dir.path("access.log").display());
    let pipe = WsPipe::start(&["--strict", &pin, &pout, &log, "--client-buffer=65536"]).await;
    let mut out = consumer(&dir.path("out"));
    // Its socket's receive buffer is left as small as the kernel allows.
    let sleeper = {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let addr = pipe.url.trim_start_matches("ws://").parse().unwrap();
        let stream = socket.connect(addr).await.unwrap();
        let request = ws_tokio::ClientRequest::new(addr.to_string(), "/");
        bounded(ws_tokio::client(stream, request, Default::default())).await.unwrap().0
    };
    let mut reader = pipe.connect("/").await;
    opened(&mut out, 2).await;
    let mut producer = producer(&dir.path("in")).await;
    // 32 MiB in 64 KiB broadcasts, each one waited for by the reader: it gets every one while
    // the sleeper's socket and queue fill up and then its messages are dropped.
    let payload = vec![b'b'; 64 << 10];
    for n in 0..512u32 {
        let mut message = payload.clone();
        message[..4].copy_from_slice(&n.to_be_bytes());
        write(&mut producer, &record(0, 2, &message)).await;
        let got = next_data(&mut reader).await;
        assert_eq!(got, Message::binary(message), "message {n}");
    }
    drop(sleeper);
    let line = bounded(async {
        loop {
            let text = std::fs::read_to_string(dir.path("access.log")).unwrap_or_default();
            if let Some(line) = text.lines().next() {
                return line.to_owned();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let entry: serde_json::Value = serde_json::from_str(&line).unwrap();
    let dropped = entry["dropped"].as_u64().unwrap();
    assert!(dropped > 0, "the sleeper lost messages: {entry}");
}
