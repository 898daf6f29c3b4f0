//! The transport's life around the WebSocket, row by row of the table in
//! `src/connection/lifecycle.rs`: what `transport()` asks for, the deadlines that bound it, and
//! the one `Event::Closed` that ends it.

mod common;

use std::time::{Duration, Instant};

use common::*;
use ws_proto::frame::OpCode;
use ws_proto::{
    CloseCause, CloseCode, Config, Connection, Error, Event, ProtocolError, Role, State, Transport,
};

fn closed_events(events: &[Event]) -> usize {
    events.iter().filter(|e| matches!(e, Event::Closed(_))).count()
}

fn close_timeout() -> Duration {
    Config::default().close_timeout
}

#[test]
fn server_after_the_close_handshake_shuts_down_and_closes_without_draining() {
    let now = Instant::now();
    let mut s = server(now);
    s.handle_data(now, &client_frame(OpCode::Close, true, &close_body(1000, "")));
    assert_eq!(
        take_events(&mut s),
        [Event::CloseReceived(Some(ws_proto::CloseFrame::new(CloseCode::NORMAL, "")))]
    );
    assert_eq!((s.state(), s.transport()), (State::Closed, Transport::Shutdown));
    assert_eq!(s.poll_timeout(), Some(now + close_timeout()), "bounded");
    assert_eq!(sent_close_code(&take_output(&mut s)), Some(1000));
    s.handle_write_shutdown(now);
    // The client sent its Close: it has nothing more to send, so there is nothing to drain.
    assert_eq!(s.transport(), Transport::Close);
    let events = take_events(&mut s);
    let [Event::Closed(info)] = events.as_slice() else { panic!("{events:?}") };
    assert!(info.clean && info.error().is_none());
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn client_after_the_close_handshake_waits_for_the_server_to_close_first() {
    let now = Instant::now();
    let mut c = client(now);
    c.close(now, CloseCode::NORMAL, "bye").unwrap();
    take_output(&mut c);
    c.handle_data(now, &server_frame(OpCode::Close, true, &close_body(1000, "")));
    take_events(&mut c);
    assert_eq!((c.state(), c.transport()), (State::Closed, Transport::Open));
    assert_eq!(c.poll_timeout(), Some(now + close_timeout()));
    // The server's end of stream: now the client closes too.
    let later = now + Duration::from_millis(5);
    c.handle_eof(later);
    assert_eq!(c.transport(), Transport::Shutdown);
    c.handle_write_shutdown(later);
    assert_eq!(c.transport(), Transport::Close);
    assert_eq!(closed_events(&take_events(&mut c)), 1);

    // A server that never closes: the client gives up after close_timeout and closes itself.
    let mut c = client(now);
    c.handle_data(now, &server_frame(OpCode::Close, true, &close_body(4001, "")));
    take_events(&mut c);
    take_output(&mut c);
    let deadline = c.poll_timeout().unwrap();
    c.handle_timeout(deadline - Duration::from_millis(1));
    assert_eq!(c.transport(), Transport::Open, "timers fire only when due");
    c.handle_timeout(deadline);
    assert_eq!(c.transport(), Transport::Shutdown);
    c.handle_write_shutdown(deadline);
    assert_eq!(c.transport(), Transport::Close, "the server had its time: no drain");
    let events = take_events(&mut c);
    let [Event::Closed(info)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!((info.cause, info.code()), (CloseCause::Handshake, CloseCode(4001)));
}

#[test]
fn a_failure_drains_until_the_peer_ends_its_stream_or_the_deadline() {
    let now = Instant::now();
    let bad = client_frame(OpCode::Text, true, b"\xff");
    for peer_closes in [true, false] {
        let mut s = server(now);
        s.handle_data(now, &bad);
        assert!(take_events(&mut s).is_empty());
        assert_eq!(s.transport(), Transport::Shutdown);
        assert_eq!(sent_close_code(&take_output(&mut s)), Some(1007));
        s.handle_write_shutdown(now);
        assert_eq!(s.transport(), Transport::Drain);
        // Whatever the peer still sends is read and discarded.
        s.handle_data(now, &client_frame(OpCode::Text, true, b"more"));
        assert!(take_events(&mut s).is_empty() && take_output(&mut s).is_empty());
        if peer_closes {
            s.handle_eof(now);
        } else {
            s.handle_timeout(now + close_timeout());
        }
        assert_eq!(s.transport(), Transport::Close);
        let events = take_events(&mut s);
        let [Event::Closed(info)] = events.as_slice() else { panic!("{events:?}") };
        assert_eq!(info.error(), Some(Error::Protocol(ProtocolError::InvalidUtf8)));
    }
}

#[test]
fn a_failure_after_the_peers_eof_does_not_drain() {
    let now = Instant::now();
    let mut s = server(now);
    s.handle_data(now, &client_frame(OpCode::Text, true, b"\xff"));
    s.handle_eof(now);
    take_output(&mut s);
    s.handle_write_shutdown(now);
    assert_eq!(s.transport(), Transport::Close);
    assert_eq!(closed_events(&take_events(&mut s)), 1);
}

#[test]
fn a_peer_that_does_not_read_our_close_is_given_up_on() {
    let now = Instant::now();
    let mut s = server(now);
    s.handle_data(now, &client_frame(OpCode::Ping, false, b""));
    assert_eq!(s.transport(), Transport::Shutdown);
    assert!(s.transmit_len() > 0, "the Close is queued and never written");
    let deadline = s.poll_timeout().unwrap();
    assert_eq!(deadline, now + close_timeout());
    s.handle_timeout(deadline);
    assert_eq!(s.transport(), Transport::Close);
    assert_eq!(s.transmit_len(), 0, "what could not be written is dropped");
    assert_eq!(closed_events(&take_events(&mut s)), 1);
}

#[test]
fn a_transport_error_ends_at_once_after_the_events_before_it() {
    let now = Instant::now();
    let mut s = server(now);
    s.handle_data(now, &client_frame(OpCode::Text, true, b"before"));
    s.send_text("queued, never written").unwrap();
    s.handle_transport_error(now);
    assert_eq!(s.transport(), Transport::Close);
    assert_eq!(s.transmit_len(), 0);
    let events = take_events(&mut s);
    assert!(matches!(&events[0], Event::Data { payload, .. } if payload == "before"));
    let Some(Event::Closed(info)) = events.get(1) else { panic!("{events:?}") };
    assert_eq!((info.cause, info.code()), (CloseCause::TransportError, CloseCode::ABNORMAL));
    assert_eq!(events.len(), 2);
}

#[test]
fn timeouts_and_end_of_stream_shut_down_without_draining() {
    let now = Instant::now();
    // Pong timeout.
    let mut config = Config::default();
    config.keepalive_interval = Some(Duration::from_secs(1));
    config.pong_timeout = Duration::from_secs(1);
    config.release_buffers_after = None;
    let mut s = Connection::new(Role::Server, config, now);
    s.handle_timeout(now + Duration::from_secs(1));
    s.handle_timeout(now + Duration::from_secs(2));
    assert_eq!(s.close_info().map(|i| i.cause), Some(CloseCause::PongTimeout));
    take_output(&mut s);
    s.handle_write_shutdown(now);
    assert_eq!(s.transport(), Transport::Close);
    // Close timeout.
    let mut s = server(now);
    s.close(now, CloseCode::NORMAL, "").unwrap();
    take_output(&mut s);
    s.handle_timeout(now + close_timeout());
    assert_eq!(s.close_info().map(|i| i.cause), Some(CloseCause::CloseTimeout));
    s.handle_write_shutdown(now);
    assert_eq!(s.transport(), Transport::Close);
    // End of stream mid-conversation.
    let mut s = server(now);
    s.handle_eof(now);
    assert_eq!(s.transport(), Transport::Shutdown);
    s.handle_write_shutdown(now);
    assert_eq!(s.transport(), Transport::Close);
    assert_eq!(closed_events(&take_events(&mut s)), 1);
}

#[test]
fn the_end_is_reported_exactly_once_whatever_comes_after() {
    let now = Instant::now();
    let mut s = server(now);
    s.handle_data(now, &client_frame(OpCode::Close, true, &close_body(1000, "")));
    take_output(&mut s);
    s.handle_write_shutdown(now);
    s.handle_write_shutdown(now);
    s.handle_eof(now);
    s.handle_transport_error(now);
    s.handle_timeout(now + Duration::from_secs(3600));
    s.handle_data(now, b"late");
    let events = take_events(&mut s);
    assert_eq!(closed_events(&events), 1, "{events:?}");
    assert!(matches!(events.last(), Some(Event::Closed(_))));
}

/// A connection that only sends (a silent subscriber to a feed) gives its write buffer back at
/// most once per `release_buffers_after`, not after every message, and a release leaves no
/// deadline in the past (found by the `conversation` fuzz target: an idle-timeout Close queued
/// after a release made `poll_timeout` return an instant already passed).
#[test]
fn a_sending_only_connection_releases_once_per_period() {
    let now = Instant::now();
    let after = Config::default().release_buffers_after.unwrap();
    let mut s = server(now);
    let t = now + after * 5;
    s.send_text("tick").unwrap();
    take_output(&mut s);
    assert_eq!(s.poll_timeout(), Some(now + after), "due: nothing arrived for a while");
    s.handle_timeout(t);
    assert_eq!(s.poll_timeout(), None, "given back");
    for i in 1..10u32 {
        let at = t + after / 10 * i;
        s.send_text("tick").unwrap();
        take_output(&mut s);
        assert_eq!(s.poll_timeout(), Some(t + after), "one release per period, not per send");
        s.handle_timeout(at);
    }
    s.handle_timeout(t + after);
    assert_eq!(s.poll_timeout(), None);

    // The idle timeout's Close, written after a release in the same call, leaves the next
    // release a period later.
    let mut config = Config::default();
    config.idle_timeout = Some(after * 3);
    let mut s = Connection::new(Role::Server, config, now);
    s.handle_data(now, &client_frame(OpCode::Text, true, b"hi"));
    take_events(&mut s);
    let late = now + after * 4;
    s.handle_timeout(late);
    assert_eq!(s.state(), State::Closing);
    assert_eq!(sent_close_code(&take_output(&mut s)), Some(1001));
    assert!(s.poll_timeout().is_some_and(|d| d > late), "{:?}", s.poll_timeout());
}

#[test]
fn idle_buffers_are_given_back_after_release_buffers_after() {
    let now = Instant::now();
    let mut s = server(now);
    assert_eq!(s.poll_timeout(), None, "nothing held, no timer configured");
    s.handle_data(now, &client_frame(OpCode::Text, true, b"hi"));
    take_events(&mut s);
    s.send_text("hi").unwrap();
    take_output(&mut s);
    assert!(s.recv_capacity() > 0);
    let after = Config::default().release_buffers_after.unwrap();
    assert_eq!(s.poll_timeout(), Some(now + after));
    // Busy: more input moves the release later, and the buffer is reused.
    let later = now + after / 2;
    s.handle_data(later, &client_frame(OpCode::Text, true, b"again"));
    take_events(&mut s);
    assert_eq!(s.poll_timeout(), Some(later + after));
    s.handle_timeout(later + after);
    assert_eq!(s.recv_capacity(), 0);
    assert_eq!(s.poll_timeout(), None, "nothing left to give back");
    // A partial frame is never dropped, and holds no release timer.
    let frame = client_frame(OpCode::Text, true, b"partial");
    s.handle_data(later, &frame[..4]);
    assert_eq!(s.poll_timeout(), None);
    s.handle_data(later, &frame[4..]);
    assert!(matches!(s.poll_event(), Some(Event::Data { payload, .. }) if payload == "partial"));
}
