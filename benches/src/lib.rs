//! # benches: measuring tools for the ws workspace
//!
//! This crate is not a library for users. It holds what the benchmarks, the load generator and
//! the peer echo servers share:
//!
//! * [`inputs`]: deterministic payloads, masked frame streams and text corpora, so every library
//!   in a comparison gets byte-identical input;
//! * [`mem`]: in-memory streams (blocking and async) and a tiny `block_on`, so codecs can be
//!   measured without sockets;
//! * [`drivers`]: each library driven over those streams the way its users drive it;
//! * [`wire`]: a minimal, independent WebSocket wire codec and HTTP upgrade used by `ws-load`
//!   and the fastwebsockets peer server (it deliberately does not use `ws-proto`, so the load
//!   generator cannot share a bug with the library it measures);
//! * [`load`]: the engine of the `ws-load` binary;
//! * [`peer`]: runtime and flag handling shared by the peer echo servers;
//! * [`pubsub`]: the pub/sub fan-out benchmark's publisher pacing (shared by its servers) and
//!   its client (many subscribers on one thread);
//! * [`cli`]: the small flag parser the binaries share;
//! * [`report`]: the medians and ratios `compare.sh` prints (via the `compare-report` binary).
//!
//! See `benches/README.md` for how to run everything and how to read the numbers.
//!
//! ```
//! use benches::wire::{encode_frame, Opcode};
//! // A masked binary frame as a client sends it, and the unmasked echo a server returns.
//! let masked = encode_frame(Opcode::Binary, b"hi", Some([1, 2, 3, 4]));
//! assert_eq!(masked, [0x82, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2]);
//! assert_eq!(encode_frame(Opcode::Binary, b"hi", None), [0x82, 0x02, b'h', b'i']);
//! ```

pub mod cli;
pub mod drivers;
pub mod inputs;
pub mod load;
pub mod mem;
pub mod peer;
pub mod pubsub;
pub mod report;
pub mod wire;
