//! `ws-load`'s engine against in-process echo servers on loopback: it measures a correct server
//! and refuses a server whose echo is wrong by a single byte.

use std::time::Duration;

use benches::drivers;
use benches::load::{self, LoadConfig, Target};
use benches::wire;
use tokio::net::TcpListener;

/// Starts an echo server (fastwebsockets, as the peer binary runs it) on an ephemeral port.
/// `corrupt` flips the last byte of every echoed payload.
async fn echo_server(corrupt: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                wire::server_handshake(&mut stream).await.ok()?;
                let mut ws = drivers::fastwebsockets(stream, fastwebsockets::Role::Server);
                loop {
                    let mut frame = ws.read_frame().await.ok()?;
                    match frame.opcode {
                        fastwebsockets::OpCode::Close => return Some(()),
                        fastwebsockets::OpCode::Binary | fastwebsockets::OpCode::Text => {
                            if corrupt {
                                if let Some(b) = frame.payload.to_mut().last_mut() {
                                    *b ^= 1;
                                }
                            }
                            ws.write_frame(frame).await.ok()?;
                        }
                        _ => {}
                    }
                }
            });
        }
    });
    addr
}

fn config(addr: &str, text: bool) -> LoadConfig {
    LoadConfig {
        target: Target::parse(&format!("ws://{addr}/")).unwrap(),
        conns: 4,
        size: 300,
        text,
        warmup: Duration::from_millis(50),
        duration: Duration::from_millis(300),
        server_pid: Some(std::process::id()),
        depth: 1,
        raw: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measures_a_correct_server() {
    let addr = echo_server(false).await;
    for text in [false, true] {
        let report = load::run(&config(&addr, text)).await.unwrap();
        assert!(report.messages > 0);
        assert_eq!(report.latencies.len() as u64, report.messages);
        assert!(report.latencies.windows(2).all(|w| w[0] <= w[1]), "sorted");
        assert!(report.percentile_us(0.99) >= report.percentile_us(0.5));
        assert!(report.server_cpu.is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelines_and_counts_every_message() {
    let addr = echo_server(false).await;
    let mut cfg = config(&addr, false);
    cfg.depth = 8;
    let report = load::run(&cfg).await.unwrap();
    assert!(report.messages > 0 && report.messages % 8 == 0, "{}", report.messages);
    assert_eq!(report.latencies.len() as u64, report.messages);
}

/// The raw ceiling echoes frames back still masked: only `--raw` accepts that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_mode_expects_the_bytes_back_as_sent() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let raw_addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(benches::peer::raw_echo(stream));
        }
    });
    let mut cfg = config(&raw_addr, false);
    cfg.depth = 3;
    cfg.raw = true;
    let report = load::run(&cfg).await.unwrap();
    assert!(report.messages > 0);
    cfg.raw = false;
    let err = load::run(&cfg).await.unwrap_err();
    assert!(err.contains("echo differs"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_a_wrong_echo() {
    let addr = echo_server(true).await;
    let err = load::run(&config(&addr, false)).await.unwrap_err();
    assert!(err.contains("echo differs") && err.contains("byte 303"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_mode_opens_and_closes_connections() {
    let addr = echo_server(false).await;
    let mut cfg = config(&addr, false);
    cfg.conns = 100;
    let mut opened = 0;
    let at = [Duration::from_millis(10), Duration::from_millis(30)];
    let report = load::idle(&cfg, true, Duration::from_millis(50), &at, |n| opened = n).await;
    let report = report.unwrap();
    assert_eq!((opened, report.conns), (100, 100));
    assert!(report.burst.is_some());
    // The "server" is this process: sampled before connecting and at both times.
    let before = report.before.expect("sampled before connecting");
    assert!(before.rss_kib > 0 && before.threads >= 1);
    let times: Vec<Duration> = report.samples.iter().map(|(t, _)| *t).collect();
    assert_eq!(times, at);
}

#[tokio::test]
async fn connection_refused_is_an_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    assert!(load::run(&config(&addr, false)).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_mode_counts_whole_connections() {
    let addr = echo_server(false).await;
    let mut cfg = config(&addr, false);
    cfg.size = 20;
    let report = load::setup(&cfg).await.unwrap();
    assert!(report.messages > 0);
    assert_eq!(report.latencies.len() as u64, report.messages);
    assert!(report.server_cpu.is_some());
}

/// A server that echoes but ends the connection without answering the client's Close.
async fn rude_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                wire::server_handshake(&mut stream).await.ok()?;
                let mut ws = fastwebsockets::WebSocket::after_handshake(
                    stream,
                    fastwebsockets::Role::Server,
                );
                ws.set_auto_close(false);
                let mut ws = fastwebsockets::FragmentCollector::new(ws);
                loop {
                    let frame = ws.read_frame().await.ok()?;
                    match frame.opcode {
                        fastwebsockets::OpCode::Close => return Some(()),
                        _ => ws.write_frame(frame).await.ok()?,
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_mode_refuses_a_server_that_does_not_answer_close() {
    let addr = rude_server().await;
    let err = load::setup(&config(&addr, false)).await.unwrap_err();
    assert!(err.contains("expected the server's Close frame"), "{err}");
}
