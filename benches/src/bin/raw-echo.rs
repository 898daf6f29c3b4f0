//! The ceiling of the echo comparison: a tokio TCP server that answers the WebSocket upgrade and
//! then writes back every byte it reads, unchanged (no framing, masking or validation).
//!
//!     cargo run --release -p benches --bin raw-echo -- --addr 127.0.0.1:9420 --threads 1
//!     ws-load --url ws://127.0.0.1:9420/ --raw ...
//!
//! It does the reads and writes an echo server does on the same runtime, so no WebSocket
//! server on tokio can use less CPU per message: `ws-load --raw` expects the masked frames it
//! sends back as sent.

use benches::peer::{self, ServerArgs};

fn main() -> std::io::Result<()> {
    let args = ServerArgs::from_env("raw-echo");
    peer::run("raw", &args, peer::raw_echo)
}
