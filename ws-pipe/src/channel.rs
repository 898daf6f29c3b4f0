//! A channel: one pipe pair served at a path, its clients, and the route that admits them
//! (origin list, token) and relays their messages.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use bytes::Bytes;
use ws_server::{
    Backpressure, CloseInfo, Conn, Handle, Message, Reject, Route, ServerHandle, Upgrade,
    UpgradeRequest, Utf8Bytes,
};

use crate::access_log::{AccessLog, Entry};
use crate::cli::Options;
use crate::format::{self, Addressed};
use crate::output::Output;

/// A client's send handle, its data and its channel's index.
type Client = (Handle, Arc<ConnInfo>, usize);

/// Every connected client of the process by strict-mode id (unique while connected, never 0).
#[derive(Debug, Default)]
pub(crate) struct Clients {
    map: Mutex<HashMap<u32, Client>>,
    last: Mutex<u32>,
}

impl Clients {
    fn add(&self, handle: Handle, info: Arc<ConnInfo>, channel: usize) -> u32 {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            *last = last.wrapping_add(1);
            if *last != 0 && !map.contains_key(&*last) {
                map.insert(*last, (handle, info, channel));
                return *last;
            }
        }
    }

    fn remove(&self, id: u32) {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
    }

    fn get(&self, id: u32, channel: usize) -> Option<(Handle, Arc<ConnInfo>)> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let (handle, info, on) = map.get(&id)?;
        (*on == channel).then(|| (handle.clone(), Arc::clone(info)))
    }
}

/// What a connection carries (the route's per-connection data).
#[derive(Debug)]
pub(crate) struct ConnInfo {
    id: AtomicU32,
    opened: Instant,
    origin: Option<String>,
    bytes_in: AtomicU64,
    /// Bytes sent to this client alone.
    bytes_direct: AtomicU64,
    /// The channel's broadcast byte count when the client joined.
    broadcast_mark: AtomicU64,
}

/// Settings every channel shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) clients: Clients,
    pub(crate) access_log: Option<AccessLog>,
    pub(crate) origins: Vec<String>,
    pub(crate) auth_token: Option<String>,
    pub(crate) server: OnceLock<ServerHandle>,
}

/// One pipe pair and its clients.
#[derive(Debug)]
pub(crate) struct Channel {
    index: usize,
    name: String,
    topic: String,
    strict: bool,
    open_event: u32,
    output: Option<Arc<Output>>,
    shared: Arc<Shared>,
    /// Bytes broadcast so far (for each client's `bytes_out`).
    broadcast_bytes: AtomicU64,
    not_utf8: AtomicU64,
}

impl Channel {
    pub(crate) fn new(
        index: usize,
        name: &str,
        options: &Options,
        output: Option<Arc<Output>>,
        shared: Arc<Shared>,
    ) -> Channel {
        Channel {
            index,
            name: name.to_owned(),
            topic: format!("ws-pipe {index}"),
            strict: options.strict,
            open_event: options.open_event,
            output,
            shared,
            broadcast_bytes: AtomicU64::new(0),
            not_utf8: AtomicU64::new(0),
        }
    }

    fn publish(&self, message: Message) {
        let len = match &message {
            Message::Text(t) => t.len(),
            Message::Binary(b) => b.len(),
            _ => 0,
        };
        self.broadcast_bytes.fetch_add(len as u64, Ordering::Relaxed);
        if let Some(server) = self.shared.server.get() {
            server.publish(&self.topic, message);
        }
    }

    /// Standard mode: one read of the input, to every client.
    pub(crate) fn broadcast_standard(&self, message: Message) {
        if matches!(message, Message::Binary(_)) {
            let n = self.not_utf8.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                eprintln!(
                    "ws-pipe: input {}: a read that is not UTF-8 was sent as binary \
                     ({n} so far)",
                    self.name
                );
            }
        }
        self.publish(message);
    }

    /// Strict mode: one record of the input, to its client (or to every client for id 0).
    pub(crate) fn deliver(&self, record: Addressed) {
        let message = match record.binary {
            true => Message::Binary(record.payload),
            false => match Utf8Bytes::try_from(record.payload) {
                Ok(text) => Message::Text(text),
                Err(e) => {
                    eprintln!(
                        "ws-pipe: input {}: text record for client {} is not UTF-8 ({e}); dropped",
                        self.name, record.client
                    );
                    return;
                }
            },
        };
        if record.client == 0 {
            return self.publish(message);
        }
        // A client that already left (its close event may still be on its way) gets nothing.
        if let Some((handle, info)) = self.shared.clients.get(record.client, self.index) {
            let len = match &message {
                Message::Text(t) => t.len(),
                Message::Binary(b) => b.len(),
                _ => 0,
            };
            if handle.send(message).is_queued() {
                info.bytes_direct.fetch_add(len as u64, Ordering::Relaxed);
            }
        }
    }

    fn to_output(&self, id: u32, kind: u32, payload: &[u8]) {
        let Some(output) = &self.output else { return };
        match self.strict {
            true => output.push(format::record(id, kind, payload)),
            false if kind == format::TEXT || kind == format::BINARY => {
                output.push(Bytes::copy_from_slice(payload))
            }
            false => {}
        }
    }

    fn opened(&self, conn: &Conn<Arc<ConnInfo>>) {
        let info = conn.data();
        let id = self.shared.clients.add(conn.handle().clone(), Arc::clone(info), self.index);
        info.id.store(id, Ordering::Relaxed);
        info.broadcast_mark.store(self.broadcast_bytes.load(Ordering::Relaxed), Ordering::Relaxed);
        conn.subscribe(&self.topic);
        self.to_output(id, self.open_event, &format::ip_payload(conn.peer_addr().ip()));
    }

    fn message(&self, conn: &Conn<Arc<ConnInfo>>, message: Message) {
        let info = conn.data();
        let (kind, payload) = match &message {
            Message::Text(t) => (format::TEXT, t.as_str().as_bytes()),
            Message::Binary(b) => (format::BINARY, &b[..]),
            _ => return,
        };
        info.bytes_in.fetch_add(payload.len() as u64, Ordering::Relaxed);
        self.to_output(info.id.load(Ordering::Relaxed), kind, payload);
    }

    fn closed(&self, conn: &Conn<Arc<ConnInfo>>, close: &CloseInfo) {
        let info = conn.data();
        let id = info.id.load(Ordering::Relaxed);
        if id != 0 {
            self.shared.clients.remove(id);
            self.to_output(id, format::CLOSE, b"");
        }
        let broadcast = self.broadcast_bytes.load(Ordering::Relaxed)
            - info.broadcast_mark.load(Ordering::Relaxed);
        log_close(&self.shared, conn, close, broadcast);
    }
}

fn log_close(shared: &Shared, conn: &Conn<Arc<ConnInfo>>, close: &CloseInfo, broadcast: u64) {
    let Some(log) = &shared.access_log else { return };
    let info = conn.data();
    let code = close.sent.as_ref().or(close.received.as_ref()).map(|f| u16::from(f.code));
    log.write(&Entry {
        peer: conn.peer_addr().to_string(),
        path: conn.path().to_owned(),
        origin: info.origin.clone(),
        status: 101,
        duration: info.opened.elapsed(),
        bytes_in: info.bytes_in.load(Ordering::Relaxed),
        bytes_out: info.bytes_direct.load(Ordering::Relaxed) + broadcast,
        dropped: conn.dropped(),
        close_code: code.or(Some(close.code().into())),
    });
}

/// The upgrade hook's decision: origin list (403), then token (401).
fn admit(shared: &Shared, req: &UpgradeRequest) -> Result<Upgrade<Arc<ConnInfo>>, Reject> {
    let origin = req.origin().map(str::to_owned);
    let refuse = |status: u16, why: &str| {
        if let Some(log) = &shared.access_log {
            log.write(&Entry {
                peer: req.peer_addr().to_string(),
                path: req.path().to_owned(),
                origin: origin.clone(),
                status,
                ..Entry::default()
            });
        }
        let reject = Reject::new(status).body(why.as_bytes().to_vec());
        match status {
            401 => reject.header("WWW-Authenticate", "Bearer"),
            _ => reject,
        }
    };
    if !shared.origins.is_empty() {
        let allowed = origin
            .as_deref()
            .is_some_and(|o| shared.origins.iter().any(|a| a.eq_ignore_ascii_case(o.trim())));
        if !allowed {
            return Err(refuse(403, "origin not allowed\n"));
        }
    }
    if let Some(token) = &shared.auth_token {
        let given = req.query_param("token").or_else(|| {
            req.header("authorization")?
                .split_once(' ')
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, t)| t.trim())
        });
        if !given.is_some_and(|g| same(g.as_bytes(), token.as_bytes())) {
            return Err(refuse(401, "token required\n"));
        }
    }
    Ok(Upgrade::with_data(Arc::new(ConnInfo {
        id: AtomicU32::new(0),
        opened: Instant::now(),
        origin,
        bytes_in: AtomicU64::new(0),
        bytes_direct: AtomicU64::new(0),
        broadcast_mark: AtomicU64::new(0),
    })))
}

/// Compares without stopping at the first difference (the token's length is not secret).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The route's limits and keepalive from the command line.
fn configure<D: Send + Sync + 'static>(route: Route<D>, o: &Options) -> Route<D> {
    // No idle timeout unless asked for (a pipe may stay quiet), whatever ws-server's default.
    route
        .max_message_size(o.max_frame_size, o.max_frame_size)
        .compression(o.compress)
        .keepalive(o.ping_interval, o.pong_timeout)
        .idle_timeout(o.idle_timeout)
        .message_timeout(o.message_timeout)
}

fn hook(
    shared: &Arc<Shared>,
) -> impl Fn(UpgradeRequest) -> std::future::Ready<Result<Upgrade<Arc<ConnInfo>>, Reject>>
+ Send
+ Sync
+ 'static {
    let shared = Arc::clone(shared);
    move |req| std::future::ready(admit(&shared, &req))
}

/// The route of a channel.
pub(crate) fn route(channel: Arc<Channel>, o: &Options) -> Route<Arc<ConnInfo>> {
    let (a, b, c) = (Arc::clone(&channel), Arc::clone(&channel), channel);
    let shared = Arc::clone(&a.shared);
    configure(Route::with_upgrade(hook(&shared)), o)
        // A client that does not read loses broadcasts past its bound, never server memory.
        .backpressure(o.client_buffer, Backpressure::Drop)
        .on_open(move |conn| a.opened(conn))
        .on_message(move |conn, message| b.message(conn, message))
        .on_close(move |conn, close| c.closed(conn, close))
}

/// `--echo-mode`: every message back to its sender. An echo is never dropped silently: a
/// client that does not read its echoes past the bound is closed with 1013.
pub(crate) fn echo_route(shared: &Arc<Shared>, o: &Options) -> Route<Arc<ConnInfo>> {
    let log = Arc::clone(shared);
    configure(Route::with_upgrade(hook(shared)), o)
        .backpressure(o.client_buffer.max(o.max_frame_size), Backpressure::Close1013)
        .on_message(|conn, message| {
            let info = conn.data();
            if let Message::Text(t) = &message {
                info.bytes_in.fetch_add(t.len() as u64, Ordering::Relaxed);
                info.bytes_direct.fetch_add(t.len() as u64, Ordering::Relaxed);
            } else if let Message::Binary(b) = &message {
                info.bytes_in.fetch_add(b.len() as u64, Ordering::Relaxed);
                info.bytes_direct.fetch_add(b.len() as u64, Ordering::Relaxed);
            }
            let _ = conn.send(message);
        })
        .on_close(move |conn, close| log_close(&log, conn, close, 0))
}
