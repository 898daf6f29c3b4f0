//! Every scenario a callback API can express through ws-uring, in both roles: its server and
//! its client. Where the kernel refuses io_uring, each test prints `SKIPPED: ...` and checks
//! nothing.
ws_kit::kit_tests!(ws_kit::harness::uring::Uring, callback);
