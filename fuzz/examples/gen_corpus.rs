//! Writes the seed corpus (`ws_fuzz::seeds`) to `corpus/<target>/seed-*`.
//!
//! Run from `fuzz/`: `cargo run --example gen_corpus`.

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for target in ws_fuzz::TARGETS {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).expect("create corpus directory");
        let seeds = ws_fuzz::seeds::seeds(target);
        for (name, bytes) in &seeds {
            std::fs::write(dir.join(name), bytes).expect("write seed");
        }
        println!("{target}: {} seeds", seeds.len());
    }
}
