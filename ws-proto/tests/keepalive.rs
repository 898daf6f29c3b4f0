//! Keepalive that measures: Pings on a busy connection, the application's Ping payloads, round
//! trip samples, and the connection's maximum lifetime.

mod common;

use std::time::{Duration, Instant};

use common::*;
use ws_proto::frame::OpCode;
use ws_proto::{CloseCause, Config, Connection, Event, Role, State};

const INTERVAL: Duration = Duration::from_secs(20);

fn pings(output: &[u8]) -> Vec<Vec<u8>> {
    decode_frames(output)
        .into_iter()
        .filter(|(h, _)| h.opcode == OpCode::Ping)
        .map(|(_, payload)| payload)
        .collect()
}

fn keepalive_server(now: Instant, while_busy: bool) -> Connection {
    let mut config = Config::default();
    config.keepalive_interval = Some(INTERVAL);
    config.keepalive_while_busy = while_busy;
    config.release_buffers_after = None;
    Connection::new(Role::Server, config, now)
}

/// A client that sends a message every second: with `keepalive_while_busy` it still gets a
/// Ping every interval and its Pong is a round-trip sample; without, it never gets one.
#[test]
fn a_busy_connection_is_pinged_only_while_busy_is_on() {
    for while_busy in [false, true] {
        let start = Instant::now();
        let mut s = keepalive_server(start, while_busy);
        let mut sent = Vec::new();
        for second in 1..=61u64 {
            let now = start + Duration::from_secs(second);
            s.handle_data(now, &client_frame(OpCode::Text, true, b"busy"));
            take_events(&mut s);
            if s.poll_timeout().is_some_and(|d| d <= now) {
                s.handle_timeout(now);
            }
            for ping in pings(&take_output(&mut s)) {
                // The client answers a second later (with its next message).
                s.handle_data(
                    now + Duration::from_millis(300),
                    &client_frame(OpCode::Pong, true, &ping),
                );
                take_events(&mut s);
                sent.push(ping);
            }
        }
        if while_busy {
            assert_eq!(sent.len(), 3, "{sent:?}");
            assert_eq!(sent[0], 1u64.to_be_bytes());
            assert_eq!(s.rtt_samples(), 3);
            assert_eq!(s.last_rtt(), Some(Duration::from_millis(300)));
        } else {
            assert!(sent.is_empty(), "{sent:?}");
            assert_eq!((s.rtt_samples(), s.last_rtt()), (0, None));
        }
        assert_eq!(s.state(), State::Open);
    }
}

#[test]
fn the_application_chooses_ping_payloads_truncated_to_125_bytes() {
    let start = Instant::now();
    let mut s = keepalive_server(start, true);
    s.set_ping_payload(|n| if n == 1 { b"hello".to_vec() } else { vec![b'x'; 200] });
    s.handle_timeout(start + INTERVAL);
    let first = pings(&take_output(&mut s));
    assert_eq!(first, [b"hello".to_vec()]);
    // A Pong with another payload is not a sample.
    s.handle_data(start + INTERVAL, &client_frame(OpCode::Pong, true, b"other"));
    assert_eq!(s.rtt_samples(), 0);
    s.handle_data(start + INTERVAL * 2, &client_frame(OpCode::Pong, true, b"hello"));
    assert_eq!((s.rtt_samples(), s.last_rtt()), (1, Some(INTERVAL)));
    s.handle_timeout(start + INTERVAL * 3);
    let second = pings(&take_output(&mut s));
    assert_eq!(second, [vec![b'x'; 125]]);
}

/// With Pings on a timer, a peer that stops answering and sending is still dropped after the
/// Pong timeout (1011), but one that keeps sending is alive even if its Pong is late.
#[test]
fn pong_timeout_counts_silence_with_busy_pings() {
    let start = Instant::now();
    let pong_timeout = Config::default().pong_timeout;
    let mut s = keepalive_server(start, true);
    s.handle_timeout(start + INTERVAL);
    assert_eq!(pings(&take_output(&mut s)).len(), 1);
    let late = start + INTERVAL + pong_timeout - Duration::from_secs(1);
    s.handle_data(late, &client_frame(OpCode::Text, true, b"still here"));
    take_events(&mut s);
    assert_eq!(s.poll_timeout(), Some(late + pong_timeout));
    s.handle_timeout(late + pong_timeout);
    assert_eq!(sent_close_code(&take_output(&mut s)), Some(1011));
    let events = run_to_end(&mut s, late + pong_timeout);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Closed(info) if info.cause == CloseCause::PongTimeout)),
        "{events:?}"
    );
}

#[test]
fn max_lifetime_closes_with_1001_whatever_the_traffic() {
    let start = Instant::now();
    let mut config = Config::default();
    config.max_lifetime = Some(Duration::from_secs(60));
    config.release_buffers_after = None;
    let mut s = Connection::new(Role::Server, config, start);
    for second in (10..60).step_by(10) {
        let now = start + Duration::from_secs(second);
        s.handle_data(now, &client_frame(OpCode::Text, true, b"busy"));
        take_events(&mut s);
        s.handle_timeout(now);
        assert_eq!(s.state(), State::Open);
    }
    assert_eq!(s.poll_timeout(), Some(start + Duration::from_secs(60)));
    s.handle_timeout(start + Duration::from_secs(60));
    assert_eq!(s.state(), State::Closing);
    let out = take_output(&mut s);
    assert_eq!(sent_close_code(&out), Some(1001));
    assert!(out.ends_with(b"max lifetime"));
}
