//! The codec benchmarks measure real work: every library, driven as the benchmarks drive it,
//! decodes the same input to the same messages, encodes the same server frames, and completes
//! round trips.

use benches::drivers::{self, FastPair, Pair, Proto, ProtoPair, TungstenitePair};
use benches::inputs::{Corpus, binary_payload, masked_frames, text};
use benches::mem::{MemStream, block_on};
use benches::wire::{Opcode, encode_frame};
use bytes::Bytes;
use ws_proto::Message;

const SIZES: [usize; 6] = [0, 20, 125, 1024, 16 << 10, 1 << 20];

#[test]
fn all_decoders_return_the_sent_messages() {
    for opcode in [Opcode::Binary, Opcode::Text] {
        for size in SIZES {
            let payload = match opcode {
                Opcode::Text => text(Corpus::Cjk, size, 1),
                _ => binary_payload(size, 1),
            };
            let count = 3;
            let input = masked_frames(opcode, &payload, count, 2);

            for spare in [false, true] {
                let mut io = MemStream::new(&input);
                let mut ours = Proto::new(ws_proto::Role::Server);
                for _ in 0..count {
                    let got = match spare {
                        false => ours.next_message(&mut io),
                        true => ours.next_message_spare(&mut io),
                    };
                    let got = match got.unwrap() {
                        Message::Text(t) if opcode == Opcode::Text => t.into_bytes(),
                        Message::Binary(b) if opcode == Opcode::Binary => b,
                        other => panic!("ws-proto: wrong kind {other:?}"),
                    };
                    assert_eq!(got, payload, "ws-proto {opcode:?} {size} (spare: {spare})");
                }
                assert_eq!(io.remaining(), 0);
            }

            let mut ws =
                drivers::tungstenite(MemStream::new(&input), tungstenite::protocol::Role::Server);
            for _ in 0..count {
                let msg = ws.read().unwrap();
                assert_eq!(msg.is_text(), opcode == Opcode::Text);
                assert_eq!(msg.into_data(), payload, "tungstenite {opcode:?} {size}");
            }

            let mut ws =
                drivers::fastwebsockets(MemStream::new(&input), fastwebsockets::Role::Server);
            block_on(async {
                for _ in 0..count {
                    let frame = ws.read_frame().await.unwrap();
                    assert_eq!(
                        frame.opcode == fastwebsockets::OpCode::Text,
                        opcode == Opcode::Text
                    );
                    assert_eq!(
                        &frame.payload[..],
                        &payload[..],
                        "fastwebsockets {opcode:?} {size}"
                    );
                }
            });
        }
    }
}

#[test]
fn all_encoders_write_the_same_server_frame() {
    for size in SIZES {
        let payload = Bytes::from(binary_payload(size, 3));
        let expected = encode_frame(Opcode::Binary, &payload, None);

        let mut ours = Proto::new(ws_proto::Role::Server);
        let mut sink = MemStream::capturing(&[]);
        ours.conn.send_binary(payload.clone()).unwrap();
        ours.flush(&mut sink).unwrap();
        assert_eq!(sink.output(), expected, "ws-proto {size}");

        let mut ws =
            drivers::tungstenite(MemStream::capturing(&[]), tungstenite::protocol::Role::Server);
        ws.send(tungstenite::Message::Binary(payload.clone())).unwrap();
        assert_eq!(ws.get_ref().output(), expected, "tungstenite {size}");

        let mut ws =
            drivers::fastwebsockets(MemStream::capturing(&[]), fastwebsockets::Role::Server);
        let frame = fastwebsockets::Frame::binary(fastwebsockets::Payload::Borrowed(&payload));
        block_on(ws.write_frame(frame)).unwrap();
        assert_eq!(ws.into_inner().output(), expected, "fastwebsockets {size}");
    }
}

#[test]
fn client_frames_are_masked() {
    let payload = Bytes::from(binary_payload(1024, 4));
    let mut ours = Proto::new(ws_proto::Role::Client);
    let mut sink = MemStream::capturing(&[]);
    ours.conn.send_binary(payload.clone()).unwrap();
    ours.flush(&mut sink).unwrap();
    let out = sink.output();
    assert_eq!((out[0], out[1], out.len()), (0x82, 0x80 | 126, 4 + 4 + 1024));
    assert_ne!(&out[8..], &payload[..]);
}

#[test]
fn every_pair_completes_round_trips() {
    for size in SIZES {
        let payload = Bytes::from(binary_payload(size, 5));
        for _ in 0..3 {
            assert_eq!(ProtoPair::default().round_trip(&payload).unwrap(), size);
        }
        let (mut a, mut b, mut c) =
            (ProtoPair::default(), TungstenitePair::default(), FastPair::default());
        for _ in 0..3 {
            assert_eq!(a.round_trip(&payload).unwrap(), size, "ws-proto {size}");
            assert_eq!(b.round_trip(&payload).unwrap(), size, "tungstenite {size}");
            assert_eq!(c.round_trip(&payload).unwrap(), size, "fastwebsockets {size}");
        }
    }
}
