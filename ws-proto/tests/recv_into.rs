//! `Connection::recv_into`: reads into the receive buffer's spare capacity. How much room it
//! offers (in proportion to what arrived, the exact rest of a large frame in one step), what
//! it does with closures that misbehave, and how it mixes with the other input paths. (The
//! split-invariance proptests in `properties.rs` and `owned.rs` feed it too; the memory budget
//! case is in `memory_budget.rs`.)

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use common::*;
use ws_proto::bytes::{BufMut, BytesMut};
use ws_proto::frame::OpCode;
use ws_proto::{Config, Connection, Event, Message, MessageAssembler, Role, State};

fn server(now: Instant) -> Connection {
    let mut config = Config::default();
    config.release_buffers_after = None;
    Connection::new(Role::Server, config, now)
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// The data messages in `events`, assembled.
fn messages(events: Vec<Event>) -> Vec<Message> {
    let mut asm = MessageAssembler::new();
    events.into_iter().filter_map(|e| asm.push(e)).filter(Message::is_data).collect()
}

/// One read: what was buffered before it, the room offered, and where the receive buffer's
/// allocation starts.
#[derive(Debug, Clone, Copy)]
struct Read {
    buffered: usize,
    room: usize,
    base: usize,
}

/// Feeds `bytes` through `recv_into`, at most `max_read` per read, recording each read.
fn read_all(c: &mut Connection, now: Instant, bytes: &[u8], max_read: usize) -> Vec<Read> {
    let mut reads = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let buffered = c.recv_buffered();
        let n = c.recv_into(now, |buf| {
            assert!(buf.get_ref().is_empty(), "the closure sees only the spare capacity");
            // What tokio's `read_buf` reads into: the first chunk of the room offered.
            let room = buf.chunk_mut().len();
            // The spare capacity starts right after the buffered bytes.
            let base = buf.get_ref().as_ptr() as usize - buffered;
            reads.push(Read { buffered, room, base });
            let n = room.min(rest.len()).min(max_read);
            buf.put_slice(&rest[..n]);
            n
        });
        rest = &rest[n..];
    }
    reads
}

/// Reads a 1 MiB frame through `recv_into`, each read taking at most `max_read` bytes, and
/// checks the room offered: in proportion to what arrived, the exact rest of the frame once
/// most of it is here, the prefix copied a few times at most.
fn check_large_frame_reads(max_read: usize) {
    let now = Instant::now();
    let mut s = server(now);
    let read_size = s.config().read_buffer_size;
    let payload = pattern(1 << 20);
    let frame = client_frame(OpCode::Binary, true, &payload);
    let total = frame.len();
    let reads = read_all(&mut s, now, &frame, max_read);

    // The first read knows no frame yet: about the usual read size.
    assert!((read_size..=2 * read_size).contains(&reads[0].room), "{:?}", reads[0]);
    for r in &reads[1..] {
        // Never more than four times what arrived and a read's worth (a declared length alone
        // reserves nothing; small buffers may round up to twice a read), never past the frame
        // but for a read's worth, and never less than the frame's rest or half a read's worth.
        assert!(r.room <= 4 * r.buffered + 2 * read_size, "{r:?}: room ahead of the data");
        assert!(r.buffered + r.room <= total.max(r.buffered) + 2 * read_size, "{r:?}");
        assert!(r.room >= read_size.div_ceil(2).min(total - r.buffered), "{r:?}: no room");
    }
    // Once most of the frame has arrived, its rest is reserved and the buffer never moves
    // again; before, it grew geometrically, in a few steps.
    let most = reads.iter().position(|r| 2 * r.buffered >= total).expect("most arrived");
    assert!(reads[most..].iter().all(|r| r.buffered + r.room >= total), "{reads:?}");
    assert!(reads[most..].iter().all(|r| r.base == reads[most].base), "{reads:?}");
    let mut bases: Vec<usize> = reads[1..].iter().map(|r| r.base).collect();
    bases.dedup();
    assert!(bases.len() <= 5, "the buffer moved {} times: {reads:?}", bases.len());
    // The rest of the frame and a read's worth past it (so the last read can come back
    // short), not a doubling.
    let last = reads.last().expect("reads");
    assert_eq!(last.buffered + last.room, total + read_size, "{last:?}");

    let events = take_events(&mut s);
    assert_eq!(messages(events), vec![Message::binary(payload)]);
    assert_eq!(s.recv_buffered(), 0);
}

#[test]
fn a_large_frame_read_whole_room_at_a_time() {
    check_large_frame_reads(usize::MAX);
}

#[test]
fn a_large_frame_read_in_small_pieces() {
    check_large_frame_reads(5000);
    check_large_frame_reads(64 << 10);
}

#[test]
fn a_declared_length_alone_reserves_nothing() {
    let now = Instant::now();
    let mut s = server(now);
    let read_size = s.config().read_buffer_size;
    // A header announcing 16 MiB, and 10 bytes of it.
    let frame = client_frame(OpCode::Binary, true, &vec![0u8; 16 << 20]);
    let sent = 14 + 10;
    read_all(&mut s, now, &frame[..sent], usize::MAX);
    let room = s.recv_into(now, |buf| buf.chunk_mut().len());
    assert!(room <= 2 * read_size.max(4 * sent), "{room}");
    assert!(s.recv_capacity() <= sent + 2 * read_size, "{}", s.recv_capacity());
}

#[test]
fn the_paths_mix_in_any_order() {
    let now = Instant::now();
    let mut s = server(now);
    let mut input = Vec::new();
    let mut expected = Vec::new();
    for (i, len) in [5usize, 70_000, 300, 200_000, 0, 9_000].into_iter().enumerate() {
        let payload = pattern(len + i);
        input.extend(client_frame(OpCode::Binary, true, &payload));
        expected.push(Message::binary(payload));
    }
    // Rotate through the five input paths with uneven pieces, crossing frame boundaries.
    let mut rest = &input[..];
    let mut i = 0;
    while !rest.is_empty() {
        let n = rest.len().min(1 + (i * 7919) % 40_000);
        let (piece, tail) = rest.split_at(n);
        match i % 5 {
            0 => s.handle_data(now, piece),
            1 => feed_recv_buf(&mut s, now, piece),
            2 => s.handle_bytes(now, BytesMut::from(piece)),
            3 => feed_recv_room(&mut s, now, piece, 5000),
            _ => feed_recv_into(&mut s, now, piece, 3000),
        }
        rest = tail;
        i += 1;
    }
    assert_eq!(messages(take_events(&mut s)), expected);
    // `recv_buf`'s zeroed room, given up by `recv_into`, and the reverse.
    let frame = client_frame(OpCode::Text, true, b"after");
    let _ = s.recv_buf();
    feed_recv_into(&mut s, now, &frame[..3], usize::MAX);
    feed_recv_buf(&mut s, now, &frame[3..]);
    assert_eq!(messages(take_events(&mut s)), vec![Message::text("after")]);
}

/// Whatever the closure does to the buffer it is given, the bytes it holds afterwards are the
/// bytes read, and the connection's own bytes are untouched.
#[test]
fn a_misbehaving_closure_cannot_corrupt_what_is_buffered() {
    let now = Instant::now();
    let mut s = server(now);
    let payload = pattern(1 << 20);
    let frame = client_frame(OpCode::Binary, true, &payload);
    let mut at = 0;
    let next = |at: &mut usize, n: usize| {
        let piece = frame[*at..at.saturating_add(n).min(frame.len())].to_vec();
        *at += piece.len();
        piece
    };

    // Appends, then takes some of it back: what is left counts.
    let piece = next(&mut at, 20_000);
    // (Past the limit `BufMut` panics: `get_mut` goes around it.)
    s.recv_into(now, |buf| {
        buf.get_mut().extend_from_slice(&piece);
        buf.get_mut().extend_from_slice(b"junk");
        buf.get_mut().truncate(piece.len());
    });
    // Replaces the buffer with one of its own, holding the next bytes.
    let piece = next(&mut at, 1000);
    s.recv_into(now, |buf| *buf.get_mut() = BytesMut::from(&piece[..]));
    // Appends three times the room offered (the buffer grows: still the bytes read).
    let room = s.recv_into(now, |buf| buf.get_ref().capacity());
    let piece = next(&mut at, 3 * room);
    assert!(at < frame.len(), "the frame is still incomplete");
    s.recv_into(now, |buf| buf.get_mut().extend_from_slice(&piece));
    // Replaces it with an empty buffer without capacity: nothing was read.
    s.recv_into(now, |buf| *buf.get_mut() = BytesMut::new());
    // Writes into the room, then panics before returning: nothing was read.
    let unwound = catch_unwind(AssertUnwindSafe(|| {
        s.recv_into(now, |buf| {
            buf.put_slice(b"garbage");
            panic!("a read that panics");
        })
    }));
    assert!(unwound.is_err());
    // Writes past the limit through `BufMut`: its own panic, and again nothing was read.
    let unwound = catch_unwind(AssertUnwindSafe(|| {
        s.recv_into(now, |buf| {
            let past = vec![0u8; buf.remaining_mut() + 1];
            buf.put_slice(&past);
        })
    }));
    assert!(unwound.is_err());
    assert_eq!(s.recv_buffered(), at, "only the bytes read are buffered");
    assert!(take_events(&mut s).is_empty());

    let rest = next(&mut at, usize::MAX);
    feed_recv_into(&mut s, now, &rest, 777);
    assert_eq!(messages(take_events(&mut s)), vec![Message::binary(payload)]);
    assert_eq!(s.state(), State::Open);
}

#[test]
#[should_panic(expected = "commit of more bytes than recv_buf offered")]
fn commit_without_recv_buf_after_recv_into_is_caught() {
    let now = Instant::now();
    let mut s = server(now);
    let _ = s.recv_buf();
    feed_recv_into(&mut s, now, &client_frame(OpCode::Text, true, b"partial")[..4], usize::MAX);
    // `recv_into` gave up `recv_buf`'s room: committing into it is a bug in the adapter.
    s.commit(now, 1);
}

#[test]
fn input_after_the_connection_stopped_reading_is_ignored() {
    let now = Instant::now();
    let mut s = server(now);
    let mut input = client_frame(OpCode::Close, true, &close_body(1000, ""));
    input.extend(client_frame(OpCode::Text, true, b"late"));
    feed_recv_into(&mut s, now, &input, usize::MAX);
    let events = take_events(&mut s);
    assert!(matches!(events[..], [Event::CloseReceived(_)]), "{events:?}");
    feed_recv_into(&mut s, now, &client_frame(OpCode::Text, true, b"later"), usize::MAX);
    assert!(take_events(&mut s).is_empty());
    assert_eq!(s.recv_buffered(), 0);
}

/// Reads one frame as the tokio binding does: the first 64 KiB at the frame boundary through
/// `handle_data` (its scratch buffer), the rest through `recv_into` reads that fill the room.
/// Returns the reads and the payload.
fn read_like_tokio(s: &mut Connection, now: Instant, frame: &[u8]) -> (Vec<Read>, Message) {
    let (head, rest) = frame.split_at(64 << 10);
    s.handle_data(now, head);
    let reads = read_all(s, now, rest, usize::MAX);
    let mut got = messages(take_events(s));
    assert_eq!(got.len(), 1);
    (reads, got.remove(0))
}

#[test]
fn a_stream_of_large_frames_reuses_one_allocation_once_the_payloads_are_dropped() {
    let now = Instant::now();
    let mut s = server(now);
    let first = pattern(1 << 20);
    let second: Vec<u8> = first.iter().map(|b| b ^ 0xff).collect();
    let (reads, msg) = read_like_tokio(&mut s, now, &client_frame(OpCode::Binary, true, &first));
    assert_eq!(msg, Message::binary(first.clone()));
    let first_base = reads.last().expect("reads").base;
    drop(msg);

    // Dropped: the next frame lands in the same allocation, which never moves while it
    // arrives (no allocation, no copy of a prefix).
    let (reads, msg) = read_like_tokio(&mut s, now, &client_frame(OpCode::Binary, true, &second));
    assert_eq!(msg, Message::binary(second.clone()));
    assert!(reads.iter().all(|r| r.base == first_base), "{reads:?}");

    // Held: the next frame gets memory of its own, and the payload held is untouched.
    let (reads, third) = read_like_tokio(&mut s, now, &client_frame(OpCode::Binary, true, &first));
    assert!(reads.iter().all(|r| r.base != first_base), "{reads:?}");
    assert_eq!(msg, Message::binary(second));
    assert_eq!(third, Message::binary(first));

    // A small frame next: the large buffer is given back at once.
    drop((msg, third));
    s.handle_data(now, &client_frame(OpCode::Text, true, b"small"));
    assert_eq!(messages(take_events(&mut s)), vec![Message::text("small")]);
    assert_eq!(s.recv_capacity(), 0, "the large buffer was released");
}

/// One read takes at most what `recv_buf` would offer, whatever capacity a large frame left:
/// a read's worth between frames, the frame's rest and a read's worth inside one. (What a
/// read of pings makes the connection queue in pongs stays bounded: ws-tokio's backpressure
/// test.)
#[test]
fn a_read_takes_no_more_than_recv_buf_would_offer() {
    let now = Instant::now();
    let mut s = server(now);
    let read_size = s.config().read_buffer_size;
    let frame = client_frame(OpCode::Binary, true, &pattern(1 << 20));
    let (_, msg) = read_like_tokio(&mut s, now, &frame);
    drop(msg);
    // Between large frames the buffer is kept, and a read may take what a scratch read at a
    // frame boundary would (64 KiB, or four reads' worth), not the allocation's whole capacity.
    assert!(s.reads_in_place());
    let kept_read = (4 * read_size).max(64 << 10);
    let pings: Vec<u8> = (0..20_000).flat_map(|_| client_frame(OpCode::Ping, true, b"p")).collect();
    let read_pings = |s: &mut Connection| {
        s.recv_into(now, |buf| {
            let limit = buf.remaining_mut();
            let n = buf.chunk_mut().len().min(pings.len());
            buf.put_slice(&pings[..n]);
            (limit, n)
        })
    };
    let (limit, took) = read_pings(&mut s);
    assert_eq!(limit, kept_read);
    assert!(took <= kept_read);
    let seen = take_events(&mut s).len();
    assert_eq!(seen, took / 7, "one Ping event per whole 7-byte frame");
    // Small frames again: the buffer is given back, and a read takes a read's worth.
    assert!(!s.reads_in_place());
    s.handle_data(now, &pings[took..took.next_multiple_of(7)]);
    take_events(&mut s);
    let (limit, took) = read_pings(&mut s);
    assert_eq!(limit, read_size);
    assert!(took <= read_size);
    assert_eq!(take_events(&mut s).len(), took / 7);
    // Inside a frame: its rest and a read's worth.
    s.handle_data(now, &pings[took..took.next_multiple_of(7)]);
    take_events(&mut s);
    s.handle_data(now, &frame[..100]);
    let limit = s.recv_into(now, |buf| buf.remaining_mut());
    assert_eq!(limit, frame.len() - 100 + read_size);
}

/// After a frame of half a read or more, the next read goes straight into the buffer that
/// frame left (`reads_in_place`), taken back once its payload is dropped: the next frame's
/// payload is where the read put it, not a copy. Small frames and a released buffer keep the
/// scratch-buffer path.
#[test]
fn after_a_medium_frame_the_next_read_lands_in_place() {
    let now = Instant::now();
    let mut s = server(now);
    let read_size = s.config().read_buffer_size;
    assert!(!s.reads_in_place(), "a new connection holds no buffer");
    let frames: Vec<Vec<u8>> =
        (0..3u8).map(|i| client_frame(OpCode::Binary, true, &vec![i; 16 << 10])).collect();
    read_all(&mut s, now, &frames[0], usize::MAX);
    let first = messages(take_events(&mut s));
    assert_eq!(first, [Message::Binary(vec![0u8; 16 << 10].into())]);
    drop(first);

    for (i, frame) in frames.iter().enumerate().skip(1) {
        assert!(s.reads_in_place(), "frame {i}");
        let mut landed = 0;
        let n = s.recv_into(now, |buf| {
            // Room for the whole frame in one read, as a scratch read at the boundary takes.
            assert!(buf.remaining_mut() >= frame.len(), "{}", buf.remaining_mut());
            landed = buf.chunk_mut().as_mut_ptr() as usize;
            buf.put_slice(frame);
            frame.len()
        });
        assert_eq!(n, frame.len());
        let events = take_events(&mut s);
        let [Event::Data { payload, fin: true, .. }] = &events[..] else { panic!("{events:?}") };
        assert_eq!(&payload[..], &vec![i as u8; 16 << 10][..]);
        assert_eq!(payload.as_ptr() as usize, landed + 8, "the payload is where the read put it");
    }

    // Small frames: back to a read's worth, and the scratch path.
    let pings: Vec<u8> = (0..10).flat_map(|_| client_frame(OpCode::Ping, true, b"p")).collect();
    s.handle_data(now, &pings);
    take_events(&mut s);
    assert!(!s.reads_in_place());
    assert_eq!(s.recv_into(now, |buf| buf.remaining_mut()), read_size);

    // A released buffer is not allocated again for a read in place.
    s.handle_data(now, &frames[0]);
    take_events(&mut s);
    s.release_buffers();
    assert_eq!(s.recv_capacity(), 0);
    assert!(!s.reads_in_place());
    assert_eq!(s.recv_capacity(), 0);
}
