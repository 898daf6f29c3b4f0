//! Runs the hostile-client checks against the shipped servers (normally started by `run.sh`,
//! which builds them and copies them into one directory first).
//!
//! ```text
//! hostile --bin-dir DIR --out DIR [--only TEXT]
//! ```
//!
//! `DIR` holds `echo_server-tokio`, `echo_server-async-std`, `echo_server-blocking` and
//! `echo-ws-server`. Prints one PASS or FAIL line per check and server with its measured
//! figures, a summary, and exits with status 1 if any check failed (2 if the run could not
//! start). `--only TEXT` runs the checks whose `server: check` name contains TEXT.

use std::process::ExitCode;

use conformance::cli::check_driver;
use conformance::hostile;

const USAGE: &str = "usage: hostile --bin-dir DIR --out DIR [--only TEXT]";

fn main() -> ExitCode {
    check_driver("hostile", USAGE, hostile::run)
}
