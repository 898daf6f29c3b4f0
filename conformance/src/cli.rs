//! A tiny `--flag value` argument parser shared by the binaries.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::session::BoxError;

/// The options of the drivers that run checks against the shipped binaries (`badinput`,
/// `hostile`): `--bin-dir DIR --out DIR [--only TEXT]`.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Where the binaries under test are.
    pub bin_dir: PathBuf,
    /// Logs go here (emptied first).
    pub out: PathBuf,
    /// Only the checks whose `agent: check` name contains this.
    pub only: Option<String>,
}

/// The `main` of such a driver: parses its options, runs `run`, and exits with status 0 if
/// every check passed, 1 if one failed, 2 if the run could not start.
pub fn check_driver(
    name: &str,
    usage: &'static str,
    run: impl FnOnce(&CheckOptions) -> Result<bool, BoxError>,
) -> ExitCode {
    let options = || -> Result<CheckOptions, BoxError> {
        let args = Args::parse(usage, &[])?;
        args.only(&["bin-dir", "out", "only"])?;
        Ok(CheckOptions {
            bin_dir: PathBuf::from(args.required("bin-dir")?),
            out: PathBuf::from(args.required("out")?),
            only: args.get("only").map(str::to_owned),
        })
    };
    match options().and_then(|options| run(&options)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::from(2)
        }
    }
}

/// Parsed `--name value` pairs (and bare `--name` switches, listed in `switches`).
#[derive(Debug, Default)]
pub struct Args {
    values: HashMap<String, String>,
    usage: &'static str,
}

impl Args {
    /// Parses the process arguments. `switches` are the flags that take no value.
    pub fn parse(usage: &'static str, switches: &[&str]) -> Result<Args, String> {
        Args::parse_from(std::env::args().skip(1), usage, switches)
    }

    /// Parses `args` (without the program name).
    pub fn parse_from(
        args: impl IntoIterator<Item = String>,
        usage: &'static str,
        switches: &[&str],
    ) -> Result<Args, String> {
        let mut values = HashMap::new();
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let Some(name) = flag.strip_prefix("--") else {
                return Err(format!("unexpected argument {flag:?}\n{usage}"));
            };
            if name == "help" {
                return Err(usage.to_owned());
            }
            let value = match switches.contains(&name) {
                true => String::new(),
                false => args.next().ok_or_else(|| format!("{flag} needs a value\n{usage}"))?,
            };
            values.insert(name.to_owned(), value);
        }
        Ok(Args { values, usage })
    }

    /// The value of `--name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The value of `--name`, which must be given.
    pub fn required(&self, name: &str) -> Result<&str, String> {
        self.get(name).ok_or_else(|| format!("--{name} is required\n{}", self.usage))
    }

    /// Whether the switch `--name` was given.
    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// The value of `--name` parsed, if given.
    pub fn parsed<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, String>
    where
        T::Err: std::fmt::Display,
    {
        self.get(name)
            .map(|v| v.parse::<T>().map_err(|e| format!("--{name} {v:?}: {e}\n{}", self.usage)))
            .transpose()
    }

    /// Fails if any flag other than `known` was given.
    pub fn only(&self, known: &[&str]) -> Result<(), String> {
        match self.values.keys().find(|k| !known.contains(&k.as_str())) {
            Some(unknown) => Err(format!("unknown flag --{unknown}\n{}", self.usage)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, String> {
        Args::parse_from(args.iter().map(|s| s.to_string()), "usage", &["quick"])
    }

    #[test]
    fn values_and_switches() {
        let args = parse(&["--adapter", "tokio", "--quick", "--jobs", "3"]).unwrap();
        assert_eq!(args.get("adapter"), Some("tokio"));
        assert!(args.has("quick"));
        assert_eq!(args.parsed::<usize>("jobs").unwrap(), Some(3));
        assert!(args.only(&["adapter", "quick", "jobs"]).is_ok());
        assert!(args.only(&["adapter"]).unwrap_err().contains("--"));
    }

    #[test]
    fn errors() {
        assert!(parse(&["--adapter"]).unwrap_err().contains("needs a value"));
        assert!(parse(&["tokio"]).unwrap_err().contains("unexpected"));
        assert!(parse(&["--jobs", "x"]).unwrap().parsed::<usize>("jobs").is_err());
        assert!(parse(&[]).unwrap().required("url").is_err());
    }
}
