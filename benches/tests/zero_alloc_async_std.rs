//! Steady-state echo through **ws-async-std** (the futures-io binding) allocates nothing per
//! message, in both roles; and what its runtime's reactor allocates.
//!
//! The same exchanges as `zero_alloc_tokio.rs`: a server echoing a scripted client and a client
//! exchanging with a scripted server (binary and text, 20 B and 1 KiB), and a client and a
//! server over loopback TCP. The futures-io binding reads straight into the core's receive
//! buffer; its timers and sockets are async-io's.
//!
//! async-io's reactor allocates by itself on every turn (measured with async-io 2.6):
//! `ReactorLock::react` collects wakers into a fresh `Vec` (64 B once an IO event fires), and
//! while any timer is registered `Reactor::process_timers` splits its `BTreeMap` of timers
//! (`split_off`, a new 456 B node). A connection keeps one timer registered while it holds
//! buffers (`Config::release_buffers_after`, 1 s by default), so a runtime that turns its
//! reactor once per message allocates once per message. That is the runtime, not the adapter,
//! so the claims are split by thread:
//!
//! 1. With `futures_lite::future::block_on` the reactor runs on async-io's own thread; the
//!    thread that polls the connections (ws-async-std, the shared driver, the core) must
//!    allocate nothing per message, with the default `Config`, over the scripted transport and
//!    over TCP. The process-wide count (the reactor's allocations) is printed, not asserted.
//! 2. With `smol::block_on` the reactor turns on the test thread at every wake-up; with no
//!    timer registered (`release_buffers_after: None`) the whole process must allocate nothing
//!    per message over the scripted transport. With the default `Config` it allocates once per
//!    message (the `split_off` above); that is printed, not asserted.
//!
//! Part 2 counts every thread, which is why this file holds a single test.

#[path = "common/counting.rs"]
mod counting;
#[path = "common/echo.rs"]
mod echo;
#[path = "common/scripted.rs"]
mod scripted;

use benches::wire::Opcode;
use echo::{
    Counted, Pair, Payloads, ScriptedClient, ScriptedServer, Windows, assert_none_per_message,
    assert_seen_per_message, payloads, windows,
};
use futures_util::future::join;
use scripted::ScriptedPeer;
use ws_async_std::{Accept, Config, FuturesIo, Role, TcpListener, TcpStream, WebSocket};
use ws_proto::handshake::ClientRequest;

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

const KINDS: [(Opcode, usize); 4] =
    [(Opcode::Binary, 20), (Opcode::Text, 20), (Opcode::Binary, 1024), (Opcode::Text, 1024)];

/// A ws-async-std client and server over loopback TCP, after their handshakes.
async fn tcp_pair(send: (Opcode, Payloads), payloads: Vec<Vec<u8>>) -> Pair<TcpStream, FuturesIo> {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let (client, server) = join(TcpStream::connect(addr), listener.accept()).await;
    let (client, (server, _)) = (client.expect("connect"), server.expect("accept"));
    for s in [&client, &server] {
        s.set_nodelay(true).expect("nodelay");
    }
    let request = ClientRequest::new(addr.to_string(), "/");
    let (client, server) = join(
        ws_async_std::client(client, request, Config::default()),
        ws_async_std::accept_with(server, Config::default(), |_| Ok(Accept::new())),
    )
    .await;
    let (client, _) = client.expect("client handshake");
    let server = server.expect("server handshake");
    Pair { client, server, send, payloads, checked: 0 }
}

/// A server echoing a scripted client, then a client exchanging with a scripted server.
async fn scripted(opcode: Opcode, size: usize, config: &Config) -> [Windows; 2] {
    let messages = payloads(opcode, size, 16);
    let peer = ScriptedPeer::new(true, opcode, messages.clone());
    let ws = WebSocket::from_raw(peer, Role::Server, config.clone());
    let server = windows(&mut ScriptedServer(ws)).await;
    let peer = ScriptedPeer::new(false, opcode, messages.clone());
    let ws = WebSocket::from_raw(peer, Role::Client, config.clone());
    let send = (opcode, Payloads::Borrowed);
    let client = windows(&mut ScriptedClient { ws, send, payloads: messages }).await;
    [server, client]
}

#[test]
fn ws_async_std_steady_state_echo_does_not_allocate() {
    // 1. The reactor on its own thread: the polling thread allocates nothing per message.
    smol::future::block_on(async {
        let default = Config::default();
        for (opcode, size) in KINDS {
            let what = format!("{opcode:?} {size} B");
            let [server, client] = scripted(opcode, size, &default).await;
            let here = Counted::ThisThread;
            assert_none_per_message(&format!("server, scripted client, {what}"), &server, here);
            assert_none_per_message(&format!("client, scripted server, {what}"), &client, here);
            if (opcode, size) == (Opcode::Binary, 20) || (opcode, size) == (Opcode::Text, 1024) {
                let messages = payloads(opcode, size, 16);
                let w = windows(&mut tcp_pair((opcode, Payloads::Borrowed), messages).await).await;
                assert_none_per_message(&format!("client and server over TCP, {what}"), &w, here);
            }
        }
        let messages = payloads(Opcode::Binary, 20, 16);
        let w = windows(&mut tcp_pair((Opcode::Binary, Payloads::Owned), messages).await).await;
        assert_seen_per_message("client and server over TCP, Binary 20 B", &w, Counted::ThisThread);
    });

    // 2. The reactor on this thread, turning at every wake-up: without a registered timer the
    //    whole process allocates nothing per message; with the default timer, async-io does.
    smol::block_on(async {
        let mut no_timer = Config::default();
        no_timer.release_buffers_after = None;
        for (opcode, size) in KINDS {
            let what = format!("on smol::block_on, no timer, {opcode:?} {size} B");
            let [server, client] = scripted(opcode, size, &no_timer).await;
            assert_none_per_message(&format!("server, {what}"), &server, Counted::Process);
            assert_none_per_message(&format!("client, {what}"), &client, Counted::Process);
        }
        let [server, client] = scripted(Opcode::Binary, 20, &Config::default()).await;
        println!("(not asserted) on smol::block_on, default Config, Binary 20 B:");
        println!("  server, scripted client: {server}\n  client, scripted server: {client}");
    });
}
