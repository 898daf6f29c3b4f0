//! Runs the Autobahn|Testsuite against the agents of `autobahn/expected.json`, following one of
//! its named plans (normally started by `run.sh`, which installs wstest and builds the
//! binaries first).
//!
//! ```text
//! autobahn --plan ci|full --wstest PATH --bin-dir DIR --spec-dir conformance/autobahn
//!          --out conformance/reports [--jobs 4] [--job-timeout 900]
//!          [--cases 1.*,12.1.*] [--agents ws-tokio-server,...]
//! ```
//!
//! Prints one summary line per agent and every case that is not as expected; exits with
//! status 1 if any agent's results differ from the expectation (or 2 if the run itself failed
//! or was refused). `--cases` and `--agents` make a partial run for development: the summary
//! says so, and with `--cases` the number of cases is not checked. When the environment has
//! `CI` set (to anything but empty, `0` or `false`) both are refused: CI runs a named plan,
//! whole.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use conformance::autobahn::{self, Options, plan};
use conformance::cli::Args;
use conformance::session::BoxError;

const USAGE: &str = "usage: autobahn --plan NAME --wstest PATH --bin-dir DIR --spec-dir DIR \
                     --out DIR [--jobs N] [--job-timeout SECONDS] [--cases PATTERN,...] \
                     [--agents NAME,...]";

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
    args.only(&[
        "plan",
        "wstest",
        "bin-dir",
        "spec-dir",
        "out",
        "jobs",
        "job-timeout",
        "cases",
        "agents",
    ])?;
    let list = |name: &str| {
        args.get(name).map(|v| v.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect())
    };
    Ok(Options {
        plan: args.required("plan")?.to_owned(),
        wstest: PathBuf::from(args.required("wstest")?),
        bin_dir: PathBuf::from(args.required("bin-dir")?),
        spec_dir: PathBuf::from(args.required("spec-dir")?),
        out: PathBuf::from(args.required("out")?),
        jobs: args.parsed("jobs")?.unwrap_or(4),
        job_timeout: Duration::from_secs(args.parsed("job-timeout")?.unwrap_or(900)),
        cases: list("cases"),
        agents: list("agents"),
        ci: plan::ci_from_env(std::env::var("CI").ok().as_deref()),
    })
}
