//! The ws-blocking harness: one thread per connection, `ws_blocking::accept_with` and
//! `ws_blocking::connect_with`.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use ws_proto::Config;

use super::{ACCEPT_WITHIN, App, AppHandle, Harness, blocking_apps};

/// ws-blocking on std threads.
#[derive(Debug, Clone, Copy, Default)]
pub struct Blocking;

impl Harness for Blocking {
    fn name(&self) -> &'static str {
        "blocking"
    }

    fn is_async(&self) -> bool {
        false
    }

    fn serve(&self, listener: TcpListener, config: Config, app: App) -> AppHandle {
        AppHandle::spawn("blocking server", move || {
            let tcp = accept_within(&listener, ACCEPT_WITHIN);
            tcp.set_nodelay(true).expect("nodelay");
            let accept = |_: &ws_blocking::Request| Ok(ws_blocking::Accept::new());
            let ws = ws_blocking::accept_with(tcp, config, accept)
                .expect("the adapter's server handshake failed");
            blocking_apps::run(ws, app)
        })
    }

    fn connect(&self, addr: SocketAddr, config: Config, app: App) -> AppHandle {
        AppHandle::spawn("blocking client", move || {
            let url = format!("ws://{addr}/");
            let (ws, _) = ws_blocking::connect_with(&url, |r| r, config, None)
                .expect("the adapter's client handshake failed");
            blocking_apps::run(ws, app)
        })
    }
}

/// Accepts one connection within `within` (a blocking server thread would just call
/// `accept`; the bound keeps a failed scenario from leaving a thread blocked forever).
fn accept_within(listener: &TcpListener, within: Duration) -> TcpStream {
    listener.set_nonblocking(true).expect("non-blocking listener");
    let deadline = Instant::now() + within;
    loop {
        match listener.accept() {
            Ok((tcp, _)) => {
                tcp.set_nonblocking(false).expect("blocking socket");
                return tcp;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => panic!("no connection accepted: {e}"),
        }
    }
}
