//! The [`App`] behaviours on ws-blocking: threads instead of tasks, a 1 ms read timeout
//! instead of a dropped future.

use std::panic::resume_unwind;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ws_blocking::{Error, ReadHalf, SplitStream, WebSocket, WriteHalf};
use ws_proto::Message;

use super::apps::CANCEL_AFTER;
use super::{App, End, ErrKind, Op, PANIC_MARKER, Progress, Report, flood_payload};

pub(crate) fn end(op: Op, e: &Error) -> End {
    let kind = match e {
        Error::Io(_) => ErrKind::Io,
        Error::Protocol(_) => ErrKind::Protocol,
        Error::Usage(_) => ErrKind::Usage,
        _ => ErrKind::Other,
    };
    End::Err { op, close_code: e.close_code().map(|c| c.0), kind, text: e.to_string() }
}

/// Runs `app` on `ws`.
pub(crate) fn run<S: SplitStream + 'static>(ws: WebSocket<S>, app: App) -> Report {
    match app {
        App::Echo => echo(ws, false),
        App::EchoCancelling { split: false } => echo(ws, true),
        App::SplitEcho => split_echo(ws, false),
        App::EchoCancelling { split: true } => split_echo(ws, true),
        App::CloseFirst { code, reason, from_write_half: false } => close_first(ws, code, &reason),
        App::CloseFirst { code, reason, from_write_half: true } => {
            close_from_write_half(ws, code, reason)
        }
        App::Flood { size, count, progress } => flood(ws, size, count, progress),
        App::Panic => panic!("{PANIC_MARKER}"),
    }
}

/// Joins a helper thread, re-raising its panic.
fn join<T>(thread: JoinHandle<T>) -> T {
    thread.join().unwrap_or_else(|panic| resume_unwind(panic))
}

/// One receive; with `cancelling`, timed-out receives (1 ms read timeout) are retried.
fn receive(
    recv: &mut impl FnMut() -> Option<Result<Message, Error>>,
    cancelling: bool,
    cancelled: &mut usize,
) -> Option<Result<Message, End>> {
    loop {
        match recv() {
            Some(Err(e)) if cancelling && e.is_timeout() => *cancelled += 1,
            other => return other.map(|r| r.map_err(|e| end(Op::Recv, &e))),
        }
    }
}

fn read_timeout(cancelling: bool) -> Option<Duration> {
    cancelling.then_some(CANCEL_AFTER)
}

fn echo<S: SplitStream>(mut ws: WebSocket<S>, cancelling: bool) -> Report {
    ws.set_read_timeout(read_timeout(cancelling)).expect("a valid read timeout");
    let mut report = Report::default();
    loop {
        let next = receive(&mut || ws.recv(), cancelling, &mut report.cancelled);
        match next {
            None => break,
            Some(Err(end)) => {
                report.end = end;
                break;
            }
            Some(Ok(message)) => {
                report.messages.push((Instant::now(), message.clone()));
                if message.is_data() {
                    if let Err(e) = ws.send(message) {
                        report.end = end(Op::Send, &e);
                        break;
                    }
                }
            }
        }
    }
    report.close_info = ws.close_info().cloned();
    report.last_rtt = ws.last_rtt();
    report
}

fn split<S: SplitStream>(ws: WebSocket<S>) -> (ReadHalf<S>, WriteHalf<S>) {
    ws.split().expect("split")
}

fn finish<S: SplitStream>(report: &mut Report, rx: &ReadHalf<S>) {
    report.close_info = rx.close_info();
    report.last_rtt = rx.last_rtt();
}

fn split_echo<S: SplitStream + 'static>(ws: WebSocket<S>, cancelling: bool) -> Report {
    let (mut rx, mut tx) = split(ws);
    rx.set_read_timeout(read_timeout(cancelling)).expect("a valid read timeout");
    let (to_writer, from_reader) = mpsc::channel::<Message>();
    let writer = std::thread::spawn(move || {
        for message in from_reader {
            if let Err(e) = tx.send(message) {
                return Some(end(Op::Send, &e));
            }
        }
        None
    });
    let mut report = Report::default();
    loop {
        let next = receive(&mut || rx.recv(), cancelling, &mut report.cancelled);
        match next {
            None => break,
            Some(Err(end)) => {
                report.end = end;
                break;
            }
            Some(Ok(message)) => {
                report.messages.push((Instant::now(), message.clone()));
                if message.is_data() {
                    // A writer that stopped at its error takes no more; the reader goes on.
                    let _ = to_writer.send(message);
                }
            }
        }
    }
    drop(to_writer);
    report.writer_end = join(writer);
    finish(&mut report, &rx);
    report
}

fn receive_all(recv: &mut impl FnMut() -> Option<Result<Message, Error>>, report: &mut Report) {
    loop {
        match recv() {
            None => break,
            Some(Err(e)) => {
                report.end = end(Op::Recv, &e);
                break;
            }
            Some(Ok(message)) => report.messages.push((Instant::now(), message)),
        }
    }
}

fn close_first<S: SplitStream>(mut ws: WebSocket<S>, code: u16, reason: &str) -> Report {
    let mut report = Report::default();
    match ws.close(code, reason) {
        Err(e) => report.end = end(Op::Close, &e),
        Ok(()) => receive_all(&mut || ws.recv(), &mut report),
    }
    report.close_info = ws.close_info().cloned();
    report.last_rtt = ws.last_rtt();
    report
}

fn close_from_write_half<S: SplitStream + 'static>(
    ws: WebSocket<S>,
    code: u16,
    reason: String,
) -> Report {
    let (mut rx, mut tx) = split(ws);
    // The write half closes from its own thread and is kept (not dropped) until the end.
    let closer = std::thread::spawn(move || {
        let result = tx.close(code, &reason);
        (tx, result.err().map(|e| end(Op::Close, &e)))
    });
    let mut report = Report::default();
    receive_all(&mut || rx.recv(), &mut report);
    let (tx, writer_end) = join(closer);
    report.writer_end = writer_end;
    finish(&mut report, &rx);
    drop(tx);
    report
}

fn flood<S: SplitStream + 'static>(
    ws: WebSocket<S>,
    size: usize,
    count: usize,
    progress: Progress,
) -> Report {
    let (mut rx, mut tx) = split(ws);
    let writer = std::thread::spawn(move || {
        let mut sent = Vec::with_capacity(count);
        for i in 0..count {
            match tx.send(Message::binary(flood_payload(i, size))) {
                Ok(()) => {
                    sent.push(Instant::now());
                    progress.bump();
                }
                Err(e) => return (sent, Some(end(Op::Send, &e))),
            }
        }
        (sent, None)
    });
    let mut report = Report::default();
    receive_all(&mut || rx.recv(), &mut report);
    let (sent, writer_end) = join(writer);
    report.sent = sent;
    report.writer_end = writer_end;
    finish(&mut report, &rx);
    report
}
