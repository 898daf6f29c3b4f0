//! The pub/sub benchmark's baseline: tokio-tungstenite and a `tokio::sync::broadcast` channel.
//! Each subscriber's task receives every message from the channel and sends it (it feeds
//! everything the channel already holds and flushes once, so a burst costs one write, as in
//! ws-server); the control connection paces the publisher exactly as for ws-server (see
//! `benches::pubsub`). Every subscriber encodes its own frame from the shared payload.
//!
//!     cargo run --release -p benches --bin tungstenite-pubsub -- --addr 127.0.0.1:9422 --threads 1
//!
//! Subscribers at `/sub`, the control connection at `/ctl`; tungstenite's default limits. The
//! channel holds twice the largest window, so no subscriber can lag out of it.

use std::sync::Arc;

use benches::peer::{self, ServerArgs};
use benches::pubsub::{CONTROL_PATH, MAX_WINDOW, Pacer, SUB_PATH};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_tungstenite::WebSocketStream;
use tungstenite::Message;
use tungstenite::handshake::server::{Request, Response};

type Error = tungstenite::Error;

fn main() -> std::io::Result<()> {
    let args = ServerArgs::from_env("tungstenite-pubsub");
    peer::runtime(args.threads)?.block_on(async move {
        let pacer = Pacer::new();
        let (tx, _) = broadcast::channel::<Bytes>(2 * MAX_WINDOW as usize);
        let listener = TcpListener::bind(&args.addr).await?;
        println!(
            "tokio-tungstenite pub/sub server listening on ws://{} ({} threads)",
            listener.local_addr()?,
            args.threads
        );
        {
            let (pacer, tx) = (pacer.clone(), tx.clone());
            tokio::spawn(async move {
                let count = tx.clone();
                pacer.run(|| count.receiver_count(), |payload| tx.send(payload).unwrap_or(0)).await;
            });
        }
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            };
            stream.set_nodelay(true)?;
            let (pacer, tx) = (pacer.clone(), tx.clone());
            tokio::spawn(async move {
                if let Err(e) = serve(stream, tx, pacer).await {
                    if !matches!(e, Error::ConnectionClosed | Error::Io(_) | Error::Protocol(_)) {
                        eprintln!("connection error: {e}");
                    }
                }
            });
        }
    })
}

// The handshake callback's `Result` (and its large error, an HTTP response) is tungstenite's.
#[allow(clippy::result_large_err)]
async fn serve(
    stream: TcpStream,
    tx: broadcast::Sender<Bytes>,
    pacer: Arc<Pacer>,
) -> Result<(), Error> {
    let mut path = String::new();
    let ws =
        tokio_tungstenite::accept_hdr_async(stream, |request: &Request, response: Response| {
            path = request.uri().path().to_owned();
            Ok(response)
        })
        .await?;
    match path.as_str() {
        SUB_PATH => {
            let rx = tx.subscribe();
            drop(tx);
            subscriber(ws, rx).await
        }
        CONTROL_PATH => control(ws, &pacer).await,
        _ => Ok(()),
    }
}

/// Forwards every published payload until the client goes away.
async fn subscriber(
    ws: WebSocketStream<TcpStream>,
    mut rx: broadcast::Receiver<Bytes>,
) -> Result<(), Error> {
    let (mut sink, mut incoming) = ws.split();
    loop {
        tokio::select! {
            published = rx.recv() => match published {
                Ok(payload) => {
                    sink.feed(Message::Binary(payload)).await?;
                    while let Ok(payload) = rx.try_recv() {
                        sink.feed(Message::Binary(payload)).await?;
                    }
                    sink.flush().await?;
                }
                Err(RecvError::Lagged(n)) => {
                    eprintln!("a subscriber lagged {n} messages behind: closing it");
                    return Ok(());
                }
                Err(RecvError::Closed) => return Ok(()),
            },
            message = incoming.next() => match message {
                None | Some(Ok(Message::Close(_))) => return Ok(()),
                Some(Err(e)) => return Err(e),
                Some(Ok(_)) => {}
            },
        }
    }
}

/// The client's control connection: start and acknowledgements.
async fn control(mut ws: WebSocketStream<TcpStream>, pacer: &Pacer) -> Result<(), Error> {
    while let Some(message) = ws.next().await {
        if let Message::Text(text) = message? {
            if let Err(e) = pacer.control(text.as_str().as_bytes()) {
                eprintln!("tungstenite-pubsub: {e}");
            }
        }
    }
    Ok(())
}
