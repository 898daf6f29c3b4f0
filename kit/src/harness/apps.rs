//! The [`App`] behaviours for the async adapters, written once over three small traits that
//! each async harness implements with its adapter's public API and its runtime.

use std::future::Future;
use std::time::{Duration, Instant};

use ws_proto::{CloseInfo, Message};

use super::{App, End, PANIC_MARKER, Progress, Report, flood_payload};

/// How long a cancelling receive waits before the timer wins and the `recv` future is dropped.
pub(crate) const CANCEL_AFTER: Duration = Duration::from_millis(1);

/// The runtime: spawning (a join that re-raises the task's panic) and sleeping.
pub(crate) trait Runtime: 'static {
    /// Spawns `f`; awaiting the result gives its output or re-raises its panic.
    fn spawn<T: Send + 'static>(
        f: impl Future<Output = T> + Send + 'static,
    ) -> impl Future<Output = T> + Send + 'static;

    /// Sleeps for `d`.
    fn sleep(d: Duration) -> impl Future<Output = ()> + Send;
}

/// Receiving: a socket or a read half.
pub(crate) trait Recv: Send + 'static {
    /// `recv`, with the error mapped to an [`End`].
    fn next(&mut self) -> impl Future<Output = Option<Result<Message, End>>> + Send;

    /// `close_info()` and `last_rtt()`.
    fn info(&self) -> (Option<CloseInfo>, Option<Duration>);
}

/// Sending: a socket or a write half.
pub(crate) trait Sender: Send + 'static {
    /// `send`.
    fn send(&mut self, message: Message) -> impl Future<Output = Result<(), End>> + Send;

    /// `close(code, reason)`.
    fn close(&mut self, code: u16, reason: &str) -> impl Future<Output = Result<(), End>> + Send;
}

/// A whole socket: both, and `split`.
pub(crate) trait Socket: Recv + Sender {
    /// The read half.
    type R: Recv;
    /// The write half.
    type W: Sender;

    /// `split()`.
    fn split(self) -> (Self::R, Self::W);
}

/// Runs `app` on `ws`.
pub(crate) async fn run<R: Runtime, S: Socket>(ws: S, app: App) -> Report {
    match app {
        App::Echo => echo::<R, S>(ws, false).await,
        App::EchoCancelling { split: false } => echo::<R, S>(ws, true).await,
        App::SplitEcho => split_echo::<R, S>(ws, false).await,
        App::EchoCancelling { split: true } => split_echo::<R, S>(ws, true).await,
        App::CloseFirst { code, reason, from_write_half: false } => {
            close_first::<S>(ws, code, reason).await
        }
        App::CloseFirst { code, reason, from_write_half: true } => {
            close_from_write_half::<R, S>(ws, code, reason).await
        }
        App::Flood { size, count, progress } => flood::<R, S>(ws, size, count, progress).await,
        App::Panic => panic!("{PANIC_MARKER}"),
    }
}

/// One receive; with `cancelling`, raced against a short timer and restarted (the abandoned
/// `recv` future is dropped) until a receive wins.
async fn receive<R: Runtime, X: Recv>(
    rx: &mut X,
    cancelling: bool,
    cancelled: &mut usize,
) -> Option<Result<Message, End>> {
    if !cancelling {
        return rx.next().await;
    }
    loop {
        let won = futures_lite::future::or(async { Some(rx.next().await) }, async {
            R::sleep(CANCEL_AFTER).await;
            None
        })
        .await;
        match won {
            Some(result) => return result,
            None => *cancelled += 1,
        }
    }
}

async fn echo<R: Runtime, S: Socket>(mut ws: S, cancelling: bool) -> Report {
    let mut report = Report::default();
    loop {
        match receive::<R, S>(&mut ws, cancelling, &mut report.cancelled).await {
            None => break,
            Some(Err(end)) => {
                report.end = end;
                break;
            }
            Some(Ok(message)) => {
                report.messages.push((Instant::now(), message.clone()));
                if message.is_data() {
                    if let Err(end) = ws.send(message).await {
                        report.end = end;
                        break;
                    }
                }
            }
        }
    }
    (report.close_info, report.last_rtt) = ws.info();
    report
}

async fn split_echo<R: Runtime, S: Socket>(ws: S, cancelling: bool) -> Report {
    let (mut rx, mut tx) = ws.split();
    let (to_writer, from_reader) = smol::channel::unbounded::<Message>();
    let writer = R::spawn(async move {
        while let Ok(message) = from_reader.recv().await {
            if let Err(end) = tx.send(message).await {
                return Some(end);
            }
        }
        None
    });
    let mut report = Report::default();
    loop {
        match receive::<R, S::R>(&mut rx, cancelling, &mut report.cancelled).await {
            None => break,
            Some(Err(end)) => {
                report.end = end;
                break;
            }
            Some(Ok(message)) => {
                report.messages.push((Instant::now(), message.clone()));
                if message.is_data() {
                    // A writer that stopped at its error takes no more; the reader goes on.
                    let _ = to_writer.send(message).await;
                }
            }
        }
    }
    drop(to_writer);
    report.writer_end = writer.await;
    (report.close_info, report.last_rtt) = rx.info();
    report
}

/// Receives (and records) until the end.
async fn receive_all<X: Recv>(rx: &mut X, report: &mut Report) {
    loop {
        match rx.next().await {
            None => break,
            Some(Err(end)) => {
                report.end = end;
                break;
            }
            Some(Ok(message)) => report.messages.push((Instant::now(), message)),
        }
    }
}

async fn close_first<S: Socket>(mut ws: S, code: u16, reason: String) -> Report {
    let mut report = Report::default();
    match ws.close(code, &reason).await {
        Err(end) => report.end = end,
        Ok(()) => receive_all(&mut ws, &mut report).await,
    }
    (report.close_info, report.last_rtt) = ws.info();
    report
}

async fn close_from_write_half<R: Runtime, S: Socket>(ws: S, code: u16, reason: String) -> Report {
    let (mut rx, mut tx) = ws.split();
    // The write half closes from its own task and is kept (not dropped) until the end.
    let closer = R::spawn(async move {
        let result = tx.close(code, &reason).await;
        (tx, result.err())
    });
    let mut report = Report::default();
    receive_all(&mut rx, &mut report).await;
    let (tx, end) = closer.await;
    report.writer_end = end;
    (report.close_info, report.last_rtt) = rx.info();
    drop(tx);
    report
}

async fn flood<R: Runtime, S: Socket>(
    ws: S,
    size: usize,
    count: usize,
    progress: Progress,
) -> Report {
    let (mut rx, mut tx) = ws.split();
    let writer = R::spawn(async move { flood_writes(&mut tx, size, count, &progress).await });
    let mut report = Report::default();
    receive_all(&mut rx, &mut report).await;
    let (sent, end) = writer.await;
    report.sent = sent;
    report.writer_end = end;
    (report.close_info, report.last_rtt) = rx.info();
    report
}

/// The writer of a flood: sends `count` messages of `size` bytes through `tx`, recording when
/// each send returned and bumping `progress`; stops at the first error.
pub(crate) async fn flood_writes<W: Sender>(
    tx: &mut W,
    size: usize,
    count: usize,
    progress: &Progress,
) -> (Vec<Instant>, Option<End>) {
    let mut sent = Vec::with_capacity(count);
    for i in 0..count {
        let payload = flood_payload(i, size);
        match tx.send(Message::binary(payload)).await {
            Ok(()) => {
                sent.push(Instant::now());
                progress.bump();
            }
            Err(end) => return (sent, Some(end)),
        }
    }
    (sent, None)
}
