//! The `frame_server` fuzz target: see [`ws_fuzz::frames::run_server`]. Without cargo-fuzz (no `--cfg fuzzing`)
//! this builds as a replay tool: `cargo run --bin frame_server -- FILE...`.

#![cfg_attr(fuzzing, no_main)]

#[global_allocator]
static ALLOC: ws_fuzz::alloc::Counting = ws_fuzz::alloc::Counting;

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ws_fuzz::frames::run_server(data));

#[cfg(not(fuzzing))]
fn main() {
    ws_fuzz::replay_files("frame_server", std::env::args_os().skip(1));
}
