//! The owned receive room (`take_recv_room` + `give_recv_room`): joined back without a copy,
//! limited and charged like `recv_into`'s room, and misuse refused with a clear panic.
//! (Split invariance against the other input paths is in `owned.rs` and `properties.rs`.)

mod common;

use std::time::Instant;

use common::*;
use ws_proto::bytes::buf::Limit;
use ws_proto::bytes::{BufMut, BytesMut};
use ws_proto::frame::OpCode;
use ws_proto::{CapacityError, Config, Connection, Error, Event, MemoryBudget, Role};

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 13 + i / 509) as u8).collect()
}

/// One completed read into a room: `n` bytes of `bytes`, at most what the room offers.
/// Returns the bytes taken and where the room's memory starts.
fn read_room(c: &mut Connection, now: Instant, bytes: &[u8], n: usize) -> (usize, usize) {
    let mut room = c.take_recv_room(now).expect("input open");
    let offered = room.get_ref().capacity().min(Limit::limit(&room));
    let n = n.min(offered).min(bytes.len());
    let at = room.get_ref().as_ptr() as usize;
    room.put_slice(&bytes[..n]);
    c.give_recv_room(now, room);
    (n, at)
}

#[test]
fn a_large_frame_read_through_rooms_lands_in_place() {
    let now = Instant::now();
    let mut s = server(now);
    let payload = pattern(3 << 20);
    let frame = client_frame(OpCode::Binary, true, &payload);
    let mut rest = &frame[..];
    let mut last_room = 0;
    // Odd read sizes, as a socket returns them.
    let mut i = 0;
    while !rest.is_empty() {
        let (n, at) = read_room(&mut s, now, rest, 1 + (i * 104_729) % 300_000);
        rest = &rest[n..];
        last_room = at;
        i += 1;
    }
    let Some(Event::Data { payload: got, fin: true, .. }) = s.poll_event() else {
        panic!("no data event")
    };
    assert_eq!(&got[..], &payload[..]);
    // The last read went straight into the payload's memory: joined back, not copied.
    let start = got.as_ptr() as usize;
    assert!((start..start + got.len()).contains(&last_room), "the room became the payload");
}

#[test]
fn the_room_is_limited_like_recv_into() {
    let now = Instant::now();
    let mut s = server(now);
    let read_size = Config::default().read_buffer_size;
    // A header announcing 16 MiB, and 10 bytes of it: the room grows with what arrived.
    let frame = client_frame(OpCode::Binary, true, &vec![0u8; 16 << 20]);
    s.handle_data(now, &frame[..24]);
    assert_eq!(s.recv_frame_missing(), Some(14 + (16 << 20) - 24));
    let room = s.take_recv_room(now).expect("input open");
    assert!(room.get_ref().is_empty());
    assert!(room.get_ref().capacity() <= 2 * read_size.max(4 * 24), "{:?}", room.get_ref());
    assert_eq!(Limit::limit(&room), 14 + (16 << 20) - 24 + read_size);
    s.give_recv_room(now, room);
    // Between frames: a read's worth.
    let mut s = server(now);
    assert_eq!(s.recv_frame_missing(), None);
    let room = s.take_recv_room(now).expect("input open");
    assert_eq!(Limit::limit(&room), read_size);
    assert!(room.get_ref().capacity() >= read_size.div_ceil(2));
    s.give_recv_room(now, room);
}

/// A server charging a budget of `limit` bytes (no floor), its buffers kept while idle.
fn budgeted(limit: usize, now: Instant) -> (MemoryBudget, Connection) {
    let budget = MemoryBudget::with_floor(limit, 0);
    let mut config = Config::default();
    config.memory_budget = Some(budget.clone());
    config.release_buffers_after = None;
    (budget, Connection::new(Role::Server, config, now))
}

#[test]
fn a_room_out_is_charged_to_the_memory_budget() {
    let now = Instant::now();
    let (budget, mut s) = budgeted(8 << 20, now);
    let frame = client_frame(OpCode::Binary, true, &pattern(1 << 20));
    s.handle_data(now, &frame[..300_000]);
    let room = s.take_recv_room(now).expect("input open");
    let held = s.recv_capacity() + room.get_ref().capacity();
    assert!(room.get_ref().capacity() >= frame.len() - 300_000, "the rest in one step");
    assert!(budget.used() >= held, "{} < {held}: the room out is charged", budget.used());
    let used = budget.used();
    // A timer running while the read is in flight does not give the room's charge back.
    s.release_buffers();
    assert_eq!(budget.used(), used);
    s.give_recv_room(now, room);
    assert_eq!(budget.used(), used);
}

#[test]
fn a_room_the_budget_refuses_fails_the_connection() {
    let now = Instant::now();
    let (budget, mut s) = budgeted(512 << 10, now);
    let frame = client_frame(OpCode::Binary, true, &pattern(1 << 20));
    let mut rest = &frame[..];
    // Rooms grow with what arrived, until the one for the rest of the frame does not fit.
    let refused_at = loop {
        let buffered = s.recv_buffered();
        let Some(mut room) = s.take_recv_room(now) else { break buffered };
        let n = room.get_ref().capacity().min(Limit::limit(&room)).min(rest.len());
        room.put_slice(&rest[..n]);
        rest = &rest[n..];
        s.give_recv_room(now, room);
    };
    assert!(refused_at > 0 && !rest.is_empty(), "refused mid-frame, at {refused_at}");
    assert_eq!(budget.refusals(), 1);
    assert_eq!(sent_close_code(&take_output(&mut s)), Some(1013));
    let failed = run_to_end(&mut s, now).into_iter().any(|e| match e {
        Event::Closed(info) => {
            matches!(info.error(), Some(Error::Capacity(CapacityError::MemoryBudget { .. })))
        }
        _ => false,
    });
    assert!(failed, "reported as the budget's refusal");
    assert!(s.take_recv_room(now).is_none(), "input stopped");
}

#[test]
fn input_that_stops_while_a_room_is_out_drops_the_room() {
    let now = Instant::now();
    let mut s = server(now);
    let frame = client_frame(OpCode::Binary, true, &pattern(100_000));
    s.handle_data(now, &frame[..1000]);
    let mut room = s.take_recv_room(now).expect("input open");
    s.handle_eof(now);
    room.put_slice(&frame[1000..2000]);
    s.give_recv_room(now, room);
    assert_eq!(s.recv_buffered(), 0);
    assert_eq!(s.recv_capacity(), 0, "nothing is kept once input stopped");
    assert!(s.take_recv_room(now).is_none());
}

#[test]
fn a_foreign_buffer_given_back_is_taken_as_the_bytes_read() {
    let now = Instant::now();
    let mut s = server(now);
    let frame = client_frame(OpCode::Text, true, &vec![b'a'; 50_000]);
    s.handle_data(now, &frame[..100]);
    let room = s.take_recv_room(now).expect("input open");
    drop(room);
    let mut other = BytesMut::new().limit(usize::MAX);
    other.put_slice(&frame[100..]);
    s.give_recv_room(now, other);
    let Some(Event::Data { payload, fin: true, .. }) = s.poll_event() else { panic!("no data") };
    assert_eq!(&payload[..], &vec![b'a'; 50_000][..]);
}

#[test]
#[should_panic(expected = "take_recv_room while a receive room is out")]
fn a_second_room_is_refused() {
    let now = Instant::now();
    let mut s = server(now);
    let _first = s.take_recv_room(now);
    let _second = s.take_recv_room(now);
}

#[test]
#[should_panic(expected = "handle_data while a receive room is out")]
fn bytes_around_a_room_are_refused() {
    let now = Instant::now();
    let mut s = server(now);
    let _room = s.take_recv_room(now);
    s.handle_data(now, b"\x81");
}

#[test]
#[should_panic(expected = "recv_buf while a receive room is out")]
fn recv_buf_around_a_room_is_refused() {
    let now = Instant::now();
    let mut s = server(now);
    let _room = s.take_recv_room(now);
    let _ = s.recv_buf();
}

#[test]
#[should_panic(expected = "recv_into while a receive room is out")]
fn recv_into_around_a_room_is_refused() {
    let now = Instant::now();
    let mut s = server(now);
    let _room = s.take_recv_room(now);
    s.recv_into(now, |_| ());
}

#[test]
#[should_panic(expected = "give_recv_room without a room taken")]
fn a_room_given_back_twice_is_refused() {
    let now = Instant::now();
    let mut s = server(now);
    let room = s.take_recv_room(now).expect("input open");
    let copy = BytesMut::new().limit(Limit::limit(&room));
    s.give_recv_room(now, room);
    s.give_recv_room(now, copy);
}
