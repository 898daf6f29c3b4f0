//! The entry points for loops that own their buffers: completion-based IO (io_uring, IOCP,
//! submission queues) where the kernel fills a buffer the loop owns, so the connection's
//! borrowed [`recv_buf`](Connection::recv_buf) cannot be held across a submission.

use std::io::IoSlice;
use std::time::Instant;

use bytes::BytesMut;

use super::Connection;

impl Connection {
    /// Feeds received bytes the caller owns, keeping them where possible.
    ///
    /// When the connection holds no partial frame (the common case between messages), `data`
    /// itself becomes the receive buffer: frames are unmasked in place and payloads are handed
    /// out as zero-copy slices of it, so its allocation lives as long as the payloads do.
    /// Otherwise the bytes are appended to what is buffered (one copy), as
    /// [`handle_data`](Self::handle_data) does. Everything else, errors included, is as for
    /// `handle_data`.
    ///
    /// A loop reading into buffers from a pool hands each one in whole: any spare capacity
    /// beyond `data.len()` goes with it and is reused by later appends.
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
    pub fn handle_bytes(&mut self, now: Instant, data: BytesMut) {
        if data.is_empty() || self.input_done {
            return;
        }
        if self.filled != 0 {
            // The start of a frame is buffered: the new bytes must follow it.
            self.handle_data(now, &data);
            return;
        }
        // Nothing is buffered (so no frame is in progress either): adopt the caller's buffer.
        self.filled = data.len();
        self.rbuf = data;
        self.rbuf_large = self.rbuf.capacity() > self.large_rbuf_threshold();
        let _ = self.process(now);
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
        c.handle_bytes(now, BytesMut::from(&HELLO[4..]));
        let Some(Event::Data { payload, .. }) = c.poll_event() else { panic!("no data event") };
        assert_eq!(&payload[..], b"Hello");
        // Empty input changes nothing.
        c.handle_bytes(now, BytesMut::new());
        assert_eq!(c.recv_buffered(), 0);
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
