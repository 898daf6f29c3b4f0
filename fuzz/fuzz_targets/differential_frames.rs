//! The `differential_frames` fuzz target: see [`ws_fuzz::differential::run`]. Without cargo-fuzz (no `--cfg fuzzing`)
//! this builds as a replay tool: `cargo run --bin differential_frames -- FILE...`.

#![cfg_attr(fuzzing, no_main)]

#[global_allocator]
static ALLOC: ws_fuzz::alloc::Counting = ws_fuzz::alloc::Counting;

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ws_fuzz::differential::run(data));

#[cfg(not(fuzzing))]
fn main() {
    ws_fuzz::replay_files("differential_frames", std::env::args_os().skip(1));
}
