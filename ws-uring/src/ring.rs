//! The one module with `unsafe` code: submitting io_uring operations.
//!
//! io_uring reads and writes our memory *after* the call that submits an operation returns, so
//! every pointer in a submission queue entry must stay valid until that operation's last
//! completion. This module makes that a property of its types instead of a promise of its
//! callers: every buffer an operation points into is owned here until the completion says the
//! kernel is done with it, and the rest of the crate submits through safe methods that take
//! ownership (`send` takes the bytes and gives them back with the completion).
//!
//! What lives here:
//! * [`Ring`]: the `io_uring` instance, its provided-buffer ring (multishot receive picks
//!   buffers from it), the receive rooms of in-flight reads into a connection's own buffer,
//!   the bytes of in-flight sends and the timespecs of in-flight timeouts;
//! * typed submissions (`accept_multi`, `recv`, `recv_room`, `send`, `shutdown`, `close`,
//!   `cancel`, `timeout`, `poll_wake`, `connect`) and typed completions ([`Done`]).
//!
//! Operations carry a 64-bit `user_data`: the kind of operation in the top 8 bits and the
//! caller's [`Token`] (a connection's slot and generation) below.

#![allow(unsafe_code)]

use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::io;
use std::net::TcpStream;
use std::os::fd::{FromRawFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use io_uring::types::{BufRingEntry, Fd, Timespec};
use io_uring::{IoUring, Probe, cqueue, opcode, squeue};
use ws_proto::Bytes;
use ws_proto::bytes::BytesMut;
use ws_proto::bytes::buf::Limit;

/// Identifies a connection in completions: its slot index and that slot's generation (so a
/// late completion for a connection that is gone cannot reach the slot's next tenant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) index: u32,
    /// Only the low 24 bits are carried through `user_data`.
    pub(crate) generation: u32,
}

const GEN_MASK: u32 = 0x00ff_ffff;

impl Token {
    fn encode(self, kind: Kind) -> u64 {
        (kind as u64) << 56 | u64::from(self.generation & GEN_MASK) << 32 | u64::from(self.index)
    }

    fn decode(user_data: u64) -> (Option<Kind>, Token) {
        let token =
            Token { index: user_data as u32, generation: (user_data >> 32) as u32 & GEN_MASK };
        (Kind::from_u8((user_data >> 56) as u8), token)
    }

    /// True if `self` (as carried by a completion) names a connection of generation `generation`.
    pub(crate) fn matches(self, generation: u32) -> bool {
        self.generation == generation & GEN_MASK
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Kind {
    Accept = 1,
    Recv,
    Send,
    Shutdown,
    Close,
    Cancel,
    Timeout,
    Wake,
    RecvRoom,
    Connect,
}

impl Kind {
    fn from_u8(v: u8) -> Option<Kind> {
        Some(match v {
            1 => Kind::Accept,
            2 => Kind::Recv,
            3 => Kind::Send,
            4 => Kind::Shutdown,
            5 => Kind::Close,
            6 => Kind::Cancel,
            7 => Kind::Timeout,
            8 => Kind::Wake,
            9 => Kind::RecvRoom,
            10 => Kind::Connect,
            _ => return None,
        })
    }
}

/// A completion, typed.
#[derive(Debug)]
pub(crate) enum Done {
    /// The accepted socket, or the error. `more`: the multishot accept stays armed.
    Accept { result: io::Result<TcpStream>, more: bool },
    /// `result`: bytes received into provided buffer `buf` (0: end of stream), or `-errno`.
    /// `more`: the receive stays armed. Read the bytes with [`Ring::buffer`], then give the
    /// buffer back with [`Ring::recycle`].
    Recv { token: Token, result: i32, buf: Option<u16>, more: bool },
    /// A read into a connection's receive room finished: `result` bytes appended to `room`
    /// (0: end of stream), or `-errno`. The room is handed back, to give to the connection.
    RecvRoom { token: Token, result: i32, room: Option<Limit<BytesMut>> },
    /// A send finished: `result` bytes written (or `-errno`); the bytes are handed back.
    Send { token: Token, result: i32, payload: Option<Payload> },
    /// A `shutdown(SHUT_WR)` finished.
    Shutdown { token: Token, result: i32 },
    /// A `close` finished.
    Close { token: Token },
    /// A `connect` finished: 0, or `-errno`.
    Connect { token: Token, result: i32 },
    /// A cancellation finished (the cancelled operation completes on its own).
    Cancel,
    /// A timeout fired or was superseded.
    Timeout,
    /// The wake-up file descriptor became readable.
    Wake,
}

/// What the kernel supports, detected at start.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Features {
    /// Multishot receive (Linux 6.0): one submission delivers every read.
    pub(crate) multishot_recv: bool,
}

/// What a send writes: one owned buffer (small output, copied together so it goes out with
/// a plain `send`), or the core's chunks (large payloads, not copied).
#[derive(Debug)]
pub(crate) enum Payload {
    Owned(Vec<u8>),
    Chunks(Vec<Bytes>),
}

/// An in-flight send: the bytes, and the iovecs and header that point into them.
struct SendOp {
    payload: Payload,
    _iov: Vec<libc::iovec>,
    _msg: Option<Box<libc::msghdr>>,
}

/// Most iovecs one send carries.
pub(crate) const MAX_IOV: usize = 64;

/// The ring and everything its in-flight operations point into.
pub(crate) struct Ring {
    // Dropped first: see `Drop`.
    ring: IoUring,
    bufs: BufRing,
    /// In-flight sends by slot index: a connection has at most one send in flight.
    sends: Vec<Option<SendOp>>,
    /// In-flight reads into receive rooms by slot index: at most one per connection, and
    /// never while the connection's provided-buffer receive is armed.
    rooms: Vec<Option<Limit<BytesMut>>>,
    /// How many of `rooms` are in flight.
    rooms_out: usize,
    /// In-flight connects' addresses by slot index (boxed: the operation points into them).
    #[allow(clippy::vec_box)]
    addrs: Vec<Option<Box<socket2::SockAddr>>>,
    /// In-flight timeouts' timespecs (the kernel reads them when the entry is submitted; they
    /// are kept until the completion all the same).
    // Boxed: each timespec keeps its address while the vector grows.
    #[allow(clippy::vec_box)]
    timeouts: Vec<Box<Timespec>>,
    features: Features,
    /// Operations submitted whose last completion has not arrived yet.
    in_flight: usize,
    /// `false` if memory the kernel may still write could not be proved idle: leaked on drop.
    quiescent: bool,
}

impl Ring {
    /// A ring with `entries` submission slots and a provided-buffer ring of `buffers` buffers of
    /// `buffer_size` bytes (group 0). Fails with the kernel's error where io_uring or provided
    /// buffer rings (Linux 5.19) are unavailable.
    pub(crate) fn new(entries: u32, buffers: u16, buffer_size: u32) -> io::Result<Ring> {
        // One thread submits and reaps (SINGLE_ISSUER), so completions' task work can wait
        // until the thread asks for completions (DEFER_TASKRUN, Linux 6.1): fewer interruptions
        // and wake-ups per turn. Older kernels refuse the flags: retried without them.
        let ring = IoUring::builder()
            .setup_cqsize(entries * 4)
            .setup_single_issuer()
            .setup_defer_taskrun()
            .build(entries)
            .or_else(|_| IoUring::builder().setup_cqsize(entries * 4).build(entries))?;
        let mut probe = Probe::new();
        ring.submitter().register_probe(&mut probe)?;
        for code in [opcode::Shutdown::CODE, opcode::Close::CODE, opcode::SendMsg::CODE] {
            if !probe.is_supported(code) {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "io_uring lacks shutdown, close or sendmsg (Linux 5.11 or later needed)",
                ));
            }
        }
        let bufs = BufRing::new(&ring, buffers, buffer_size, 0)?;
        let mut ring = Ring {
            ring,
            bufs,
            sends: Vec::new(),
            rooms: Vec::new(),
            rooms_out: 0,
            addrs: Vec::new(),
            timeouts: Vec::new(),
            features: Features { multishot_recv: false },
            in_flight: 0,
            quiescent: true,
        };
        ring.features.multishot_recv = ring.detect_multishot_recv()?;
        Ok(ring)
    }

    pub(crate) fn features(&self) -> Features {
        self.features
    }

    /// Submits a multishot receive on one end of a socket pair and looks at what comes back:
    /// kernels before 6.0 refuse the flag with `EINVAL`.
    fn detect_multishot_recv(&mut self) -> io::Result<bool> {
        let mut fds = [0; 2];
        // SAFETY: `fds` is a valid array of two ints for socketpair to fill.
        if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let probe = Token { index: u32::MAX, generation: 0 };
        self.recv(fds[0], probe, true)?;
        // SAFETY: writes one byte from a valid one-byte buffer to a socket we own.
        unsafe { libc::write(fds[1], b"x".as_ptr().cast(), 1) };
        let mut supported = false;
        let mut done = Vec::new();
        while self.in_flight > 0 {
            self.submit_and_wait(1)?;
            done.clear();
            self.complete(&mut done);
            for d in done.drain(..) {
                if let Done::Recv { result, buf, .. } = d {
                    supported |= result > 0;
                    if let Some(b) = buf {
                        self.recycle(b);
                    }
                }
            }
            if supported && self.in_flight > 0 {
                // Still armed: closing the other end ends it.
                // SAFETY: closes a descriptor we own, once.
                unsafe { libc::close(fds[1]) };
                fds[1] = -1;
            }
        }
        for fd in fds.into_iter().filter(|&fd| fd >= 0) {
            // SAFETY: closes a descriptor we own, once.
            unsafe { libc::close(fd) };
        }
        Ok(supported)
    }

    /// Arms a multishot accept on `listener`.
    pub(crate) fn accept_multi(&mut self, listener: RawFd) -> io::Result<()> {
        let user_data = Token { index: 0, generation: 0 }.encode(Kind::Accept);
        let entry = opcode::AcceptMulti::new(Fd(listener))
            .flags(libc::SOCK_CLOEXEC)
            .build()
            .user_data(user_data);
        self.push(entry)
    }

    /// Arms a receive into the provided buffers: multishot if `multishot`, else one read.
    pub(crate) fn recv(&mut self, fd: RawFd, token: Token, multishot: bool) -> io::Result<()> {
        let user_data = token.encode(Kind::Recv);
        let entry = if multishot {
            opcode::RecvMulti::new(Fd(fd), self.bufs.group).build()
        } else {
            opcode::Recv::new(Fd(fd), std::ptr::null_mut(), self.bufs.size)
                .buf_group(self.bufs.group)
                .build()
                .flags(squeue::Flags::BUFFER_SELECT)
        };
        self.push(entry.user_data(user_data))
    }

    /// Reads once from `fd` straight into `room` (a connection's receive room, from
    /// `Connection::take_recv_room`): at most its spare capacity and its limit. The room is
    /// owned here until the completion, which hands it back with the bytes appended. At most
    /// one per token's slot may be in flight; on failure the room comes back at once.
    pub(crate) fn recv_room(
        &mut self,
        fd: RawFd,
        token: Token,
        mut room: Limit<BytesMut>,
    ) -> Result<(), (io::Error, Limit<BytesMut>)> {
        let index = token.index as usize;
        if self.rooms.len() <= index {
            self.rooms.resize_with(index + 1, || None);
        }
        let limit = room.limit();
        let spare = room.get_mut().spare_capacity_mut();
        let len = spare.len().min(limit).min(u32::MAX as usize);
        if self.rooms[index].is_some() || len == 0 {
            let e = io::Error::other("a room read already in flight, or no room");
            return Err((e, room));
        }
        // The operation points into the room's spare capacity: heap memory that stays put
        // when the `BytesMut` handle moves into `rooms`, and that nothing else writes (the
        // connection split it off its buffer and cannot take it back before the room is given
        // back).
        let entry = opcode::Recv::new(Fd(fd), spare.as_mut_ptr().cast(), len as u32).build();
        self.rooms[index] = Some(room);
        if let Err(e) = self.push(entry.user_data(token.encode(Kind::RecvRoom))) {
            let room = self.rooms[index].take().expect("stored above");
            return Err((e, room));
        }
        self.rooms_out += 1;
        Ok(())
    }

    /// Sends `payload` (at most [`MAX_IOV`] chunks) on `fd`, without `SIGPIPE`. The bytes
    /// come back with the completion. At most one send per token's slot may be in flight.
    pub(crate) fn send(&mut self, fd: RawFd, token: Token, payload: Payload) -> io::Result<()> {
        let index = token.index as usize;
        if self.sends.len() <= index {
            self.sends.resize_with(index + 1, || None);
        }
        let chunks = match &payload {
            Payload::Owned(v) if !v.is_empty() => 1,
            Payload::Chunks(c) if !c.is_empty() && c.len() <= MAX_IOV => c.len(),
            _ => 0,
        };
        if self.sends[index].is_some() || chunks == 0 {
            return Err(io::Error::other(
                "a send already in flight, or no bytes, or too many chunks",
            ));
        }
        let mut iov = Vec::new();
        let mut msg = None;
        // The operation points into the payload's heap memory (which stays put when the
        // payload moves into `sends`), the iovec array and the boxed header.
        let plain = |bytes: &[u8]| {
            let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
            opcode::Send::new(Fd(fd), bytes.as_ptr(), len).flags(libc::MSG_NOSIGNAL).build()
        };
        let entry = match &payload {
            Payload::Owned(v) => plain(v),
            Payload::Chunks(c) if c.len() == 1 => plain(&c[0]),
            Payload::Chunks(c) => {
                iov.extend(
                    c.iter()
                        .map(|b| libc::iovec { iov_base: b.as_ptr() as *mut _, iov_len: b.len() }),
                );
                // SAFETY: msghdr is a plain C struct for which all-zero bytes are a valid value.
                let mut header: Box<libc::msghdr> = Box::new(unsafe { std::mem::zeroed() });
                header.msg_iov = iov.as_mut_ptr();
                header.msg_iovlen = iov.len() as _;
                let entry =
                    opcode::SendMsg::new(Fd(fd), &*header).flags(libc::MSG_NOSIGNAL as u32).build();
                msg = Some(header);
                entry
            }
        };
        self.sends[index] = Some(SendOp { payload, _iov: iov, _msg: msg });
        if let Err(e) = self.push(entry.user_data(token.encode(Kind::Send))) {
            self.sends[index] = None;
            return Err(e);
        }
        Ok(())
    }

    /// Connects `fd` (a new, unconnected socket) to `addr`. The address is owned here until
    /// the completion. At most one per token's slot may be in flight.
    pub(crate) fn connect(
        &mut self,
        fd: RawFd,
        token: Token,
        addr: socket2::SockAddr,
    ) -> io::Result<()> {
        let index = token.index as usize;
        if self.addrs.len() <= index {
            self.addrs.resize_with(index + 1, || None);
        }
        if self.addrs[index].is_some() {
            return Err(io::Error::other("a connect already in flight"));
        }
        let addr = Box::new(addr);
        // The operation points into the boxed address, which stays put in `addrs`.
        let entry = opcode::Connect::new(Fd(fd), addr.as_ptr().cast(), addr.len()).build();
        self.addrs[index] = Some(addr);
        if let Err(e) = self.push(entry.user_data(token.encode(Kind::Connect))) {
            self.addrs[index] = None;
            return Err(e);
        }
        Ok(())
    }

    /// Cancels the connect in flight for `token`.
    pub(crate) fn cancel_connect(&mut self, token: Token) -> io::Result<()> {
        let entry = opcode::AsyncCancel::new(token.encode(Kind::Connect)).build();
        self.push(entry.user_data(Token { index: 0, generation: 0 }.encode(Kind::Cancel)))
    }

    /// Shuts the write side of `fd` down (TCP FIN).
    pub(crate) fn shutdown(&mut self, fd: RawFd, token: Token) -> io::Result<()> {
        let entry = opcode::Shutdown::new(Fd(fd), libc::SHUT_WR).build();
        self.push(entry.user_data(token.encode(Kind::Shutdown)))
    }

    /// Closes `fd`. No operation on it may be in flight: operations name the socket by its
    /// number, which the kernel may look up only when it runs them (a shutdown always runs
    /// later, on a worker thread), and after the close that number can name a new socket.
    pub(crate) fn close(&mut self, fd: RawFd, token: Token) -> io::Result<()> {
        let entry = opcode::Close::new(Fd(fd)).build();
        self.push(entry.user_data(token.encode(Kind::Close)))
    }

    /// Cancels the receive armed for `token`.
    pub(crate) fn cancel_recv(&mut self, token: Token) -> io::Result<()> {
        let entry = opcode::AsyncCancel::new(token.encode(Kind::Recv)).build();
        self.push(entry.user_data(Token { index: 0, generation: 0 }.encode(Kind::Cancel)))
    }

    /// Cancels the read into a room in flight for `token`. Its room comes back with its
    /// completion, as always.
    pub(crate) fn cancel_recv_room(&mut self, token: Token) -> io::Result<()> {
        let entry = opcode::AsyncCancel::new(token.encode(Kind::RecvRoom)).build();
        self.push(entry.user_data(Token { index: 0, generation: 0 }.encode(Kind::Cancel)))
    }

    /// Cancels the send in flight for `token` (one waiting for a peer that does not read
    /// would otherwise keep the socket open after its close). Its bytes come back with its
    /// completion, as always.
    pub(crate) fn cancel_send(&mut self, token: Token) -> io::Result<()> {
        let entry = opcode::AsyncCancel::new(token.encode(Kind::Send)).build();
        self.push(entry.user_data(Token { index: 0, generation: 0 }.encode(Kind::Cancel)))
    }

    /// A completion after `after`, at the latest (an earlier one may come from a past arming).
    pub(crate) fn timeout(&mut self, after: Duration) -> io::Result<()> {
        let ts = Box::new(Timespec::new().sec(after.as_secs()).nsec(after.subsec_nanos()));
        let entry = opcode::Timeout::new(&*ts).build();
        self.timeouts.push(ts);
        let user_data = Token { index: 0, generation: 0 }.encode(Kind::Timeout);
        self.push(entry.user_data(user_data))
    }

    /// A completion once `fd` is readable (the server's stop signal).
    pub(crate) fn poll_wake(&mut self, fd: RawFd) -> io::Result<()> {
        let entry = opcode::PollAdd::new(Fd(fd), libc::POLLIN as u32).build();
        self.push(entry.user_data(Token { index: 0, generation: 0 }.encode(Kind::Wake)))
    }

    /// Cancels every operation in flight (when the worker stops).
    pub(crate) fn cancel_all(&mut self) -> io::Result<()> {
        let entry = opcode::AsyncCancel2::new(io_uring::types::CancelBuilder::any()).build();
        self.push(entry.user_data(Token { index: 0, generation: 0 }.encode(Kind::Cancel)))
    }

    /// Reads into receive rooms in flight.
    pub(crate) fn rooms_out(&self) -> usize {
        self.rooms_out
    }

    /// Operations whose last completion has not arrived.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Submits what is queued and waits for at least `want` completions. An interrupted wait
    /// returns normally.
    pub(crate) fn submit_and_wait(&mut self, want: usize) -> io::Result<()> {
        match self.ring.submit_and_wait(want) {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR) | Some(libc::EBUSY)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Submits what is queued and waits for one completion, at most `limit` (no timeout
    /// operation: the limit is an argument of the wait).
    pub(crate) fn wait_timeout(&mut self, limit: Duration) -> io::Result<()> {
        let ts = Timespec::new().sec(limit.as_secs()).nsec(limit.subsec_nanos());
        let args = io_uring::types::SubmitArgs::new().timespec(&ts);
        match self.ring.submitter().submit_with_args(1, &args) {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME) | Some(libc::EINTR)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Moves every completion waiting in the completion queue into `out`, typed.
    pub(crate) fn complete(&mut self, out: &mut Vec<Done>) {
        let mut cq = self.ring.completion();
        cq.sync();
        for cqe in &mut cq {
            let (kind, token) = Token::decode(cqe.user_data());
            let (result, flags) = (cqe.result(), cqe.flags());
            let more = cqueue::more(flags);
            if !more {
                self.in_flight -= 1;
            }
            let done = match kind {
                Some(Kind::Accept) if result < 0 => {
                    Done::Accept { result: Err(io::Error::from_raw_os_error(-result)), more }
                }
                Some(Kind::Accept) => {
                    // SAFETY: a successful accept's result is a new descriptor that nothing
                    // else in the process knows of: the stream takes sole ownership of it.
                    let stream = unsafe { TcpStream::from_raw_fd(result) };
                    Done::Accept { result: Ok(stream), more }
                }
                Some(Kind::Recv) => {
                    Done::Recv { token, result, buf: cqueue::buffer_select(flags), more }
                }
                Some(Kind::Send) => {
                    let op = self.sends.get_mut(token.index as usize).and_then(Option::take);
                    Done::Send { token, result, payload: op.map(|op| op.payload) }
                }
                Some(Kind::RecvRoom) => {
                    let mut room = self.rooms.get_mut(token.index as usize).and_then(Option::take);
                    self.rooms_out -= usize::from(room.is_some());
                    if let (Some(room), Ok(n @ 1..)) = (&mut room, usize::try_from(result)) {
                        let buf = room.get_mut();
                        // The kernel never writes more than the length it was given.
                        let n = n.min(buf.capacity() - buf.len());
                        // SAFETY: the kernel wrote `n` bytes at the start of the spare
                        // capacity this operation was given (the room was not touched since),
                        // so the first `len + n` bytes are initialized.
                        unsafe { buf.set_len(buf.len() + n) };
                    }
                    Done::RecvRoom { token, result, room }
                }
                Some(Kind::Shutdown) => Done::Shutdown { token, result },
                Some(Kind::Close) => Done::Close { token },
                Some(Kind::Connect) => {
                    // The kernel is done with the address.
                    self.addrs.get_mut(token.index as usize).and_then(Option::take);
                    Done::Connect { token, result }
                }
                Some(Kind::Cancel) => Done::Cancel,
                Some(Kind::Timeout) => {
                    // The kernel copied every timespec when its entry was submitted, so any
                    // one can go: the count only bounds the memory.
                    self.timeouts.pop();
                    Done::Timeout
                }
                Some(Kind::Wake) => Done::Wake,
                None => continue,
            };
            out.push(done);
        }
    }

    /// The `len` bytes received into provided buffer `buf`.
    pub(crate) fn buffer(&self, buf: u16, len: usize) -> &[u8] {
        self.bufs.get(buf, len)
    }

    /// Gives provided buffer `buf` back to the kernel.
    pub(crate) fn recycle(&mut self, buf: u16) {
        self.bufs.recycle(buf);
    }

    /// Queues `entry`, submitting first if the submission queue is full.
    fn push(&mut self, entry: squeue::Entry) -> io::Result<()> {
        loop {
            // SAFETY: every pointer in the entries this module builds points into memory this
            // `Ring` owns until the operation's last completion: the provided buffers (freed
            // only after the ring, see `Drop`), a room being read into (in `rooms` until its
            // completion), a send's bytes, iovecs and header (in `sends`
            // until its completion), a connect's address (in `addrs` until its completion), a
            // timeout's timespec (in `timeouts`). Entries without
            // pointers (accept, shutdown, close, cancel, poll) need nothing.
            let pushed = unsafe { self.ring.submission().push(&entry) };
            if pushed.is_ok() {
                self.in_flight += 1;
                return Ok(());
            }
            self.ring.submit()?;
        }
    }

    /// Called when the worker stops: true if nothing is in flight any more, so the memory the
    /// kernel could write into may be freed. Otherwise that memory is leaked on drop.
    pub(crate) fn set_quiescent(&mut self, quiescent: bool) {
        self.quiescent = quiescent;
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        let _ = self.ring.submitter().unregister_buf_ring(self.bufs.group);
        if !self.quiescent || self.in_flight > 0 {
            // The kernel may still be writing into the provided buffers or a room, or reading
            // a send's bytes: leak them rather than free memory in use.
            std::mem::forget(std::mem::take(&mut self.sends));
            std::mem::forget(std::mem::take(&mut self.rooms));
            std::mem::forget(std::mem::take(&mut self.addrs));
            self.bufs.leak = true;
        }
    }
}

/// A provided-buffer ring: `count` buffers of `size` bytes the kernel picks from for receives,
/// and the ring of descriptors through which they are handed over.
struct BufRing {
    entries: NonNull<BufRingEntry>,
    layout: Layout,
    data: Box<[u8]>,
    size: u32,
    count: u16,
    tail: u16,
    group: u16,
    /// Set when the ring could not be torn down cleanly: the memory is leaked, not freed.
    leak: bool,
}

impl BufRing {
    fn new(ring: &IoUring, count: u16, size: u32, group: u16) -> io::Result<BufRing> {
        assert!(count.is_power_of_two() && count <= 32768, "buffer count: a power of two");
        let layout = Layout::from_size_align(count as usize * size_of::<BufRingEntry>(), 4096)
            .map_err(io::Error::other)?;
        // SAFETY: the layout has a non-zero size (count >= 1).
        let entries = NonNull::new(unsafe { alloc_zeroed(layout) }.cast::<BufRingEntry>())
            .ok_or_else(|| io::Error::from(io::ErrorKind::OutOfMemory))?;
        let data = vec![0u8; count as usize * size as usize].into_boxed_slice();
        let mut bufs = BufRing { entries, layout, data, size, count, tail: 0, group, leak: false };
        // SAFETY: `entries` points to `count` zeroed, page-aligned descriptors that stay
        // allocated until `Ring::drop` has unregistered the group (or forever, if leaked).
        unsafe {
            ring.submitter().register_buf_ring_with_flags(entries.as_ptr() as u64, count, group, 0)
        }
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("io_uring provided buffer rings unavailable (Linux 5.19 or later): {e}"),
            )
        })?;
        for bid in 0..count {
            bufs.recycle(bid);
        }
        Ok(bufs)
    }

    fn get(&self, bid: u16, len: usize) -> &[u8] {
        let start = bid as usize * self.size as usize;
        &self.data[start..start + len.min(self.size as usize)]
    }

    /// Publishes buffer `bid` at the ring's tail.
    fn recycle(&mut self, bid: u16) {
        let slot = (self.tail & (self.count - 1)) as usize;
        let addr = self.data.as_ptr() as u64 + u64::from(bid) * u64::from(self.size);
        // SAFETY: `slot < count`, so the descriptor is inside the allocation; the kernel only
        // reads descriptors between its head and our published tail, and this one is past it.
        let entry = unsafe { &mut *self.entries.as_ptr().add(slot) };
        entry.set_addr(addr);
        entry.set_len(self.size);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
        // SAFETY: the tail is a u16 inside the first descriptor (its `resv` field), suitably
        // aligned; the kernel reads it concurrently, hence the atomic release store, which
        // also orders the descriptor writes above before it.
        unsafe {
            let tail = BufRingEntry::tail(self.entries.as_ptr()) as *const AtomicU16;
            (*tail).store(self.tail, Ordering::Release);
        }
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        if self.leak {
            std::mem::forget(std::mem::take(&mut self.data));
            return;
        }
        // SAFETY: allocated in `new` with this layout, freed once; the group was unregistered.
        unsafe { dealloc(self.entries.as_ptr().cast(), self.layout) };
    }
}
