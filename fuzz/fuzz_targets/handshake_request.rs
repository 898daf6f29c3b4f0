//! The `handshake_request` fuzz target: see [`ws_fuzz::handshake::run_request`]. Without cargo-fuzz (no `--cfg fuzzing`)
//! this builds as a replay tool: `cargo run --bin handshake_request -- FILE...`.

#![cfg_attr(fuzzing, no_main)]

#[global_allocator]
static ALLOC: ws_fuzz::alloc::Counting = ws_fuzz::alloc::Counting;

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ws_fuzz::handshake::run_request(data));

#[cfg(not(fuzzing))]
fn main() {
    ws_fuzz::replay_files("handshake_request", std::env::args_os().skip(1));
}
