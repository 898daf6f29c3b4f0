//! Bytes in, events out.
//!
//! Received bytes land in one buffer. Frame payloads are unmasked in place and text is
//! UTF-8-checked as soon as each byte arrives (so bad text fails fast), but a frame is reported
//! only once it is complete, as a zero-copy `Bytes` slice of that buffer. Reporting whole frames
//! makes the events independent of how the input was chunked.

use std::time::Instant;

use bytes::buf::Limit;
use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::{Connection, Deferred, State};
use crate::close::{CloseBodyError, parse_close_body};
use crate::config::Role;
use crate::error::{CapacityError, Error, ProtocolError};
use crate::event::{CloseCause, Event};
use crate::frame::{FrameHeader, OpCode};
use crate::mask::apply_mask;
use crate::message::MessageKind;

/// Smallest receive buffer `handle_data` allocates: small messages reuse it.
pub(super) const MIN_RESERVE: usize = 256;

/// The incoming data message in progress.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InMessage {
    pub(crate) kind: MessageKind,
    /// Payload bytes received so far, as on the wire.
    wire: u64,
    /// Bytes produced by inflating so far (compressed messages).
    #[cfg_attr(not(feature = "deflate"), allow(dead_code))]
    inflated: u64,
    /// Payload bytes of the frames already reported (inflated when compressed): what the
    /// adapter holds for the message in progress, charged to the memory budget.
    pub(crate) delivered: u64,
    /// RSV1 was set on the first frame: the payload is DEFLATE data.
    compressed: bool,
}

/// A frame whose header has been decoded and whose payload is (partly) in the buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InFrame {
    header: FrameHeader,
    header_len: usize,
    /// Payload bytes already unmasked and validated.
    done: usize,
    /// Payload bytes are text to validate as they arrive.
    check_utf8: bool,
}

impl InFrame {
    fn payload_len(&self) -> usize {
        // Bounded by `max_frame_size` (a `usize`) when the header was accepted.
        self.header.payload_len as usize
    }
}

impl Connection {
    /// Feeds received bytes (copying them into the connection's buffer). Prefer
    /// [`recv_buf`](Self::recv_buf) + [`commit`](Self::commit) to read without the copy.
    ///
    /// Partial input is never an error, and neither is bad input: a peer's protocol violation
    /// or exceeded limit fails the connection (the Close frame with the matching code is queued
    /// once the events before it are taken) and is reported once, by [`Event::Closed`] and its
    /// [`CloseInfo::error`](crate::CloseInfo::error). Input after the connection stopped reading
    /// (peer's Close received, failure, end of stream) is ignored.
    ///
    /// # Panics
    /// While a room taken with [`take_recv_room`](Self::take_recv_room) is out.
    pub fn handle_data(&mut self, now: Instant, data: &[u8]) {
        self.assert_no_room_out("handle_data");
        if data.is_empty() || self.input_done {
            return;
        }
        self.release_large_rbuf();
        // Overwrite the zeroed spare room first, then grow.
        let spare = self.rbuf.len() - self.filled;
        let (into_spare, rest) = data.split_at(data.len().min(spare));
        self.rbuf[self.filled..self.filled + into_spare.len()].copy_from_slice(into_spare);
        let len = self.filled + data.len();
        if !rest.is_empty() && len > self.rbuf.capacity() {
            // A little more than this input, so the next small messages land in the same
            // buffer (reclaimed once their payloads are dropped: no allocation per message),
            // without holding a whole read's worth for a connection that goes idle. Inside a
            // large frame, room ahead in proportion to what arrived (as `recv_buf` does), so
            // small inputs do not copy the buffer each time. While the input fits in the
            // buffer's capacity it is appended as it is: the room made here serves several
            // small messages before the buffer is reclaimed or grown again.
            let ahead = self
                .frame
                .map_or(0, |f| (f.header_len + f.payload_len()).saturating_sub(len).min(len * 4));
            let need = len + ahead.max(rest.len().max(MIN_RESERVE) - rest.len());
            if !self.charge_growth(now, need) {
                return;
            }
            self.grow_to(need);
        }
        self.rbuf.extend_from_slice(rest);
        self.filled += data.len();
        let _ = self.process(now);
    }

    /// Spare room to read into directly: read from the transport into this slice, then call
    /// [`commit`](Self::commit) with the number of bytes read.
    ///
    /// The slice holds at least half of `read_buffer_size` (all of it when the buffer grows:
    /// room left from an earlier read is used up first), more while a large frame is arriving
    /// (growing with what actually arrives, at most four times what is buffered per step, and
    /// the rest of the frame in one step once a fifth of it is here; never past
    /// `max_frame_size` and a read's worth). The buffer is released after a large frame has been consumed so idle
    /// connections stay small.
    ///
    /// The room is zeroed when the buffer grows (a safe `&mut [u8]` must be initialized): a
    /// transport that can read into uninitialized memory safely (tokio's `read_buf`) avoids
    /// that with [`recv_into`](Self::recv_into). With a memory budget, growth made here is
    /// charged by the `commit` that follows.
    ///
    /// # Panics
    /// While a room taken with [`take_recv_room`](Self::take_recv_room) is out.
    pub fn recv_buf(&mut self) -> &mut [u8] {
        self.assert_no_room_out("recv_buf");
        self.release_large_rbuf();
        let read = self.config.read_buffer_size.max(1);
        if let Some(room) = self.room_to_make(self.rbuf.len() - self.filled, read) {
            self.grow_to(self.filled + room);
            self.rbuf.resize(self.filled + room, 0);
        }
        &mut self.rbuf[self.filled..]
    }

    /// Reads into the receive buffer's spare capacity, uninitialized and never zeroed: `read`
    /// appends to the buffer it is given, a [`bytes::BufMut`] (pass it to tokio's
    /// `AsyncReadExt::read_buf` or tokio-util's `poll_read_buf`), and what it appended is
    /// processed as [`handle_data`](Self::handle_data) does. Returns what `read` returned.
    ///
    /// The buffer's `remaining_mut` is the most one read may take: a read's worth
    /// (`read_buffer_size`; after a frame of half a read or more, the room the buffer holds,
    /// up to that frame's length and a read's worth: see
    /// [`reads_in_place`](Self::reads_in_place)), or
    /// inside a frame its rest and a read's worth, as [`recv_buf`](Self::recv_buf)'s room; it
    /// does not grow with the capacity a large frame
    /// left, so what one read can make the connection queue in reply (pongs) stays bounded.
    ///
    /// Use it where the transport reads into a `BufMut`: a large frame then costs no zero-fill
    /// of its room (which [`recv_buf`](Self::recv_buf) needs, since it hands out an initialized
    /// `&mut [u8]`). The room offered follows `recv_buf`'s rule: at least half of
    /// `read_buffer_size`; inside a frame, room for its rest, but no more than four times what
    /// is buffered per step (a peer announcing 16 MiB and sending 10 bytes gets
    /// `read_buffer_size`); the buffer grows only once the room left is under half of
    /// `read_buffer_size`, or to reserve the
    /// rest of the frame (and a read's worth past it) in one step, which it does as soon as a
    /// fifth of the frame has arrived (so always once most of it has): the prefix is not
    /// copied again. With a
    /// memory budget, the room is charged before the buffer grows (and settled to the capacity
    /// it got before `read` runs): a charge that does not fit fails the connection with
    /// [`CapacityError::MemoryBudget`] (close code 1013), and `read` is then given an empty
    /// buffer whose contents are ignored.
    ///
    /// No `unsafe` code is involved here: `read` gets the spare capacity as a `BytesMut` of its
    /// own (split off the received bytes, which it never sees, and joined back afterwards
    /// without a copy), behind [`Limit`], and the uninitialized write happens inside
    /// `BufMut`'s implementor (tokio or `bytes`), behind their safe APIs. Whatever `read` does
    /// to its buffer (grow it, shrink it, replace it through [`Limit::get_mut`]), the bytes it
    /// holds afterwards are taken as the bytes read, in order; the connection's own bytes
    /// cannot be touched. It may append nothing (a read that would block). The bytes should
    /// come from one read of the transport, made just before `now`.
    ///
    /// ```
    /// use std::time::Instant;
    /// use ws_proto::bytes::BufMut;
    /// use ws_proto::{Config, Connection, Event, Role};
    ///
    /// let now = Instant::now();
    /// let mut server = Connection::new(Role::Server, Config::default(), now);
    /// // A masked "Hi" (RFC 6455 §5.7, key 37 fa 21 3d), standing for what a socket read appends.
    /// let wire = [0x81, 0x82, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x93];
    /// let appended = server.recv_into(now, |buf| {
    ///     assert!(buf.remaining_mut() >= wire.len(), "room for a read");
    ///     buf.put_slice(&wire);
    ///     wire.len()
    /// });
    /// assert_eq!(appended, 8);
    /// match server.poll_event() {
    ///     Some(Event::Data { payload, fin: true, .. }) => assert_eq!(&payload[..], b"Hi"),
    ///     other => panic!("{other:?}"),
    /// }
    /// ```
    ///
    /// # Panics
    /// While a room taken with [`take_recv_room`](Self::take_recv_room) is out.
    pub fn recv_into<T>(
        &mut self,
        now: Instant,
        read: impl FnOnce(&mut Limit<BytesMut>) -> T,
    ) -> T {
        self.assert_no_room_out("recv_into");
        let mut spare = self.open_room(now);
        let out = read(&mut spare);
        self.close_room(now, spare.into_inner());
        out
    }

    /// The receive buffer's spare capacity, split off as a buffer of its own (the received
    /// bytes stay behind), grown, charged and limited as [`recv_into`](Self::recv_into)
    /// documents. Join it back with [`close_room`](Self::close_room).
    pub(super) fn open_room(&mut self, now: Instant) -> Limit<BytesMut> {
        self.release_large_rbuf();
        // Room `recv_buf` zeroed and left unused is given up: the read appends after the
        // received bytes. (The capacity stays; only `recv_buf` needs it initialized.)
        self.rbuf.truncate(self.filled);
        // Between frames of half a read or more, a read may take the room the buffer holds (up
        // to what a scratch read at the boundary takes, see `reads_in_place`): the next frame
        // then lands where its payload stays, in as few reads.
        let one_read = self.config.read_buffer_size.max(1);
        let read_size =
            self.room_in_place().map_or(one_read, |(room, want)| room.min(want).max(one_read));
        if let Some(room) = self.room_to_make(self.rbuf.capacity() - self.filled, read_size) {
            if self.charge_growth(now, self.filled + room) {
                self.grow_to(self.filled + room);
                // A small buffer may have grown past the room asked (`BytesMut` rounds up),
                // or a large one taken back its earlier allocation: settle the charge to the
                // capacity before anything is read into it.
                if self.budget.is_some() {
                    let _ = self.charge_budget(now);
                }
            }
        }
        // The reader sees only the spare capacity: a handle of its own on the same
        // allocation, limited as `recv_buf`'s room is (a read's worth, or the rest of the frame
        // and a read's worth), so a read takes no more input than that, whatever the capacity:
        // what one read can make the connection queue (pongs) stays bounded.
        let limit = self.frame_missing().map_or(read_size, |m| m.saturating_add(read_size));
        self.rbuf.split_off(self.filled).limit(limit)
    }

    /// Joins a room from [`open_room`](Self::open_room) back and processes what was read
    /// into it: whatever it holds is taken as the bytes read, in order.
    pub(super) fn close_room(&mut self, now: Instant, spare: BytesMut) {
        let appended = spare.len();
        // Contiguous and from the same allocation (the usual case): joined without a copy;
        // anything else the reader left there is appended, a copy.
        self.rbuf.unsplit(spare);
        if appended == 0 || self.input_done {
            self.rbuf.truncate(self.filled);
            return;
        }
        self.filled += appended;
        let _ = self.process(now);
    }

    /// The room to make for the next read, when the `spare` room there is not enough: `None`
    /// while it is.
    ///
    /// Outside a frame, a read's worth (`read_buffer_size`) once the room left is under half
    /// of that. Inside one, nothing while its rest fits in the room left (a smaller read
    /// finishes it, where growing would copy the whole frame). Otherwise room for its rest,
    /// but no more than four times what is buffered: a declared length reserves memory only in
    /// proportion to what actually arrived (a peer announcing 16 MiB and sending 10 bytes gets
    /// `read_buffer_size`, not 16 MiB), growing geometrically, and only once the room left is
    /// under half a read's worth. As soon as the rest
    /// of the frame is within that bound (once a fifth of it is here, so always once most of
    /// it is), the rest is reserved in one step, so the prefix is not copied again, with a
    /// read's worth past it: the read that ends the frame can take what follows, and comes
    /// back short when the transport has nothing more (tokio then knows the socket is drained
    /// and skips a read that would only find it empty).
    fn room_to_make(&self, spare: usize, read: usize) -> Option<usize> {
        // Room under half a read is too little for one; more is used up first (growing for
        // every few bytes consumed would allocate a buffer each time while the payloads
        // handed out still hold the earlier ones).
        let short = spare < read.div_ceil(2);
        let Some(missing) = self.frame_missing() else {
            return short.then_some(read);
        };
        if missing <= spare {
            return None;
        }
        let step = self.filled.saturating_mul(4);
        if missing <= step {
            return Some(missing.saturating_add(read));
        }
        short.then_some(read.max(step))
    }

    /// Makes the receive buffer's capacity at least `need`.
    ///
    /// A buffer that grew for a large frame is reused first, if nothing holds the rest of its
    /// allocation any more (the payloads split off it were dropped): a stream of large frames
    /// then costs no allocation and no copy of a prefix. Otherwise a large buffer gets exactly
    /// `need` (`BytesMut::reserve` would round up to twice the old capacity, so a frame could
    /// hold twice its size, and charge a memory budget for it), a small one grows as
    /// `BytesMut` does.
    fn grow_to(&mut self, need: usize) {
        if self.rbuf.capacity() >= need {
            return;
        }
        let additional = need - self.rbuf.len();
        if self.rbuf_large && self.rbuf.try_reclaim(additional) {
            return;
        }
        if need <= self.large_rbuf_threshold() {
            self.rbuf.reserve(additional);
            self.rbuf_large |= self.rbuf.capacity() > self.large_rbuf_threshold();
            return;
        }
        let mut grown = BytesMut::with_capacity(need);
        grown.extend_from_slice(&self.rbuf);
        self.rbuf = grown;
        self.rbuf_large = true;
    }

    /// Declares that `n` bytes were read into [`recv_buf`](Self::recv_buf), and processes them
    /// as [`handle_data`](Self::handle_data) does.
    ///
    /// # Panics
    /// If `n` exceeds the length of the slice `recv_buf` returned: that is a bug in the adapter.
    /// While a room taken with [`take_recv_room`](Self::take_recv_room) is out.
    pub fn commit(&mut self, now: Instant, n: usize) {
        self.assert_no_room_out("commit");
        assert!(self.filled + n <= self.rbuf.len(), "commit of more bytes than recv_buf offered");
        if n == 0 || self.input_done {
            return;
        }
        self.filled += n;
        let _ = self.process(now);
    }

    /// Bytes still missing from the frame in progress, once its header is decoded.
    pub(super) fn frame_missing(&self) -> Option<usize> {
        self.frame.map(|f| (f.header_len + f.payload_len()).saturating_sub(self.filled))
    }

    /// Bytes received but not yet consumed (at most one incomplete frame).
    pub fn recv_buffered(&self) -> usize {
        self.filled
    }

    /// Memory held by the receive buffer (its capacity), for adapters and tests that watch
    /// per-connection memory.
    pub fn recv_capacity(&self) -> usize {
        self.rbuf.capacity()
    }

    /// Gives back memory that is not in use: the receive buffer if it holds no partial frame,
    /// the transmit buffer if everything was written, and spare event-queue capacity. The next
    /// read or send allocates again.
    ///
    /// The connection does this by itself once nothing has arrived for
    /// [`Config::release_buffers_after`](crate::Config::release_buffers_after) (through
    /// [`poll_timeout`](Self::poll_timeout)), so a busy connection reuses its buffers and an idle
    /// one holds none. Call it directly to give memory back sooner.
    pub fn release_buffers(&mut self) {
        if self.filled == 0 {
            self.rbuf = Default::default();
            self.rbuf_large = false;
        }
        self.tx.release_if_empty();
        if self.events.is_empty() {
            self.events = Default::default();
        }
        self.give_back_budget();
    }

    /// True if [`release_buffers`](Self::release_buffers) would give memory back.
    pub(crate) fn holds_idle_buffers(&self) -> bool {
        (self.filled == 0 && self.rbuf.capacity() > 0)
            || self.tx.holds_idle_memory()
            || (self.events.is_empty() && self.events.capacity() > 0)
    }

    pub(super) fn large_rbuf_threshold(&self) -> usize {
        (self.config.read_buffer_size * 4).max(64 << 10)
    }

    /// For adapters that read through a scratch buffer of their own at frame boundaries (so
    /// that idle connections hold no receive buffer): true when the next read had better go
    /// straight into the connection ([`recv_into`](Self::recv_into)) instead, so that the next
    /// frame is not copied out of the scratch buffer. That is when no frame is in progress, the
    /// last frame was half a read (`read_buffer_size`) or more, so the next one likely is too,
    /// and the receive buffer has room for a read without allocating: room left in it, or its
    /// allocation taken back (this call does that) now that the payloads split off it are
    /// gone. `recv_into` then offers that room, up to a frame like the last and a read's worth
    /// (at most 64 KiB, or four times `read_buffer_size` if more: what a scratch read at a
    /// frame boundary takes).
    #[inline]
    pub fn reads_in_place(&mut self) -> bool {
        // The common case first, inline: small frames.
        let read = self.config.read_buffer_size;
        if self.last_frame_len < read.div_ceil(2) || self.input_done {
            return false;
        }
        self.room_in_place().is_some_and(|(room, _)| room >= read.max(1))
    }

    /// Outside a frame, after one of half a read or more: the room for a read that the buffer
    /// holds without allocating, and the most a read there should take: a frame like the last
    /// and a read's worth (as inside a frame: its rest and a read's worth), at most what a
    /// scratch read at the boundary takes. The buffer's whole allocation is taken back first
    /// if the payloads split off it are gone.
    fn room_in_place(&mut self) -> Option<(usize, usize)> {
        let read = self.config.read_buffer_size.max(1);
        if self.frame.is_some() || self.last_frame_len < read.div_ceil(2) {
            return None;
        }
        let want = self.last_frame_len.saturating_add(read).min(self.large_rbuf_threshold());
        // The whole allocation, whatever its size (asking for one byte more than the room left
        // makes `try_reclaim` look), only if nothing else holds it any more (no allocation),
        // and without a memory budget: the capacity taken back would be room not charged yet
        // (with one, the room is made as `recv_into` makes it, charged first).
        if self.budget.is_none() && self.rbuf.capacity() - self.filled < want {
            let _ = self.rbuf.try_reclaim(self.rbuf.capacity() - self.rbuf.len() + 1);
        }
        Some((self.rbuf.capacity() - self.filled, want))
    }

    /// The last complete frame needed a large buffer: keep it for the next one.
    fn last_frame_large(&self) -> bool {
        self.last_frame_len > self.large_rbuf_threshold()
    }

    /// Frees a receive buffer that grew for a large frame once nothing is left in it and the
    /// last frame was small again (a stream of large frames keeps reusing it: see `grow_to`).
    fn release_large_rbuf(&mut self) {
        if self.rbuf_large && self.filled == 0 && !self.last_frame_large() {
            self.rbuf = Default::default();
            self.rbuf_large = false;
        }
    }

    /// Consumes every complete frame in the buffer, then charges the memory budget (if any)
    /// for what the connection holds. An `Err` means the connection failed (and stopped
    /// reading); it is reported through the events, never returned to the caller.
    pub(super) fn process(&mut self, now: Instant) -> Result<(), Error> {
        self.process_frames(now)?;
        self.release_large_rbuf();
        if self.budget.is_some() {
            self.charge_budget(now)?;
        }
        Ok(())
    }

    /// Bytes held because of the peer's input: the receive buffer and the message in progress
    /// (after input stopped, the part of it the adapter may still hold until the end).
    fn held(&self) -> usize {
        let as_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        if self.input_done {
            return as_usize(self.pinned);
        }
        let message = self.in_msg.map_or(0, |m| m.delivered);
        let room = self.room_out.unwrap_or(0);
        self.rbuf.capacity().saturating_add(room).saturating_add(as_usize(message))
    }

    /// Charges the budget for what the connection holds now; fails the connection with 1013 if
    /// it does not fit.
    fn charge_budget(&mut self, now: Instant) -> Result<(), Error> {
        self.charge_held(now, self.held())
    }

    /// Before the receive buffer grows to `capacity`: charges the budget (if any) for what the
    /// connection will then hold. Returns false, having failed the connection with 1013 (so
    /// input stopped and the buffer is gone), if that does not fit. The next `process`
    /// settles the charge to the capacity the buffer actually got.
    fn charge_growth(&mut self, now: Instant, capacity: usize) -> bool {
        if self.budget.is_none() || self.input_done || capacity <= self.rbuf.capacity() {
            return true;
        }
        let held = self.held().saturating_sub(self.rbuf.capacity()).saturating_add(capacity);
        self.charge_held(now, held).is_ok()
    }

    fn charge_held(&mut self, now: Instant, held: usize) -> Result<(), Error> {
        let Some(charge) = self.budget.as_mut() else { return Ok(()) };
        if charge.set_held(held) {
            return Ok(());
        }
        charge.note_refusal();
        let limit = charge.limit();
        Err(self.fail(now, CapacityError::MemoryBudget { held, limit }.into()))
    }

    /// Updates the charge after buffers shrank (or input stopped, or the connection is done).
    pub(crate) fn give_back_budget(&mut self) {
        let held = self.held();
        if let Some(charge) = self.budget.as_mut() {
            // Shrinking always fits; if the buffers grew meanwhile, the next `process` charges.
            let _ = charge.set_held(held);
        }
    }

    fn process_frames(&mut self, now: Instant) -> Result<(), Error> {
        self.timers.on_receive(now);
        while !self.input_done {
            if self.frame.is_none() && self.take_small_frame(now)? {
                continue;
            }
            let frame = match self.frame {
                Some(f) => f,
                None => match FrameHeader::decode(&self.rbuf[..self.filled]) {
                    Ok(None) => return Ok(()),
                    Ok(Some((header, header_len))) => {
                        let check_utf8 =
                            self.accept_header(now, &header).map_err(|e| self.fail(now, e))?;
                        InFrame { header, header_len, done: 0, check_utf8 }
                    }
                    Err(e) => return Err(self.fail(now, e.into())),
                },
            };
            let frame = self.advance_payload(now, frame)?;
            if frame.done < frame.payload_len() {
                self.frame = Some(frame);
                return Ok(());
            }
            self.frame = None;
            let total = frame.header_len + frame.payload_len();
            self.last_frame_len = total;
            let mut bytes = self.rbuf.split_to(total);
            self.filled -= total;
            bytes.advance(frame.header_len);
            self.on_frame(now, frame.header, bytes.freeze())?;
        }
        Ok(())
    }

    /// The fast path for the most common frame: a whole, small (7-bit length), unfragmented,
    /// uncompressed text or binary frame, entirely in the buffer, with no message in progress.
    /// Anything else (or anything wrong) returns `Ok(false)` untouched, for the general path
    /// to handle with the same result (`tests/properties.rs`: the same bytes split anywhere, so
    /// taking the general path, give the same events and output).
    #[inline]
    fn take_small_frame(&mut self, now: Instant) -> Result<bool, Error> {
        let Some(f) = self.small_frame(&self.rbuf[..self.filled], false) else { return Ok(false) };
        let payload = f.unmask(&mut self.rbuf[..self.filled]);
        if !f.valid(payload) {
            return Err(self.fail(now, ProtocolError::InvalidUtf8.into()));
        }
        let total = f.total();
        self.last_frame_len = total;
        let mut bytes = self.rbuf.split_to(total);
        self.filled -= total;
        bytes.advance(f.header_len);
        let payload = bytes.freeze();
        self.events.push_back(Event::Data { kind: f.kind, payload, first: true, fin: true });
        Ok(true)
    }

    /// Unmasks and validates the payload bytes that arrived since last time.
    fn advance_payload(&mut self, now: Instant, mut f: InFrame) -> Result<InFrame, Error> {
        let available = (self.filled - f.header_len).min(f.payload_len());
        if available > f.done {
            let range = f.header_len + f.done..f.header_len + available;
            if let Some(key) = f.header.mask {
                apply_mask(&mut self.rbuf[range.clone()], key, f.done);
            }
            if f.check_utf8 && self.recv_utf8.feed(&self.rbuf[range]).is_err() {
                return Err(self.fail(now, ProtocolError::InvalidUtf8.into()));
            }
            f.done = available;
        }
        Ok(f)
    }

    /// Judges a decoded header against role, negotiated extensions, fragmentation state and
    /// limits. Returns whether its payload is text to validate as it arrives.
    fn accept_header(&mut self, now: Instant, h: &FrameHeader) -> Result<bool, Error> {
        if h.rsv2 || h.rsv3 || (h.rsv1 && !self.deflate_enabled()) {
            return Err(ProtocolError::ReservedBits.into());
        }
        match (self.role, h.mask.is_some()) {
            (Role::Server, false) if !self.config.accept_unmasked_frames => {
                return Err(ProtocolError::UnmaskedFrame.into());
            }
            (Role::Client, true) => return Err(ProtocolError::MaskedFrame.into()),
            _ => {}
        }
        if h.payload_len > self.config.max_frame_size as u64 {
            let max = self.config.max_frame_size;
            return Err(CapacityError::FrameTooLarge { size: h.payload_len, max }.into());
        }
        // RSV1 marks the first frame of a compressed message, nothing else (RFC 7692 §6).
        let misplaced_rsv1 = h.rsv1 && h.opcode != OpCode::Text && h.opcode != OpCode::Binary;
        if misplaced_rsv1 {
            return Err(ProtocolError::MisplacedCompressionBit.into());
        }
        let msg = match (h.opcode, self.in_msg) {
            (OpCode::Close | OpCode::Ping | OpCode::Pong, _) => return Ok(false),
            (OpCode::Continuation, None) => {
                return Err(ProtocolError::UnexpectedContinuation.into());
            }
            (OpCode::Text | OpCode::Binary, Some(_)) => {
                return Err(ProtocolError::ExpectedContinuation.into());
            }
            (OpCode::Continuation, Some(m)) => m,
            (op, None) => {
                let kind = if op == OpCode::Text { MessageKind::Text } else { MessageKind::Binary };
                self.recv_utf8.reset();
                self.timers.on_message_start(now, &self.config);
                InMessage { kind, wire: 0, inflated: 0, delivered: 0, compressed: h.rsv1 }
            }
        };
        let wire = msg.wire + h.payload_len;
        if wire > self.config.max_message_size as u64 {
            let max = self.config.max_message_size;
            return Err(CapacityError::MessageTooLarge { size: wire, max }.into());
        }
        self.in_msg = Some(InMessage { wire, ..msg });
        // Compressed text is validated after inflating.
        Ok(msg.kind == MessageKind::Text && !msg.compressed)
    }

    /// Handles one complete frame.
    fn on_frame(&mut self, now: Instant, h: FrameHeader, payload: Bytes) -> Result<(), Error> {
        match h.opcode {
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                let mut msg = self.in_msg.expect("accept_header opened the message");
                let payload = if msg.compressed {
                    self.inflate_frame(&mut msg, &payload, h.fin).map_err(|e| self.fail(now, e))?
                } else {
                    payload
                };
                let kind = msg.kind;
                msg.delivered += payload.len() as u64;
                self.in_msg = Some(msg);
                if h.fin {
                    if kind == MessageKind::Text && self.recv_utf8.finish().is_err() {
                        return Err(self.fail(now, ProtocolError::InvalidUtf8.into()));
                    }
                    self.in_msg = None;
                    self.timers.on_message_end();
                }
                let first = h.opcode != OpCode::Continuation;
                self.events.push_back(Event::Data { kind, payload, first, fin: h.fin });
            }
            OpCode::Ping => {
                if self.config.auto_pong && self.state == State::Open {
                    self.queue_control(OpCode::Pong, &payload);
                }
                self.events.push_back(Event::Ping(payload));
            }
            OpCode::Pong => {
                self.timers.on_pong(now, &payload);
                self.events.push_back(Event::Pong(payload));
            }
            OpCode::Close => match parse_close_body(payload) {
                Ok(frame) => self.defer(Deferred::CloseReceived(now, frame)),
                Err(CloseBodyError::TooShort) => {
                    return Err(self.fail(now, ProtocolError::CloseTooShort.into()));
                }
                Err(CloseBodyError::InvalidCode(c)) => {
                    return Err(self.fail(now, ProtocolError::InvalidCloseCode(c).into()));
                }
                Err(CloseBodyError::InvalidReason) => {
                    return Err(self.fail(now, ProtocolError::InvalidUtf8.into()));
                }
            },
        }
        Ok(())
    }

    /// Fails the connection because of the peer (RFC 6455 §7.1.7): stops reading at once and,
    /// once the events before the failure are taken, queues a Close with the error's code and
    /// starts closing the transport. Returns the error (for `?`; it is not reported from here).
    pub(crate) fn fail(&mut self, now: Instant, err: Error) -> Error {
        self.defer(Deferred::Fail(now, err.clone()));
        err
    }

    /// Inflates one frame of a compressed message, enforcing `max_message_size` on the
    /// inflated size while inflating, and validates inflated text.
    #[cfg(feature = "deflate")]
    fn inflate_frame(
        &mut self,
        msg: &mut InMessage,
        data: &[u8],
        fin: bool,
    ) -> Result<Bytes, Error> {
        use crate::deflate::InflateError;
        // Compressed messages: the smaller of the two limits (see `DeflateConfig`).
        let for_compressed = match &self.config.deflate {
            Some(d) => d.max_message_size,
            None => Some(crate::deflate::DEFAULT_MAX_MESSAGE_SIZE),
        };
        let max = for_compressed
            .map_or(self.config.max_message_size, |m| m.min(self.config.max_message_size));
        let by_size = (max as u64).saturating_sub(msg.inflated) as usize;
        // With a memory budget, inflating stops at the room the budget leaves this connection,
        // reserved before inflating (the output is held until it is reported and, mid-message,
        // until the message ends; the end of `process` settles the charge).
        let held = self.rbuf.capacity().saturating_add(data.len()) + msg.delivered as usize;
        let by_budget = self.budget.as_mut().map(|c| (c.reserve(held, by_size), c.limit()));
        let limit = by_budget.map_or(by_size, |(room, _)| room);
        let Some(deflate) = self.deflate.as_mut() else {
            return Err(ProtocolError::ReservedBits.into());
        };
        let mut out = Vec::new();
        match deflate.inflate(data, fin, limit, &mut out) {
            Ok(()) => {}
            Err(InflateError::TooLarge(n)) => match by_budget {
                Some((room, limit)) if room < by_size => {
                    if let Some(charge) = &self.budget {
                        charge.note_refusal();
                    }
                    let held = held.saturating_add(n as usize);
                    return Err(CapacityError::MemoryBudget { held, limit }.into());
                }
                _ => {
                    let size = msg.inflated + n;
                    return Err(CapacityError::MessageTooLarge { size, max }.into());
                }
            },
            Err(InflateError::Invalid) => return Err(ProtocolError::InvalidCompressedData.into()),
        }
        if out.capacity() - out.len() > 64 << 10 {
            // The output grew by doubling: give back the unused half of a large one.
            out.shrink_to_fit();
        }
        msg.inflated += out.len() as u64;
        if msg.kind == MessageKind::Text && self.recv_utf8.feed(&out).is_err() {
            return Err(ProtocolError::InvalidUtf8.into());
        }
        Ok(Bytes::from(out))
    }

    #[cfg(not(feature = "deflate"))]
    fn inflate_frame(&mut self, _: &mut InMessage, _: &[u8], _: bool) -> Result<Bytes, Error> {
        Err(ProtocolError::ReservedBits.into())
    }

    pub(crate) fn apply_failure(&mut self, now: Instant, err: Error) {
        let cause = match err {
            Error::Protocol(e) => CloseCause::Protocol(e),
            Error::Capacity(e) => CloseCause::Capacity(e),
            // Our own mistakes never fail the connection.
            Error::Usage(_) => return,
        };
        if let Some(code) = err.close_code() {
            self.send_close_frame(Some(code), "");
        }
        self.finish(now, cause);
    }
}
