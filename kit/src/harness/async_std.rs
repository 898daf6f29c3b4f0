//! The ws-async-std harnesses: the same adapter (futures-io) on two runtimes.
//!
//! * [`AsyncStd`]: `async_std::task::block_on`, handlers spawned with `async_std::task::spawn`,
//!   the server socket from `ws_async_std::TcpListener`, as the adapter's docs tell async-std
//!   applications to do: async-std's own `TcpStream` cannot half-close (its `poll_close` only
//!   flushes), so the FIN that must follow a Close would wait until the socket is dropped.
//! * [`Smol`]: `smol::block_on`, handlers spawned with `smol::spawn`, the server socket a
//!   `smol::net::TcpStream`.
//!
//! Clients use `ws_async_std::connect_with` on both.

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use futures_lite::{AsyncRead, AsyncWrite};
use ws_proto::{CloseInfo, Config, Message};

use super::apps::{self, Recv, Runtime, Sender, Socket};
use super::{ACCEPT_WITHIN, App, AppHandle, End, ErrKind, Harness, Op};

/// ws-async-std on async-std.
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncStd;

/// ws-async-std on smol.
#[derive(Debug, Clone, Copy, Default)]
pub struct Smol;

struct AsyncStdRt;

impl Runtime for AsyncStdRt {
    fn spawn<T: Send + 'static>(
        f: impl Future<Output = T> + Send + 'static,
    ) -> impl Future<Output = T> + Send + 'static {
        async_std::task::spawn(f)
    }

    fn sleep(d: Duration) -> impl Future<Output = ()> + Send {
        async_std::task::sleep(d)
    }
}

struct SmolRt;

impl Runtime for SmolRt {
    fn spawn<T: Send + 'static>(
        f: impl Future<Output = T> + Send + 'static,
    ) -> impl Future<Output = T> + Send + 'static {
        smol::spawn(f)
    }

    async fn sleep(d: Duration) {
        smol::Timer::after(d).await;
    }
}

fn end(op: Op, e: &ws_async_std::Error) -> End {
    let kind = match e {
        ws_async_std::Error::Io(_) => ErrKind::Io,
        ws_async_std::Error::Protocol(_) => ErrKind::Protocol,
        ws_async_std::Error::Usage(_) => ErrKind::Usage,
        _ => ErrKind::Other,
    };
    End::Err { op, close_code: e.close_code().map(|c| c.0), kind, text: e.to_string() }
}

/// Accepts with the adapter on `tcp` and runs `app` in a spawned handler task.
async fn handle<R: Runtime, S: Stream>(tcp: S, config: Config, app: App) -> super::Report {
    let handler = R::spawn(async move {
        let accept = |_: &ws_async_std::Request| Ok(ws_async_std::Accept::new());
        let ws = ws_async_std::accept_with(tcp, config, accept)
            .await
            .expect("the adapter's server handshake failed");
        apps::run::<R, _>(ws, app).await
    });
    handler.await
}

async fn client<R: Runtime>(addr: SocketAddr, config: Config, app: App) -> super::Report {
    let url = format!("ws://{addr}/");
    let (ws, _) = ws_async_std::connect_with(&url, |r| r, config, None)
        .await
        .expect("the adapter's client handshake failed");
    apps::run::<R, _>(ws, app).await
}

impl Harness for AsyncStd {
    fn name(&self) -> &'static str {
        "async-std"
    }

    fn is_async(&self) -> bool {
        true
    }

    fn serve(&self, listener: TcpListener, config: Config, app: App) -> AppHandle {
        AppHandle::spawn("async-std server", move || {
            async_std::task::block_on(async move {
                let listener = ws_async_std::TcpListener::try_from(listener).expect("listener");
                let accepted = async_std::future::timeout(ACCEPT_WITHIN, listener.accept()).await;
                let (tcp, _) = accepted.expect("no connection in time").expect("accept");
                tcp.set_nodelay(true).expect("nodelay");
                handle::<AsyncStdRt, _>(tcp, config, app).await
            })
        })
    }

    fn connect(&self, addr: SocketAddr, config: Config, app: App) -> AppHandle {
        AppHandle::spawn("async-std client", move || {
            async_std::task::block_on(client::<AsyncStdRt>(addr, config, app))
        })
    }
}

impl Harness for Smol {
    fn name(&self) -> &'static str {
        "smol"
    }

    fn is_async(&self) -> bool {
        true
    }

    fn serve(&self, listener: TcpListener, config: Config, app: App) -> AppHandle {
        AppHandle::spawn("smol server", move || {
            smol::block_on(async move {
                let listener = smol::net::TcpListener::try_from(listener).expect("listener");
                let timeout = async {
                    smol::Timer::after(ACCEPT_WITHIN).await;
                    Err(std::io::ErrorKind::TimedOut.into())
                };
                let accepted = futures_lite::future::or(listener.accept(), timeout).await;
                let (tcp, _) = accepted.expect("no connection in time");
                tcp.set_nodelay(true).expect("nodelay");
                handle::<SmolRt, _>(tcp, config, app).await
            })
        })
    }

    fn connect(&self, addr: SocketAddr, config: Config, app: App) -> AppHandle {
        AppHandle::spawn("smol client", move || smol::block_on(client::<SmolRt>(addr, config, app)))
    }
}

type Ws<S> = ws_async_std::WebSocket<S>;

trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for S {}

impl<S: Stream> Recv for Ws<S> {
    async fn next(&mut self) -> Option<Result<Message, End>> {
        Ws::recv(self).await.map(|r| r.map_err(|e| end(Op::Recv, &e)))
    }

    fn info(&self) -> (Option<CloseInfo>, Option<Duration>) {
        (self.close_info().cloned(), self.last_rtt())
    }
}

impl<S: Stream> Sender for Ws<S> {
    async fn send(&mut self, message: Message) -> Result<(), End> {
        Ws::send(self, message).await.map_err(|e| end(Op::Send, &e))
    }

    async fn close(&mut self, code: u16, reason: &str) -> Result<(), End> {
        Ws::close(self, code, reason).await.map_err(|e| end(Op::Close, &e))
    }
}

impl<S: Stream> Socket for Ws<S> {
    type R = ws_async_std::ReadHalf<S>;
    type W = ws_async_std::WriteHalf<S>;

    fn split(self) -> (Self::R, Self::W) {
        Ws::split(self)
    }
}

impl<S: Stream> Recv for ws_async_std::ReadHalf<S> {
    async fn next(&mut self) -> Option<Result<Message, End>> {
        self.recv().await.map(|r| r.map_err(|e| end(Op::Recv, &e)))
    }

    fn info(&self) -> (Option<CloseInfo>, Option<Duration>) {
        (self.close_info(), self.last_rtt())
    }
}

impl<S: Stream> Sender for ws_async_std::WriteHalf<S> {
    async fn send(&mut self, message: Message) -> Result<(), End> {
        ws_async_std::WriteHalf::send(self, message).await.map_err(|e| end(Op::Send, &e))
    }

    async fn close(&mut self, code: u16, reason: &str) -> Result<(), End> {
        let result = ws_async_std::WriteHalf::close(self, code, reason).await;
        result.map_err(|e| end(Op::Close, &e))
    }
}
