//! `handle_data_with`: small frames handed out as slices of the caller's buffer, everything
//! else as with `handle_data` (the equivalence itself is a property in `properties.rs`).

mod common;

use std::ops::Range;
use std::time::Instant;

use common::*;
use ws_proto::frame::OpCode;
use ws_proto::{Config, Connection, Event, EventRef, MessageKind, Role};

/// Where each data payload handed out lay: in `buf` (by offset) or elsewhere (`None`).
#[derive(Debug, PartialEq)]
enum Seen {
    Data(Vec<u8>, Option<usize>),
    Other(Event),
}

fn feed(conn: &mut Connection, now: Instant, buf: &mut [u8]) -> Vec<Seen> {
    let range: Range<usize> = buf.as_ptr() as usize..buf.as_ptr() as usize + buf.len();
    let mut seen = Vec::new();
    conn.handle_data_with(now, buf, |_, event| match event {
        EventRef::Data { payload, first: true, fin: true, .. } => {
            let at = payload.as_ptr() as usize;
            let offset = range.contains(&at).then(|| at - range.start);
            seen.push(Seen::Data(payload.to_vec(), offset));
        }
        other => seen.push(Seen::Other(other.to_event())),
    });
    seen
}

#[test]
fn small_frames_are_handed_out_where_they_lie() {
    let now = Instant::now();
    let mut s = Connection::new(Role::Server, Config::default(), now);
    let mut buf = client_frame(OpCode::Text, true, b"hello");
    buf.extend(client_frame(OpCode::Binary, true, &[7; 125]));
    // A 16-bit length: still in place (and unmasked by the wide loop).
    let long: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
    buf.extend(client_frame(OpCode::Binary, true, &long));
    let seen = feed(&mut s, now, &mut buf);
    assert_eq!(
        seen,
        [
            Seen::Data(b"hello".to_vec(), Some(6)),
            Seen::Data(vec![7; 125], Some(6 + 5 + 6)),
            Seen::Data(long, Some(6 + 5 + 6 + 125 + 8)),
        ]
    );
    assert!(s.poll_event().is_none());
    assert_eq!(s.recv_buffered(), 0);
}

#[test]
fn client_role_takes_unmasked_frames_in_place() {
    let now = Instant::now();
    let mut c = Connection::new(Role::Client, Config::default(), now);
    let mut buf = server_frame(OpCode::Binary, true, b"abc");
    assert_eq!(feed(&mut c, now, &mut buf), [Seen::Data(b"abc".to_vec(), Some(2))]);
    // A masked frame from a server is a protocol error (1002), as with handle_data.
    let mut bad = client_frame(OpCode::Binary, true, b"abc");
    assert!(feed(&mut c, now, &mut bad).is_empty());
    assert_eq!(sent_close_code(&take_output(&mut c)), Some(1002));
}

#[test]
fn a_frame_cut_by_the_buffer_is_completed_then_the_rest_is_in_place() {
    let now = Instant::now();
    let mut s = Connection::new(Role::Server, Config::default(), now);
    let first = client_frame(OpCode::Text, true, b"split here");
    let second = client_frame(OpCode::Text, true, b"whole");
    let (a, b) = first.split_at(3);
    assert!(feed(&mut s, now, &mut a.to_vec()).is_empty());
    let mut rest = b.to_vec();
    rest.extend(&second);
    let seen = feed(&mut s, now, &mut rest);
    // The cut frame came through the connection's buffer; the next one lay in `rest`.
    let at = b.len() + 6;
    assert_eq!(
        seen,
        [Seen::Data(b"split here".to_vec(), None), Seen::Data(b"whole".to_vec(), Some(at))]
    );
}

#[test]
fn queued_events_come_first_and_control_frames_are_borrowed_events() {
    let now = Instant::now();
    let mut s = Connection::new(Role::Server, Config::default(), now);
    s.handle_data(now, &client_frame(OpCode::Ping, true, b"p1"));
    let mut buf = client_frame(OpCode::Binary, true, b"d");
    buf.extend(client_frame(OpCode::Ping, true, b"p2"));
    buf.extend(client_frame(OpCode::Binary, true, b"e"));
    let seen = feed(&mut s, now, &mut buf);
    let ping = |p: &'static [u8]| Seen::Other(Event::Ping(p.into()));
    assert_eq!(
        seen,
        [
            ping(b"p1"),
            Seen::Data(b"d".to_vec(), Some(6)),
            ping(b"p2"),
            Seen::Data(b"e".to_vec(), Some(21))
        ]
    );
}

#[test]
fn invalid_utf8_in_a_small_text_frame_fails_the_connection_with_1007() {
    let now = Instant::now();
    let mut s = Connection::new(Role::Server, Config::default(), now);
    let mut buf = client_frame(OpCode::Text, true, b"ok");
    buf.extend(client_frame(OpCode::Text, true, &[0xff, 0xfe]));
    buf.extend(client_frame(OpCode::Text, true, b"never"));
    let seen = feed(&mut s, now, &mut buf);
    assert_eq!(seen, [Seen::Data(b"ok".to_vec(), Some(6))]);
    assert_eq!(sent_close_code(&take_output(&mut s)), Some(1007));
    let info = s.close_info().expect("failed");
    assert!(info.error().is_some());
}

#[test]
fn the_callback_can_answer_and_close() {
    let now = Instant::now();
    let mut s = Connection::new(Role::Server, Config::default(), now);
    let mut buf = client_frame(OpCode::Text, true, b"bye");
    s.handle_data_with(now, &mut buf, |conn, event| {
        if let EventRef::Data { kind: MessageKind::Text, payload, .. } = event {
            conn.send_text(std::str::from_utf8(payload).unwrap()).unwrap();
            conn.close(now, ws_proto::CloseCode::NORMAL, "done").unwrap();
        }
    });
    let frames = decode_frames(&take_output(&mut s));
    assert_eq!(frames.len(), 2);
    assert_eq!((frames[0].0.opcode, frames[0].1.as_slice()), (OpCode::Text, &b"bye"[..]));
    assert_eq!(sent_close_code(&frames_bytes(&frames[1..])), Some(1000));
}

/// Re-encodes decoded server frames (unmasked) for `sent_close_code`.
fn frames_bytes(frames: &[(ws_proto::frame::FrameHeader, Vec<u8>)]) -> Vec<u8> {
    frames.iter().flat_map(|(h, p)| server_frame(h.opcode, h.fin, p)).collect()
}
