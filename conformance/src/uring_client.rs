//! `autobahn-client --adapter uring`: ws-uring's client, which is callbacks on one ring
//! rather than a [`Session`](crate::session::Session) to receive from, so it has its own
//! conversation loop: one [`ws_uring::Client`] for the whole run, one connection at a time.

use std::sync::{Arc, Mutex};

use ws_proto::{CloseInfo, Message};
use ws_uring::{Client, Conn, ConnId, Handler};

use crate::session::{BoxError, config};

/// What one conversation saw.
#[derive(Debug, Default)]
struct Log {
    texts: Vec<String>,
    /// Why the connection never opened.
    failed: Option<String>,
    closed: Option<CloseInfo>,
}

/// Echoes every text and binary message (`echo`), or only records the texts.
#[derive(Clone)]
struct Converse {
    echo: bool,
    log: Arc<Mutex<Log>>,
}

impl Handler for Converse {
    fn on_message(&mut self, conn: &mut Conn<'_>, message: Message) {
        if let Message::Text(text) = &message {
            if !self.echo {
                self.log.lock().unwrap_or_else(|e| e.into_inner()).texts.push(text.to_string());
            }
        }
        if self.echo && message.is_data() {
            // Refused only once the connection is closing: nothing more to echo then.
            let _ = conn.send(message);
        }
    }

    fn on_close(&mut self, _id: ConnId, info: &CloseInfo) {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).closed = Some(info.clone());
    }

    fn on_connect_failed(&mut self, _id: ConnId, error: &ws_uring::Error) {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).failed = Some(error.to_string());
    }
}

/// The client of a whole Autobahn run.
pub struct UringClient {
    client: Client<Converse>,
}

impl UringClient {
    /// One ring, permessage-deflate offered on every connection (as the adapters' clients).
    pub fn new() -> Result<UringClient, BoxError> {
        Ok(UringClient { client: Client::new(config())? })
    }

    /// One connection to `url` to its end: the texts it received (when `echo` is off), or
    /// why it failed. A connection that opened and was failed by us for the peer's violation
    /// (most fuzzing cases break the protocol on purpose) is an `Err` too, as a session's
    /// `recv` error is.
    pub fn converse(&mut self, url: &str, echo: bool) -> Result<Vec<String>, BoxError> {
        let log = Arc::new(Mutex::new(Log::default()));
        self.client.connect(url, Converse { echo, log: log.clone() })?;
        self.client.run()?;
        let log = std::mem::take(&mut *log.lock().unwrap_or_else(|e| e.into_inner()));
        if let Some(why) = log.failed {
            return Err(why.into());
        }
        match log.closed.as_ref().and_then(CloseInfo::error) {
            Some(error) => Err(error.to_string().into()),
            None => Ok(log.texts),
        }
    }
}
