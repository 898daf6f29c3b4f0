//! 200 concurrent connections against one thread-per-connection server.

mod common;

use std::thread;

use common::{echo_server, url};
use ws_blocking::{CloseCode, Config, Message, connect};

#[test]
fn two_hundred_concurrent_connections() {
    const CONNECTIONS: usize = 200;
    const MESSAGES: usize = 20;
    let (addr, server) = echo_server(CONNECTIONS, Config::default());
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(CONNECTIONS));
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|c| {
            let barrier = barrier.clone();
            thread::spawn(move || {
                let (mut ws, _) = connect(&url(addr)).unwrap();
                // Every connection is open at the same time before any traffic.
                barrier.wait();
                for i in 0..MESSAGES {
                    ws.send_text(format!("{c}:{i}")).unwrap();
                }
                for i in 0..MESSAGES {
                    assert_eq!(ws.recv().unwrap().unwrap(), Message::text(format!("{c}:{i}")));
                }
                ws.close(CloseCode::NORMAL, "").unwrap();
                while let Some(m) = ws.recv() {
                    m.unwrap();
                }
                ws.close_info().unwrap().clean
            })
        })
        .collect();
    let clean = clients.into_iter().map(|c| c.join().unwrap()).filter(|&clean| clean).count();
    assert_eq!(clean, CONNECTIONS);
    for result in server.join().unwrap() {
        result.unwrap();
    }
}
