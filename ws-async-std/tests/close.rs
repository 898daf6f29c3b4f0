//! Closing: from either side with codes and reasons, a peer that never answers our Close, a peer
//! that vanishes, and sending after close.

mod common;

use std::time::Duration;

use common::{Rt, ws_client, ws_server};
use ws_async_std::{CloseCause, CloseCode, Config, Error, Initiator, Message};

on_both_runtimes!(
    client_closes_with_code_and_reason,
    server_closes_with_code_and_reason,
    unanswered_close_times_out,
    vanished_peer_ends_the_stream,
);

async fn client_closes_with_code_and_reason<R: Rt>() {
    let (listener, addr) = R::bind().await;
    let server = R::spawn(async move {
        let mut ws = ws_server::<R>(&listener).await;
        let close = ws.recv().await.unwrap().unwrap();
        assert!(ws.recv().await.is_none());
        (close, ws.close_info().cloned().unwrap())
    });
    let mut ws = ws_client::<R>(addr, Config::default()).await;
    ws.close(CloseCode(4000), "bye now").await.unwrap();
    // Nothing more may be sent once closing.
    assert!(matches!(ws.send_text("late").await, Err(Error::Usage(ws_proto::UsageError::Closed))));
    assert!(matches!(ws.close(CloseCode::NORMAL, "").await, Err(Error::Usage(_))));
    // The server echoes the code.
    match ws.recv().await.unwrap().unwrap() {
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode(4000)),
        other => panic!("expected Close, got {other:?}"),
    }
    assert!(ws.recv().await.is_none());
    assert!(ws.recv().await.is_none(), "the end of the stream is sticky");
    let info = ws.close_info().unwrap();
    assert!(info.clean);
    assert_eq!(info.initiator, Initiator::Local);
    assert_eq!(info.cause, CloseCause::Handshake);
    assert_eq!(info.code(), CloseCode(4000));

    let (close, info) = server.await;
    match close {
        Message::Close(Some(frame)) => {
            assert_eq!(frame.code, CloseCode(4000));
            assert_eq!(frame.reason_str(), "bye now");
        }
        other => panic!("expected Close, got {other:?}"),
    }
    assert!(info.clean);
    assert_eq!(info.initiator, Initiator::Remote);
    assert_eq!(info.reason(), "bye now");
}

async fn server_closes_with_code_and_reason<R: Rt>() {
    let (listener, addr) = R::bind().await;
    let server = R::spawn(async move {
        let mut ws = ws_server::<R>(&listener).await;
        ws.send_text("last words").await.unwrap();
        ws.close(CloseCode::GOING_AWAY, "shutting down").await.unwrap();
        // Messages the client sent before seeing our Close still arrive.
        let mut got = Vec::new();
        while let Some(message) = ws.recv().await {
            got.push(message.unwrap());
        }
        (got, ws.close_info().cloned().unwrap())
    });
    let mut ws = ws_client::<R>(addr, Config::default()).await;
    ws.send_text("in flight").await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("last words"));
    match ws.recv().await.unwrap().unwrap() {
        Message::Close(Some(frame)) => {
            assert_eq!(frame.code, CloseCode::GOING_AWAY);
            assert_eq!(frame.reason_str(), "shutting down");
        }
        other => panic!("expected Close, got {other:?}"),
    }
    assert!(ws.recv().await.is_none());
    let info = ws.close_info().unwrap();
    assert!(info.clean);
    assert_eq!(info.initiator, Initiator::Remote);

    let (got, info) = server.await;
    assert_eq!(got[0], Message::text("in flight"));
    assert!(matches!(got[1], Message::Close(Some(ref f)) if f.code == CloseCode::GOING_AWAY));
    assert_eq!(got.len(), 2);
    assert!(info.clean);
    assert_eq!(info.initiator, Initiator::Local);
}

async fn unanswered_close_times_out<R: Rt>() {
    let (listener, addr) = R::bind().await;
    let server = R::spawn(async move {
        // Accepts, then never reads nor answers: the peer "hangs".
        let ws = ws_server::<R>(&listener).await;
        common::sleep(Duration::from_secs(2)).await;
        drop(ws);
    });
    let mut config = Config::default();
    config.close_timeout = Duration::from_millis(200);
    let mut ws = ws_client::<R>(addr, config).await;
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    assert!(ws.recv().await.is_none());
    let info = ws.close_info().unwrap();
    assert_eq!(info.cause, CloseCause::CloseTimeout);
    assert!(!info.clean);
    assert_eq!(info.code(), CloseCode::ABNORMAL);
    server.await;
}

async fn vanished_peer_ends_the_stream<R: Rt>() {
    let (listener, addr) = R::bind().await;
    let server = R::spawn(async move {
        let mut ws = ws_server::<R>(&listener).await;
        ws.send_text("goodbye").await.unwrap();
        // Dropped without a closing handshake.
    });
    let mut ws = ws_client::<R>(addr, Config::default()).await;
    server.await;
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("goodbye"));
    // Not an error: the end of the stream, with 1006 in the close information.
    assert!(ws.recv().await.is_none());
    let info = ws.close_info().unwrap();
    assert_eq!(info.cause, CloseCause::EndOfStream);
    assert_eq!(info.code(), CloseCode::ABNORMAL);
    assert!(matches!(ws.send_text("anyone?").await, Err(Error::Usage(_))));
}
