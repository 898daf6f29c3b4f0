//! The send queue and the connection task's wake-ups: replies queued by a handler on the
//! connection's own task (no wake-up needed: the task is running), sends from other tasks to a
//! connection that waits (they must wake it), and control frames, on both runtime flavours.

use std::time::Duration;

use tokio::sync::mpsc;
use ws_server::{CloseCode, Handle, Message, Route, Server, ServerHandle};

/// Serves `route` at `/` on an ephemeral port; returns the URL and the server's handle.
async fn serve(route: Route) -> (String, ServerHandle) {
    let server = Server::builder().bind("127.0.0.1:0").route("/", route).build().await.unwrap();
    let url = format!("ws://{}/", server.local_addrs()[0]);
    let handle = server.handle();
    tokio::spawn(server.serve());
    (url, handle)
}

async fn next_text(ws: &mut ws_tokio::ClientSocket) -> String {
    let next = tokio::time::timeout(Duration::from_secs(5), ws.recv()).await;
    match next.expect("a message within 5 s") {
        Some(Ok(Message::Text(t))) => t.as_str().to_owned(),
        other => panic!("expected a text message, got {other:?}"),
    }
}

async fn handler_replies(route: Route) {
    let (url, _server) = serve(route).await;
    let (mut ws, _) = ws_tokio::connect(&url).await.unwrap();
    for i in 0..500 {
        ws.send_text(format!("m{i}")).await.unwrap();
        // The handler answers each message three times.
        for copy in 0..3 {
            assert_eq!(next_text(&mut ws).await, format!("m{i}/{copy}"));
        }
    }
}

fn triple_echo() -> Route {
    Route::new().on_message(|conn, msg| {
        if let Message::Text(t) = msg {
            for copy in 0..3 {
                assert!(conn.send_text(format!("{t}/{copy}")).is_queued());
            }
        }
    })
}

#[tokio::test(flavor = "current_thread")]
async fn handler_replies_are_written_current_thread() {
    handler_replies(triple_echo()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_replies_are_written_multi_thread() {
    handler_replies(triple_echo()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_model_replies_through_the_handle() {
    let route = Route::new().handle(|mut socket| async move {
        while let Some(Ok(message)) = socket.recv().await {
            if let Message::Text(t) = message {
                for copy in 0..3 {
                    let _ = socket.conn().send_text(format!("{t}/{copy}"));
                }
            }
        }
    });
    handler_replies(route).await;
}

/// A route that hands each connection's handle to the test.
fn handing_out(tx: mpsc::UnboundedSender<Handle>) -> Route {
    Route::new().on_open(move |conn| {
        conn.subscribe("t");
        tx.send(conn.handle().clone()).unwrap();
    })
}

async fn sends_wake_a_waiting_connection() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (url, server) = serve(handing_out(tx)).await;
    let (mut ws, _) = ws_tokio::connect(&url).await.unwrap();
    let handle = rx.recv().await.unwrap();
    for i in 0..20 {
        // Let the connection's task go idle (waiting on its socket and its queue).
        tokio::time::sleep(Duration::from_millis(5)).await;
        if i % 2 == 0 {
            assert!(handle.send_text(format!("direct {i}")).is_queued());
            assert_eq!(next_text(&mut ws).await, format!("direct {i}"));
        } else {
            assert_eq!(server.publish("t", format!("published {i}")), 1);
            assert_eq!(next_text(&mut ws).await, format!("published {i}"));
        }
    }
    // A burst from another task, then a Close: all in order, then the Close.
    for i in 0..100 {
        let _ = handle.send_text(format!("burst {i}"));
    }
    assert!(handle.close(CloseCode::NORMAL, "bye").is_queued());
    for i in 0..100 {
        assert_eq!(next_text(&mut ws).await, format!("burst {i}"));
    }
    match tokio::time::timeout(Duration::from_secs(5), ws.recv()).await.unwrap() {
        Some(Ok(Message::Close(Some(frame)))) => {
            assert_eq!((frame.code, frame.reason_str()), (CloseCode::NORMAL, "bye"));
        }
        other => panic!("expected the Close, got {other:?}"),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn sends_from_elsewhere_wake_a_waiting_connection_current_thread() {
    sends_wake_a_waiting_connection().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_from_elsewhere_wake_a_waiting_connection_multi_thread() {
    sends_wake_a_waiting_connection().await;
}

/// An echo route (the handler replies with `conn.send`), a client connected to it, and the
/// connection's handle for sends from elsewhere.
async fn echo_and_its_handle() -> (ws_tokio::ClientSocket, Handle, ServerHandle) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let route = Route::new()
        .on_open(move |conn| tx.send(conn.handle().clone()).unwrap())
        .on_message(|conn, msg| {
            let _ = conn.send(msg);
        });
    let (url, server) = serve(route).await;
    let (ws, _) = ws_tokio::connect(&url).await.unwrap();
    (ws, rx.recv().await.unwrap(), server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_from_another_thread_while_the_peer_talks() {
    // Replies from the handler and sends from another thread interleave; none is lost.
    let (mut ws, handle, _server) = echo_and_its_handle().await;
    let pusher = std::thread::spawn(move || {
        for i in 0..300 {
            let _ = handle.send_text(format!("side {i}"));
            std::thread::sleep(Duration::from_micros(200));
        }
    });
    let (mut echoes, mut sides) = (0, 0);
    for i in 0..300 {
        ws.send_text(format!("echo {i}")).await.unwrap();
        loop {
            let text = next_text(&mut ws).await;
            if text.starts_with("side") {
                assert_eq!(text, format!("side {sides}"));
                sides += 1;
            } else {
                assert_eq!(text, format!("echo {echoes}"));
                echoes += 1;
                break;
            }
        }
    }
    pusher.join().unwrap();
    while sides < 300 {
        assert_eq!(next_text(&mut ws).await, format!("side {sides}"));
        sides += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_racing_with_the_task_going_idle_wakes_it() {
    // Each round the peer sends one message (the handler echoes it) while another thread sends
    // one through the handle, then nothing more comes: the connection's task is busy with the
    // echo and then goes idle (it parks without the queue's lock when nothing is queued). If
    // the handle's send fell between the task's last look at the queue and its parking, only
    // the wake-up brings it out: it must never be lost.
    let (mut ws, handle, _server) = echo_and_its_handle().await;
    let (go, next) = std::sync::mpsc::channel::<u32>();
    let pusher = std::thread::spawn(move || {
        while let Ok(i) = next.recv() {
            // Spread the send over the echo's handling, round by round.
            for _ in 0..(i % 64) * 16 {
                std::hint::spin_loop();
            }
            assert!(handle.send_text(format!("side {i}")).is_queued());
        }
    });
    for i in 0..2000 {
        go.send(i).unwrap();
        ws.send_text(format!("echo {i}")).await.unwrap();
        let mut got = [next_text(&mut ws).await, next_text(&mut ws).await];
        got.sort();
        assert_eq!(got, [format!("echo {i}"), format!("side {i}")]);
    }
    drop(go);
    pusher.join().unwrap();
}

/// A handler's sends to its own connection skip the queue while nothing is queued before
/// them; a control frame goes through the queue; what follows it must not overtake it, and
/// what the handler sent first must not be overtaken by it.
#[tokio::test(flavor = "current_thread")]
async fn a_handlers_direct_sends_keep_their_order_around_queued_ones() {
    let route = Route::new().on_message(|conn, msg| {
        if let Message::Text(t) = msg {
            assert!(conn.send_text(format!("{t}/a")).is_queued());
            assert!(conn.ping(t.as_str().to_owned()).is_queued());
            assert!(conn.send_text(format!("{t}/b")).is_queued());
        }
    });
    let (url, server) = serve(route).await;
    let (mut ws, _) = ws_tokio::connect(&url).await.unwrap();
    for i in 0..50 {
        ws.send_text(format!("m{i}")).await.unwrap();
        assert_eq!(next_text(&mut ws).await, format!("m{i}/a"));
        let ping = tokio::time::timeout(Duration::from_secs(5), ws.recv()).await.unwrap();
        assert_eq!(ping.unwrap().unwrap(), Message::Ping(format!("m{i}").into_bytes().into()));
        assert_eq!(next_text(&mut ws).await, format!("m{i}/b"));
    }
    let m = server.metrics();
    assert_eq!((m.messages_in, m.messages_out), (50, 100), "{m:?}");
}

/// The bound holds for a handler's direct sends too: past it the route's policy decides.
#[tokio::test(flavor = "current_thread")]
async fn a_handlers_direct_sends_meet_the_bound() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let route =
        Route::new().backpressure(100, ws_server::Backpressure::Drop).on_message(move |conn, _| {
            let sent: Vec<_> = (0..3).map(|i| conn.send_text(format!("{i}").repeat(60))).collect();
            tx.send(sent).unwrap();
        });
    let (url, server) = serve(route).await;
    let (mut ws, _) = ws_tokio::connect(&url).await.unwrap();
    ws.send_text("go").await.unwrap();
    assert_eq!(next_text(&mut ws).await, "0".repeat(60));
    use ws_server::Sent::{Dropped, Queued};
    assert_eq!(rx.recv().await.unwrap(), vec![Queued, Dropped, Dropped]);
    // The next message: the first of a fresh burst fits again once the socket took the last.
    ws.send_text("go").await.unwrap();
    assert_eq!(next_text(&mut ws).await, "0".repeat(60));
    assert_eq!(server.metrics().dropped, 4);
}
