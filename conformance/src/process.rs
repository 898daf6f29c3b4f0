//! Child processes the drivers start: output to a log file, bounded waits, killed on drop.

use std::fs::File;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A running child process, killed (with its process group, when it leads one) when dropped.
#[derive(Debug)]
pub struct Child {
    child: std::process::Child,
    name: String,
    log: PathBuf,
    group: bool,
    exited: Option<ExitStatus>,
}

impl Child {
    /// Starts `command` with stdin closed and stdout and stderr appended to `log`.
    pub fn spawn(name: &str, command: &mut Command, log: &Path) -> io::Result<Child> {
        Child::start(name, command, log, false)
    }

    /// Like [`spawn`](Self::spawn), in a new process group that is killed as a whole
    /// (for programs that start helpers of their own, like Chromium).
    pub fn spawn_group(name: &str, command: &mut Command, log: &Path) -> io::Result<Child> {
        command.process_group(0);
        Child::start(name, command, log, true)
    }

    fn start(name: &str, command: &mut Command, log: &Path, group: bool) -> io::Result<Child> {
        let out = File::options().create(true).append(true).open(log)?;
        let err = out.try_clone()?;
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("{name}: cannot start: {e}")))?;
        Ok(Child { child, name: name.to_owned(), log: log.to_owned(), group, exited: None })
    }

    /// What the child printed so far.
    pub fn output(&self) -> String {
        std::fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// The process id (to read its memory and descriptors from `/proc`).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The log file.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// The exit status, if the child has exited.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait()?;
        }
        Ok(self.exited)
    }

    /// Waits up to `limit` for the child to exit; `None` if it is still running.
    pub fn wait_timeout(&mut self, limit: Duration) -> io::Result<Option<ExitStatus>> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits up to `limit` for a line of output for which `find` returns something.
    /// Fails if the child exits first or the time runs out.
    pub fn wait_for_line<T>(
        &mut self,
        limit: Duration,
        find: impl Fn(&str) -> Option<T>,
    ) -> io::Result<T> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(found) = self.output().lines().find_map(&find) {
                return Ok(found);
            }
            if let Some(status) = self.try_wait()? {
                return Err(self.error(&format!("exited ({status}) before it was ready")));
            }
            if Instant::now() >= deadline {
                return Err(self.error(&format!("not ready after {limit:?}")));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits up to `limit` until `port` on 127.0.0.1 accepts connections.
    pub fn wait_for_port(&mut self, port: u16, limit: Duration) -> io::Result<()> {
        let deadline = Instant::now() + limit;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if let Some(status) = self.try_wait()? {
                return Err(self.error(&format!("exited ({status}) before listening on {port}")));
            }
            if Instant::now() >= deadline {
                return Err(self.error(&format!("not listening on {port} after {limit:?}")));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// An error naming the child and quoting the end of its log.
    pub fn error(&self, what: &str) -> io::Error {
        io::Error::other(format!(
            "{} {what}; log {}:\n{}",
            self.name,
            self.log.display(),
            tail(&self.output(), 20)
        ))
    }

    /// Sends SIGINT (what Ctrl-C sends) to the child alone.
    pub fn interrupt(&self) -> io::Result<()> {
        // Without libc, `kill` does it (as for the group kill below).
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .stderr(Stdio::null())
            .status()?;
        match status.success() {
            true => Ok(()),
            false => Err(self.error("could not be sent SIGINT")),
        }
    }

    /// Kills the child (and its group) and reaps it.
    pub fn kill(&mut self) {
        if self.exited.is_some() {
            return;
        }
        if self.group {
            // The group id is the child's pid (process_group(0)). Without libc, `kill` does it.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.child.id())])
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.kill();
        self.exited = self.child.wait().ok();
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Whether `port` on 127.0.0.1 can be bound right now.
pub fn port_is_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_lines_and_exit() {
        let dir = std::env::temp_dir().join(format!("conformance-process-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("echo.log");
        let _ = std::fs::remove_file(&log);
        let mut child =
            Child::spawn("sh", Command::new("sh").args(["-c", "echo ready 42; sleep 5"]), &log)
                .unwrap();
        let n = child
            .wait_for_line(Duration::from_secs(5), |l| {
                l.strip_prefix("ready ")?.parse::<u32>().ok()
            })
            .unwrap();
        assert_eq!(n, 42);
        assert_eq!(child.wait_timeout(Duration::from_millis(50)).unwrap(), None);
        child.kill();
        assert!(child.try_wait().unwrap().is_some());

        let mut quick = Child::spawn("true", &mut Command::new("true"), &log).unwrap();
        let err = quick
            .wait_for_line(Duration::from_secs(5), |l| l.strip_prefix("never").map(str::to_owned))
            .unwrap_err();
        assert!(err.to_string().contains("exited"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }
}
