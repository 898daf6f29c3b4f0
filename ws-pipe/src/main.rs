//! # ws-pipe: a WebSocket server that relays between named pipes and browsers
//!
//! A drop-in for gwsocket: the same command line, the same standard and strict (12-byte
//! header) formats, and more: several pipe pairs by request path, keepalive, idle timeout,
//! origin lists, token auth, TLS, Unix sockets, permessage-deflate, a demo page and a JSON
//! access log. Built on `ws-server`. See the README and `ws-pipe --help`.

mod access_log;
mod channel;
mod cli;
mod demo;
mod format;
mod input;
mod output;

use std::io;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

use ws_server::Server;

use crate::access_log::AccessLog;
use crate::channel::{Channel, Clients, Shared};
use crate::cli::{Command, Endpoint, Options};
use crate::output::{Output, ensure_fifo};

fn main() -> ExitCode {
    let options = match cli::parse(std::env::args().skip(1)) {
        Ok(Command::Run(options)) => options,
        Ok(Command::Help) => {
            print!("{}", cli::HELP);
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!("ws-pipe {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("ws-pipe: {e}\nTry 'ws-pipe --help' for the options.");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("ws-pipe: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(*options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ws-pipe: {e}");
            ExitCode::FAILURE
        }
    }
}

fn endpoint_name(endpoint: &Endpoint, std: &str) -> String {
    match endpoint {
        Endpoint::Fifo(path) => path.display().to_string(),
        Endpoint::Std => std.to_owned(),
    }
}

async fn run(o: Options) -> io::Result<()> {
    let access_log = o.access_log.as_deref().map(AccessLog::open).transpose()?;
    let shared = Arc::new(Shared {
        clients: Clients::default(),
        access_log,
        origins: o.origins.clone(),
        auth_token: o.auth_token.clone(),
        server: OnceLock::new(),
    });
    let tls = o.ssl_cert.is_some();
    let mut builder = Server::builder();
    builder = match (&o.unix_socket, &o.ssl_cert, &o.ssl_key) {
        (Some(path), _, _) => builder.bind_unix(path),
        (None, Some(cert), Some(key)) => builder.bind_tls_pem(o.listen_addr(), cert, key),
        _ => builder.bind(o.listen_addr()),
    };

    let mut inputs = Vec::new();
    let mut described = Vec::new();
    if o.echo {
        builder = builder.route_prefix("/", channel::echo_route(&shared, &o));
        described.push("echo mode".to_owned());
    }
    for (index, spec) in o.all_channels().into_iter().enumerate() {
        for endpoint in std::iter::once(&spec.input).chain(&spec.output) {
            if let Endpoint::Fifo(path) = endpoint {
                ensure_fifo(path)?;
            }
        }
        let input_name = endpoint_name(&spec.input, "stdin");
        let output_name =
            spec.output.as_ref().map_or("none".into(), |e| endpoint_name(e, "stdout"));
        described.push(format!("{} <- {input_name}, -> {output_name}", spec.path));
        let output = spec.output.map(|e| Output::start(e, o.pipe_buffer));
        let channel = Arc::new(Channel::new(index, &input_name, &o, output, Arc::clone(&shared)));
        let route = channel::route(Arc::clone(&channel), &o);
        builder = match spec.path.as_str() {
            // The default pair serves every path no other channel has, as gwsocket does.
            "/" => builder.route_prefix("/", route),
            path => builder.route(path, route),
        };
        inputs.push((channel, spec.input));
    }
    builder = match &o.static_dir {
        Some(dir) => builder.static_dir(dir),
        None => builder.http(|req| async move { demo::respond(&req) }),
    };

    let server = builder.build().await?;
    let _ = shared.server.set(server.handle());
    for (channel, endpoint) in inputs {
        tokio::spawn(input::run(channel, endpoint, o.strict, o.max_frame_size));
    }
    // On stderr: stdout may be the output pipe (--stdout).
    match &o.unix_socket {
        Some(path) => eprintln!("ws-pipe: listening on unix socket {}", path.display()),
        None => {
            for addr in server.local_addrs() {
                eprintln!("ws-pipe: listening on {}://{addr}/", if tls { "wss" } else { "ws" });
            }
        }
    }
    let mode = if o.strict { "strict" } else { "standard" };
    eprintln!("ws-pipe: {mode} mode; {}", described.join("; "));
    server.serve_with_shutdown(shutdown_signal()).await
}

/// Ctrl-C or SIGTERM: every client gets Close 1001.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
