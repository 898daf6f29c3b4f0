//! Streams without timeouts ([`AnyStream`]) and Unix sockets.
#![cfg(unix)]

use std::os::unix::net::UnixStream;
use std::thread;

use ws_blocking::{AnyStream, ClientRequest, CloseCode, Config, Message, accept, client};

#[test]
fn any_read_write_stream_carries_a_connection() {
    let (a, b) = UnixStream::pair().unwrap();
    let server = thread::spawn(move || {
        let mut ws = accept(AnyStream(b)).unwrap();
        while let Some(m) = ws.recv() {
            if let m @ Message::Text(_) = m.unwrap() {
                ws.send(m).unwrap();
            }
        }
        ws.close_info().cloned().unwrap()
    });
    let request = ClientRequest::new("localhost", "/");
    let (mut ws, response) = client(AnyStream(a), request, Config::default()).unwrap();
    assert_eq!(response.status, 101);
    ws.send_text("through a stream without timeouts").unwrap();
    assert_eq!(ws.recv().unwrap().unwrap(), Message::text("through a stream without timeouts"));
    // Write timeouts cannot be set on such a stream.
    assert!(ws.set_write_timeout(Some(std::time::Duration::from_secs(1))).is_err());
    ws.close(CloseCode::NORMAL, "").unwrap();
    assert!(matches!(ws.recv(), Some(Ok(Message::Close(_)))));
    // No half-close on this stream: the server's end of the close handshake is its drop.
    let info = server.join().unwrap();
    assert!(info.clean);
    assert!(ws.recv().is_none());
}

#[test]
fn unix_sockets_split_like_tcp() {
    let (a, b) = UnixStream::pair().unwrap();
    let server = thread::spawn(move || {
        let mut ws = accept(b).unwrap();
        while let Some(m) = ws.recv() {
            if let m @ Message::Binary(_) = m.unwrap() {
                ws.send(m).unwrap();
            }
        }
    });
    let (ws, _) = client(a, ClientRequest::new("localhost", "/"), Config::default()).unwrap();
    let (mut rx, mut tx) = ws.split().unwrap();
    let reader = thread::spawn(move || {
        for i in 0..1000u32 {
            assert_eq!(rx.recv().unwrap().unwrap(), Message::binary(i.to_be_bytes().to_vec()));
        }
        rx
    });
    for i in 0..1000u32 {
        tx.send_binary(i.to_be_bytes().to_vec()).unwrap();
    }
    tx.flush().unwrap();
    let mut ws = reader.join().unwrap().reunite(tx).unwrap();
    ws.close(CloseCode::NORMAL, "").unwrap();
    while let Some(m) = ws.recv() {
        m.unwrap();
    }
    server.join().unwrap();
}
