//! Every scenario a callback API can run through ws-server's callback routes (`on_open`,
//! `on_message`, `on_pong`, `on_close`), in the server role.
ws_kit::kit_tests_server!(ws_kit::harness::server_callbacks::WsServerCallbacks, callback);
