//! Sends each line of standard input as a text message and prints what comes back.
//!
//!     cargo run -p ws-blocking --example echo_client -- ws://127.0.0.1:9001/ [--ca cert.pem]
//!
//! `--ca` trusts the certificates in a PEM file for `wss://` (e.g. a test server's self-signed
//! certificate) instead of the webpki roots. The connection is split: a thread prints incoming
//! messages while the main thread sends. End of input closes the connection.

use std::io::BufRead;
use std::process::ExitCode;

use ws_blocking::{CloseCode, Config, Error, Message, connect_with};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut url, mut ca) = (None, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--ca" => ca = args.next(),
            _ if url.is_none() => url = Some(arg),
            _ => url = None,
        }
    }
    let Some(url) = url else {
        eprintln!("usage: echo_client URL [--ca CERT.pem]");
        return ExitCode::from(2);
    };
    match run(&url, ca) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_client: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(url: &str, ca: Option<String>) -> Result<(), Error> {
    let tls = ca.map(ws_blocking::tls::client_config_from_pem_file).transpose()?;
    let (ws, response) = connect_with(url, |request| request, Config::default(), tls)?;
    eprintln!("connected (HTTP {})", response.status);
    let (mut rx, mut tx) = ws.split()?;
    let printer = std::thread::spawn(move || {
        while let Some(message) = rx.recv() {
            match message {
                Ok(Message::Text(text)) => println!("{text}"),
                Ok(Message::Binary(data)) => println!("<{} bytes of binary>", data.len()),
                Ok(Message::Close(frame)) => eprintln!("server closed: {frame:?}"),
                Ok(_) => {}
                Err(e) => {
                    eprintln!("receive error: {e}");
                    break;
                }
            }
        }
    });
    for line in std::io::stdin().lock().lines() {
        tx.send_text(line?)?;
    }
    tx.close(CloseCode::NORMAL, "end of input")?;
    let _ = printer.join();
    Ok(())
}
