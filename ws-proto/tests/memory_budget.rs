//! The shared memory budget (`Config::memory_budget`): connections past their floor charge
//! it as their receive buffers and messages in progress grow; the one whose charge does not
//! fit fails with 1013; the charge comes back when messages end and connections go.

mod common;

use std::time::Instant;

use common::*;
use ws_proto::bytes::BufMut;
use ws_proto::frame::OpCode;
use ws_proto::{CapacityError, Config, Connection, Error, Event, MemoryBudget, Role, State};

const LIMIT: usize = 1 << 20;
const FLOOR: usize = 64 << 10;

fn budgeted(budget: &MemoryBudget, now: Instant) -> Connection {
    let mut config = Config::default();
    config.memory_budget = Some(budget.clone());
    config.release_buffers_after = None;
    Connection::new(Role::Server, config, now)
}

/// Feeds `bytes` the way an adapter reading 16 KiB at a time does (`recv_buf` + `commit`).
fn read_in(c: &mut Connection, now: Instant, bytes: &[u8]) {
    let mut rest = bytes;
    while !rest.is_empty() && c.state() == State::Open {
        let buf = c.recv_buf();
        let n = buf.len().min(rest.len()).min(16 << 10);
        buf[..n].copy_from_slice(&rest[..n]);
        c.commit(now, n);
        rest = &rest[n..];
    }
}

/// Payload bytes delivered by `events`.
fn data_len(events: &[Event]) -> usize {
    events
        .iter()
        .map(|e| match e {
            Event::Data { payload, .. } => payload.len(),
            _ => 0,
        })
        .sum()
}

fn budget_failure(events: &[Event]) -> Option<(usize, usize)> {
    events.iter().find_map(|e| match e {
        Event::Closed(info) => match info.error() {
            Some(Error::Capacity(CapacityError::MemoryBudget { held, limit })) => {
                Some((held, limit))
            }
            _ => None,
        },
        _ => None,
    })
}

/// One connection holds most of the budget with a large frame in progress; a second one that
/// starts a large frame is refused with 1013 once it passes its floor, while a third keeps
/// exchanging small messages; when the first frame completes and the connections go, the
/// whole budget comes back.
#[test]
fn the_connection_that_does_not_fit_is_refused_with_1013_and_the_others_keep_going() {
    let now = Instant::now();
    let budget = MemoryBudget::with_floor(LIMIT, FLOOR);
    let (mut a, mut b, mut small) =
        (budgeted(&budget, now), budgeted(&budget, now), budgeted(&budget, now));

    let big = client_frame(OpCode::Binary, true, &vec![1u8; 900 << 10]);
    read_in(&mut a, now, &big[..800 << 10]);
    assert_eq!(a.state(), State::Open);
    let held_by_a = budget.used();
    assert!(((800 << 10) - FLOOR..=LIMIT).contains(&held_by_a), "{held_by_a}");

    let other = client_frame(OpCode::Binary, true, &vec![2u8; 600 << 10]);
    read_in(&mut b, now, &other);
    let events = take_events(&mut b);
    assert!(!events.iter().any(|e| matches!(e, Event::Data { .. })), "{events:?}");
    let out = take_output(&mut b);
    assert_eq!(sent_close_code(&out), Some(1013));
    let (held, limit) = budget_failure(&run_to_end(&mut b, now)).expect("a budget failure");
    assert_eq!(limit, LIMIT);
    assert!(held > FLOOR, "refused only past the floor: {held}");
    assert_eq!(budget.refusals(), 1);
    assert!(budget.used() <= LIMIT);

    // Small messages need no charge: they flow while the budget is spent.
    for i in 0..100u8 {
        small.handle_data(now, &client_frame(OpCode::Text, true, &[b'a' + i % 26; 1000]));
    }
    let got = take_events(&mut small);
    assert_eq!(got.iter().filter(|e| matches!(e, Event::Data { fin: true, .. })).count(), 100);

    read_in(&mut a, now, &big[800 << 10..]);
    let events = take_events(&mut a);
    assert_eq!(data_len(&events), 900 << 10);
    drop(events);
    // The next read gives the large buffer back, and the charge with it.
    a.handle_data(now, &client_frame(OpCode::Text, true, b"after"));
    take_events(&mut a);
    assert_eq!(budget.used(), 0, "nothing past the floor is held after the large frame");
    drop((a, b, small));
    assert_eq!(budget.used(), 0);
}

/// A fragmented message whose fragments are each under the floor is charged for what was
/// already delivered (the adapter assembles it), so many small fragments cannot pin more than
/// the budget; the failure gives the receive buffer's charge back at once and the delivered
/// part's once the connection is done.
#[test]
fn fragments_already_delivered_are_charged_until_the_message_ends() {
    let now = Instant::now();
    let budget = MemoryBudget::with_floor(LIMIT, FLOOR);
    let mut c = budgeted(&budget, now);
    let part = vec![b'x'; 48 << 10];
    c.handle_data(now, &client_frame(OpCode::Text, false, &part));
    for _ in 0..10 {
        c.handle_data(now, &client_frame(OpCode::Continuation, false, &part));
    }
    take_events(&mut c);
    assert!(budget.used() >= (11 * (48 << 10)) - FLOOR, "{}", budget.used());
    c.handle_data(now, &client_frame(OpCode::Continuation, true, &part));
    take_events(&mut c);
    // The message ended: the application holds it now, the budget does not.
    assert!(budget.used() <= 64 << 10, "{}", budget.used());

    c.handle_data(now, &client_frame(OpCode::Text, false, &part));
    for _ in 0..30 {
        c.handle_data(now, &client_frame(OpCode::Continuation, false, &part));
    }
    assert_eq!(sent_close_code(&take_output_after_events(&mut c)), Some(1013));
    // The receive buffer is gone, but the adapter may hold the fragments it was given until
    // the connection is done: they stay charged until `Event::Closed`.
    let pinned = budget.used();
    assert!(pinned > 0 && pinned <= LIMIT, "{pinned}");
    let events = run_to_end(&mut c, now);
    assert!(budget_failure(&events).is_some());
    assert_eq!(budget.used(), 0, "nothing is charged once the connection is done");
}

fn take_output_after_events(c: &mut Connection) -> Vec<u8> {
    take_events(c);
    take_output(c)
}

/// Without a budget, the same fragments are only bounded by `max_message_size`.
#[test]
fn without_a_budget_the_same_message_is_accepted() {
    let now = Instant::now();
    let mut config = Config::default();
    config.release_buffers_after = None;
    let mut c = Connection::new(Role::Server, config, now);
    let part = vec![b'x'; 48 << 10];
    c.handle_data(now, &client_frame(OpCode::Text, false, &part));
    for _ in 0..30 {
        c.handle_data(now, &client_frame(OpCode::Continuation, false, &part));
    }
    c.handle_data(now, &client_frame(OpCode::Continuation, true, &part));
    let events = take_events(&mut c);
    assert_eq!(events.iter().filter(|e| matches!(e, Event::Data { .. })).count(), 32);
    assert_eq!(c.state(), State::Open);
}

/// Inflating stops at the room the budget leaves the connection: a compression bomb under a
/// 64 MiB message limit fails with 1013 having inflated about the budget, not the limit.
#[cfg(feature = "deflate")]
#[test]
fn inflating_stops_at_the_room_the_budget_leaves() {
    use ws_proto::deflate::DeflateConfig;
    let mut client_config = Config::default();
    // Compressed messages limited by the general 64 MiB only (not their 1 MiB default), so
    // the budget is what stops the bomb.
    client_config.deflate = Some(DeflateConfig { max_message_size: None, ..Default::default() });
    let budget = MemoryBudget::with_floor(LIMIT, FLOOR);
    let mut server_config = client_config.clone();
    server_config.memory_budget = Some(budget.clone());
    let (p, neg) = Pair::negotiated(client_config, server_config.clone());
    let now = p.now;
    drop(p);
    let mut s = Connection::new(Role::Server, server_config, now).with_negotiated(&neg);

    // 16 MiB of zeros compress to about 16 KiB: one frame, well under every size limit.
    let mut z = flate2::Compress::new_with_window_bits(flate2::Compression::best(), false, 15);
    let mut bomb = Vec::with_capacity(64 << 10);
    z.compress_vec(&vec![0u8; 16 << 20], &mut bomb, flate2::FlushCompress::Sync).unwrap();
    assert!(bomb.len() < 64 << 10, "{}", bomb.len());
    bomb.truncate(bomb.len() - 4);
    s.handle_data(now, &raw_frame(0xc2, Some(KEY), &bomb));
    let events = take_events(&mut s);
    assert!(!events.iter().any(|e| matches!(e, Event::Data { .. })), "{events:?}");
    assert_eq!(sent_close_code(&take_output(&mut s)), Some(1013));
    let (held, limit) = budget_failure(&run_to_end(&mut s, now)).expect("a budget failure");
    assert_eq!(limit, LIMIT);
    assert!(held > LIMIT && held < 2 * LIMIT + FLOOR, "stopped near the room: {held}");
    assert_eq!((budget.used(), budget.refusals()), (0, 1));
}

/// The spare-capacity path (`recv_into`) charges the budget before its buffer grows: no read is
/// ever offered room the budget has not granted, the charge is exact after every read, and the
/// connection that does not fit is refused with 1013 before its buffer grows.
#[test]
fn recv_into_charges_before_the_buffer_grows() {
    let now = Instant::now();
    let budget = MemoryBudget::with_floor(LIMIT, FLOOR);
    let (mut a, mut b) = (budgeted(&budget, now), budgeted(&budget, now));
    let charge = |c: &Connection| c.recv_capacity().saturating_sub(FLOOR);

    // Reads of at most 16 KiB; `others` is what the other connection is charged.
    let read_spare = |c: &mut Connection, bytes: &[u8], others: usize| {
        let mut offered = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let buffered = c.recv_buffered();
            let n = c.recv_into(now, |buf| {
                // Refused: the buffered bytes were dropped, and no room is offered.
                let capacity = buf.get_ref().capacity();
                let holds = if capacity == 0 { 0 } else { buffered + capacity };
                assert!(
                    holds.saturating_sub(FLOOR) + others <= budget.used(),
                    "room offered before it was charged: {holds} bytes, {} charged",
                    budget.used()
                );
                offered.push(capacity);
                // A refused connection's reads get the room `BufMut` makes (64 bytes): those
                // bytes are dropped.
                let n = buf.chunk_mut().len().min(rest.len()).min(16 << 10);
                buf.put_slice(&rest[..n]);
                n
            });
            rest = &rest[n..];
            if c.state() == State::Open {
                assert_eq!(budget.used(), charge(c) + others, "the charge is exact");
            }
        }
        offered
    };

    let big = client_frame(OpCode::Binary, true, &vec![1u8; 900 << 10]);
    read_spare(&mut a, &big[..800 << 10], 0);
    assert_eq!(a.state(), State::Open);
    let held_by_a = budget.used();
    assert!(((800 << 10) - FLOOR..=LIMIT).contains(&held_by_a), "{held_by_a}");

    let other = client_frame(OpCode::Binary, true, &vec![2u8; 600 << 10]);
    let offered = read_spare(&mut b, &other, held_by_a);
    // Refused when its buffer would have grown: that read was offered nothing (the reads
    // after it drain the transport, their bytes ignored).
    assert!(offered.contains(&0), "{offered:?}");
    assert_eq!(b.recv_buffered(), 0);
    assert!(!take_events(&mut b).iter().any(|e| matches!(e, Event::Data { .. })));
    assert_eq!(sent_close_code(&take_output(&mut b)), Some(1013));
    let (held, limit) = budget_failure(&run_to_end(&mut b, now)).expect("a budget failure");
    assert_eq!(limit, LIMIT);
    assert!(held.saturating_sub(FLOOR) + held_by_a > LIMIT, "refused though it fit: {held}");
    assert_eq!((budget.refusals(), budget.used()), (1, held_by_a));

    read_spare(&mut a, &big[800 << 10..], 0);
    assert_eq!(data_len(&take_events(&mut a)), 900 << 10);
    // A small frame next: the large buffer goes, and its charge with it.
    read_spare(&mut a, &client_frame(OpCode::Text, true, b"after"), 0);
    take_events(&mut a);
    assert_eq!(budget.used(), 0, "nothing past the floor is held after the large frame");
}
