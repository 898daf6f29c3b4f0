//! A line-based client: connects to the URL given as the first argument, sends every line of
//! standard input as a text message and prints every reply.
//!
//! ```text
//! cargo run -p ws-tokio --example echo_client -- ws://127.0.0.1:9001/
//! ```
//!
//! The socket is split: this task prints what arrives, a second task sends what is typed.
//! At the end of input it closes with 1000 and waits for the server's reply.

use ws_tokio::{CloseCode, Error, Message};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let url = std::env::args().nth(1).unwrap_or_else(|| "ws://127.0.0.1:9001/".to_owned());
    let (ws, response) = ws_tokio::connect(&url).await?;
    eprintln!("connected to {url} (HTTP {})", response.status);
    let (mut read, mut write) = ws.split();

    // Standard input is read on a plain thread: a blocked read must not keep the runtime
    // alive once the server has gone.
    let (lines_tx, mut lines) = tokio::sync::mpsc::channel::<String>(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lines().map_while(Result::ok) {
            if lines_tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    let sender = tokio::spawn(async move {
        while let Some(line) = lines.recv().await {
            write.send_text(line).await?;
        }
        write.close(CloseCode::NORMAL, "end of input").await
    });

    while let Some(message) = read.recv().await {
        match message? {
            Message::Text(text) => println!("{text}"),
            Message::Binary(data) => println!("<{} bytes of binary>", data.len()),
            Message::Close(frame) => eprintln!("server closed: {frame:?}"),
            Message::Ping(_) | Message::Pong(_) => {}
        }
    }
    sender.abort();
    Ok(())
}
