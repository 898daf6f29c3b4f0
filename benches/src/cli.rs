//! The small flag parser the binaries share: `--name value` pairs and `--switch`es.

use std::collections::HashMap;
use std::str::FromStr;

/// Parsed command-line flags. Every flag must be read (or [`Flags::finish`] reports it), so a
/// typo is an error rather than a silently ignored setting.
#[derive(Debug)]
pub struct Flags {
    values: HashMap<String, Option<String>>,
    usage: &'static str,
}

impl Flags {
    /// Parses `args` (without the program name). `switches` are the flags that take no value.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        switches: &[&str],
        usage: &'static str,
    ) -> Result<Flags, String> {
        let mut values = HashMap::new();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let Some(name) = arg.strip_prefix("--") else {
                return Err(format!("unexpected argument {arg:?}\n{usage}"));
            };
            if name == "help" {
                return Err(usage.to_owned());
            }
            let value = if switches.contains(&name) {
                None
            } else {
                Some(args.next().ok_or_else(|| format!("--{name} needs a value\n{usage}"))?)
            };
            values.insert(name.to_owned(), value);
        }
        Ok(Flags { values, usage })
    }

    /// Parses the process's own arguments.
    pub fn from_env(switches: &[&str], usage: &'static str) -> Result<Flags, String> {
        Self::parse(std::env::args().skip(1), switches, usage)
    }

    /// The value of `--name`, or `default` when absent.
    pub fn get<T: FromStr>(&mut self, name: &str, default: T) -> Result<T, String> {
        match self.values.remove(name) {
            None => Ok(default),
            Some(Some(v)) => {
                v.parse().map_err(|_| format!("bad value {v:?} for --{name}\n{}", self.usage))
            }
            Some(None) => Err(format!("--{name} is a switch")),
        }
    }

    /// True if the switch `--name` was given.
    pub fn switch(&mut self, name: &str) -> bool {
        self.values.remove(name).is_some()
    }

    /// Fails if any flag was not read.
    pub fn finish(self) -> Result<(), String> {
        match self.values.keys().next() {
            Some(name) => Err(format!("unknown flag --{name}\n{}", self.usage)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Flags, String> {
        Flags::parse(args.iter().map(|s| s.to_string()), &["text"], "usage")
    }

    #[test]
    fn values_switches_and_errors() {
        let mut f = parse(&["--conns", "10", "--text"]).unwrap();
        assert_eq!(f.get("conns", 1usize), Ok(10));
        assert_eq!(f.get("secs", 5u64), Ok(5));
        assert!(f.switch("text"));
        f.finish().unwrap();
        assert!(parse(&["--conns"]).is_err());
        assert!(parse(&["stray"]).is_err());
        assert!(parse(&["--conns", "x"]).unwrap().get("conns", 1usize).is_err());
        assert!(parse(&["--typo", "1"]).unwrap().finish().is_err());
    }
}
