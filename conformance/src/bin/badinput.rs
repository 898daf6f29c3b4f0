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

use std::process::ExitCode;

use conformance::badinput;
use conformance::cli::check_driver;

const USAGE: &str = "usage: badinput --bin-dir DIR --out DIR [--only TEXT]";

fn main() -> ExitCode {
    check_driver("badinput", USAGE, badinput::run)
}
