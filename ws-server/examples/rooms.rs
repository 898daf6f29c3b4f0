//! Rooms: topics chosen by the path and by messages. Connecting to `/rooms/<name>` joins room
//! `<name>` (`/rooms` alone joins none); the text commands `/join <room>` and `/leave <room>`
//! join and leave more. Any other text goes to every member of each room the sender is in,
//! the sender included, as `[<room>] <text>`. `--addr HOST:PORT` (default 127.0.0.1:9001).
//! Try it: `cargo run -p ws-server --example rooms`, then in two terminals
//! `python3 -m websockets ws://127.0.0.1:9001/rooms/lobby`, type, and `/join games`.
use ws_server::{Conn, Message, Route, Server};

/// Rooms are topics of the server's hub, named `room:<name>`.
fn topic(room: &str) -> String {
    format!("room:{room}")
}

fn command(conn: &Conn, text: &str) {
    let (verb, room) = text.split_once(' ').unwrap_or((text, ""));
    let room = room.trim();
    let _ = match (verb, room.is_empty() || room.contains(char::is_whitespace)) {
        ("/join", false) => {
            conn.subscribe(&topic(room));
            conn.send_text(format!("joined {room}"))
        }
        ("/leave", false) => {
            conn.unsubscribe(&topic(room));
            conn.send_text(format!("left {room}"))
        }
        _ => conn.send_text("commands: /join <room>, /leave <room> (a room name has no spaces)"),
    };
}

fn say(conn: &Conn, text: &str) {
    let rooms = conn.topics();
    if rooms.is_empty() {
        let _ = conn.send_text("you are in no room: /join <room>");
    }
    for topic in rooms {
        let room = topic.strip_prefix("room:").unwrap_or(&topic);
        conn.publish(&topic, format!("[{room}] {text}"));
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut addr = "127.0.0.1:9001".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--addr" => addr = args.next().expect("--addr HOST:PORT"),
            _ => panic!("usage: rooms [--addr HOST:PORT]"),
        }
    }
    let rooms = Route::new()
        .on_open(|conn| {
            let room = conn.path().strip_prefix("/rooms/").unwrap_or("");
            if !room.is_empty() {
                conn.subscribe(&topic(room));
            }
        })
        .on_message(|conn, message| match message {
            Message::Text(text) if text.as_str().starts_with('/') => command(conn, text.as_str()),
            Message::Text(text) => say(conn, text.as_str()),
            _ => {}
        });
    let server = Server::builder().bind(addr).route_prefix("/rooms", rooms).build().await?;
    println!("rooms on ws://{}/rooms/<name>", server.local_addrs()[0]);
    let ctrl_c = async { tokio::signal::ctrl_c().await.expect("Ctrl-C handler") };
    server.serve_with_shutdown(ctrl_c).await
}
