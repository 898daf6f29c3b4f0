//! Settings every benchmark shares.
// Each bench target compiles this module and uses only part of it.
#![allow(dead_code)]

use std::time::Duration;

use criterion::Criterion;

/// Short measurements and no plots keep `cargo bench -p benches` to a few minutes on a small
/// machine (drawing the HTML report's plots costs more than measuring); criterion's command line
/// (`--measurement-time`, `--warm-up-time`, `--sample-size`) still overrides the times.
pub(crate) fn config() -> Criterion {
    Criterion::default()
        .without_plots()
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(30)
}

/// The message sizes of the codec benchmarks, with their report names.
pub(crate) const SIZES: [(&str, usize); 4] =
    [("20B", 20), ("1KiB", 1 << 10), ("16KiB", 16 << 10), ("1MiB", 1 << 20)];

/// Frames per measured batch: enough that per-batch overhead vanishes, few enough for memory.
pub(crate) fn frames_per_batch(size: usize) -> usize {
    ((1 << 20) / size).clamp(4, 1000)
}
