//! The entry points for loops that own their buffers: completion-based IO (io_uring, IOCP,
//! submission queues) where the kernel fills a buffer the loop owns, so the connection's
//! borrowed [`recv_buf`](Connection::recv_buf) cannot be held across a submission.

use std::io::IoSlice;
use std::time::Instant;

use bytes::BytesMut;
use bytes::buf::Limit;

use super::Connection;
use super::recv::MIN_RESERVE;

impl Connection {
    /// Feeds received bytes the caller owns, keeping them where possible.
    ///
    /// The caller's buffer becomes the receive buffer: frames are unmasked in place and
    /// payloads are handed out as zero-copy slices of it, so its allocation lives as long as
    /// the payloads do. When a frame started in an earlier buffer, only the bytes that complete
    /// it are copied (appended to what is buffered), and the rest of `data` is kept as above;
    /// a frame larger than the buffers it arrives in is therefore copied whole, as with
    /// [`handle_data`](Self::handle_data) (a loop that can choose where to read should read
    /// large frames into [`recv_buf`](Self::recv_buf) instead). Everything else, errors
    /// included, is as for `handle_data`.
    ///
    /// A loop reading into buffers from a pool hands each one in whole: spare capacity beyond
    /// `data.len()` goes with it and is reused by later appends.
    ///
    /// ```
    /// use std::time::Instant;
    /// use ws_proto::bytes::BytesMut;
    /// use ws_proto::{Config, Connection, Event, Role};
    ///
    /// let now = Instant::now();
    /// let mut server = Connection::new(Role::Server, Config::default(), now);
    /// // A masked "Hi" (RFC 6455 §5.7, key 37 fa 21 3d), as a completed read returned it.
    /// let read = BytesMut::from(&[0x81, 0x82, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x93][..]);
    /// server.handle_bytes(now, read);
    /// match server.poll_event() {
    ///     Some(Event::Data { payload, fin: true, .. }) => assert_eq!(&payload[..], b"Hi"),
    ///     other => panic!("{other:?}"),
    /// }
    /// ```
    ///
    /// # Panics
    /// While a room taken with [`take_recv_room`](Self::take_recv_room) is out.
    pub fn handle_bytes(&mut self, now: Instant, mut data: BytesMut) {
        self.assert_no_room_out("handle_bytes");
        // A frame is in progress: copy what completes it (its header first, while even that
        // is incomplete), each step consuming at least one byte of `data`.
        while self.filled != 0 && !data.is_empty() && !self.input_done {
            let missing = self.frame_missing().unwrap_or_else(|| self.header_missing());
            let head = data.split_to(missing.clamp(1, data.len()));
            let room = self.rbuf.capacity() - self.filled;
            let want = head.len().max(MIN_RESERVE);
            if self.rbuf.len() == self.filled && room < want && self.filled < want {
                // A few bytes at the end of an adopted buffer: growing that would copy them
                // into an allocation as large as the one they came from. Move them into one
                // just large enough instead (a large frame, once more is buffered than each
                // piece brings, grows the usual way, geometrically).
                let mut joined = BytesMut::with_capacity(self.filled + want);
                joined.extend_from_slice(&self.rbuf[..self.filled]);
                self.rbuf = joined;
            }
            self.handle_data(now, &head);
        }
        if data.is_empty() || self.input_done {
            return;
        }
        // Nothing is buffered (so no frame is in progress either): adopt the rest.
        self.filled = data.len();
        self.rbuf = data;
        self.rbuf_large = self.rbuf.capacity() > self.large_rbuf_threshold();
        let _ = self.process(now);
    }

    /// Takes the receive buffer's spare capacity as a buffer of its own, for a read that
    /// completes later (an io_uring `recv` into it): the owned form of
    /// [`recv_into`](Self::recv_into), for loops that cannot lend a borrowed buffer across a
    /// submission. Give it back with [`give_recv_room`](Self::give_recv_room) once the read
    /// completed, with the bytes read appended (`BytesMut::set_len` after the kernel wrote
    /// them, or any `BufMut` write): they are joined back without a copy and processed.
    ///
    /// The room is the one `recv_into` offers, by the same rule and the same code: empty
    /// (`len() == 0`), never zeroed, its capacity at least half of `read_buffer_size`, inside a
    /// large frame room for its rest (growing with what arrived, at most four times what is
    /// buffered per step; the rest in one step once a fifth of it is here); with a memory
    /// budget it is charged before the buffer grows, and stays charged while it is out. The
    /// [`Limit`] says the most one read should take (a read's worth, or inside a frame its
    /// rest and a read's worth): read at most `min(limit(), spare capacity)` bytes. Whatever
    /// the room holds when it comes back is taken as the bytes read, in order (a different
    /// buffer is appended, a copy).
    ///
    /// [`recv_frame_missing`](Self::recv_frame_missing) tells a loop when a room is worth it:
    /// inside a large frame, where reading straight into the frame's buffer saves a copy of
    /// every byte of it; small messages are cheaper through a pool of provided buffers and
    /// [`handle_data`](Self::handle_data) (an idle connection then holds no receive buffer).
    ///
    /// Returns `None` once input stopped (the peer's Close arrived, the connection failed, or
    /// the memory budget refused the room: the connection then failed with
    /// [`CapacityError::MemoryBudget`](crate::CapacityError::MemoryBudget), code 1013).
    ///
    /// # Panics
    /// If a room is already out. While one is out, the other inputs of received bytes
    /// (`handle_data`, `recv_buf`, `commit`, `recv_into`, `handle_bytes`) panic too: bytes
    /// fed around the room would be reordered. The other inputs (`handle_eof`, timeouts,
    /// commands) are fine; give every room back, even one that read nothing.
    ///
    /// ```
    /// use std::time::Instant;
    /// use ws_proto::bytes::BufMut;
    /// use ws_proto::{Config, Connection, Event, Role};
    ///
    /// let now = Instant::now();
    /// let mut server = Connection::new(Role::Server, Config::default(), now);
    /// let mut room = server.take_recv_room(now).expect("input is open");
    /// // Submitted to the kernel, which completes later; here a masked "Hi" arrives.
    /// room.put_slice(&[0x81, 0x82, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x93]);
    /// server.give_recv_room(now, room);
    /// match server.poll_event() {
    ///     Some(Event::Data { payload, fin: true, .. }) => assert_eq!(&payload[..], b"Hi"),
    ///     other => panic!("{other:?}"),
    /// }
    /// ```
    pub fn take_recv_room(&mut self, now: Instant) -> Option<Limit<BytesMut>> {
        self.assert_no_room_out("take_recv_room");
        if self.input_done {
            return None;
        }
        let room = self.open_room(now);
        if self.input_done {
            // The memory budget refused the room: the connection failed (its buffer is gone).
            return None;
        }
        self.room_out = Some(room.get_ref().capacity());
        Some(room)
    }

    /// Gives back the room [`take_recv_room`](Self::take_recv_room) handed out, holding the
    /// bytes read into it, and processes them as [`handle_data`](Self::handle_data) does
    /// (no copy: the room is joined back to the receive buffer). A room that read nothing
    /// (end of stream, an error, a cancelled read) is given back empty. Once input stopped,
    /// the room and its bytes are dropped.
    ///
    /// # Panics
    /// If no room is out.
    pub fn give_recv_room(&mut self, now: Instant, room: Limit<BytesMut>) {
        assert!(self.room_out.take().is_some(), "give_recv_room without a room taken");
        if self.input_done {
            // Nothing more is processed (input stopped while the read was out, and the buffer
            // went with it): the room and whatever was read into it go too.
            return;
        }
        self.close_room(now, room.into_inner());
    }

    /// Bytes still missing from the frame being received, once its header has arrived
    /// (`None` between frames and while a header is incomplete): how large a read the frame
    /// still needs, for a loop choosing between a pool of small buffers and
    /// [`take_recv_room`](Self::take_recv_room).
    pub fn recv_frame_missing(&self) -> Option<usize> {
        self.frame_missing()
    }

    /// Refuses an input of received bytes while a room is out (see `take_recv_room`).
    pub(super) fn assert_no_room_out(&self, input: &str) {
        assert!(self.room_out.is_none(), "{input} while a receive room is out (give_recv_room)");
    }

    /// Bytes missing from a frame header that is not complete yet: the second byte tells its
    /// length (RFC 6455 §5.2: 2 bytes, 2 or 8 more for the length, 4 for the mask key).
    pub(super) fn header_missing(&self) -> usize {
        let Some(&b1) = self.rbuf[..self.filled].get(1) else { return 1 };
        let extended = match b1 & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let mask: usize = if b1 & 0x80 != 0 { 4 } else { 0 };
        (2 + extended + mask).saturating_sub(self.filled)
    }

    /// Fills `out` with the queued outgoing bytes, in order, for one vectored write (`writev`,
    /// `sendmsg`, an io_uring `writev`), and returns how many slices it filled: up to
    /// `out.len()`, fewer when fewer chunks are queued, `0` when nothing is. Nothing is
    /// allocated; call [`advance_transmit`](Self::advance_transmit) with the number of bytes
    /// written.
    ///
    /// The slices borrow the connection, so this suits loops that write before they touch the
    /// connection again. A loop that must keep the bytes across a submission takes them owned
    /// with [`poll_transmit`](Self::poll_transmit): small frames come as one shared `Bytes` of
    /// the contiguous transmit buffer and large payloads as the very `Bytes` they were sent
    /// with, without copying (only a large frame's header, at most 14 bytes, is copied).
    pub fn transmit_io_slices<'a>(&'a self, out: &mut [IoSlice<'a>]) -> usize {
        let mut count = 0;
        for (slot, chunk) in out.iter_mut().zip(self.transmit_chunks()) {
            *slot = IoSlice::new(chunk);
            count += 1;
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Role};
    use crate::event::Event;

    const HELLO: [u8; 11] = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];

    #[test]
    fn adopts_the_buffer_when_nothing_is_buffered() {
        let now = Instant::now();
        let mut c = Connection::new(Role::Server, Config::default(), now);
        let mut data = BytesMut::with_capacity(4096);
        data.extend_from_slice(&HELLO);
        let start = data.as_ptr() as usize;
        c.handle_bytes(now, data);
        let Some(Event::Data { payload, .. }) = c.poll_event() else { panic!("no data event") };
        assert_eq!(&payload[..], b"Hello");
        // The payload is a slice of the caller's allocation, after the 6-byte header.
        assert_eq!(payload.as_ptr() as usize, start + 6);
        assert_eq!(c.recv_buffered(), 0);
    }

    #[test]
    fn appends_after_a_partial_frame() {
        let now = Instant::now();
        let mut c = Connection::new(Role::Server, Config::default(), now);
        c.handle_bytes(now, BytesMut::from(&HELLO[..4]));
        assert_eq!(c.recv_buffered(), 4);
        assert!(c.poll_event().is_none());
        // The rest of the frame, then a whole second one: only the first frame's rest is
        // copied; the second frame's payload is a slice of the buffer handed in.
        let mut data = BytesMut::from(&HELLO[4..]);
        data.extend_from_slice(&HELLO);
        let second = data.as_ptr() as usize + HELLO.len() - 4;
        c.handle_bytes(now, data);
        for copied in [false, true] {
            let Some(Event::Data { payload, .. }) = c.poll_event() else { panic!("no data") };
            assert_eq!(&payload[..], b"Hello");
            assert_eq!(payload.as_ptr() as usize == second + 6, copied);
        }
        // Empty input changes nothing.
        c.handle_bytes(now, BytesMut::new());
        assert_eq!(c.recv_buffered(), 0);
    }

    #[test]
    fn poll_transmit_hands_out_a_large_payload_without_copying_it() {
        let now = Instant::now();
        let mut c = Connection::new(Role::Server, Config::default(), now);
        let payload = bytes::Bytes::from(vec![5u8; 64 << 10]);
        c.send_binary(payload.clone()).unwrap();
        let header = c.poll_transmit().expect("the header");
        assert_eq!(&header[..], &[0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0][..]);
        let body = c.poll_transmit().expect("the payload");
        assert_eq!(body.as_ptr(), payload.as_ptr(), "the very bytes that were sent");
        assert_eq!(body.len(), payload.len());
        assert!(c.poll_transmit().is_none());
    }

    #[test]
    fn io_slices_follow_the_queue_and_allocate_nothing_per_write() {
        let now = Instant::now();
        let config = Config { copy_threshold: 8, ..Config::default() };
        let mut c = Connection::new(Role::Server, config, now);
        c.send_text("ab").unwrap();
        c.send_binary(vec![7u8; 100]).unwrap();
        c.send_text("cd").unwrap();
        let mut expected = Vec::new();
        expected.extend(c.transmit_chunks().flatten());
        let mut slices = [IoSlice::new(&[]); 2];
        let n = c.transmit_io_slices(&mut slices);
        assert_eq!(n, 2, "more chunks are queued than slots: every slot is filled");
        let mut all = [IoSlice::new(&[]); 16];
        let n = c.transmit_io_slices(&mut all);
        assert_eq!(n, 4, "tail, header, payload, tail");
        let joined: Vec<u8> = all[..n].iter().flat_map(|s| s.iter().copied()).collect();
        assert_eq!(joined, expected);
        assert_eq!(joined.len(), c.transmit_len());
        c.advance_transmit(joined.len());
        assert_eq!(c.transmit_io_slices(&mut [IoSlice::new(&[]); 4]), 0);
    }
}
