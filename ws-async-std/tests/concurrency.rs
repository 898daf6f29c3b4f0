//! Concurrency: split halves in separate tasks, cancel safety of `recv` under a racing timer,
//! and 200 simultaneous connections against one server.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Rt, echo, pattern, ws_client, ws_server};
use futures_lite::FutureExt;
use smol::lock::Barrier;
use ws_async_std::{CloseCode, Config, Message, accept, reunite};

on_both_runtimes!(split_halves_run_concurrently, recv_is_cancel_safe, many_concurrent_connections);

const SPLIT_MESSAGES: usize = 10_000;

fn numbered(side: &str, i: usize) -> Message {
    // Sizes vary so some messages are large enough to fill socket buffers.
    let pad = if i % 500 == 0 { 100_000 } else { i % 300 };
    Message::text(format!("{side}{i}:{}", "x".repeat(pad)))
}

async fn split_halves_run_concurrently<R: Rt>() {
    let (listener, addr) = R::bind().await;
    let server = R::spawn(async move {
        let (mut rx, mut tx) = ws_server::<R>(&listener).await.split();
        let writer = R::spawn(async move {
            for i in 0..SPLIT_MESSAGES {
                tx.send(numbered("s", i)).await.unwrap();
            }
            tx.flush().await.unwrap();
            tx
        });
        for i in 0..SPLIT_MESSAGES {
            assert_eq!(rx.recv().await.unwrap().unwrap(), numbered("c", i), "server got {i}");
        }
        // Then the client's Close, and the end (the reader writes the Close reply itself).
        assert!(matches!(rx.recv().await, Some(Ok(Message::Close(_)))));
        assert!(rx.recv().await.is_none());
        let tx = writer.await;
        assert!(rx.close_info().unwrap().clean);
        assert!(reunite(rx, tx).is_ok());
    });

    let (mut rx, mut tx) = ws_client::<R>(addr, Config::default()).await.split();
    assert!(rx.is_pair_of(&tx));
    let writer = R::spawn(async move {
        for i in 0..SPLIT_MESSAGES {
            tx.send(numbered("c", i)).await.unwrap();
        }
        tx.flush().await.unwrap();
        tx
    });
    let reader = R::spawn(async move {
        for i in 0..SPLIT_MESSAGES {
            assert_eq!(rx.recv().await.unwrap().unwrap(), numbered("s", i), "client got {i}");
        }
        rx
    });
    let (rx, tx) = (reader.await, writer.await);
    let mut ws = reunite(rx, tx).unwrap();
    ws.close(CloseCode::NORMAL, "done").await.unwrap();
    assert!(matches!(ws.recv().await, Some(Ok(Message::Close(_)))));
    assert!(ws.recv().await.is_none());
    server.await;

    // Halves of different connections do not reunite.
    let (listener, addr) = R::bind().await;
    let server = R::spawn(async move {
        let a = ws_server::<R>(&listener).await;
        let b = ws_server::<R>(&listener).await;
        (a, b)
    });
    let (a, b) = (
        ws_client::<R>(addr, Config::default()).await,
        ws_client::<R>(addr, Config::default()).await,
    );
    let ((a_rx, _a_tx), (_b_rx, b_tx)) = (a.split(), b.split());
    let err = reunite(a_rx, b_tx).map(|_| ()).unwrap_err();
    assert!(!err.0.is_pair_of(&err.1));
    drop(server.await);
}

const CANCEL_MESSAGES: usize = 2_000;
const CANCEL_SIZES: [usize; 6] = [1, 100, 5_000, 70_000, 300_000, 0];

fn cancel_payload(i: usize) -> Vec<u8> {
    pattern(CANCEL_SIZES[i % CANCEL_SIZES.len()], i as u8)
}

async fn recv_is_cancel_safe<R: Rt>() {
    let (listener, addr) = R::bind().await;
    let server = R::spawn(async move {
        let mut ws = ws_server::<R>(&listener).await;
        for i in 0..CANCEL_MESSAGES {
            if i % 2 == 0 {
                ws.send_binary(cancel_payload(i)).await.unwrap();
            } else {
                // Half the messages arrive in fragments, with a pause between them.
                let payload = cancel_payload(i);
                let (head, tail) = payload.split_at(payload.len() / 2);
                ws.send_fragment(ws_async_std::MessageKind::Binary, head, false).await.unwrap();
                if i % 40 == 1 {
                    common::sleep(Duration::from_millis(2)).await;
                }
                ws.send_fragment(ws_async_std::MessageKind::Binary, tail, true).await.unwrap();
            }
        }
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        while ws.recv().await.is_some() {}
    });

    let mut ws = ws_client::<R>(addr, Config::default()).await;
    let (mut received, mut cancelled) = (0, 0);
    loop {
        // `select!` between the next message and a short timer: the timer often wins, and the
        // dropped `recv` future must not lose anything.
        let next = async { Some(ws.recv().await) }
            .or(async {
                common::sleep(Duration::from_micros(150)).await;
                None
            })
            .await;
        match next {
            None => cancelled += 1,
            Some(Some(Ok(Message::Binary(data)))) => {
                assert!(
                    data == cancel_payload(received),
                    "message {received} corrupted or out of order"
                );
                received += 1;
            }
            Some(Some(Ok(Message::Close(_)))) => {}
            Some(None) => break,
            Some(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(received, CANCEL_MESSAGES);
    assert!(cancelled > 0, "the timer never won: the test did not exercise cancellation");
    server.await;
}

async fn many_concurrent_connections<R: Rt>() {
    const CLIENTS: usize = 200;
    const MESSAGES: usize = 10;
    let (listener, addr) = R::bind().await;
    let server = R::spawn(async move {
        let mut sessions = Vec::new();
        for _ in 0..CLIENTS {
            let tcp = R::accept(&listener).await;
            sessions.push(R::spawn(async move { echo(accept(tcp).await.unwrap()).await }));
        }
        let mut total = 0;
        for session in sessions {
            total += session.await;
        }
        total
    });
    // Every client connects, then waits until all are connected: 200 open at once.
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let barrier = barrier.clone();
            R::spawn(async move {
                let mut ws = ws_client::<R>(addr, Config::default()).await;
                barrier.wait().await;
                for m in 0..MESSAGES {
                    let text = format!("client {c} message {m}");
                    ws.send_text(text.as_str()).await.unwrap();
                    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text(text));
                }
                ws.close(CloseCode::NORMAL, "").await.unwrap();
                while ws.recv().await.is_some() {}
                assert!(ws.close_info().unwrap().clean);
            })
        })
        .collect();
    for client in clients {
        client.await;
    }
    assert_eq!(server.await, CLIENTS * MESSAGES);
}
