//! Runs the interop checks (normally started by `run.sh`, which installs the peers and builds
//! the binaries first).
//!
//! ```text
//! interop --bin-dir DIR --peers-dir conformance/peers --python VENV/bin/python
//!         [--node node] [--chromium chromium] --out DIR [--only TEXT] [--timeout 60]
//! ```
//!
//! Prints one line per check and `interop: N passed, N failed`; exits with status 1 if any
//! check failed (2 if the run itself could not start).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use conformance::cli::Args;
use conformance::interop::{self, Options};
use conformance::session::BoxError;

const USAGE: &str = "usage: interop --bin-dir DIR --peers-dir DIR --python PATH [--node PATH] \
                     [--chromium PATH] --out DIR [--only TEXT] [--timeout SECONDS]";

fn main() -> ExitCode {
    match options().and_then(|options| interop::run(&options)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("interop: {e}");
            ExitCode::from(2)
        }
    }
}

fn options() -> Result<Options, BoxError> {
    let args = Args::parse(USAGE, &[])?;
    args.only(&["bin-dir", "peers-dir", "python", "node", "chromium", "out", "only", "timeout"])?;
    Ok(Options {
        bin_dir: PathBuf::from(args.required("bin-dir")?),
        peers_dir: PathBuf::from(args.required("peers-dir")?),
        python: PathBuf::from(args.required("python")?),
        node: PathBuf::from(args.get("node").unwrap_or("node")),
        chromium: PathBuf::from(args.get("chromium").unwrap_or("chromium")),
        out: PathBuf::from(args.required("out")?),
        only: args.get("only").map(str::to_owned),
        timeout: Duration::from_secs(args.parsed("timeout")?.unwrap_or(60)),
    })
}
