//! ws-server's Redis hub against a real `redis-server` (Debian's package, installed by
//! `conformance/install-redis.sh`), started here on a free loopback port without persistence:
//! two servers, publish/subscribe across them, Redis killed and restarted, 1 000 subscribers.
//!
//! Without `redis-server` the first test runs the project's install script (so the README's
//! test command works on a fresh machine); if it is still missing they fail, never skip.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use ws_server::redis::RedisHub;
use ws_server::{Hub, Message, Route, Server, ServerHandle};

/// Installs `redis-server` with `conformance/install-redis.sh` if it is not on the `PATH`
/// (once per test binary; the script is idempotent and serialises concurrent runs).
fn ensure_installed() {
    static CHECKED: std::sync::Once = std::sync::Once::new();
    CHECKED.call_once(|| {
        let present = |()| {
            Command::new("redis-server")
                .arg("--version")
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if present(()) {
            return;
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../conformance/install-redis.sh");
        let status = Command::new("bash").arg(script).status();
        assert!(
            status.is_ok_and(|s| s.success()) && present(()),
            "redis-server is missing and {script} could not install it (as root: apt-get \
             install redis-server)"
        );
    });
}

/// A `redis-server` of this test: loopback only, no RDB or AOF, killed when dropped.
struct Redis {
    port: u16,
    dir: std::path::PathBuf,
    child: Option<Child>,
}

impl Redis {
    fn start() -> Redis {
        // A directory of its own (the tests run in parallel, each with its own Redis).
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ws-redis-test-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // A free port may be taken between the probe and redis-server's bind: try a few.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let mut redis = Redis { port, dir: dir.clone(), child: None };
            if redis.spawn() {
                return redis;
            }
        }
        panic!("redis-server did not start on a free loopback port");
    }

    /// Starts redis-server on `self.port`; false if it exited (port taken).
    fn spawn(&mut self) -> bool {
        ensure_installed();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .args(["--loglevel", "warning"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match child {
            Ok(child) => child,
            Err(e) => panic!(
                "cannot run redis-server ({e}): install it with conformance/install-redis.sh \
                 (as root: apt-get install redis-server)"
            ),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return false;
            }
            if self.command(&[b"PING".as_slice()]).is_some_and(|r| r.starts_with("+PONG")) {
                self.child = Some(child);
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        panic!("redis-server on port {} did not answer PING within 10 s", self.port);
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills redis-server (SIGKILL: no goodbye to its clients).
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Starts it again on the same port.
    fn restart(&mut self) {
        assert!(self.spawn(), "redis-server did not restart on port {}", self.port);
    }

    /// Sends one command (RESP) on a fresh connection; the first reply chunk.
    fn command(&self, args: &[&[u8]]) -> Option<String> {
        let mut tcp = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        tcp.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        let mut request = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            request.extend_from_slice(arg);
            request.extend_from_slice(b"\r\n");
        }
        tcp.write_all(&request).ok()?;
        let mut reply = [0u8; 512];
        let n = tcp.read(&mut reply).ok()?;
        Some(String::from_utf8_lossy(&reply[..n]).into_owned())
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn hub(redis: &Redis) -> Arc<RedisHub> {
    hub_queue(redis, 4096).await
}

/// A hub whose queue to Redis holds `queue` messages.
async fn hub_queue(redis: &Redis, queue: usize) -> Arc<RedisHub> {
    let hub = RedisHub::builder(redis.url())
        .queue(queue)
        .backoff(Duration::from_millis(10), Duration::from_millis(200))
        .timeout(Duration::from_secs(2))
        .connect()
        .await
        .expect("connect to the test's redis-server");
    Arc::new(hub)
}

/// A server whose route `/t` subscribes every connection to `topic` and publishes every
/// text message it receives to it.
async fn server(hub: &Arc<RedisHub>, topic: &'static str) -> (SocketAddr, ServerHandle) {
    let route =
        Route::new().on_open(move |conn| conn.subscribe(topic)).on_message(move |conn, msg| {
            if let Message::Text(text) = msg {
                conn.publish(topic, text);
            }
        });
    let (addr, handle, _) = serve(Server::builder().route("/t", route).hub(hub.clone())).await;
    (addr, handle)
}

/// Polls `cond` every 10 ms until it holds (bounded by the caller's `bounded`).
async fn until(mut cond: impl FnMut() -> bool) {
    while !cond() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until `hub` counts `n` subscribers of `topic` across servers.
async fn presence_is(hub: &RedisHub, topic: &str, n: usize) {
    while hub.presence(topic).await.unwrap() != n {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn next_text(ws: &mut ws_tokio::ClientSocket) -> String {
    loop {
        match ws.recv().await {
            Some(Ok(Message::Text(t))) => return t.to_string(),
            Some(Ok(m)) if !m.is_data() => continue,
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

/// Two servers on one Redis, each with one client subscribed to `topic`.
struct Pair {
    hub_a: Arc<RedisHub>,
    hub_b: Arc<RedisHub>,
    server_a: ServerHandle,
    server_b: ServerHandle,
    addr_b: SocketAddr,
    a: ws_tokio::ClientSocket,
    b: ws_tokio::ClientSocket,
}

/// The [`Pair`] on `redis`, its subscriptions in effect on Redis.
async fn pair(redis: &Redis, topic: &'static str) -> Pair {
    pair_on(hub(redis).await, hub(redis).await, topic).await
}

/// The [`Pair`] on these hubs.
async fn pair_on(hub_a: Arc<RedisHub>, hub_b: Arc<RedisHub>, topic: &'static str) -> Pair {
    let (addr_a, server_a) = server(&hub_a, topic).await;
    let (addr_b, server_b) = server(&hub_b, topic).await;
    let a = connect(addr_a, "/t").await.unwrap();
    let b = connect(addr_b, "/t").await.unwrap();
    until(|| server_a.subscribers(topic) == 1 && server_b.subscribers(topic) == 1).await;
    hub_a.settled().await;
    hub_b.settled().await;
    Pair { hub_a, hub_b, server_a, server_b, addr_b, a, b }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_published_on_one_server_reaches_both_once() {
    let redis = Redis::start();
    bounded(async {
        let Pair { hub_a, hub_b, mut a, mut b, .. } = pair(&redis, "chat").await;
        assert_eq!(hub_a.servers_subscribed("chat").await.unwrap(), 2);

        a.send(Message::text("from a")).await.unwrap();
        assert_eq!(next_text(&mut b).await, "from a");
        b.send(Message::text("from b")).await.unwrap();
        assert_eq!(next_text(&mut a).await, "from a");
        assert_eq!(next_text(&mut a).await, "from b");
        // Something that is not ours on the channel: dropped and counted, nobody gets it.
        let reply =
            redis.command(&[b"PUBLISH".as_slice(), b"ws:chat", b"not a RedisHub message"]).unwrap();
        assert_eq!(reply, ":2\r\n");
        a.send(Message::text("end")).await.unwrap();
        // Each client sees every message once, in order: a duplicate (the publisher's own
        // message coming back through Redis) or the foreign message would show up before "end".
        assert_eq!(next_text(&mut a).await, "end");
        assert_eq!(next_text(&mut b).await, "from b");
        assert_eq!(next_text(&mut b).await, "end");

        // Counted when Redis confirms, which may come after the subscribers got the message.
        // And hub_a's subscriber may take the foreign message after its client got "end"
        // (delivered locally, not through Redis): wait until each hub has taken all it will
        // get from the channel (hub_a: "from b" and the foreign one; hub_b: three), then check
        // how they were counted.
        until(|| {
            let (a, b) = (hub_a.stats(), hub_b.stats());
            a.published == 2
                && b.published == 1
                && a.received + a.invalid == 2
                && b.received + b.invalid == 3
        })
        .await;
        let (sa, sb) = (hub_a.stats(), hub_b.stats());
        assert_eq!((sa.published, sa.received, sa.invalid), (2, 1, 1), "{sa:?}");
        assert_eq!((sb.published, sb.received, sb.invalid), (1, 2, 1), "{sb:?}");
        assert_eq!((sa.lost, sa.failed, sa.dropped), (0, 0, 0), "{sa:?}");
        assert_eq!(sa.channels, 1);
    })
    .await;
}

/// `n` clients of `addr`, each counting the data messages it receives.
async fn subscribers(
    addr: SocketAddr,
    n: usize,
) -> Vec<(Arc<AtomicUsize>, tokio::task::JoinHandle<()>)> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let mut ws = connect(addr, "/t").await.unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&count);
        let task = tokio::spawn(async move {
            while let Some(Ok(m)) = ws.recv().await {
                if m.is_data() {
                    c.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        out.push((count, task));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_subscribers_over_two_servers_one_redis_subscription_each() {
    let redis = Redis::start();
    bounded(async {
        let (hub_a, hub_b) = (hub(&redis).await, hub(&redis).await);
        let (addr_a, server_a) = server(&hub_a, "feed").await;
        let (addr_b, server_b) = server(&hub_b, "feed").await;
        let on_a = subscribers(addr_a, 500).await;
        let on_b = subscribers(addr_b, 500).await;
        until(|| server_a.subscribers("feed") == 500 && server_b.subscribers("feed") == 500).await;
        hub_a.settled().await;
        hub_b.settled().await;
        // One Redis subscription per server, however many subscribers it has.
        assert_eq!(hub_a.servers_subscribed("feed").await.unwrap(), 2);
        assert_eq!((hub_a.stats().channels, hub_b.stats().channels), (1, 1));
        // Presence: every subscriber of both servers, as seen from either.
        presence_is(&hub_a, "feed", 1000).await;
        presence_is(&hub_b, "feed", 1000).await;

        for i in 0..10 {
            let server = if i % 2 == 0 { &server_a } else { &server_b };
            assert_eq!(server.publish("feed", format!("message {i}")), 500);
        }
        let all = || on_a.iter().chain(&on_b).all(|(c, _)| c.load(Ordering::Relaxed) == 10);
        until(all).await;
        // Each publish crossed Redis once (not once per subscriber).
        until(|| hub_a.stats().published == 5 && hub_b.stats().published == 5).await;
        let (sa, sb) = (hub_a.stats(), hub_b.stats());
        assert_eq!((sa.published, sa.received), (5, 5), "{sa:?}");
        assert_eq!((sb.published, sb.received), (5, 5), "{sb:?}");

        // The last local subscriber leaving ends the server's Redis subscription.
        for (_, task) in &on_b {
            task.abort();
        }
        until(|| server_b.subscribers("feed") == 0).await;
        hub_b.settled().await;
        assert_eq!(hub_b.stats().channels, 0);
        assert_eq!(hub_a.servers_subscribed("feed").await.unwrap(), 1);
        presence_is(&hub_a, "feed", 500).await;
        assert_eq!(server_a.publish("feed", "after"), 500);
        until(|| on_a.iter().all(|(c, _)| c.load(Ordering::Relaxed) == 11)).await;
        until(|| hub_a.stats().published == 6).await;
        assert_eq!(hub_b.stats().received, 5);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_and_restarted_reconnects_and_counts_the_outage() {
    let mut redis = Redis::start();
    bounded(async {
        let Pair { hub_a, hub_b, server_a, server_b, mut a, mut b, .. } =
            pair(&redis, "news").await;
        // Queried before the restart too: the query connection goes stale with it.
        presence_is(&hub_a, "news", 2).await;
        assert_eq!(hub_a.servers_subscribed("news").await.unwrap(), 2);
        server_a.publish("news", "before");
        assert_eq!(next_text(&mut a).await, "before");
        assert_eq!(next_text(&mut b).await, "before");

        redis.kill();
        until(|| !hub_a.stats().subscriber_connected && !hub_b.stats().subscriber_connected).await;
        // During the outage: this server's subscribers get them, the other server's do not,
        // and each one is counted.
        for i in 0..5 {
            assert_eq!(server_a.publish("news", format!("outage {i}")), 1);
        }
        for i in 0..5 {
            assert_eq!(next_text(&mut a).await, format!("outage {i}"));
        }
        assert_eq!(hub_a.stats().lost, 5);

        redis.restart();
        let up = |h: &RedisHub| {
            let s = h.stats();
            s.publisher_connected && s.subscriber_connected
        };
        until(|| up(&hub_a) && up(&hub_b)).await;
        hub_a.settled().await;
        hub_b.settled().await;
        assert_eq!(hub_b.stats().channels, 1);
        // The restarted Redis is empty: each server wrote its counts again.
        assert_eq!(hub_a.servers_subscribed("news").await.unwrap(), 2);
        presence_is(&hub_a, "news", 2).await;
        server_a.publish("news", "after a");
        server_b.publish("news", "after b");
        // b never saw the outage messages: the next thing it gets is after the restart.
        let mut got_b = vec![next_text(&mut b).await, next_text(&mut b).await];
        let mut got_a = vec![next_text(&mut a).await, next_text(&mut a).await];
        got_a.sort();
        got_b.sort();
        assert_eq!(got_a, ["after a", "after b"]);
        assert_eq!(got_b, ["after a", "after b"]);
        until(|| hub_a.stats().published == 2).await;
        let (sa, sb) = (hub_a.stats(), hub_b.stats());
        assert_eq!((sa.lost, sa.failed, sa.published), (5, 0, 2), "{sa:?}");
        assert_eq!((sb.lost, sb.failed, sb.received), (0, 0, 2), "{sb:?}");
        assert!(sa.reconnects >= 2 && sb.reconnects >= 2, "{sa:?} {sb:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_are_counted_per_topic_under_churn() {
    let redis = Redis::start();
    bounded(async {
        let Pair { hub_b, server_a, server_b, addr_b, mut b, .. } = pair(&redis, "base").await;
        let _more = [connect(addr_b, "/t").await.unwrap(), connect(addr_b, "/t").await.unwrap()];
        until(|| server_b.count() == 3).await;
        let mut handles = Vec::new();
        server_b.each(|h| handles.push(h.clone()));
        handles.sort_by_key(|h| h.id());
        // `b` connected first: its handle has the lowest id.
        let (hb, h1, h2) = (&handles[0], &handles[1], &handles[2]);
        // 300 topics on one connection: one SUBSCRIBE for the lot, one channel each.
        for t in 0..300 {
            hb.subscribe(&format!("t{t}"));
        }
        // A topic with three local subscribers, two of which leave: still one subscription.
        for h in [hb, h1, h2] {
            h.subscribe("shared");
        }
        h1.unsubscribe("shared");
        h2.unsubscribe("shared");
        // In and out many times, ending in.
        for _ in 0..50 {
            h1.subscribe("flap");
            h1.unsubscribe("flap");
        }
        h1.subscribe("flap");
        // In and out, ending out: no subscription.
        h2.subscribe("gone");
        h2.unsubscribe("gone");
        hub_b.settled().await;
        assert_eq!(hub_b.stats().channels, 1 + 300 + 2, "{:?}", hub_b.stats());
        for (channel, n) in
            [("ws:t7", ":1"), ("ws:shared", ":1"), ("ws:flap", ":1"), ("ws:gone", ":0")]
        {
            let reply =
                redis.command(&[b"PUBSUB".as_slice(), b"NUMSUB", channel.as_bytes()]).unwrap();
            assert!(reply.ends_with(&format!("{n}\r\n")), "{channel}: {reply:?}");
        }
        // A has no subscriber of these: all of it goes through Redis to B.
        for topic in ["t7", "shared", "gone", "t299"] {
            assert_eq!(server_a.publish(topic, topic), 0);
        }
        assert_eq!(next_text(&mut b).await, "t7");
        assert_eq!(next_text(&mut b).await, "shared");
        assert_eq!(next_text(&mut b).await, "t299");
        until(|| hub_b.stats().received == 3).await;
        // Everything leaves: no subscription is left behind.
        for t in 0..300 {
            hb.unsubscribe(&format!("t{t}"));
        }
        for h in [hb, h1, h2] {
            h.unsubscribe("shared");
            h.unsubscribe("flap");
            h.unsubscribe("base");
        }
        hub_b.settled().await;
        assert_eq!(hub_b.stats().channels, 0);
        assert!(server_b.subscribers("base") == 0 && hub_b.topics().is_empty());
    })
    .await;
}

/// On a current-thread runtime nothing else runs while the test publishes without awaiting:
/// the queue to Redis takes exactly its bound, the rest stays local and is counted.
#[tokio::test]
async fn a_full_queue_to_redis_drops_and_counts() {
    let redis = Redis::start();
    bounded(async {
        let (hub_a, hub_b) = (hub_queue(&redis, 3).await, hub(&redis).await);
        let Pair { hub_a, hub_b, server_a, mut a, mut b, .. } =
            pair_on(hub_a, hub_b, "burst").await;
        for i in 0..10 {
            assert_eq!(server_a.publish("burst", format!("m{i}")), 1);
        }
        let s = hub_a.stats();
        assert_eq!((s.dropped, s.lost), (7, 0), "{s:?}");
        for i in 0..10 {
            assert_eq!(next_text(&mut a).await, format!("m{i}"));
        }
        // B gets the three that fit, in order, then what comes after the burst.
        for i in 0..3 {
            assert_eq!(next_text(&mut b).await, format!("m{i}"));
        }
        until(|| hub_a.stats().published == 3).await;
        server_a.publish("burst", "after");
        assert_eq!(next_text(&mut b).await, "after");
        assert_eq!(hub_b.stats().received, 4);
    })
    .await;
}
