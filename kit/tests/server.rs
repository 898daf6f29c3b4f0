//! Every scenario through ws-server (it has no client), in the server role: the application is
//! the route's async per-connection function, its write half the connection's send handle.
ws_kit::kit_tests_server!(ws_kit::harness::server::WsServer);
