//! The command line: gwsocket's options (same names, same defaults) and ours.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// `ws-pipe --help`.
pub(crate) const HELP: &str = "\
ws-pipe: relays between named pipes (or stdin/stdout) and WebSocket clients.
Accepts gwsocket's command line and speaks its standard and strict formats.

Usage: ws-pipe [OPTIONS]

gwsocket options:
  -p, --port=PORT          TCP port (default 7890)
      --addr=ADDR          address to bind (default 0.0.0.0; `::` for IPv6,
                           which also takes IPv4 where the system allows;
                           ADDR:PORT sets both)
      --pipein=FILE        input FIFO, created if missing (default /tmp/wspipein.fifo)
      --pipeout=FILE       output FIFO, created if missing (default /tmp/wspipeout.fifo)
      --std                --stdin and --stdout
      --stdin              read the input from stdin instead of --pipein
      --stdout             write the output to stdout instead of --pipeout
      --strict             strict mode: 12-byte headers (client id, type, length)
      --open-event=TYPE    strict mode: the type of the open event (default 0x10;
                           0x01 for the variant of embedded copies)
      --echo-mode          echo every message back to its sender; no pipes
      --max-frame-size=N   largest client frame and message, and largest pipe
                           message, in bytes (default 1048576; client past it: 1009)
      --origin=ORIGIN      only accept this Origin (exact, case-insensitive;
                           repeatable; others and none get 403)
      --ssl-cert=FILE      TLS certificate chain (PEM); needs --ssl-key
      --ssl-key=FILE       TLS private key (PEM); needs --ssl-cert
      --unix-socket=PATH   listen on this Unix socket instead of TCP
      --access-log=FILE    one JSON line per connection (`-` for stderr)
  -V, --version            print the version
  -h, --help               print this help

Beyond gwsocket:
      --channel=/PATH=IN[,OUT]
                           another pipe pair, served at PATH (repeatable); the
                           default pair serves / and every other path
      --ping-interval=SECS keepalive Ping interval (default 30; 0 = none)
      --pong-timeout=SECS  close (1011) a client silent this long after a Ping
                           (default 20)
      --idle-timeout=SECS  close (1001) a client that sent nothing this long
      --message-timeout=SECS
                           close (1008) a client whose message is not complete this
                           long after it began (default 30; 0 = none)
      --auth-token=TOKEN   require `?token=TOKEN` or `Authorization: Bearer TOKEN`
                           (401 otherwise)
      --static=DIR         serve the files under DIR over HTTP (replaces the
                           demo page served at / by default)
      --compress           accept permessage-deflate
      --client-buffer=N    bytes queued per client before messages to it are
                           dropped (default 2097152)
      --pipe-buffer=N      bytes queued for an output pipe whose reader is slow
                           or absent before messages are dropped (default 4194304)

Standard mode: every read from the input (up to PIPE_BUF, 4096 bytes) is one
message to every client: text if it is UTF-8, else binary. Every client message
is written raw to the output. Strict mode: see the README.
";

/// The gwsocket default input pipe.
pub(crate) const DEFAULT_PIPEIN: &str = "/tmp/wspipein.fifo";
/// The gwsocket default output pipe.
pub(crate) const DEFAULT_PIPEOUT: &str = "/tmp/wspipeout.fifo";

/// One pipe pair served at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChannelSpec {
    pub(crate) path: String,
    pub(crate) input: Endpoint,
    pub(crate) output: Option<Endpoint>,
}

/// Where a channel reads or writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Fifo(PathBuf),
    Std,
}

/// Everything the command line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Options {
    pub(crate) port: u16,
    pub(crate) addr: String,
    pub(crate) pipein: PathBuf,
    pub(crate) pipeout: PathBuf,
    pub(crate) stdin: bool,
    pub(crate) stdout: bool,
    pub(crate) strict: bool,
    pub(crate) open_event: u32,
    pub(crate) echo: bool,
    pub(crate) max_frame_size: usize,
    pub(crate) origins: Vec<String>,
    pub(crate) ssl_cert: Option<PathBuf>,
    pub(crate) ssl_key: Option<PathBuf>,
    pub(crate) unix_socket: Option<PathBuf>,
    pub(crate) access_log: Option<PathBuf>,
    pub(crate) channels: Vec<ChannelSpec>,
    pub(crate) ping_interval: Option<Duration>,
    pub(crate) pong_timeout: Duration,
    pub(crate) idle_timeout: Option<Duration>,
    /// A client message not complete this long after its first frame: Close 1008.
    pub(crate) message_timeout: Option<Duration>,
    pub(crate) auth_token: Option<String>,
    pub(crate) static_dir: Option<PathBuf>,
    pub(crate) compress: bool,
    pub(crate) client_buffer: usize,
    pub(crate) pipe_buffer: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            port: 7890,
            addr: "0.0.0.0".into(),
            pipein: DEFAULT_PIPEIN.into(),
            pipeout: DEFAULT_PIPEOUT.into(),
            stdin: false,
            stdout: false,
            strict: false,
            open_event: crate::format::OPEN,
            echo: false,
            max_frame_size: 1 << 20,
            origins: Vec::new(),
            ssl_cert: None,
            ssl_key: None,
            unix_socket: None,
            access_log: None,
            channels: Vec::new(),
            ping_interval: Some(Duration::from_secs(30)),
            pong_timeout: Duration::from_secs(20),
            idle_timeout: None,
            message_timeout: Some(Duration::from_secs(30)),
            auth_token: None,
            static_dir: None,
            compress: false,
            client_buffer: 2 << 20,
            pipe_buffer: 4 << 20,
        }
    }
}

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Command {
    Run(Box<Options>),
    Help,
    Version,
}

impl Options {
    /// The TCP address to listen on: `--addr` with `--port`, or `--addr` as `ADDR:PORT`.
    pub(crate) fn listen_addr(&self) -> String {
        if let Ok(ip) = self.addr.parse::<IpAddr>() {
            return SocketAddr::new(ip, self.port).to_string();
        }
        if self.addr.parse::<SocketAddr>().is_ok() {
            return self.addr.clone();
        }
        format!("{}:{}", self.addr, self.port)
    }

    /// The default pair (on `/`) and the `--channel` pairs; none in echo mode.
    pub(crate) fn all_channels(&self) -> Vec<ChannelSpec> {
        if self.echo {
            return Vec::new();
        }
        let fifo_or_std = |std: bool, path: &PathBuf| match std {
            true => Endpoint::Std,
            false => Endpoint::Fifo(path.clone()),
        };
        let mut all = self.channels.clone();
        if !all.iter().any(|c| c.path == "/") {
            all.insert(
                0,
                ChannelSpec {
                    path: "/".into(),
                    input: fifo_or_std(self.stdin, &self.pipein),
                    output: Some(fifo_or_std(self.stdout, &self.pipeout)),
                },
            );
        }
        all
    }
}

/// Parses the arguments after the program name. The error is the message for stderr (exit 2).
pub(crate) fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Command, String> {
    let mut o = Options::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let flag = |o: &mut Options, set: fn(&mut Options)| match &inline {
            Some(_) => Err(format!("option '{name}' takes no value")),
            None => {
                set(o);
                Ok(())
            }
        };
        let mut value = || -> Result<String, String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => args.next().ok_or_else(|| format!("option '{name}' needs a value")),
            }
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "-p" | "--port" => o.port = number(&name, &value()?)?,
            "--addr" => o.addr = value()?,
            "--pipein" => o.pipein = value()?.into(),
            "--pipeout" => o.pipeout = value()?.into(),
            "--std" => flag(&mut o, |o| (o.stdin, o.stdout) = (true, true))?,
            "--stdin" => flag(&mut o, |o| o.stdin = true)?,
            "--stdout" => flag(&mut o, |o| o.stdout = true)?,
            "--strict" => flag(&mut o, |o| o.strict = true)?,
            "--echo-mode" => flag(&mut o, |o| o.echo = true)?,
            "--compress" => flag(&mut o, |o| o.compress = true)?,
            "--open-event" => o.open_event = number(&name, &value()?)?,
            "--max-frame-size" => o.max_frame_size = number(&name, &value()?)?,
            "--origin" => o.origins.push(value()?),
            "--ssl-cert" => o.ssl_cert = Some(value()?.into()),
            "--ssl-key" => o.ssl_key = Some(value()?.into()),
            "--unix-socket" => o.unix_socket = Some(value()?.into()),
            "--access-log" => o.access_log = Some(value()?.into()),
            "--channel" => o.channels.push(channel(&value()?)?),
            "--ping-interval" => {
                o.ping_interval = match number::<u64>(&name, &value()?)? {
                    0 => None,
                    secs => Some(Duration::from_secs(secs)),
                }
            }
            "--pong-timeout" => o.pong_timeout = seconds(&name, &value()?)?,
            "--idle-timeout" => o.idle_timeout = Some(seconds(&name, &value()?)?),
            "--message-timeout" => {
                o.message_timeout = Some(seconds(&name, &value()?)?).filter(|d| !d.is_zero())
            }
            "--auth-token" => o.auth_token = Some(value()?).filter(|t| !t.is_empty()),
            "--static" => o.static_dir = Some(value()?.into()),
            "--client-buffer" => o.client_buffer = number(&name, &value()?)?,
            "--pipe-buffer" => o.pipe_buffer = number(&name, &value()?)?,
            _ => return Err(format!("unknown option '{arg}'")),
        }
    }
    check(&o)?;
    Ok(Command::Run(Box::new(o)))
}

fn check(o: &Options) -> Result<(), String> {
    if o.ssl_cert.is_some() != o.ssl_key.is_some() {
        return Err("--ssl-cert and --ssl-key go together".into());
    }
    if o.max_frame_size == 0 {
        return Err("--max-frame-size must be at least 1".into());
    }
    if [0, 2, 8].contains(&o.open_event) {
        return Err("--open-event must not be 0, 2 or 8 (message and close types)".into());
    }
    let mut paths: Vec<&str> = o.channels.iter().map(|c| c.path.as_str()).collect();
    paths.sort_unstable();
    if paths.windows(2).any(|w| w[0] == w[1]) {
        return Err("--channel: the same path twice".into());
    }
    if o.pong_timeout.is_zero() {
        return Err("--pong-timeout must be at least 1".into());
    }
    Ok(())
}

/// A decimal number, or hexadecimal with `0x`.
fn number<T: TryFrom<u64>>(name: &str, text: &str) -> Result<T, String> {
    let bad = || format!("option '{name}': '{text}' is not a valid number");
    let n = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).map_err(|_| bad())?,
        None => text.parse::<u64>().map_err(|_| bad())?,
    };
    T::try_from(n).map_err(|_| bad())
}

fn seconds(name: &str, text: &str) -> Result<Duration, String> {
    Ok(Duration::from_secs(number(name, text)?))
}

/// `/PATH=IN[,OUT]`.
fn channel(spec: &str) -> Result<ChannelSpec, String> {
    let bad = |why: &str| format!("--channel '{spec}': {why} (expected /PATH=IN[,OUT])");
    let (path, pipes) = spec.split_once('=').ok_or_else(|| bad("no '='"))?;
    if !path.starts_with('/') || path.contains(['?', '#']) {
        return Err(bad("the path must start with '/' and have no query"));
    }
    let (input, output) = match pipes.split_once(',') {
        Some((i, o)) => (i, Some(o)),
        None => (pipes, None),
    };
    if input.is_empty() || output.is_some_and(str::is_empty) {
        return Err(bad("empty pipe name"));
    }
    Ok(ChannelSpec {
        path: path.to_owned(),
        input: Endpoint::Fifo(input.into()),
        output: output.map(|o| Endpoint::Fifo(o.into())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Options, String> {
        match parse(args.iter().map(|s| s.to_string()))? {
            Command::Run(o) => Ok(*o),
            other => Err(format!("{other:?}")),
        }
    }

    #[test]
    fn gwsocket_defaults() {
        let o = run(&[]).unwrap();
        assert_eq!(o.listen_addr(), "0.0.0.0:7890");
        let all = o.all_channels();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].input, Endpoint::Fifo("/tmp/wspipein.fifo".into()));
        assert_eq!(all[0].output, Some(Endpoint::Fifo("/tmp/wspipeout.fifo".into())));
        assert_eq!(o.max_frame_size, 1 << 20);
    }

    #[test]
    fn both_value_forms_and_std() {
        let o = run(&["-p", "9000", "--addr=::", "--std", "--max-frame-size", "0x100"]).unwrap();
        assert_eq!(o.listen_addr(), "[::]:9000");
        assert_eq!(o.max_frame_size, 256);
        assert_eq!(o.all_channels()[0].input, Endpoint::Std);
        assert_eq!(o.all_channels()[0].output, Some(Endpoint::Std));
        let o = run(&["--addr", "127.0.0.1:0", "--port=1"]).unwrap();
        assert_eq!(o.listen_addr(), "127.0.0.1:0");
    }

    #[test]
    fn channels_and_open_event() {
        let o = run(&["--channel=/logs=/a,/b", "--channel", "/x=/c", "--open-event=0x01"]).unwrap();
        assert_eq!(o.open_event, 1);
        let all = o.all_channels();
        assert_eq!(all.iter().map(|c| c.path.as_str()).collect::<Vec<_>>(), ["/", "/logs", "/x"]);
        assert_eq!(all[2].output, None);
        assert!(run(&["--channel=/x=/a", "--channel=/x=/b"]).is_err());
        assert!(run(&["--channel=logs=/a"]).is_err());
        assert!(run(&["--echo-mode"]).unwrap().all_channels().is_empty());
    }

    #[test]
    fn errors_are_clear() {
        assert_eq!(run(&["--nope"]).unwrap_err(), "unknown option '--nope'");
        assert_eq!(run(&["--port"]).unwrap_err(), "option '--port' needs a value");
        assert!(run(&["--port=x"]).unwrap_err().contains("not a valid number"));
        assert!(run(&["--strict=1"]).unwrap_err().contains("takes no value"));
        assert!(run(&["--ssl-cert=a"]).unwrap_err().contains("go together"));
        assert!(run(&["--open-event=8"]).is_err());
        assert_eq!(parse(["-h".to_string()]), Ok(Command::Help));
        assert_eq!(parse(["--version".to_string()]), Ok(Command::Version));
    }
}
