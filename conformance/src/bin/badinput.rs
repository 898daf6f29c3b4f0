//! Runs the bad-input checks against the shipped binaries (normally started by `run.sh`, which
//! builds them and copies them into one directory first).
//!
//! ```text
//! badinput --bin-dir DIR --out DIR [--only TEXT]
//! ```
//!
//! `DIR` holds `echo_server-tokio`, `echo_server-async-std`, `echo_server-blocking`,
//! `interop-server` and `interop-client`. Prints one PASS or FAIL line per check and agent, a
//! summary, and exits with status 1 if any check failed (2 if the run could not start).
//! `--only TEXT` runs the checks whose `agent: check` name contains TEXT, e.g.
//! `--only "ws-tokio interop-client"` or `--only rsv1`.

use std::path::PathBuf;
use std::process::ExitCode;

use conformance::badinput::{self, Options};
use conformance::cli::Args;
use conformance::session::BoxError;

const USAGE: &str = "usage: badinput --bin-dir DIR --out DIR [--only TEXT]";

fn main() -> ExitCode {
    match options().and_then(|options| badinput::run(&options)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("badinput: {e}");
            ExitCode::from(2)
        }
    }
}

fn options() -> Result<Options, BoxError> {
    let args = Args::parse(USAGE, &[])?;
    args.only(&["bin-dir", "out", "only"])?;
    Ok(Options {
        bin_dir: PathBuf::from(args.required("bin-dir")?),
        out: PathBuf::from(args.required("out")?),
        only: args.get("only").map(str::to_owned),
    })
}
