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
        match i % 4 {
            0 => s.handle_data(now, piece),
            1 => feed_recv_buf(&mut s, now, piece),
            2 => feed_recv_room(&mut s, now, piece, 1 + i * 89),
            _ => feed_recv_into(&mut s, now, piece, 1 + i * 97),
        }
        events.extend(take_events(&mut s));
        out.extend(take_output(&mut s));
    }
    (events, out, s.is_closed())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

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
