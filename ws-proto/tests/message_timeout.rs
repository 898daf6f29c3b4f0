//! The message deadline (`Config::message_timeout`): a data message must be complete within it
//! of its first frame's header, or the connection fails with 1008 through the usual failure
//! path.

mod common;

use std::time::{Duration, Instant};

use common::*;
use ws_proto::frame::OpCode;
use ws_proto::{CapacityError, CloseCause, Config, Connection, Error, Event, Role, State};

const LIMIT: Duration = Duration::from_secs(30);

fn timed_server(now: Instant) -> Connection {
    let mut config = Config::default();
    config.message_timeout = Some(LIMIT);
    config.release_buffers_after = None;
    Connection::new(Role::Server, config, now)
}

fn failure(events: &[Event]) -> Option<Error> {
    events.iter().find_map(|e| match e {
        Event::Closed(info) => info.error(),
        _ => None,
    })
}

/// A fragmented message whose final frame never comes: the deadline is armed by the first
/// frame, reported by `poll_timeout`, and firing it closes with 1008 and a typed error.
#[test]
fn a_stalled_fragmented_message_fails_with_1008_at_the_deadline() {
    let start = Instant::now();
    let mut s = timed_server(start);
    assert_eq!(s.poll_timeout(), None, "nothing armed between messages");
    let t1 = start + Duration::from_secs(5);
    s.handle_data(t1, &client_frame(OpCode::Text, false, b"part one"));
    assert_eq!(take_events(&mut s).len(), 1);
    assert_eq!(s.poll_timeout(), Some(t1 + LIMIT));
    // More fragments do not move the deadline: it counts from the first frame.
    s.handle_data(t1 + Duration::from_secs(20), &client_frame(OpCode::Continuation, false, b"2"));
    take_events(&mut s);
    assert_eq!(s.poll_timeout(), Some(t1 + LIMIT));
    // Early: nothing happens.
    s.handle_timeout(t1 + LIMIT - Duration::from_millis(1));
    assert_eq!(s.state(), State::Open);
    assert!(take_output(&mut s).is_empty());
    s.handle_timeout(t1 + LIMIT);
    assert_eq!(sent_close_code(&take_output(&mut s)), Some(1008));
    let info = s.close_info().expect("closed").clone();
    let err = CapacityError::MessageTimeout { timeout: LIMIT };
    assert_eq!(info.cause, CloseCause::Capacity(err));
    assert_eq!(info.error(), Some(Error::Capacity(err)));
    assert_eq!(Error::Capacity(err).close_code().map(|c| c.0), Some(1008));
    // Input after the failure is ignored; the connection winds down as after any failure.
    s.handle_data(t1 + LIMIT, &client_frame(OpCode::Continuation, true, b"late"));
    let events = run_to_end(&mut s, t1 + LIMIT);
    assert_eq!(failure(&events), Some(Error::Capacity(err)));
    assert!(!events.iter().any(|e| matches!(e, Event::Data { .. })), "{events:?}");
}

/// One frame trickled a byte at a time is a message in progress too.
#[test]
fn a_trickled_single_frame_fails_at_the_deadline() {
    let start = Instant::now();
    let mut s = timed_server(start);
    let frame = client_frame(OpCode::Binary, true, &[7u8; 300]);
    let mut now = start;
    for (i, b) in frame.iter().enumerate() {
        if now >= start + LIMIT {
            break;
        }
        s.handle_data(now, std::slice::from_ref(b));
        if i == 0 {
            // No header yet: nothing armed.
            assert_eq!(s.poll_timeout(), None);
        }
        now += Duration::from_millis(200);
    }
    // The header (2 + 2 length + 4 mask bytes) is complete with the 8th byte.
    assert_eq!(s.poll_timeout(), Some(start + Duration::from_millis(200) * 7 + LIMIT));
    take_events(&mut s);
    s.handle_timeout(now);
    assert_eq!(s.state(), State::Open, "{now:?} is before the deadline");
    s.handle_timeout(start + Duration::from_millis(200) * 7 + LIMIT);
    assert_eq!(sent_close_code(&take_output(&mut s)), Some(1008));
}

/// Messages completed in time disarm the deadline; a new message gets a new one.
#[test]
fn completed_messages_disarm_and_each_message_gets_its_own_deadline() {
    let start = Instant::now();
    let mut s = timed_server(start);
    let mut now = start;
    for i in 0..10u32 {
        s.handle_data(now, &client_frame(OpCode::Binary, false, &i.to_be_bytes()));
        assert_eq!(s.poll_timeout(), Some(now + LIMIT));
        now += LIMIT - Duration::from_secs(1);
        s.handle_data(now, &client_frame(OpCode::Continuation, true, b"end"));
        assert_eq!(s.poll_timeout(), None);
        s.handle_timeout(now + LIMIT);
        // A whole small frame takes the fast path and arms nothing.
        s.handle_data(now, &client_frame(OpCode::Text, true, b"small"));
        assert_eq!(s.poll_timeout(), None);
    }
    let events = take_events(&mut s);
    assert_eq!(events.len(), 30);
    assert_eq!(s.state(), State::Open);
    assert!(take_output(&mut s).is_empty());
}

/// The failure waits behind the events received before it, and the deadline does not stay in
/// the past meanwhile (an adapter would spin on it).
#[test]
fn the_failure_waits_for_earlier_events_and_the_deadline_is_cleared() {
    let start = Instant::now();
    let mut s = timed_server(start);
    s.handle_data(start, &client_frame(OpCode::Ping, true, b"p"));
    s.handle_data(start, &client_frame(OpCode::Binary, false, b"a"));
    s.handle_timeout(start + LIMIT);
    assert_ne!(s.poll_timeout(), Some(start + LIMIT));
    // Handling the timeout again is harmless.
    s.handle_timeout(start + LIMIT);
    let events = run_to_end(&mut s, start + LIMIT);
    assert!(matches!(events[0], Event::Ping(_)), "{events:?}");
    let err = CapacityError::MessageTimeout { timeout: LIMIT };
    assert_eq!(failure(&events), Some(Error::Capacity(err)));
}

/// Off (the default), a stalled message is never failed by the core and nothing is armed.
#[test]
fn off_by_default_nothing_is_armed() {
    let start = Instant::now();
    let mut s = server(start);
    assert_eq!(s.config().message_timeout, None);
    s.handle_data(start, &client_frame(OpCode::Text, false, b"part"));
    take_events(&mut s);
    let deadline = s.poll_timeout();
    // Only the buffer release (if any) is armed, never a failure.
    s.handle_timeout(start + Duration::from_secs(3600));
    assert_eq!(s.state(), State::Open, "deadline was {deadline:?}");
}

/// With keepalive on as well, the deadline is the earliest of both (the cached open-state
/// deadline agrees with the general search under debug assertions).
#[test]
fn the_message_deadline_combines_with_keepalive_and_idle_timers() {
    let start = Instant::now();
    let mut config = Config::default();
    config.message_timeout = Some(Duration::from_secs(5));
    config.keepalive_interval = Some(Duration::from_secs(20));
    config.idle_timeout = Some(Duration::from_secs(60));
    config.release_buffers_after = None;
    let mut s = Connection::new(Role::Server, config, start);
    assert_eq!(s.poll_timeout(), Some(start + Duration::from_secs(20)));
    let t = start + Duration::from_secs(1);
    s.handle_data(t, &client_frame(OpCode::Binary, false, b"a"));
    assert_eq!(s.poll_timeout(), Some(t + Duration::from_secs(5)));
    s.handle_data(t, &client_frame(OpCode::Continuation, true, b"b"));
    assert_eq!(s.poll_timeout(), Some(t + Duration::from_secs(20)));
    // A keepalive Ping goes out; during its round trip a message starts and stalls.
    s.handle_timeout(t + Duration::from_secs(20));
    let t2 = t + Duration::from_secs(21);
    s.handle_data(t2, &client_frame(OpCode::Binary, false, b"c"));
    assert_eq!(s.poll_timeout(), Some(t2 + Duration::from_secs(5)));
    take_events(&mut s);
    s.handle_timeout(t2 + Duration::from_secs(5));
    assert_eq!(sent_close_code(&take_output(&mut s)), Some(1008));
}
