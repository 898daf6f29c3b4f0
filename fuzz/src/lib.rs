//! # ws-fuzz: fuzz targets for `ws-proto`, as plain functions
//!
//! Every cargo-fuzz target in `fuzz_targets/` is a one-line wrapper around a function of this
//! library, and `tests/replay.rs` runs the same functions over every committed corpus and
//! regression file on a stable toolchain, so the targets cannot rot unbuilt. Each function
//! takes the raw fuzzer input, panics on any broken invariant and returns normally otherwise.
//!
//! ```
//! // The RFC 6455 §5.7 masked "Hello", fed to a server after the handshake: a control byte
//! // (default limits), two chunking-seed bytes, then the stream.
//! let mut input = vec![0, 0, 0];
//! input.extend_from_slice(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
//! ws_fuzz::frames::run_server(&input);
//! ```
//!
//! | target | function | what it checks |
//! |---|---|---|
//! | `frame_server`, `frame_client` | [`frames::run_server`], [`frames::run_client`] | no panic, bounded buffers, close codes, silence after `Closed`, split invariance |
//! | `handshake_request`, `handshake_response` | [`handshake::run_request`], [`handshake::run_response`] | linear work, completion point, remaining bytes, no header injection |
//! | `conversation` | [`conversation::run`] | intact delivery, close convergence, timers only when due |
//! | `utf8_incremental` | [`utf8::run`] | agreement with `std::str::from_utf8`, fail-fast position |
//! | `mask` | [`mask::run`] | fast path equals the byte-wise oracle |
//! | `differential_frames` | [`differential::run`] | same messages as tungstenite, or both reject |
//! | `inflate` | [`inflate::run`] | permessage-deflate: bomb guard, bounded heap, round trip with `flate2` |

#![deny(unsafe_code)]

pub mod alloc;
pub mod common;
pub mod conversation;
pub mod differential;
pub mod frames;
pub mod handshake;
pub mod inflate;
pub mod mask;
pub mod seeds;
pub mod utf8;

/// Names of the fuzz targets, as in `fuzz_targets/` and `corpus/`.
pub const TARGETS: &[&str] = &[
    "frame_server",
    "frame_client",
    "handshake_request",
    "handshake_response",
    "conversation",
    "utf8_incremental",
    "mask",
    "differential_frames",
    "inflate",
];

/// Runs the named target on one input (what the replay test and the corpus tools use).
///
/// # Panics
/// On an unknown target name, and whenever the target finds a broken invariant.
pub fn run_target(name: &str, data: &[u8]) {
    match name {
        "frame_server" => frames::run_server(data),
        "frame_client" => frames::run_client(data),
        "handshake_request" => handshake::run_request(data),
        "handshake_response" => handshake::run_response(data),
        "conversation" => conversation::run(data),
        "utf8_incremental" => utf8::run(data),
        "mask" => mask::run(data),
        "differential_frames" => differential::run(data),
        "inflate" => inflate::run(data),
        other => panic!("unknown fuzz target {other:?}"),
    }
}

/// Runs `target` on each file named (the replay mode of the target binaries on stable).
///
/// # Panics
/// If a file cannot be read, or when the target finds a broken invariant.
pub fn replay_files(target: &str, paths: impl Iterator<Item = std::ffi::OsString>) {
    for path in paths {
        let data = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.to_string_lossy()));
        run_target(target, &data);
        println!("{}: ok", path.to_string_lossy());
    }
}
