//! Split halves used from two tasks, cancel safety under `select!`, many connections.

mod common;

use std::time::Duration;

use common::{bounded, echo, serve, url};
use ws_tokio::{CloseCode, Message};

const COUNT: usize = 10_000;

fn numbered(i: usize) -> Message {
    // Sizes vary so some messages span reads and some reads hold several messages.
    if i % 3 == 0 {
        Message::binary(format!("{i}:{}", "x".repeat(i % 700)).into_bytes())
    } else {
        Message::text(format!("{i}"))
    }
}

fn number(m: &Message) -> usize {
    let text = match m {
        Message::Text(t) => t.as_str().to_owned(),
        Message::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("unexpected {other:?}"),
    };
    text.split(':').next().unwrap().parse().unwrap()
}

/// Receives `COUNT` numbered messages in order, then expects the close.
async fn receive_all<S>(read: &mut ws_tokio::ReadHalf<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    for expected in 0..COUNT {
        let m = read.recv().await.unwrap().unwrap();
        assert_eq!(number(&m), expected, "lost, duplicated or reordered");
        assert_eq!(m, numbered(expected));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_halves_send_and_receive_concurrently() {
    let addr = serve(|ws| async move {
        let (mut read, mut write) = ws.split();
        let sender = tokio::spawn(async move {
            for i in 0..COUNT {
                write.feed(numbered(i)).await.unwrap();
            }
            write.flush().await.unwrap();
            write
        });
        receive_all(&mut read).await;
        let write = sender.await.unwrap();
        // The client closes after both directions finished; see it through.
        assert!(matches!(read.recv().await, Some(Ok(Message::Close(_)))));
        assert!(read.recv().await.is_none());
        assert!(ws_tokio::reunite(read, write).is_ok());
    })
    .await;

    let (ws, _) = bounded(ws_tokio::connect(&url(addr))).await.unwrap();
    let (mut read, mut write) = ws.split();
    assert!(read.is_pair_of(&write));
    let sender = tokio::spawn(async move {
        for i in 0..COUNT {
            write.send(numbered(i)).await.unwrap();
        }
        write
    });
    bounded(receive_all(&mut read)).await;
    let mut write = bounded(sender).await.unwrap();
    write.close(CloseCode::NORMAL, "done").await.unwrap();
    let reply = bounded(read.recv()).await.unwrap().unwrap();
    assert!(matches!(reply, Message::Close(_)), "{reply:?}");
    assert!(bounded(read.recv()).await.is_none());
    assert!(read.close_info().unwrap().clean);
}

#[tokio::test]
async fn reunite_refuses_halves_of_different_sockets() {
    let addr = serve(echo).await;
    let (a, _) = bounded(ws_tokio::connect(&url(addr))).await.unwrap();
    let (b, _) = bounded(ws_tokio::connect(&url(addr))).await.unwrap();
    let (ra, wa) = a.split();
    let (rb, wb) = b.split();
    let ws_tokio::ReuniteError(ra, wb) = ws_tokio::reunite(ra, wb).unwrap_err();
    let mut a = ws_tokio::reunite(ra, wa).unwrap();
    assert!(ws_tokio::reunite(rb, wb).is_ok());
    a.send_text("still works").await.unwrap();
    assert_eq!(bounded(a.recv()).await.unwrap().unwrap(), Message::text("still works"));
}

#[tokio::test]
async fn recv_is_cancel_safe_under_select() {
    const N: usize = 2_000;
    let addr = serve(|mut ws| async move {
        for i in 0..N {
            // Some messages are large enough to arrive over several reads, so a timer can
            // win while one is half received.
            let m = if i % 50 == 0 {
                Message::binary(vec![(i % 251) as u8; 200_000 + i])
            } else {
                Message::text(format!("{i}"))
            };
            ws.feed(m).await.unwrap();
            if i % 100 == 0 {
                ws.flush().await.unwrap();
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        }
        ws.flush().await.unwrap();
        while ws.recv().await.is_some() {}
    })
    .await;
    let (mut ws, _) = bounded(ws_tokio::connect(&url(addr))).await.unwrap();
    let (mut next, mut cancelled) = (0, 0u32);
    let deadline = tokio::time::Instant::now() + common::LIMIT;
    while next < N {
        assert!(tokio::time::Instant::now() < deadline, "stalled at {next}");
        tokio::select! {
            m = ws.recv() => {
                let m = m.unwrap().unwrap();
                let expected = if next % 50 == 0 {
                    Message::binary(vec![(next % 251) as u8; 200_000 + next])
                } else {
                    Message::text(format!("{next}"))
                };
                assert!(m == expected, "message {next} lost, duplicated or torn");
                next += 1;
            }
            _ = tokio::time::sleep(Duration::from_micros(500)) => cancelled += 1,
        }
    }
    assert!(cancelled > 0, "the timer never won, so nothing was cancelled");
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    while bounded(ws.recv()).await.is_some() {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_connections() {
    let addr = serve(echo).await;
    let clients: Vec<_> = (0..200)
        .map(|c| {
            tokio::spawn(async move {
                let (mut ws, _) = ws_tokio::connect(&url(addr)).await.unwrap();
                for i in 0..10 {
                    let m = Message::text(format!("client {c} message {i}"));
                    ws.send(m.clone()).await.unwrap();
                    assert_eq!(ws.recv().await.unwrap().unwrap(), m);
                }
                ws.close(CloseCode::NORMAL, "").await.unwrap();
                while ws.recv().await.is_some() {}
                ws.close_info().unwrap().clean
            })
        })
        .collect();
    for client in clients {
        assert!(bounded(client).await.unwrap());
    }
}
