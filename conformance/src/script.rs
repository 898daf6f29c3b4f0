//! The interop conversation, written once for every adapter: what the scripted server does
//! ([`serve`]) and what the scripted client checks ([`run_client`]).
//!
//! The peers in `peers/` (Python `websockets`, Node `ws`, the browser page) implement the same
//! conversation; `README.md` describes it step by step. In short, the server:
//!
//! * selects the subprotocol `chat.v1` when offered and enables permessage-deflate;
//! * echoes every text and binary message, except texts starting with `cmd:`:
//!   `cmd:info` → `protocol=<p|none>;deflate=<yes|no|unknown>`;
//!   `cmd:fragments` → the text `alpha-beta-gamma` sent as three fragments;
//!   `cmd:ping` → a Ping `ping-from-server`, then, once its Pong arrived, `pong:ping-from-server`;
//!   `cmd:last-close` → `<code>:<reason>` of the last Close frame a client sent (waits for it);
//!   `cmd:close:<code>:<reason>` → closes with that code and reason.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use ws_proto::{Bytes, CloseCode, CloseFrame, Message, MessageKind};

use crate::session::{BoxError, Session};

/// What clients offer, in order of preference.
pub const OFFERED_PROTOCOLS: [&str; 2] = ["chat.v2", "chat.v1"];
/// What servers support: the one both sides should agree on.
pub const SERVER_PROTOCOLS: [&str; 1] = ["chat.v1"];
/// The client's first message (step "info").
pub const INFO_REQUEST: &str = "cmd:info";
/// The server's answer to [`INFO_REQUEST`] when both ends use `chat.v1` and permessage-deflate.
pub const INFO_REPLY: &str = "protocol=chat.v1;deflate=yes";
/// The client's message of the step after "info" (step "text"), echoed by the server.
pub const TEXT_STEP: &str = "Hello, wörld ✓";
/// How long any step waits for the peer.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a server waits for a client that sends nothing.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// The 1 MiB binary message: bytes `(31 i + 7) mod 251`.
pub fn large_binary() -> Vec<u8> {
    (0..1u32 << 20).map(|i| ((i * 31 + 7) % 251) as u8).collect()
}

/// The 1 MiB text message: the 16-byte unit `"ab ü ✓ 123456"` 65 536 times (multi-byte
/// characters straddle every fragment and buffer boundary somewhere).
pub fn large_text() -> String {
    "ab ü ✓ 123456".repeat(1 << 16)
}

/// What a server remembers across connections: the last Close frame a client sent.
#[derive(Debug, Default)]
pub struct ServerState {
    last_close: Mutex<Option<String>>,
    changed: Condvar,
}

impl ServerState {
    fn record_close(&self, frame: Option<&CloseFrame>) {
        let text = match frame {
            Some(frame) => format!("{}:{}", frame.code.0, frame.reason_str()),
            None => "none".to_owned(),
        };
        *self.last_close.lock().unwrap_or_else(|e| e.into_inner()) = Some(text);
        self.changed.notify_all();
    }

    /// The last close, waiting up to `limit` for one (the closing connection may still be
    /// being torn down on another thread).
    fn last_close(&self, limit: Duration) -> String {
        let guard = self.last_close.lock().unwrap_or_else(|e| e.into_inner());
        let (guard, _) = self
            .changed
            .wait_timeout_while(guard, limit, |last| last.is_none())
            .unwrap_or_else(|e| e.into_inner());
        guard.clone().unwrap_or_else(|| "none".to_owned())
    }
}

/// Serves one connection of the scripted server until it is closed.
pub fn serve(ws: &mut dyn Session, state: &ServerState) -> Result<(), BoxError> {
    while let Some(message) = ws.recv(Some(IDLE_TIMEOUT))? {
        match message {
            Message::Text(text) if text.as_str().starts_with("cmd:") => {
                command(ws, state, text.as_str())?
            }
            echo @ (Message::Text(_) | Message::Binary(_)) => ws.send(echo)?,
            Message::Close(frame) => state.record_close(frame.as_ref()),
            Message::Ping(_) | Message::Pong(_) => {}
        }
    }
    Ok(())
}

fn command(ws: &mut dyn Session, state: &ServerState, command: &str) -> Result<(), BoxError> {
    let mut parts = command.splitn(4, ':').skip(1);
    match (parts.next(), parts.next(), parts.next()) {
        (Some("info"), None, None) => {
            let protocol = ws.protocol().unwrap_or_else(|| "none".to_owned());
            let deflate = match ws.deflate() {
                Some(true) => "yes",
                Some(false) => "no",
                None => "unknown",
            };
            ws.send(Message::text(info_reply(&protocol, deflate)))
        }
        (Some("fragments"), None, None) => {
            ws.send_fragment(MessageKind::Text, b"alpha-", false)?;
            ws.send_fragment(MessageKind::Text, b"beta-", false)?;
            ws.send_fragment(MessageKind::Text, b"gamma", true)
        }
        (Some("ping"), None, None) => {
            ws.ping(b"ping-from-server")?;
            let deadline = Instant::now() + STEP_TIMEOUT;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match ws.recv(Some(left))? {
                    Some(Message::Pong(payload)) if payload == "ping-from-server" => break,
                    Some(Message::Ping(_)) => {}
                    other => return Err(format!("expected our Pong, got {other:?}").into()),
                }
            }
            ws.send(Message::text("pong:ping-from-server"))
        }
        (Some("last-close"), None, None) => {
            let last = state.last_close(Duration::from_secs(5));
            ws.send(Message::text(last))
        }
        (Some("close"), Some(code), Some(reason)) => {
            let code = code.parse::<u16>().map_err(|e| format!("bad close code {code:?}: {e}"))?;
            ws.close(CloseCode(code), reason)
        }
        _ => ws.send(Message::text(format!("error:unknown command {command:?}"))),
    }
}

/// The server's answer to [`INFO_REQUEST`].
fn info_reply(protocol: &str, deflate: &str) -> String {
    format!("protocol={protocol};deflate={deflate}")
}

/// Runs the scripted client's conversation. `connect` opens a connection offering
/// [`OFFERED_PROTOCOLS`] (it is called twice); `log` receives one line per step passed. Fails
/// at the first step that does not go as expected, naming it.
pub fn run_client(
    connect: &mut dyn FnMut() -> Result<Box<dyn Session>, BoxError>,
    log: &mut dyn FnMut(&str),
) -> Result<(), BoxError> {
    let mut step = |name: &str, result: Result<String, BoxError>| match result {
        Ok(detail) if detail.is_empty() => {
            log(&format!("ok {name}"));
            Ok(())
        }
        Ok(detail) => {
            log(&format!("ok {name} ({detail})"));
            Ok(())
        }
        Err(e) => Err(BoxError::from(format!("{name}: {e}"))),
    };

    let mut ws = connect().map_err(|e| format!("connect: {e}"))?;
    step("subprotocol", expect_protocol(&*ws))?;
    step("info", info(&mut *ws))?;
    step("text", echo(&mut *ws, Message::text(TEXT_STEP)))?;
    step("binary", echo(&mut *ws, Message::binary((0..=255u8).collect::<Vec<_>>())))?;
    step("1 MiB binary", echo(&mut *ws, Message::binary(large_binary())))?;
    step("1 MiB text", echo(&mut *ws, Message::text(large_text())))?;
    step("fragmented send", fragmented_send(&mut *ws))?;
    step("fragmented receive", request(&mut *ws, "cmd:fragments", "alpha-beta-gamma"))?;
    step("ping", ping(&mut *ws))?;
    step("server ping", server_ping(&mut *ws))?;
    step("client close", client_close(&mut *ws))?;

    let mut ws = connect().map_err(|e| format!("second connect: {e}"))?;
    step("close seen by server", request(&mut *ws, "cmd:last-close", "4001:client bye ✓"))?;
    step("server close", server_close(&mut *ws))?;
    Ok(())
}

fn expect_protocol(ws: &dyn Session) -> Result<String, BoxError> {
    match ws.protocol() {
        Some(p) if p == SERVER_PROTOCOLS[0] => Ok(p),
        other => Err(format!("agreed on {other:?}, expected {:?}", SERVER_PROTOCOLS[0]).into()),
    }
}

fn info(ws: &mut dyn Session) -> Result<String, BoxError> {
    ws.send(Message::text(INFO_REQUEST))?;
    let reply = expect_text(ws)?;
    let server_deflate = match reply.strip_prefix("protocol=chat.v1;deflate=") {
        Some(deflate) => deflate.to_owned(),
        None => return Err(format!("server said {reply:?}").into()),
    };
    let ours = match ws.deflate() {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    };
    let agreed = (ours, server_deflate.as_str()) == ("yes", "yes");
    if !agreed {
        return Err(format!(
            "permessage-deflate not in use on both ends (client: {ours}, server: {server_deflate})"
        )
        .into());
    }
    Ok(format!("permessage-deflate: client {ours}, server {server_deflate}"))
}

/// The next data message, skipping Pings (answered by the library) and Pongs.
fn expect_data(ws: &mut dyn Session) -> Result<Message, BoxError> {
    loop {
        match ws.recv(Some(STEP_TIMEOUT))? {
            Some(Message::Ping(_) | Message::Pong(_)) => {}
            Some(message) => return Ok(message),
            None => return Err("the connection closed".into()),
        }
    }
}

fn expect_text(ws: &mut dyn Session) -> Result<String, BoxError> {
    match expect_data(ws)? {
        Message::Text(text) => Ok(text.as_str().to_owned()),
        other => Err(format!("expected a text message, got {}", describe(&other)).into()),
    }
}

fn echo(ws: &mut dyn Session, message: Message) -> Result<String, BoxError> {
    ws.send(message.clone())?;
    let got = expect_data(ws)?;
    if got != message {
        return Err(format!("sent {}, got back {}", describe(&message), describe(&got)).into());
    }
    Ok(String::new())
}

fn request(ws: &mut dyn Session, command: &str, expected: &str) -> Result<String, BoxError> {
    ws.send(Message::text(command))?;
    let got = expect_text(ws)?;
    if got != expected {
        return Err(format!("{command}: expected {expected:?}, got {got:?}").into());
    }
    Ok(String::new())
}

fn fragmented_send(ws: &mut dyn Session) -> Result<String, BoxError> {
    ws.send_fragment(MessageKind::Text, b"frag", false)?;
    ws.send_fragment(MessageKind::Text, b"mented ", false)?;
    ws.send_fragment(MessageKind::Text, "text ✓".as_bytes(), true)?;
    match expect_text(ws)? {
        text if text == "fragmented text ✓" => Ok(String::new()),
        text => Err(format!("expected \"fragmented text ✓\", got {text:?}").into()),
    }
}

fn ping(ws: &mut dyn Session) -> Result<String, BoxError> {
    ws.ping(b"ping-from-client")?;
    loop {
        match ws.recv(Some(STEP_TIMEOUT))? {
            Some(Message::Pong(payload)) if payload == "ping-from-client" => {
                return Ok(String::new());
            }
            Some(Message::Ping(_)) => {}
            other => return Err(format!("expected our Pong, got {other:?}").into()),
        }
    }
}

fn server_ping(ws: &mut dyn Session) -> Result<String, BoxError> {
    ws.send(Message::text("cmd:ping"))?;
    let mut pinged = false;
    loop {
        match ws.recv(Some(STEP_TIMEOUT))? {
            Some(Message::Ping(payload)) if payload == "ping-from-server" => pinged = true,
            Some(Message::Text(text)) if pinged && text.as_str() == "pong:ping-from-server" => {
                return Ok(String::new());
            }
            other => return Err(format!("unexpected {other:?} (pinged: {pinged})").into()),
        }
    }
}

/// Receives until the connection ends; returns the peer's Close frame.
fn finish(ws: &mut dyn Session) -> Result<Option<CloseFrame>, BoxError> {
    let mut close = None;
    loop {
        match ws.recv(Some(STEP_TIMEOUT))? {
            Some(Message::Close(frame)) => close = Some(frame),
            Some(Message::Ping(_) | Message::Pong(_)) => {}
            Some(other) => {
                return Err(format!("unexpected {} while closing", describe(&other)).into());
            }
            None => break,
        }
    }
    match ws.close_info() {
        Some(info) if info.clean => {}
        other => return Err(format!("the close was not clean: {other:?}").into()),
    }
    close.ok_or_else(|| "no Close frame from the peer".into())
}

fn client_close(ws: &mut dyn Session) -> Result<String, BoxError> {
    ws.close(CloseCode(4001), "client bye ✓")?;
    match finish(ws)? {
        Some(frame) => Ok(format!("server replied {} {:?}", frame.code.0, frame.reason_str())),
        None => Ok("server replied without a code".to_owned()),
    }
}

fn server_close(ws: &mut dyn Session) -> Result<String, BoxError> {
    ws.send(Message::text("cmd:close:4002:server bye ✓"))?;
    match finish(ws)? {
        Some(frame) if frame.code.0 == 4002 && frame.reason_str() == "server bye ✓" => {
            Ok(String::new())
        }
        other => Err(format!("expected Close 4002 \"server bye ✓\", got {other:?}").into()),
    }
}

/// A short description of a message for error text (large payloads are not printed).
fn describe(message: &Message) -> String {
    fn bytes(kind: &str, b: &Bytes) -> String {
        match b.len() {
            n if n <= 64 => format!("{kind} {b:?}"),
            n => format!("{kind} of {n} bytes"),
        }
    }
    match message {
        Message::Text(t) => bytes("text", t.as_bytes()),
        Message::Binary(b) => bytes("binary", b),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_reply_of_a_connection_with_chat_v1_and_deflate() {
        assert_eq!(info_reply(SERVER_PROTOCOLS[0], "yes"), INFO_REPLY);
    }
}
