//! A tokio-tungstenite echo server, configured like ours, for side-by-side comparisons.
//!
//!     cargo run --release -p benches --bin tungstenite-echo -- --addr 127.0.0.1:9402 --threads 1
//!
//! The idiomatic loop: `next()` a message, `send()` text and binary back (send flushes). Pings
//! are answered and closes replied to by tungstenite itself. 16 MiB frames, 64 MiB messages,
//! no compression (tungstenite has none).

use benches::peer::{self, MAX_FRAME_SIZE, MAX_MESSAGE_SIZE, ServerArgs};
use futures_util::{SinkExt, StreamExt};
use tungstenite::protocol::WebSocketConfig;

fn main() -> std::io::Result<()> {
    let args = ServerArgs::from_env("tungstenite-echo");
    peer::run("tokio-tungstenite", &args, |stream| async move {
        let config = WebSocketConfig::default()
            .max_frame_size(Some(MAX_FRAME_SIZE))
            .max_message_size(Some(MAX_MESSAGE_SIZE));
        let mut ws = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await?;
        while let Some(msg) = ws.next().await {
            let msg = msg?;
            if msg.is_text() || msg.is_binary() {
                ws.send(msg).await?;
            }
        }
        Ok::<(), tungstenite::Error>(())
    })
}
