//! # conformance: the Autobahn|Testsuite harness and interop tests of the ws workspace
//!
//! Not a library for users: the pieces `run.sh` drives (see `README.md` next to this crate).
//!
//! * [`session`]: one synchronous [`Session`](session::Session) interface over the three
//!   adapters (`ws-tokio`, `ws-async-std`, `ws-blocking`), so each script below runs on each.
//! * [`script`]: the interop conversation (scripted server and client) shared with the
//!   Python, Node and browser peers in `peers/`.
//! * [`autobahn`]: the Autobahn|Testsuite run: plan, processes, merged results, expectations.
//! * [`interop`]: the interop checks against real third-party peers.
//! * [`badinput`]: bad input (protocol violations, limits, random bytes) sent to the shipped
//!   servers and clients by the kit's raw peer, checking the Close code and the FIN.
//! * [`hostile`]: hostile clients (slowloris, floods, never-reading peers, resets) against the
//!   shipped servers, each check asserting a bound (close code, time, server memory).
//!
//! Binaries: `autobahn-client` (the client role of the testsuite for one adapter),
//! `interop-server` and `interop-client` (the scripted peers for one adapter), and the three
//! drivers `autobahn`, `interop`, `badinput` and `hostile`.
//!
//! ```
//! use conformance::session::Adapter;
//!
//! let adapter: Adapter = "async-std".parse().unwrap();
//! assert_eq!(adapter.crate_name(), "ws-async-std");
//! assert!(conformance::session::config().deflate.is_some());
//! ```

#![forbid(unsafe_code)]

pub mod autobahn;
pub mod badinput;
pub mod cli;
pub mod hostile;
pub mod interop;
pub mod process;
pub mod script;
pub mod session;
pub mod uring_client;
