//! Steady-state echo through **ws-tokio** allocates nothing per message, in both roles.
//!
//! `zero_alloc.rs` proves it for the core; this proves it for what users run: a ws-tokio
//! `WebSocket` (the core, the shared async driver, the tokio binding with its stack scratch
//! buffer, the timer) on a current-thread tokio runtime, with the default `Config` (so the
//! buffer-release timer is armed). Three exchanges, with binary and text messages of 20 B and
//! 1 KiB (over TCP: binary 20 B and text 1 KiB, to keep the debug-build test short):
//!
//! * a ws-tokio **server** echoing a scripted client (in-memory transport, see
//!   `common/scripted.rs`), the loop of the echo server example (`recv` + `feed`);
//! * a ws-tokio **client** sending to a scripted server and receiving the echo;
//! * a ws-tokio client and a ws-tokio server over **loopback TCP** (`client` and `accept`
//!   handshakes, real sockets, tokio's IO driver), both in one thread.
//!
//! After 1 000 warm-up messages, the allocations of the whole process are counted over 10 000
//! and then 20 000 messages (see `common/echo.rs`): a fixed handful is tolerated, growth with
//! the message count is not. A control (a client that sends a fresh `Vec` per message) shows
//! the count sees allocations on this path. The process-wide count is why this file holds a
//! single test: the harness runs tests on threads of their own, and another test's allocations
//! would count.

#[path = "common/counting.rs"]
mod counting;
#[path = "common/echo.rs"]
mod echo;
#[path = "common/scripted.rs"]
mod scripted;

use benches::wire::Opcode;
use echo::{
    Counted, Pair, Payloads, ScriptedClient, ScriptedServer, assert_none_per_message,
    assert_seen_per_message, payloads, windows,
};
use scripted::ScriptedPeer;
use tokio::net::{TcpListener, TcpStream};
use ws_proto::handshake::ClientRequest;
use ws_tokio::{Config, Role, Tokio, WebSocket};

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

const KINDS: [(Opcode, usize); 4] =
    [(Opcode::Binary, 20), (Opcode::Text, 20), (Opcode::Binary, 1024), (Opcode::Text, 1024)];

/// A ws-tokio client and server over loopback TCP, after their handshakes.
async fn tcp_pair(send: (Opcode, Payloads), payloads: Vec<Vec<u8>>) -> Pair<TcpStream, Tokio> {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let (client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let (client, (server, _)) = (client.expect("connect"), server.expect("accept"));
    for s in [&client, &server] {
        s.set_nodelay(true).expect("nodelay");
    }
    let request = ClientRequest::new(addr.to_string(), "/");
    let (client, server) = tokio::join!(
        ws_tokio::client(client, request, Config::default()),
        ws_tokio::accept(server)
    );
    let (client, _) = client.expect("client handshake");
    let server = server.expect("server handshake");
    Pair { client, server, send, payloads, checked: 0 }
}

#[test]
fn ws_tokio_steady_state_echo_does_not_allocate() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let all = Counted::Process;
        for (opcode, size) in KINDS {
            let what = format!("{opcode:?} {size} B");
            let messages = payloads(opcode, size, 16);
            let send = (opcode, Payloads::Borrowed);

            let peer = ScriptedPeer::new(true, opcode, messages.clone());
            let ws = WebSocket::from_raw(peer, Role::Server, Config::default());
            let w = windows(&mut ScriptedServer(ws)).await;
            assert_none_per_message(&format!("server, scripted client, {what}"), &w, all);

            let peer = ScriptedPeer::new(false, opcode, messages.clone());
            let ws = WebSocket::from_raw(peer, Role::Client, Config::default());
            let w = windows(&mut ScriptedClient { ws, send, payloads: messages.clone() }).await;
            assert_none_per_message(&format!("client, scripted server, {what}"), &w, all);

            if (opcode, size) == (Opcode::Binary, 20) || (opcode, size) == (Opcode::Text, 1024) {
                let w = windows(&mut tcp_pair(send, messages).await).await;
                assert_none_per_message(&format!("client and server over TCP, {what}"), &w, all);
            }
        }
        let messages = payloads(Opcode::Binary, 20, 16);
        let w = windows(&mut tcp_pair((Opcode::Binary, Payloads::Owned), messages).await).await;
        assert_seen_per_message("client and server over TCP, Binary 20 B", &w, all);
    });
}
