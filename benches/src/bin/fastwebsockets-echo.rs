//! A fastwebsockets echo server, configured like ours, for side-by-side comparisons.
//!
//!     cargo run --release -p benches --bin fastwebsockets-echo -- --addr 127.0.0.1:9403 --threads 1
//!
//! The loop of fastwebsockets' own echo example: a `FragmentCollector` (whole messages, UTF-8
//! checked), automatic pong and close reply, every text and binary message written back.
//! fastwebsockets has one size limit, applied per frame; it is set to our message limit
//! (64 MiB). The upgrade is this crate's minimal handshake on the raw `TcpStream` (the best case
//! for fastwebsockets: hyper's upgrade would add a boxed, rewinding stream under every read).

use benches::peer::{self, MAX_MESSAGE_SIZE, ServerArgs};
use benches::wire;
use fastwebsockets::{FragmentCollector, OpCode, Role, WebSocket};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> std::io::Result<()> {
    let args = ServerArgs::from_env("fastwebsockets-echo");
    peer::run("fastwebsockets", &args, |mut stream| async move {
        wire::server_handshake(&mut stream).await?;
        let mut ws = WebSocket::after_handshake(stream, Role::Server);
        ws.set_auto_close(true);
        ws.set_auto_pong(true);
        ws.set_max_message_size(MAX_MESSAGE_SIZE);
        let mut ws = FragmentCollector::new(ws);
        loop {
            let frame = ws.read_frame().await?;
            match frame.opcode {
                OpCode::Close => break,
                OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
                _ => {}
            }
        }
        Ok::<(), BoxError>(())
    })
}
