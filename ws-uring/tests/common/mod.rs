//! What the integration tests share.

use ws_uring::{Conn, Handler, Message};

/// Sends every Text and Binary message back.
#[derive(Clone)]
pub(crate) struct Echo;

impl Handler for Echo {
    fn on_message(&mut self, conn: &mut Conn<'_>, message: Message) {
        if message.is_data() {
            conn.send(message).unwrap();
        }
    }
}
