//! The state both halves share, and the write role.

use std::io::{self, Write};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use ws_proto::{Bytes, Connection};

use super::sealed::{Codec, Split};
use crate::Error;
use crate::io::{ByteQueue, Outbox, end_after_write_error, write_outbox, write_timeout_for};
use crate::transport::Transport;

/// Plaintext encoded per step under TLS: bounds how long the read half may wait for the TLS
/// session lock while a large message is encrypted.
const ENCODE_STEP: usize = 256 << 10;

/// Shared by a [`ReadHalf`](super::ReadHalf) and a [`WriteHalf`](super::WriteHalf).
///
/// Lock order: `codec` before `core`, never the reverse (only the read half holds both, to feed
/// decrypted bytes to the connection).
pub(crate) struct Shared<S: Split> {
    core: Mutex<Core<S::Raw>>,
    codec: Mutex<S::Codec>,
    /// Signalled whenever the write role is given back.
    released: Condvar,
}

pub(crate) struct Core<R> {
    pub(crate) conn: Connection,
    /// The write role: present while nobody is writing.
    writer: Option<Box<Writer<R>>>,
    /// Bytes taken from the connection but not yet written.
    in_flight: usize,
    /// The read half found the role taken and asks its holder to write everything out.
    flush_requested: bool,
    /// The codec has bytes of its own to send.
    codec_output: bool,
    pub(crate) write_timeout: Option<Duration>,
    /// The transport failure that ended the connection, reported in place of its end.
    pub(crate) io_error: Option<io::Error>,
}

/// The write role: the socket's write handle and what it has yet to write, in order.
struct Writer<R> {
    raw: R,
    /// Taken from the connection, not yet encoded.
    plain: ByteQueue,
    /// Encoded, not yet written.
    encoded: ByteQueue,
    /// The write timeout last set on `raw` (`None`: unknown).
    applied_timeout: Option<Option<Duration>>,
}

impl<R> Core<R> {
    fn has_output_over(&self, keep: usize) -> bool {
        self.conn.transmit_len() + self.in_flight > keep || self.codec_output
    }
}

impl<S: Split> Shared<S> {
    pub(crate) fn new(
        conn: Connection,
        raw: S::Raw,
        codec: S::Codec,
        write_timeout: Option<Duration>,
    ) -> Self {
        let writer = Writer {
            raw,
            plain: ByteQueue::default(),
            encoded: ByteQueue::default(),
            applied_timeout: None,
        };
        let codec_output = codec.wants_write();
        let core = Core {
            conn,
            writer: Some(Box::new(writer)),
            in_flight: 0,
            flush_requested: false,
            codec_output,
            write_timeout,
            io_error: None,
        };
        Shared { core: Mutex::new(core), codec: Mutex::new(codec), released: Condvar::new() }
    }

    /// Locks the connection state. A panic elsewhere cannot leave it inconsistent (every
    /// critical section is a single core call), so poisoning is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Core<S::Raw>> {
        self.core.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_codec(&self) -> MutexGuard<'_, S::Codec> {
        self.codec.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Bytes queued or in flight.
    pub(crate) fn queued(&self) -> usize {
        let core = self.lock();
        core.conn.transmit_len() + core.in_flight
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.lock().in_flight
    }

    /// Feeds bytes read from the socket (none: only what the codec already buffered) to the
    /// connection. A protocol error they cause is the connection's to report.
    pub(crate) fn feed(&self, raw: &[u8]) -> io::Result<()> {
        let now = Instant::now();
        let mut codec = self.lock_codec();
        let mut core = self.lock();
        let conn = &mut core.conn;
        let eof = codec.decode(raw, &mut |plain| conn.handle_data(now, plain))?;
        if eof {
            core.conn.handle_eof(now);
        }
        core.codec_output |= codec.wants_write();
        Ok(())
    }

    /// The transport failed (reading or writing): the connection ends; `e` is reported in place
    /// of its end unless it had already ended.
    pub(crate) fn transport_failed(&self, e: &io::Error) {
        let mut core = self.lock();
        Self::record_failure(&mut core, e);
    }

    fn record_failure(core: &mut Core<S::Raw>, e: &io::Error) {
        if core.io_error.is_none() && !core.conn.is_finished() {
            core.io_error = Some(io::Error::new(e.kind(), e.to_string()));
        }
        core.conn.handle_transport_error(Instant::now());
    }

    /// Gets queued bytes written until at most `keep` remain.
    ///
    /// `wait`: if another thread holds the write role, wait for it, then continue. Otherwise
    /// (the read half before it blocks on a read) ask the holder to write everything out and
    /// return at once; and when taking the role, write what is queued now and give the role
    /// back, without chasing what the other half queues meanwhile.
    pub(crate) fn write_out(&self, keep: usize, wait: bool) -> Result<(), Error> {
        let mut core = self.lock();
        loop {
            if !core.has_output_over(keep) {
                return Ok(());
            }
            if let Some(writer) = core.writer.take() {
                return self.write_as_holder(core, writer, keep, wait);
            }
            if !wait {
                core.flush_requested = true;
                return Ok(());
            }
            core = self.released.wait(core).unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn write_as_holder<'a>(
        &'a self,
        mut core: MutexGuard<'a, Core<S::Raw>>,
        mut w: Box<Writer<S::Raw>>,
        mut keep: usize,
        chase: bool,
    ) -> Result<(), Error> {
        loop {
            if std::mem::take(&mut core.flush_requested) {
                keep = 0;
            }
            while let Some(chunk) = core.conn.poll_transmit() {
                core.in_flight += chunk.len();
                w.plain.push(chunk);
            }
            core.codec_output = false;
            let timeout = write_timeout_for(&core.conn, core.write_timeout);
            drop(core);
            let result = self.write_all(&mut w, timeout);
            core = self.lock();
            core.in_flight = w.plain.queued() + w.encoded.queued();
            let more = (chase && core.has_output_over(keep)) || core.flush_requested;
            if result.is_ok() && more {
                continue;
            }
            if let Err(e) = &result {
                if !crate::io::is_timeout(e) {
                    Self::record_failure(&mut core, e);
                }
                if end_after_write_error(&mut core.conn, e) {
                    w.plain.clear();
                    w.encoded.clear();
                    core.in_flight = 0;
                }
            }
            core.writer = Some(w);
            self.released.notify_all();
            return result.map_err(Error::from);
        }
    }

    /// Encodes and writes everything the role holds. Runs without the connection lock.
    fn write_all(&self, w: &mut Writer<S::Raw>, timeout: Option<Duration>) -> io::Result<()> {
        if w.applied_timeout != Some(timeout) {
            w.raw.set_write_timeout(timeout)?;
            w.applied_timeout = Some(timeout);
        }
        loop {
            write_outbox(&mut w.raw, &mut w.encoded, 0)?;
            let step = w.plain.take_front(ENCODE_STEP);
            let mut codec = self.lock_codec();
            if step.is_empty() {
                if !codec.wants_write() {
                    drop(codec);
                    return w.raw.flush();
                }
                w.encoded.push(codec.encode(Bytes::new())?);
            }
            for piece in step {
                w.encoded.push(codec.encode(piece)?);
            }
        }
    }

    /// Ends the write direction: writes what is in flight, the codec's goodbye (TLS
    /// `close_notify`), then half-closes the socket. Waits at most `patience` for the write
    /// role; if the other half keeps it (blocked on a peer that does not read), half-closes
    /// through `fallback`, the read half's handle to the same socket.
    pub(crate) fn shutdown(&self, fallback: &mut S::Raw, patience: Duration) {
        let deadline = Instant::now() + patience;
        let mut core = self.lock();
        let mut w = loop {
            if let Some(w) = core.writer.take() {
                break w;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let _ = fallback.shutdown_write();
                return;
            }
            core = self.released.wait_timeout(core, left).unwrap_or_else(PoisonError::into_inner).0;
        };
        let timeout = Some(core.write_timeout.map_or(patience, |t| t.min(patience)));
        drop(core);
        let _ = self
            .write_all(&mut w, timeout)
            .and_then(|()| self.lock_codec().shutdown())
            .and_then(|goodbye| {
                w.encoded.push(goodbye);
                write_outbox(&mut w.raw, &mut w.encoded, 0)
            })
            .and_then(|()| w.raw.shutdown_write());
        w.plain.clear();
        w.encoded.clear();
        let mut core = self.lock();
        core.in_flight = 0;
        core.writer = Some(w);
        self.released.notify_all();
    }

    /// Takes the connection apart again, if the write role is home and nothing is in flight.
    #[allow(clippy::type_complexity)]
    pub(crate) fn into_parts(
        self,
    ) -> Result<(Connection, S::Raw, S::Codec, Option<Duration>), Box<Self>> {
        let codec = self.codec.into_inner().unwrap_or_else(PoisonError::into_inner);
        let mut core = self.core.into_inner().unwrap_or_else(PoisonError::into_inner);
        match core.writer.take() {
            Some(w) if core.in_flight == 0 => Ok((core.conn, w.raw, codec, core.write_timeout)),
            writer => {
                core.writer = writer;
                let released = Condvar::new();
                Err(Box::new(Shared { core: Mutex::new(core), codec: Mutex::new(codec), released }))
            }
        }
    }
}
