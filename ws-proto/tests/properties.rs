//! Property tests: round trips, split invariance and robustness against arbitrary bytes.

mod common;

use std::time::{Duration, Instant};

use common::*;
use proptest::prelude::*;
use ws_proto::frame::OpCode;
use ws_proto::{Config, Connection, Event, Message, MessageKind, Role};

/// One thing a client does.
#[derive(Debug, Clone)]
enum Op {
    Text(String),
    Binary(Vec<u8>),
    /// A message split into fragments of these lengths.
    Fragmented(MessageKind, Vec<u8>, Vec<usize>),
    Ping(Vec<u8>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        "\\PC{0,300}".prop_map(Op::Text),
        proptest::collection::vec(any::<u8>(), 0..2000).prop_map(Op::Binary),
        (
            prop_oneof![Just(MessageKind::Text), Just(MessageKind::Binary)],
            "\\PC{0,200}",
            proptest::collection::vec(0usize..80, 1..5)
        )
            .prop_map(|(k, s, cuts)| Op::Fragmented(k, s.into_bytes(), cuts)),
        proptest::collection::vec(any::<u8>(), 0..=125).prop_map(Op::Ping),
    ]
}

/// Applies `ops` to a client; returns the data messages the server should receive.
fn apply(client: &mut Connection, ops: &[Op]) -> Vec<Message> {
    let mut expected = Vec::new();
    for op in ops {
        match op {
            Op::Text(s) => {
                client.send_text(s.as_str()).unwrap();
                expected.push(Message::text(s.as_str()));
            }
            Op::Binary(b) => {
                client.send_binary(b.as_slice()).unwrap();
                expected.push(Message::binary(b.clone()));
            }
            Op::Fragmented(kind, data, cuts) => {
                let mut rest = data.as_slice();
                for &c in cuts {
                    // Text fragments must keep the message valid: cut on char boundaries.
                    let mut c = c.min(rest.len());
                    while *kind == MessageKind::Text && std::str::from_utf8(&rest[..c]).is_err() {
                        c -= 1;
                    }
                    client.send_fragment(*kind, &rest[..c], false).unwrap();
                    rest = &rest[c..];
                }
                client.send_fragment(*kind, rest, true).unwrap();
                expected.push(match kind {
                    MessageKind::Text => Message::text(String::from_utf8(data.clone()).unwrap()),
                    MessageKind::Binary => Message::binary(data.clone()),
                });
            }
            Op::Ping(p) => client.ping(Instant::now(), p).unwrap(),
        }
    }
    expected
}

/// Feeds `input` to a fresh server cut at `cuts`, draining after each piece. Returns the events
/// and everything the server sent.
fn run_server(input: &[u8], cuts: &[usize]) -> (Vec<Event>, Vec<u8>, bool) {
    let now = Instant::now();
    let mut s = Connection::new(Role::Server, Config::default(), now);
    let mut events = Vec::new();
    let mut out = Vec::new();
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
    cuts.sort_unstable();
    let mut start = 0;
    for (i, end) in cuts.into_iter().chain([input.len()]).enumerate() {
        let piece = &input[start..end];
        start = end;
        match i % 5 {
            0 => s.handle_data(now, piece),
            4 => s.handle_data_with(now, &mut piece.to_vec(), |_, e| events.push(e.to_event())),
            1 => feed_recv_buf(&mut s, now, piece),
            2 => feed_recv_room(&mut s, now, piece, 1 + i * 89),
            _ => feed_recv_into(&mut s, now, piece, 1 + i * 97),
        }
        events.extend(take_events(&mut s));
        out.extend(take_output(&mut s));
    }
    (events, out, s.is_closed())
}

/// Feeds `input` to a fresh connection in `role` cut at `cuts`, echoing every data frame as
/// it is handed out if `echo`: through `handle_data_with` (`in_place`) or `handle_data` and
/// `poll_event`. Returns the events, everything sent, and whether the connection closed.
fn run_echo(
    role: Role,
    input: &[u8],
    cuts: &[usize],
    in_place: bool,
    echo: bool,
) -> (Vec<Event>, Vec<u8>, bool) {
    let now = Instant::now();
    let mut conn = Connection::new(role, Config::default(), now)
        .with_rng(Box::new(ws_proto::rng::ChaChaRandom::from_seed(9)));
    let mut events = Vec::new();
    let mut out = Vec::new();
    let echo = |conn: &mut Connection, event: ws_proto::EventRef<'_>| {
        if let (true, ws_proto::EventRef::Data { payload, .. }) = (echo, event) {
            // Refused once closed, as the application would see it: not part of the check.
            let _ = conn.send_binary(payload);
        }
    };
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
    cuts.sort_unstable();
    let mut start = 0;
    for end in cuts.into_iter().chain([input.len()]) {
        let piece = &input[start..end];
        start = end;
        if in_place {
            conn.handle_data_with(now, &mut piece.to_vec(), |conn, event| {
                events.push(event.to_event());
                echo(conn, event);
            });
            assert!(conn.poll_event().is_none(), "every event was handed out");
        } else {
            conn.handle_data(now, piece);
            while let Some(event) = conn.poll_event() {
                echo(&mut conn, event.as_event_ref());
                events.push(event);
            }
        }
        out.extend(take_output(&mut conn));
    }
    (events, out, conn.is_closed())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// `handle_data_with` (small frames handed out in place) gives the same events, output
    /// and end as `handle_data` and `poll_event`, in both roles, for valid streams with
    /// garbage after them, however the input is cut.
    #[test]
    fn in_place_matches_handle_data(ops in proptest::collection::vec(op(), 0..10),
                                    tail in proptest::collection::vec(any::<u8>(), 0..40),
                                    client_role in any::<bool>(),
                                    cuts in proptest::collection::vec(0usize..20_000, 0..12)) {
        let (sender, receiver) =
            if client_role { (Role::Server, Role::Client) } else { (Role::Client, Role::Server) };
        let mut c = Connection::new(sender, Config::default(), Instant::now())
            .with_rng(Box::new(ws_proto::rng::ChaChaRandom::from_seed(5)));
        apply(&mut c, &ops);
        let mut input = take_output(&mut c);
        input.extend_from_slice(&tail);
        // The core's own output (Pongs, the Close) byte for byte.
        let polled = run_echo(receiver, &input, &cuts, false, false);
        let in_place = run_echo(receiver, &input, &cuts, true, false);
        prop_assert_eq!(&polled, &in_place);
        prop_assert_eq!(&run_echo(receiver, &input, &[], false, false), &in_place, "uncut");
        // With the application echoing: the same events and end, and the same frames of each
        // kind in the same order. (Polled, the Pongs of a whole read are queued before the
        // application sees its first message; in place, each answer is queued as it comes.)
        let polled = run_echo(receiver, &input, &cuts, false, true);
        let in_place = run_echo(receiver, &input, &cuts, true, true);
        prop_assert_eq!(&polled.0, &in_place.0);
        prop_assert_eq!(polled.2, in_place.2);
        let by_opcode = |out: &[u8]| {
            let mut frames: Vec<(u8, Vec<u8>)> =
                decode_frames(out).into_iter().map(|(h, p)| (h.opcode as u8, p)).collect();
            frames.sort_by_key(|f| f.0); // stable: each kind keeps its order
            frames
        };
        prop_assert_eq!(by_opcode(&polled.1), by_opcode(&in_place.1));
    }

    #[test]
    fn client_to_server_round_trip(ops in proptest::collection::vec(op(), 0..12), chunk in 0usize..300) {
        let mut p = Pair::default_pair();
        p.chunk = chunk;
        let expected = apply(&mut p.client, &ops);
        p.pump();
        prop_assert_eq!(Pair::data(&p.server_msgs), expected);
        let pings = ops.iter().filter(|o| matches!(o, Op::Ping(_))).count();
        prop_assert_eq!(p.client_msgs.iter().filter(|m| matches!(m, Message::Pong(_))).count(), pings);
    }

    #[test]
    fn server_to_client_round_trip(ops in proptest::collection::vec(op(), 0..12), chunk in 0usize..300) {
        let mut p = Pair::default_pair();
        p.chunk = chunk;
        let expected = apply(&mut p.server, &ops);
        p.pump();
        prop_assert_eq!(Pair::data(&p.client_msgs), expected);
    }

    #[test]
    fn split_invariance(ops in proptest::collection::vec(op(), 0..10),
                        tail in proptest::collection::vec(any::<u8>(), 0..40),
                        close in any::<bool>(),
                        cuts in proptest::collection::vec(0usize..20_000, 0..12)) {
        let mut c = Connection::new(Role::Client, Config::default(), Instant::now())
            .with_rng(Box::new(ws_proto::rng::ChaChaRandom::from_seed(5)));
        apply(&mut c, &ops);
        if close {
            c.close(Instant::now(), ws_proto::CloseCode::NORMAL, "bye").unwrap();
        }
        let mut input = take_output(&mut c);
        input.extend_from_slice(&tail); // possibly garbage after the valid stream
        let whole = run_server(&input, &[]);
        let split = run_server(&input, &cuts);
        prop_assert_eq!(&whole.0, &split.0);
        prop_assert_eq!(&whole.1, &split.1);
        prop_assert_eq!(whole.2, split.2);
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..600),
                                   cuts in proptest::collection::vec(0usize..600, 0..8),
                                   client_role in any::<bool>()) {
        let now = Instant::now();
        let role = if client_role { Role::Client } else { Role::Server };
        let mut config = Config::default();
        config.max_frame_size = 256;
        config.max_message_size = 512;
        config.keepalive_interval = Some(Duration::from_secs(1));
        let mut conn = Connection::new(role, config, now)
            .with_rng(Box::new(ws_proto::rng::ChaChaRandom::from_seed(1)));
        let mut cuts = cuts;
        cuts.sort_unstable();
        let mut start = 0;
        let mut closed_seen = false;
        for end in cuts.into_iter().map(|c| c.min(input.len())).chain([input.len()]) {
            conn.handle_data(now, &input[start..end]);
            start = end;
            for ev in take_events(&mut conn) {
                prop_assert!(!closed_seen, "nothing after Closed");
                closed_seen |= matches!(ev, Event::Closed(_));
            }
            take_output(&mut conn);
            prop_assert!(conn.recv_buffered() <= 256 + 14, "buffer bounded by the frame limit");
        }
        conn.handle_timeout(now + Duration::from_secs(5));
        conn.handle_eof(now + Duration::from_secs(5));
        let events = run_to_end(&mut conn, now + Duration::from_secs(5));
        let closed = events.iter().filter(|e| matches!(e, Event::Closed(_))).count();
        prop_assert_eq!(closed + closed_seen as usize, 1, "reported exactly once");
        prop_assert!(closed_seen || matches!(events.last(), Some(Event::Closed(_))));
        prop_assert_eq!(conn.transport(), ws_proto::Transport::Close);
    }
}

#[test]
fn fragment_boundaries_do_not_depend_on_chunking() {
    // The same fragmented text, fed whole and byte by byte, yields identical events.
    let mut input = client_frame(OpCode::Text, false, "héllo ".as_bytes());
    input.extend(client_frame(OpCode::Ping, true, b"p"));
    input.extend(client_frame(OpCode::Continuation, true, "wörld".as_bytes()));
    let whole = run_server(&input, &[]);
    let cuts: Vec<usize> = (1..input.len()).collect();
    assert_eq!(whole, run_server(&input, &cuts));
    assert_eq!(whole.0.len(), 3);
}
