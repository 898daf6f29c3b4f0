//! Input the caller owns, events handed to a callback as they arise: data messages that lie
//! whole in the caller's buffer are slices of it, unmasked in place, with no copy, allocation
//! or reference count per message.

use std::time::Instant;

use super::Connection;
use crate::config::Role;
use crate::error::ProtocolError;
use crate::event::EventRef;
use crate::frame::FrameHeader;
use crate::mask::{apply_mask, apply_mask_short};
use crate::message::MessageKind;

/// A frame for the fast path (see [`Connection::small_frame`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct SmallFrame {
    pub(super) kind: MessageKind,
    pub(super) header_len: usize,
    len: usize,
    key: Option<[u8; 4]>,
}

impl SmallFrame {
    /// Header and payload.
    #[inline(always)]
    pub(super) fn total(&self) -> usize {
        self.header_len + self.len
    }

    /// Unmasks the payload where it lies in `buf` (which starts with this frame) and returns it.
    #[inline(always)]
    pub(super) fn unmask<'b>(&self, buf: &'b mut [u8]) -> &'b [u8] {
        let payload = &mut buf[self.header_len..self.header_len + self.len];
        match self.key {
            Some(key) if self.len <= 125 => apply_mask_short(payload, key),
            Some(key) => apply_mask(payload, key, 0),
            None => {}
        }
        payload
    }

    /// False for text that is not UTF-8.
    #[inline(always)]
    pub(super) fn valid(&self, payload: &[u8]) -> bool {
        // Short text is usually ASCII, which a word-at-a-time check settles fastest.
        self.kind != MessageKind::Text
            || payload.is_ascii()
            || simdutf8::basic::from_utf8(payload).is_ok()
    }
}

impl Connection {
    /// Feeds received bytes the caller owns and hands every event to `on_event` at once, in
    /// order, with the connection (to answer, close, send): the push-style counterpart of
    /// [`handle_data`](Self::handle_data) + [`poll_event`](Self::poll_event), for loops that
    /// read into buffers of their own (a stack array, an io_uring provided buffer) and handle
    /// each message where it lies.
    ///
    /// A data frame of up to 64 KiB that lies whole in `data` (unfragmented, uncompressed:
    /// the common message of chat, telemetry and RPC traffic) is unmasked in place there and
    /// handed out as a slice of it: no copy into the connection's buffer, no allocation, no
    /// reference count. Anything else (larger or fragmented frames, control frames,
    /// compressed messages, a frame cut by the end of `data`) goes through the connection's
    /// buffer exactly as with `handle_data`, and its event is handed out borrowed
    /// ([`Event::as_event_ref`](crate::Event::as_event_ref)). Events queued before the call
    /// are handed out first.
    ///
    /// The events, their order, the errors (a protocol violation fails the connection with
    /// the matching close code and is reported by the last event, [`EventRef::Closed`], once
    /// the transport is done) and the end are those of `handle_data` followed by taking every
    /// event. What the connection sends by itself is the same too; only its order relative to
    /// what `on_event` sends can differ: `handle_data` queues the Pongs of all the Pings in
    /// its input before the application sees the first message, while here each frame is
    /// answered as it is handed out. After the call no event is left to poll, unless
    /// `on_event` caused one.
    ///
    /// `data` is overwritten (unmasked) where frames were taken in place; its bytes are not
    /// needed afterwards. `on_event` must not feed input to the connection (that would put
    /// it out of order); everything else on the connection is fine, sending included.
    /// Copy what must outlive the call ([`EventRef::to_event`]).
    ///
    /// ```
    /// use std::time::Instant;
    /// use ws_proto::{Config, Connection, EventRef, Role};
    ///
    /// let now = Instant::now();
    /// let mut server = Connection::new(Role::Server, Config::default(), now);
    /// // A read of two masked frames, "Hi" twice (RFC 6455 §5.7, key 37 fa 21 3d).
    /// let mut read = [0x81, 0x82, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x93].repeat(2);
    /// let mut echoed = 0;
    /// server.handle_data_with(now, &mut read, |conn, event| {
    ///     if let EventRef::Data { payload, fin: true, .. } = event {
    ///         assert_eq!(payload, b"Hi");
    ///         conn.send_binary(payload).unwrap();
    ///         echoed += 1;
    ///     }
    /// });
    /// assert_eq!(echoed, 2);
    /// assert_eq!(server.transmit_len(), 8, "two unmasked 4-byte frames queued");
    /// ```
    ///
    /// # Panics
    /// While a room taken with [`take_recv_room`](Self::take_recv_room) is out.
    pub fn handle_data_with<F>(&mut self, now: Instant, data: &mut [u8], mut on_event: F)
    where
        F: FnMut(&mut Connection, EventRef<'_>),
    {
        self.assert_no_room_out("handle_data_with");
        self.hand_out(&mut on_event);
        if !data.is_empty() && !self.input_done {
            self.timers.on_receive(now);
        }
        let mut rest = data;
        while !rest.is_empty() && !self.input_done {
            let taken = if self.filled != 0 {
                // A frame is in progress in the buffer: complete it there (its header first,
                // while even that is incomplete), at least one byte per step.
                let missing = self.frame_missing().unwrap_or_else(|| self.header_missing());
                let n = missing.clamp(1, rest.len());
                self.handle_data(now, &rest[..n]);
                n
            } else if let Some(f) = self.small_frame(rest, true) {
                let total = f.total();
                self.last_frame_len = total;
                let payload = f.unmask(rest);
                if f.valid(payload) {
                    let event = EventRef::Data { kind: f.kind, payload, first: true, fin: true };
                    on_event(self, event);
                } else {
                    let _ = self.fail(now, ProtocolError::InvalidUtf8.into());
                }
                total
            } else {
                // One frame through the buffer (what is there of it), or, if its header is
                // incomplete or bad, the rest: the buffer takes it from there.
                let n = match FrameHeader::decode(rest) {
                    Ok(Some((header, header_len))) => usize::try_from(header.payload_len)
                        .map_or(rest.len(), |len| header_len.saturating_add(len)),
                    Ok(None) | Err(_) => rest.len(),
                };
                let n = n.min(rest.len());
                self.handle_data(now, &rest[..n]);
                n
            };
            rest = &mut std::mem::take(&mut rest)[taken..];
            self.hand_out(&mut on_event);
        }
    }

    /// The frame at the start of `buf` if it is one for a fast path: whole, unfragmented,
    /// uncompressed text or binary, masked as the role requires, with no message in progress
    /// and within the limits, with a 7-bit length (or a 16-bit one too, if `extended`). `None`
    /// for anything else (the general path handles it, with the same result).
    #[inline(always)]
    pub(super) fn small_frame(&self, buf: &[u8], extended: bool) -> Option<SmallFrame> {
        let [b0, b1, ..] = *buf else { return None };
        let masked = b1 & 0x80 != 0;
        let expect_masked = match self.role {
            Role::Server => !self.config.accept_unmasked_frames || masked,
            Role::Client => false,
        };
        // FIN, no RSV bit, opcode 1 or 2; the masking the role requires.
        let kind = match b0 {
            0x81 => MessageKind::Text,
            0x82 => MessageKind::Binary,
            _ => return None,
        };
        let (len, header_len) = match b1 & 0x7f {
            126 if extended => {
                let [_, _, hi, lo, ..] = *buf else { return None };
                (usize::from(u16::from_be_bytes([hi, lo])), 4)
            }
            126 | 127 => return None,
            len => (usize::from(len), 2),
        };
        let header_len = header_len + if masked { 4 } else { 0 };
        if masked != expect_masked
            || buf.len() < header_len + len
            || self.in_msg.is_some()
            || len > self.config.max_frame_size
            || len > self.config.max_message_size
        {
            return None;
        }
        let key = masked.then(|| {
            let k = &buf[header_len - 4..header_len];
            [k[0], k[1], k[2], k[3]]
        });
        Some(SmallFrame { kind, header_len, len, key })
    }

    /// Hands every queued event to `on_event`.
    fn hand_out<F>(&mut self, on_event: &mut F)
    where
        F: FnMut(&mut Connection, EventRef<'_>),
    {
        while let Some(event) = self.poll_event() {
            on_event(self, event.as_event_ref());
        }
    }
}
