//! Authentication in the upgrade hook: `/chat?token=TOKEN` is checked against a user store
//! before the `101` (here a map behind an async lookup that takes 20 ms, standing in for a
//! database). No token or an unknown one: `401` with a body saying which, and no WebSocket.
//! A known one: the user's name becomes the connection's data, and every text message goes to
//! every connected user as `<name>: <text>`. `--addr HOST:PORT` (default 127.0.0.1:9001).
//! Try it: `cargo run -p ws-server --example auth`, then
//! `python3 -m websockets 'ws://127.0.0.1:9001/chat?token=alice-secret'` (or `bob-secret`);
//! `curl -i -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13'
//! -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' 'http://127.0.0.1:9001/chat?token=x'`
//! shows the 401. A real server takes the token from a cookie or a header over `wss://`.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ws_server::{Message, Reject, Route, Server, Upgrade};

/// Token → user name: the "database".
struct Users(HashMap<&'static str, &'static str>);

impl Users {
    async fn lookup(&self, token: &str) -> Option<String> {
        tokio::time::sleep(Duration::from_millis(20)).await; // a round trip to the database
        self.0.get(token).map(|name| name.to_string())
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut addr = "127.0.0.1:9001".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--addr" => addr = args.next().expect("--addr HOST:PORT"),
            _ => panic!("usage: auth [--addr HOST:PORT]"),
        }
    }
    let users = Arc::new(Users(HashMap::from([("alice-secret", "alice"), ("bob-secret", "bob")])));
    let chat = Route::with_upgrade(move |request| {
        let users = Arc::clone(&users);
        async move {
            let Some(token) = request.query_param("token").filter(|t| !t.is_empty()) else {
                return Err(Reject::new(401).body("missing token: connect with ?token=TOKEN"));
            };
            match users.lookup(token).await {
                Some(name) => Ok(Upgrade::with_data(name)),
                None => Err(Reject::new(401).body("invalid token")),
            }
        }
    })
    .on_open(|conn| {
        conn.subscribe("chat");
        conn.publish("chat", format!("{} joined", conn.data()));
    })
    .on_message(|conn, message| {
        if let Message::Text(text) = message {
            conn.publish("chat", format!("{}: {text}", conn.data()));
        }
    })
    .on_close(|conn, _| {
        conn.publish("chat", format!("{} left", conn.data()));
    });
    let server = Server::builder().bind(addr).route("/chat", chat).build().await?;
    println!("auth on ws://{}/chat?token=alice-secret", server.local_addrs()[0]);
    let ctrl_c = async { tokio::signal::ctrl_c().await.expect("Ctrl-C handler") };
    server.serve_with_shutdown(ctrl_c).await
}
