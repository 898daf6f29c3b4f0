//! The owned-buffer entry points (`handle_bytes`, `recv_into`, `take_recv_room` +
//! `give_recv_room`, `transmit_io_slices`) against the borrowed ones: the same bytes through
//! `handle_data`, `recv_buf` + `commit`, `handle_bytes`, `recv_into` and the owned room, in any
//! mix and any split, give the same events and the same output.

mod common;

use std::io::IoSlice;
use std::time::{Duration, Instant};

use common::*;
use proptest::prelude::*;
use ws_proto::bytes::BytesMut;
use ws_proto::{CloseCode, Config, Connection, Event, MessageKind, Role, Transport};

/// How one piece of input reaches the connection.
#[derive(Debug, Clone, Copy)]
enum Path {
    Data,
    RecvBuf,
    /// An owned buffer with this much spare capacity after the bytes.
    Owned(usize),
    /// `recv_into`, appending at most this many bytes per read.
    Spare(usize),
    /// `take_recv_room` + `give_recv_room`, at most this many bytes per read.
    Room(usize),
}

fn path() -> impl Strategy<Value = Path> {
    prop_oneof![
        Just(Path::Data),
        Just(Path::RecvBuf),
        (0usize..4096).prop_map(Path::Owned),
        (1usize..5000).prop_map(Path::Spare),
        (1usize..5000).prop_map(Path::Room),
    ]
}

fn feed(s: &mut Connection, now: Instant, piece: &[u8], path: Path) {
    match path {
        Path::Data => s.handle_data(now, piece),
        Path::RecvBuf => feed_recv_buf(s, now, piece),
        Path::Owned(spare) => {
            let mut buf = BytesMut::with_capacity(piece.len() + spare);
            buf.extend_from_slice(piece);
            s.handle_bytes(now, buf);
        }
        Path::Spare(max_read) => feed_recv_into(s, now, piece, max_read),
        Path::Room(max_read) => feed_recv_room(s, now, piece, max_read),
    }
}

/// Writes the queue out through `transmit_io_slices` with at most `slots` slices per write.
fn take_output_vectored(s: &mut Connection, slots: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        // Declared per write: the slices borrow the connection until it is advanced.
        let mut slices = [IoSlice::new(&[]); 4];
        let n = s.transmit_io_slices(&mut slices[..slots.min(4)]);
        if n == 0 {
            break;
        }
        let written: usize = slices[..n].iter().map(|s| s.len()).sum();
        out.extend(slices[..n].iter().flat_map(|s| s.iter().copied()));
        s.advance_transmit(written);
    }
    out
}

/// Feeds `input` to a fresh server cut at `cuts`, each piece by its path, draining after each.
fn run_server(
    input: &[u8],
    cuts: &[usize],
    paths: &[Path],
    config: &Config,
) -> (Vec<Event>, Vec<u8>, bool) {
    let now = Instant::now();
    let mut s = Connection::new(Role::Server, config.clone(), now);
    let (mut events, mut out) = (Vec::new(), Vec::new());
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
    cuts.sort_unstable();
    let mut start = 0;
    for (i, end) in cuts.into_iter().chain([input.len()]).enumerate() {
        let path = paths.get(i % paths.len().max(1)).copied().unwrap_or(Path::Data);
        feed(&mut s, now, &input[start..end], path);
        start = end;
        events.extend(take_events(&mut s));
        match i % 2 {
            0 => out.extend(take_output(&mut s)),
            _ => out.extend(take_output_vectored(&mut s, 1 + i % 3)),
        }
    }
    (events, out, s.is_closed())
}

/// A client's output for a random conversation: text, binary, fragments, pings, a Close.
fn client_bytes(msgs: &[(bool, Vec<u8>)], pings: usize, close: bool) -> Vec<u8> {
    let now = Instant::now();
    let mut c = Connection::new(Role::Client, Config::default(), now)
        .with_rng(Box::new(ws_proto::rng::ChaChaRandom::from_seed(7)));
    for (i, (text, data)) in msgs.iter().enumerate() {
        let kind = if *text { MessageKind::Text } else { MessageKind::Binary };
        let data = if *text {
            String::from_utf8_lossy(data).into_owned().into_bytes()
        } else {
            data.clone()
        };
        match i % 3 {
            0 if *text => c.send_text(String::from_utf8(data).unwrap()).unwrap(),
            0 => c.send_binary(data).unwrap(),
            // Fragmented at a char boundary.
            _ => {
                let mut cut = data.len() / 2;
                while std::str::from_utf8(&data[..cut]).is_err() {
                    cut -= 1;
                }
                c.send_fragment(kind, &data[..cut], false).unwrap();
                c.send_fragment(kind, &data[cut..], true).unwrap();
            }
        }
        if i < pings {
            c.ping(now, b"p").unwrap();
        }
    }
    if close {
        c.close(now, CloseCode::NORMAL, "bye").unwrap();
    }
    take_output(&mut c)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_input_path_gives_the_same_events_and_output(
        msgs in proptest::collection::vec((any::<bool>(), proptest::collection::vec(any::<u8>(), 0..3000)), 0..8),
        pings in 0usize..4,
        close in any::<bool>(),
        tail in proptest::collection::vec(any::<u8>(), 0..40),
        cuts in proptest::collection::vec(0usize..30_000, 0..12),
        paths in proptest::collection::vec(path(), 1..6),
    ) {
        let mut input = client_bytes(&msgs, pings, close);
        input.extend_from_slice(&tail); // possibly garbage after the valid stream
        let config = Config::default();
        let whole = run_server(&input, &[], &[Path::Data], &config);
        let split = run_server(&input, &cuts, &paths, &config);
        prop_assert_eq!(&whole.0, &split.0);
        prop_assert_eq!(&whole.1, &split.1);
        prop_assert_eq!(whole.2, split.2);
    }

    #[test]
    fn arbitrary_bytes_through_owned_buffers_stay_bounded(
        input in proptest::collection::vec(any::<u8>(), 0..1200),
        cuts in proptest::collection::vec(0usize..1200, 0..8),
        paths in proptest::collection::vec(path(), 1..4),
    ) {
        let mut config = Config::default();
        config.max_frame_size = 256;
        config.max_message_size = 512;
        config.accept_unmasked_frames = true;
        let whole = run_server(&input, &[], &[Path::Data], &config);
        let split = run_server(&input, &cuts, &paths, &config);
        prop_assert_eq!(&whole.0, &split.0);
        prop_assert_eq!(&whole.1, &split.1);
    }
}

#[test]
fn an_owned_buffer_is_bounded_by_the_frame_limit_and_reported_once() {
    let now = Instant::now();
    let mut config = Config::default();
    config.max_frame_size = 100;
    let mut s = Connection::new(Role::Server, config, now);
    // A frame announcing 1000 bytes: refused at its header, whatever buffer it came in.
    let mut big = BytesMut::with_capacity(8192);
    big.extend_from_slice(&raw_frame(0x82, Some(KEY), &[0u8; 1000]));
    s.handle_bytes(now, big);
    assert_eq!(s.recv_buffered(), 0, "input is dropped once the connection failed");
    // Input after the failure is ignored.
    s.handle_bytes(now, BytesMut::from(&b"more"[..]));
    assert_eq!(s.recv_buffered(), 0);
    assert_eq!(sent_close_code(&take_output(&mut s)), Some(1009));
    assert_eq!(s.transport(), Transport::Shutdown);
    let events = run_to_end(&mut s, now + Duration::from_secs(60));
    assert_eq!(events.iter().filter(|e| matches!(e, Event::Closed(_))).count(), 1);
}
