//! The frame layer (RFC 6455 §5.2): opcodes and frame headers.
//!
//! [`Connection`](crate::Connection) uses these internally; they are public for tools that want
//! the bare codec (fuzzers, benchmarks, load generators, proxies).

mod header;
mod opcode;

pub use header::{FrameHeader, MAX_HEADER_LEN};
pub use opcode::OpCode;
