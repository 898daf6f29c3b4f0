//! A WebSocket client on **smol**: sends each line of standard input as a text message and
//! prints what comes back.
//!
//! ```text
//! cargo run -p ws-async-std --example echo_client -- ws://127.0.0.1:9001
//! cargo run -p ws-async-std --example echo_client -- wss://127.0.0.1:9443 --ca cert.pem
//! ```
//!
//! `--ca FILE` trusts the PEM certificate(s) in FILE instead of the webpki roots (for a server
//! with a self-signed certificate). End standard input (Ctrl-D) to close the connection.
//!
//! The connection is split: one task reads standard input and sends, the main task receives.

use std::error::Error;

use smol::io::{AsyncBufReadExt, BufReader};
use smol::stream::StreamExt;
use ws_async_std::tls::rustls::RootCertStore;
use ws_async_std::tls::rustls::pki_types::CertificateDer;
use ws_async_std::tls::rustls::pki_types::pem::PemObject;
use ws_async_std::{ClientTlsConfig, CloseCode, Config, Message, connect_with, tls};

const USAGE: &str = "usage: echo_client URL [--ca FILE]";

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or(USAGE)?;
    let ca = match (args.next().as_deref(), args.next()) {
        (None, _) => None,
        (Some("--ca"), Some(file)) => Some(trust(&file)?),
        _ => return Err(USAGE.into()),
    };

    smol::block_on(async {
        let (ws, response) = connect_with(&url, |request| request, Config::default(), ca).await?;
        eprintln!("connected to {url} (HTTP {})", response.status);
        let (mut incoming, mut outgoing) = ws.split();

        let sender = smol::spawn(async move {
            let mut lines = BufReader::new(smol::Unblock::new(std::io::stdin())).lines();
            while let Some(line) = lines.next().await {
                outgoing.send_text(line?).await?;
            }
            outgoing.close(CloseCode::NORMAL, "").await?;
            Ok::<_, Box<dyn Error + Send + Sync>>(())
        });

        while let Some(message) = incoming.recv().await {
            match message? {
                Message::Text(text) => println!("{text}"),
                Message::Binary(data) => println!("<{} bytes>", data.len()),
                Message::Close(frame) => eprintln!("server closed: {frame:?}"),
                Message::Ping(_) | Message::Pong(_) => {}
            }
        }
        // The connection is over; stop reading standard input if the server closed first.
        drop(sender);
        Ok(())
    })
}

/// A TLS client configuration trusting the PEM certificates in `file`.
fn trust(file: &str) -> Result<ClientTlsConfig, Box<dyn Error>> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(file)? {
        roots.add(cert?)?;
    }
    Ok(tls::client_config_with_roots(roots)?)
}
