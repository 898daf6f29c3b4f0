//! The `utf8_incremental` fuzz target: see [`ws_fuzz::utf8::run`]. Without cargo-fuzz (no `--cfg fuzzing`)
//! this builds as a replay tool: `cargo run --bin utf8_incremental -- FILE...`.

#![cfg_attr(fuzzing, no_main)]

#[global_allocator]
static ALLOC: ws_fuzz::alloc::Counting = ws_fuzz::alloc::Counting;

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ws_fuzz::utf8::run(data));

#[cfg(not(fuzzing))]
fn main() {
    ws_fuzz::replay_files("utf8_incremental", std::env::args_os().skip(1));
}
