//! `inflate`: permessage-deflate (RFC 7692) on the receiving side of a server.
//!
//! Input layout: a control byte (message limit, the client's window bits, context takeover,
//! mode, input path), two bytes seeding the chunking, then the payload.
//!
//! Two modes:
//! * **raw**: the payload is the byte stream a client sent after negotiating
//!   permessage-deflate: compressed frames, broken DEFLATE data, bombs, misplaced RSV1 bits.
//!   Every invariant of [`frames`](crate::frames) holds (no panic, right close codes, nothing
//!   after `Closed`, split invariance), no event or message exceeds `max_message_size` once
//!   inflated (the decompression-bomb guard), and the peak heap stays linear in the input.
//! * **round trip**: the payload is cut into messages that an independent compressor
//!   (`flate2`, raw DEFLATE with the negotiated window, sync flush, tail stripped, context
//!   kept or reset as negotiated) turns into compressed and plain frames, some fragmented;
//!   the server must deliver exactly the original messages.

use flate2::{Compress, Compression, FlushCompress};
use ws_proto::deflate::DeflateConfig;
use ws_proto::handshake::{ExtensionOffer, Negotiated};
use ws_proto::{Config, Message, MessageAssembler, Role};

use crate::common::{Splitter, control_prefix};
use crate::frames::{Setup, check_stream};

/// Mask key of the generated frames.
const KEY: [u8; 4] = [0x11, 0x22, 0x33, 0x44];

/// The negotiation and limits a control byte selects: `(setup, window bits, no takeover)`.
pub(crate) fn setup_for(ctl: u8, input_len: usize) -> (Setup, u8, bool) {
    let bits = 9 + (ctl >> 2) % 7;
    let no_takeover = ctl & 0x20 != 0;
    let mut params = vec![("client_max_window_bits".to_owned(), Some(bits.to_string()))];
    if no_takeover {
        params.push(("client_no_context_takeover".to_owned(), None));
    }
    let offer = ExtensionOffer { name: "permessage-deflate".to_owned(), params };
    let deflate = DeflateConfig::default().accept_offer(&offer).expect("acceptable offer");
    assert_eq!(deflate.client_max_window_bits, bits);
    let mut negotiated = Negotiated::default();
    negotiated.deflate = Some(deflate);
    let mut config = Config::default();
    config.max_message_size = [1000, 4096, 100_000, 1 << 20][usize::from(ctl & 3)];
    let setup = Setup {
        role: Role::Server,
        config,
        negotiated: Some(negotiated),
        mixed_paths: ctl & 0x80 != 0,
        eof: false,
        // The decompressor (about 47 KiB plus its window) and the inflated data the run keeps,
        // at DEFLATE's best ratio (about 1032:1).
        extra_memory: (256 << 10) + 3 * 1032 * input_len,
    };
    (setup, bits, no_takeover)
}

/// Runs the target on one input.
pub fn run(data: &[u8]) {
    let (ctl, seed, payload) = control_prefix(data);
    let (setup, bits, no_takeover) = setup_for(ctl, payload.len());
    if ctl & 0x40 == 0 {
        check_stream(&setup, seed, payload);
        return;
    }
    let (stream, sent) = round_trip_stream(payload, seed, bits, no_takeover);
    let outcome = check_stream(&setup, seed, &stream);
    let too_big = sent.iter().any(|m| message_len(m) > setup.config.max_message_size);
    if too_big {
        return; // a capacity failure is then legitimate; the checks above still ran
    }
    assert_eq!(outcome.error, None, "a well-formed compressed stream was rejected");
    let mut asm = MessageAssembler::new();
    let got: Vec<Message> = outcome.events.into_iter().filter_map(|e| asm.push(e)).collect();
    assert_eq!(got, sent, "inflated messages differ from what was compressed");
}

fn message_len(m: &Message) -> usize {
    match m {
        Message::Text(t) => t.len(),
        Message::Binary(b) => b.len(),
        _ => 0,
    }
}

/// Builds a client stream from `payload`: the messages, each compressed or not and split into
/// one to three frames, and the messages as the server must deliver them.
pub fn round_trip_stream(
    payload: &[u8],
    seed: u64,
    bits: u8,
    no_takeover: bool,
) -> (Vec<u8>, Vec<Message>) {
    let mut rng = Splitter::new(seed ^ 0xdef1a7e);
    let mut compressor: Option<Compress> = None;
    let mut stream = Vec::new();
    let mut sent = Vec::new();
    // At most 16 messages: each may need a fresh compressor, which is costly under ASan.
    let mut bodies = Splitter::new(seed).split(payload);
    if bodies.len() > 16 {
        let start = bodies[15].as_ptr() as usize - payload.as_ptr() as usize;
        bodies.truncate(15);
        bodies.push(&payload[start..]);
    }
    for body in bodies {
        let r = rng.next_u64();
        let text = r & 1 == 1 && std::str::from_utf8(body).is_ok();
        let compressed = r & 6 != 0;
        let wire = if compressed {
            if no_takeover || compressor.is_none() {
                compressor = Some(new_compressor(bits));
            }
            deflate_message(compressor.as_mut().expect("just set"), body)
        } else {
            body.to_vec()
        };
        let pieces = 1 + (r >> 8) as usize % 3;
        let mut rest = &wire[..];
        for i in 0..pieces {
            let fin = i + 1 == pieces;
            let take = if fin { rest.len() } else { rest.len() / 2 };
            let (now, later) = rest.split_at(take);
            rest = later;
            let opcode = match (i, text) {
                (0, true) => 0x1,
                (0, false) => 0x2,
                _ => 0x0,
            };
            let mut frame = crate::common::encode_wire(fin, opcode, now, Some(KEY));
            if i == 0 && compressed {
                frame[0] |= 0x40; // RSV1 on the first frame only (RFC 7692 §6.1)
            }
            stream.extend_from_slice(&frame);
        }
        sent.push(if text {
            Message::text(std::str::from_utf8(body).expect("checked"))
        } else {
            Message::binary(body.to_vec())
        });
    }
    (stream, sent)
}

fn new_compressor(bits: u8) -> Compress {
    Compress::new_with_window_bits(Compression::new(6), false, bits)
}

/// One message as RFC 7692 §7.2.1 sends it: raw DEFLATE, sync flush, the final
/// `00 00 ff ff` removed.
fn deflate_message(c: &mut Compress, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 64);
    let start = c.total_in();
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(64));
        }
        let consumed = (c.total_in() - start) as usize;
        c.compress_vec(&data[consumed..], &mut out, FlushCompress::Sync).expect("deflate");
        let consumed = (c.total_in() - start) as usize;
        if consumed == data.len() && out.len() < out.capacity() {
            break;
        }
    }
    assert!(out.ends_with(&[0, 0, 0xff, 0xff]), "sync flush tail missing");
    out.truncate(out.len() - 4);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ws_proto::{CapacityError, Error, ProtocolError};

    fn outcome(ctl: u8, stream: &[u8]) -> crate::frames::Outcome {
        check_stream(&setup_for(ctl, stream.len()).0, 0, stream)
    }

    #[test]
    fn round_trip_delivers_and_limits_hold() {
        let text = "abc ".repeat(500);
        for (bits, no_takeover) in [(15, false), (9, true), (12, false)] {
            let (stream, sent) = round_trip_stream(text.as_bytes(), 5, bits, no_takeover);
            let ctl = 2 | ((bits - 9) << 2) | if no_takeover { 0x20 } else { 0 };
            let out = outcome(ctl, &stream);
            assert_eq!(out.error, None);
            let mut asm = MessageAssembler::new();
            let got: Vec<Message> = out.events.into_iter().filter_map(|e| asm.push(e)).collect();
            assert_eq!(got, sent);
        }
        // 200 000 zeros compress to a few hundred bytes; a 1000-byte limit stops the bomb.
        let (bomb, _) = round_trip_stream(&vec![0u8; 200_000], 0xffff, 15, false);
        assert!(bomb.len() < 2000);
        let err = outcome(6 << 2, &bomb).error;
        assert!(matches!(err, Some(Error::Capacity(CapacityError::MessageTooLarge { .. }))));
    }

    #[test]
    fn malformed_compression_fails_with_protocol_errors() {
        let mut broken = crate::common::encode_wire(true, 2, &[0xff, 0xfe, 0xfd], Some(KEY));
        broken[0] |= 0x40;
        assert_eq!(outcome(2, &broken).error, Some(ProtocolError::InvalidCompressedData.into()));
        let mut ping = crate::common::encode_wire(true, 9, b"", Some(KEY));
        ping[0] |= 0x40;
        assert_eq!(outcome(2, &ping).error, Some(ProtocolError::MisplacedCompressionBit.into()));
    }
}
