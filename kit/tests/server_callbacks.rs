//! Every scenario a callback API can run through ws-server's callback routes (`on_open`,
//! `on_message`, `on_pong`, `on_close`; the connection's `Conn` in a task of its own as the
//! write half), in the server role: all but the two `cancel_safety_*` (no receive to abandon).
ws_kit::kit_tests_server!(ws_kit::harness::server_callbacks::WsServerCallbacks, no_cancel);
