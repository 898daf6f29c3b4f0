//! Commands in, frames queued.

use std::time::Instant;

use bytes::Bytes;

use super::{Connection, State};
use crate::config::Role;
use crate::error::UsageError;
use crate::frame::{FrameHeader, MAX_HEADER_LEN, OpCode};
use crate::mask::apply_mask;
use crate::message::{Compression, Message, MessageKind, Payload, TextPayload};
use crate::prepared::PreparedFrame;

const MAX_CONTROL_PAYLOAD: usize = 125;

impl Connection {
    /// Queues a whole text message.
    ///
    /// Accepts `&str`, `String` or [`Utf8Bytes`](crate::Utf8Bytes); owned payloads above
    /// `copy_threshold` are queued without copying by servers.
    pub fn send_text<'a>(&mut self, text: impl Into<TextPayload<'a>>) -> Result<(), UsageError> {
        self.check_new_message()?;
        self.queue_message(OpCode::Text, text.into().0, Compression::Auto);
        Ok(())
    }

    /// Queues a whole binary message.
    ///
    /// Accepts `&[u8]`, `Vec<u8>` or `Bytes`; owned payloads above `copy_threshold` are queued
    /// without copying by servers (and by clients when the `Bytes` is not shared, masking it in
    /// place).
    pub fn send_binary<'a>(&mut self, data: impl Into<Payload<'a>>) -> Result<(), UsageError> {
        self.check_new_message()?;
        self.queue_message(OpCode::Binary, data.into(), Compression::Auto);
        Ok(())
    }

    /// Queues any [`Message`]: data as [`send_text`](Self::send_text) /
    /// [`send_binary`](Self::send_binary), `Ping` as [`ping`](Self::ping) (timed from `now`),
    /// `Pong` as [`pong`](Self::pong), `Close` as [`close`](Self::close) (`None`: 1000).
    pub fn send_message(&mut self, now: Instant, message: Message) -> Result<(), UsageError> {
        match message {
            Message::Text(text) => self.send_text(text),
            Message::Binary(data) => self.send_binary(data),
            Message::Ping(payload) => self.ping(now, &payload),
            Message::Pong(payload) => self.pong(&payload),
            Message::Close(None) => self.close(now, crate::CloseCode::NORMAL, ""),
            Message::Close(Some(frame)) => self.close(now, frame.code, frame.reason_str()),
        }
    }

    /// Queues a whole message, choosing whether to compress it (when permessage-deflate was
    /// negotiated; otherwise `compression` is ignored). Text must be UTF-8
    /// ([`UsageError::InvalidUtf8`] otherwise).
    pub fn send_with<'a>(
        &mut self,
        kind: MessageKind,
        data: impl Into<Payload<'a>>,
        compression: Compression,
    ) -> Result<(), UsageError> {
        self.check_new_message()?;
        let data = data.into();
        let opcode = match kind {
            MessageKind::Text => {
                simdutf8::basic::from_utf8(data.as_slice()).map_err(|_| UsageError::InvalidUtf8)?;
                OpCode::Text
            }
            MessageKind::Binary => OpCode::Binary,
        };
        self.queue_message(opcode, data, compression);
        Ok(())
    }

    /// Queues one fragment of a message; `fin` ends it.
    ///
    /// The first fragment starts a message of `kind`; later ones must name the same kind (they
    /// go out as continuation frames). Control frames (ping, pong, close) may be sent between
    /// fragments; other messages may not. Text fragments may split a code point, but the
    /// whole message must be UTF-8: each fragment is checked incrementally and an invalid one
    /// is refused ([`UsageError::InvalidUtf8`]) without being queued.
    pub fn send_fragment<'a>(
        &mut self,
        kind: MessageKind,
        data: impl Into<Payload<'a>>,
        fin: bool,
    ) -> Result<(), UsageError> {
        if self.state != State::Open {
            return Err(UsageError::Closed);
        }
        let data = data.into();
        let (opcode, compressed) = match self.out_msg {
            // A fragmented message is compressed whenever the extension allows: its total size
            // is unknown when the first fragment goes out.
            None => match kind {
                MessageKind::Text => (OpCode::Text, self.should_compress(Compression::Always, 0)),
                MessageKind::Binary => {
                    (OpCode::Binary, self.should_compress(Compression::Always, 0))
                }
            },
            Some((k, c)) if k == kind => (OpCode::Continuation, c),
            Some(_) => return Err(UsageError::MessageInProgress),
        };
        if kind == MessageKind::Text {
            let mut v = if opcode == OpCode::Continuation {
                self.send_utf8.clone()
            } else {
                Default::default()
            };
            v.feed(data.as_slice()).map_err(|_| UsageError::InvalidUtf8)?;
            if fin {
                v.finish().map_err(|_| UsageError::InvalidUtf8)?;
            }
            self.send_utf8 = v;
        }
        self.out_msg = if fin { None } else { Some((kind, compressed)) };
        self.queue_data(opcode, fin, data, compressed);
        Ok(())
    }

    /// Queues a frame encoded once for many connections (see [`PreparedFrame`]).
    ///
    /// Servers queue the shared encoded bytes without copying. Clients must mask every frame
    /// with a fresh key, so they encode a masked copy.
    pub fn send_prepared(&mut self, frame: &PreparedFrame) -> Result<(), UsageError> {
        self.check_new_message()?;
        match self.role {
            Role::Server => {
                let chunk = frame.encoded().clone();
                if chunk.len() <= self.config.copy_threshold {
                    let tail = self.tx.tail();
                    tail.extend_from_slice(&chunk);
                    self.tx.appended(chunk.len());
                } else {
                    self.tx.push_chunk(chunk);
                }
            }
            Role::Client => {
                let opcode = match frame.kind() {
                    MessageKind::Text => OpCode::Text,
                    MessageKind::Binary => OpCode::Binary,
                };
                self.queue_frame(opcode, true, false, Payload::Shared(frame.payload().clone()));
            }
        }
        Ok(())
    }

    /// Queues a Ping (payload at most 125 bytes). When its Pong comes back, the round trip is
    /// available from [`last_rtt`](Self::last_rtt); `now` is the send time for that measure.
    pub fn ping(&mut self, now: Instant, payload: &[u8]) -> Result<(), UsageError> {
        self.check_control(payload)?;
        self.queue_control(OpCode::Ping, payload);
        self.timers.on_ping_sent(now, payload);
        Ok(())
    }

    /// Queues a Pong (payload at most 125 bytes): an unsolicited heartbeat, or a manual reply
    /// when `auto_pong` is off.
    pub fn pong(&mut self, payload: &[u8]) -> Result<(), UsageError> {
        self.check_control(payload)?;
        self.queue_control(OpCode::Pong, payload);
        Ok(())
    }

    fn check_new_message(&self) -> Result<(), UsageError> {
        if self.state != State::Open {
            return Err(UsageError::Closed);
        }
        if self.out_msg.is_some() {
            return Err(UsageError::MessageInProgress);
        }
        Ok(())
    }

    fn check_control(&self, payload: &[u8]) -> Result<(), UsageError> {
        if self.state != State::Open {
            return Err(UsageError::Closed);
        }
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(UsageError::ControlPayloadTooLong);
        }
        Ok(())
    }

    /// Encodes a control frame (payload ≤ 125 bytes, already checked) into the transmit queue.
    pub(crate) fn queue_control(&mut self, opcode: OpCode, payload: &[u8]) {
        self.queue_frame(opcode, true, false, Payload::Borrowed(payload));
    }

    fn should_compress(&self, compression: Compression, len: usize) -> bool {
        #[cfg(feature = "deflate")]
        if let Some(d) = &self.deflate {
            return match compression {
                Compression::Auto => d.wants(len),
                Compression::Always => d.can_compress(),
                Compression::Never => false,
            };
        }
        let _ = (compression, len);
        false
    }

    fn queue_message(&mut self, opcode: OpCode, payload: Payload<'_>, compression: Compression) {
        let compressed = self.should_compress(compression, payload.as_slice().len());
        self.queue_data(opcode, true, payload, compressed);
    }

    /// Queues a data frame, compressing its payload first when the message is compressed
    /// (RSV1 goes on the message's first frame only).
    fn queue_data(&mut self, opcode: OpCode, fin: bool, payload: Payload<'_>, compressed: bool) {
        #[cfg(feature = "deflate")]
        if compressed {
            if let Some(mut d) = self.deflate.take() {
                let data = d.compress(payload.as_slice(), fin);
                let rsv1 = opcode != OpCode::Continuation;
                self.queue_frame(opcode, fin, rsv1, Payload::Borrowed(data));
                self.deflate = Some(d);
                return;
            }
        }
        let _ = compressed;
        self.queue_frame(opcode, fin, false, payload);
    }

    /// Encodes one frame into the transmit queue: small ones are copied (and masked) into the
    /// contiguous tail; large owned payloads become their own chunk.
    fn queue_frame(&mut self, opcode: OpCode, fin: bool, rsv1: bool, payload: Payload<'_>) {
        let key = self.mask_key();
        let len = payload.as_slice().len();
        let mut header = FrameHeader::new(opcode, len as u64);
        header.fin = fin;
        header.rsv1 = rsv1;
        header.mask = key;
        let mut hbuf = [0u8; MAX_HEADER_LEN];
        let hlen = header.encode(&mut hbuf);

        let big = len > self.config.copy_threshold;
        let payload = match payload {
            // A large owned payload becomes its own chunk: as is for servers, masked in place
            // for clients when nobody else holds it.
            Payload::Shared(bytes) if big => match key {
                None => return self.push_with_header(&hbuf[..hlen], bytes),
                Some(key) => match bytes.try_into_mut() {
                    Ok(mut owned) => {
                        apply_mask(&mut owned, key, 0);
                        return self.push_with_header(&hbuf[..hlen], owned.freeze());
                    }
                    Err(shared) => Payload::Shared(shared),
                },
            },
            other => other,
        };
        // Everything else is copied (and masked) into the reusable tail buffer.
        let data = payload.as_slice();
        let tail = self.tx.tail();
        tail.reserve(hlen + len);
        tail.extend_from_slice(&hbuf[..hlen]);
        let start = tail.len();
        tail.extend_from_slice(data);
        if let Some(key) = key {
            apply_mask(&mut tail[start..], key, 0);
        }
        self.tx.appended(hlen + len);
    }

    fn push_with_header(&mut self, header: &[u8], payload: Bytes) {
        self.tx.push_frame(header, payload);
    }
}
