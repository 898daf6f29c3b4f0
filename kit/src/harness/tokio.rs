//! The ws-tokio harness: a multi-thread tokio runtime per connection, the handler spawned as a
//! task (as a server would), `ws_tokio::accept_with` and `ws_tokio::connect_with`.

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::panic::resume_unwind;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use ws_proto::{CloseInfo, Config, Message};

use super::apps::{self, Recv, Runtime, Sender, Socket};
use super::{ACCEPT_WITHIN, App, AppHandle, End, ErrKind, Harness, Op};

/// ws-tokio on tokio.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tokio;

/// tokio as the kit's [`Runtime`] (also ws-server's).
pub(crate) struct TokioRt;

impl Runtime for TokioRt {
    fn spawn<T: Send + 'static>(
        f: impl Future<Output = T> + Send + 'static,
    ) -> impl Future<Output = T> + Send + 'static {
        let task = tokio::spawn(f);
        async move {
            match task.await {
                Ok(output) => output,
                Err(e) if e.is_panic() => resume_unwind(e.into_panic()),
                Err(e) => panic!("task did not complete: {e}"),
            }
        }
    }

    fn sleep(d: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(d)
    }
}

/// A multi-thread runtime with two workers, as a small server would run.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A ws-tokio error (also ws-server's) as the kit's [`End`].
pub(crate) fn end(op: Op, e: &ws_tokio::Error) -> End {
    let kind = match e {
        ws_tokio::Error::Io(_) => ErrKind::Io,
        ws_tokio::Error::Protocol(_) => ErrKind::Protocol,
        ws_tokio::Error::Usage(_) => ErrKind::Usage,
        _ => ErrKind::Other,
    };
    End::Err { op, close_code: e.close_code().map(|c| c.0), kind, text: e.to_string() }
}

impl Harness for Tokio {
    fn name(&self) -> &'static str {
        "tokio"
    }

    fn is_async(&self) -> bool {
        true
    }

    fn serve(&self, listener: TcpListener, config: Config, app: App) -> AppHandle {
        AppHandle::spawn("tokio server", move || {
            runtime().block_on(async move {
                listener.set_nonblocking(true).expect("non-blocking listener");
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let accepted = tokio::time::timeout(ACCEPT_WITHIN, listener.accept()).await;
                let (tcp, _) = accepted.expect("no connection in time").expect("accept");
                tcp.set_nodelay(true).expect("nodelay");
                let handler = TokioRt::spawn(async move {
                    let accept = |_: &ws_tokio::Request| Ok(ws_tokio::Accept::new());
                    let ws = ws_tokio::accept_with(tcp, config, accept)
                        .await
                        .expect("the adapter's server handshake failed");
                    apps::run::<TokioRt, _>(ws, app).await
                });
                handler.await
            })
        })
    }

    fn connect(&self, addr: SocketAddr, config: Config, app: App) -> AppHandle {
        AppHandle::spawn("tokio client", move || {
            runtime().block_on(async move {
                let url = format!("ws://{addr}/");
                let (ws, _) = ws_tokio::connect_with(&url, |r| r, config, None)
                    .await
                    .expect("the adapter's client handshake failed");
                apps::run::<TokioRt, _>(ws, app).await
            })
        })
    }
}

type Ws<S> = ws_tokio::WebSocket<S>;

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
    type R = ws_tokio::ReadHalf<S>;
    type W = ws_tokio::WriteHalf<S>;

    fn split(self) -> (Self::R, Self::W) {
        Ws::split(self)
    }
}

impl<S: Stream> Recv for ws_tokio::ReadHalf<S> {
    async fn next(&mut self) -> Option<Result<Message, End>> {
        self.recv().await.map(|r| r.map_err(|e| end(Op::Recv, &e)))
    }

    fn info(&self) -> (Option<CloseInfo>, Option<Duration>) {
        (self.close_info(), self.last_rtt())
    }
}

impl<S: Stream> Sender for ws_tokio::WriteHalf<S> {
    async fn send(&mut self, message: Message) -> Result<(), End> {
        ws_tokio::WriteHalf::send(self, message).await.map_err(|e| end(Op::Send, &e))
    }

    async fn close(&mut self, code: u16, reason: &str) -> Result<(), End> {
        ws_tokio::WriteHalf::close(self, code, reason).await.map_err(|e| end(Op::Close, &e))
    }
}
