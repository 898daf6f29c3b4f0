//! The scripted interop client (see `conformance::script`) on one adapter.
//!
//! ```text
//! interop-client --adapter tokio|async-std|blocking --url ws://127.0.0.1:PORT/ [--ca cert.pem]
//! ```
//!
//! Prints one `ok STEP` line per step passed; on the first failure prints `FAIL STEP: why` and
//! exits with status 1. `--ca` trusts exactly the certificates of that PEM file (`wss://`).

use std::path::Path;
use std::process::ExitCode;

use conformance::cli::Args;
use conformance::script::{self, OFFERED_PROTOCOLS};
use conformance::session::{Adapter, BoxError};

const USAGE: &str =
    "usage: interop-client --adapter tokio|async-std|blocking --url URL [--ca FILE]";

fn main() -> ExitCode {
    match run() {
        Ok(()) => {
            println!("PASS");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("FAIL {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), BoxError> {
    let args = Args::parse(USAGE, &[])?;
    args.only(&["adapter", "url", "ca"])?;
    let adapter: Adapter = args.required("adapter")?.parse()?;
    let url = args.required("url")?;
    let ca = args.get("ca").map(Path::new);
    let mut connect = || adapter.connect(url, &OFFERED_PROTOCOLS, ca);
    script::run_client(&mut connect, &mut |line| println!("{line}"))
}
