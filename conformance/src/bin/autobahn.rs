//! Runs the Autobahn|Testsuite against every agent of `autobahn/expected.json` (normally
//! started by `run.sh`, which installs wstest and builds the binaries first).
//!
//! ```text
//! autobahn --wstest PATH --bin-dir DIR --spec-dir conformance/autobahn --out conformance/reports
//!          [--jobs 4] [--job-timeout 900] [--cases 1.*,12.1.*] [--agents ws-tokio-server,...]
//! ```
//!
//! Prints one summary line per agent and every case that is not as expected; exits with
//! status 1 if any agent's results differ from the expectation (or 2 if the run itself failed).
//! `--cases` and `--agents` make a partial run (for development): the case count is then not
//! checked, and the summary says so.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use conformance::autobahn::{self, Options};
use conformance::cli::Args;
use conformance::session::BoxError;

const USAGE: &str = "usage: autobahn --wstest PATH --bin-dir DIR --spec-dir DIR --out DIR \
                     [--jobs N] [--job-timeout SECONDS] [--cases PATTERN,...] [--agents NAME,...]";

fn main() -> ExitCode {
    match options().and_then(|options| autobahn::run(&options)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("autobahn: {e}");
            ExitCode::from(2)
        }
    }
}

fn options() -> Result<Options, BoxError> {
    let args = Args::parse(USAGE, &[])?;
    args.only(&["wstest", "bin-dir", "spec-dir", "out", "jobs", "job-timeout", "cases", "agents"])?;
    let list = |name: &str| {
        args.get(name).map(|v| v.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect())
    };
    Ok(Options {
        wstest: PathBuf::from(args.required("wstest")?),
        bin_dir: PathBuf::from(args.required("bin-dir")?),
        spec_dir: PathBuf::from(args.required("spec-dir")?),
        out: PathBuf::from(args.required("out")?),
        jobs: args.parsed("jobs")?.unwrap_or(4),
        job_timeout: Duration::from_secs(args.parsed("job-timeout")?.unwrap_or(900)),
        cases: list("cases"),
        agents: list("agents"),
    })
}
