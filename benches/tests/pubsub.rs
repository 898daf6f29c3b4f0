//! The pub/sub benchmark's client and pacer against an in-process ws-server on loopback: it
//! measures a correct fan-out and refuses one that loses a message.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use benches::pubsub::{self, CONTROL_PATH, ClientConfig, Pacer, SUB_PATH, Start, TOPIC};
use ws_server::{Message, Route, Server};

/// Starts a ws-server publisher on its own thread; `skip` (a message number) is not published.
fn server(skip: Option<u64>) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let pacer = Pacer::new();
            let control = {
                let pacer = pacer.clone();
                Route::new().on_message(move |_, msg| {
                    if let Message::Text(text) = msg {
                        pacer.control(text.as_bytes()).unwrap();
                    }
                })
            };
            let server = Server::builder()
                .bind("127.0.0.1:0")
                .route(SUB_PATH, Route::new().on_open(|conn| conn.subscribe(TOPIC)))
                .route(CONTROL_PATH, control)
                .build()
                .await
                .unwrap();
            tx.send(server.local_addrs()[0].to_string()).unwrap();
            let handle = server.handle();
            let calls = Arc::new(AtomicU64::new(0));
            tokio::spawn(async move {
                let count = handle.clone();
                let publish = |payload| {
                    let n = calls.fetch_add(1, Ordering::Relaxed) + 1;
                    if Some(n) == skip { 0 } else { handle.publish(TOPIC, payload) }
                };
                pacer.run(|| count.subscribers(TOPIC), publish).await;
            });
            server.serve().await.unwrap();
        });
    });
    rx.recv().unwrap()
}

fn run(authority: String, rate: f64) -> Result<pubsub::ClientReport, String> {
    let cfg = ClientConfig {
        authority,
        start: Start { subscribers: 50, size: 100, window: 8, rate },
        warmup: Duration::from_millis(100),
        duration: Duration::from_millis(400),
        server_pid: Some(std::process::id()),
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    tokio::task::LocalSet::new().block_on(&rt, pubsub::run_client(&cfg))
}

#[test]
fn measures_a_fan_out() {
    let report = run(server(None), 0.0).unwrap();
    assert!(report.published > 0 && report.delivered > 0, "{report:?}");
    // Every completed message reached all 50; the window's edges add at most a window's worth.
    let completed = report.published * 50;
    assert!(report.delivered.abs_diff(completed) <= 8 * 50, "{report:?}");
    assert_eq!(report.fanout_us.len() as u64, report.published);
    assert!(report.server_cpu.is_some());
}

#[test]
fn keeps_to_a_rate() {
    let report = run(server(None), 50.0).unwrap();
    // 50 messages per second over 0.4 s: about 20.
    assert!((15..=25).contains(&report.published), "{report:?}");
}

#[test]
fn refuses_a_lost_message() {
    let err = run(server(Some(3)), 0.0).unwrap_err();
    assert!(err.contains("got message 4 after 2"), "{err}");
}
