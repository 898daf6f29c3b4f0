//! Every scenario through ws-uring's server (it has no client), in the server role. Where the
//! kernel refuses io_uring, each test prints `SKIPPED: ...` and checks nothing.
ws_kit::kit_tests_server!(ws_kit::harness::uring::Uring, callback);
