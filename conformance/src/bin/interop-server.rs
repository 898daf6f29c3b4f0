//! The scripted interop server (see `conformance::script`) on one adapter.
//!
//! ```text
//! interop-server --adapter tokio|async-std|blocking [--addr 127.0.0.1:0]
//!                [--tls-cert cert.pem --tls-key key.pem]
//! ```
//!
//! Prints `listening on PORT` once it accepts connections, then serves each connection on its
//! own thread until killed.

use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::Arc;

use conformance::cli::Args;
use conformance::script::{self, SERVER_PROTOCOLS, ServerState};
use conformance::session::{Adapter, BoxError, ServerTls};

const USAGE: &str = "usage: interop-server --adapter tokio|async-std|blocking \
                     [--addr 127.0.0.1:0] [--tls-cert FILE --tls-key FILE]";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("interop-server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), BoxError> {
    let args = Args::parse(USAGE, &[])?;
    args.only(&["adapter", "addr", "tls-cert", "tls-key"])?;
    let adapter: Adapter = args.required("adapter")?.parse()?;
    let tls = match (args.get("tls-cert"), args.get("tls-key")) {
        (Some(cert), Some(key)) => Some(ServerTls::from_pem_files(cert.as_ref(), key.as_ref())?),
        (None, None) => None,
        _ => return Err(format!("--tls-cert and --tls-key go together\n{USAGE}").into()),
    };
    let listener = TcpListener::bind(args.get("addr").unwrap_or("127.0.0.1:0"))?;
    println!("listening on {}", listener.local_addr()?.port());
    let state = Arc::new(ServerState::default());
    for tcp in listener.incoming() {
        let tcp = tcp?;
        let (state, tls) = (state.clone(), tls.clone());
        std::thread::spawn(move || {
            let served = adapter
                .accept(tcp, tls.as_ref(), &SERVER_PROTOCOLS)
                .and_then(|mut ws| script::serve(&mut *ws, &state));
            if let Err(e) = served {
                eprintln!("interop-server ({adapter}): connection failed: {e}");
            }
        });
    }
    Ok(())
}
