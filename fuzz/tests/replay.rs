//! Replays every committed corpus and regression file, and every built-in seed, through the
//! target logic on a stable toolchain: `cargo test --manifest-path fuzz/Cargo.toml`.

use std::path::Path;

#[global_allocator]
static ALLOC: ws_fuzz::alloc::Counting = ws_fuzz::alloc::Counting;

fn files_in(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<_> =
        entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file()).collect();
    files.sort();
    files
}

fn replay_dir(kind: &str) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(kind);
    let mut count = 0;
    for target in ws_fuzz::TARGETS {
        for file in files_in(&root.join(target)) {
            let data = std::fs::read(&file).expect("readable corpus file");
            let result = std::panic::catch_unwind(|| ws_fuzz::run_target(target, &data));
            assert!(result.is_ok(), "{target} failed on {}", file.display());
            count += 1;
        }
    }
    count
}

#[test]
fn committed_corpus_replays() {
    let n = replay_dir("corpus");
    assert!(n >= ws_fuzz::TARGETS.len(), "only {n} corpus files: run the corpus generator");
}

#[test]
fn regressions_replay() {
    replay_dir("regressions");
}

#[test]
fn every_target_has_seeds_and_they_pass() {
    for target in ws_fuzz::TARGETS {
        let seeds = ws_fuzz::seeds::seeds(target);
        assert!(seeds.len() >= 4, "{target}: only {} seeds", seeds.len());
        for (name, data) in seeds {
            let result = std::panic::catch_unwind(|| ws_fuzz::run_target(target, &data));
            assert!(result.is_ok(), "{target}: seed {name} failed");
        }
    }
}

#[test]
fn committed_seeds_are_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for target in ws_fuzz::TARGETS {
        for (name, data) in ws_fuzz::seeds::seeds(target) {
            let on_disk = std::fs::read(root.join(target).join(&name));
            assert_eq!(on_disk.ok().as_ref(), Some(&data), "{target}/{name} is stale: regenerate");
        }
    }
}
