//! The access log: one JSON line per WebSocket request, written when the connection ends (or
//! when the handshake is refused): time, peer, path, origin, status, duration, bytes in and
//! out, messages dropped for the client, close code.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

/// One line of the log.
#[derive(Debug, Clone, Default)]
pub(crate) struct Entry {
    pub(crate) peer: String,
    pub(crate) path: String,
    pub(crate) origin: Option<String>,
    /// 101 for a connection that opened; the refusal's status otherwise.
    pub(crate) status: u16,
    pub(crate) duration: Duration,
    pub(crate) bytes_in: u64,
    pub(crate) bytes_out: u64,
    pub(crate) dropped: u64,
    pub(crate) close_code: Option<u16>,
}

/// Where the lines go.
pub(crate) struct AccessLog {
    out: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessLog").finish_non_exhaustive()
    }
}

impl AccessLog {
    /// Appends to `path` (`-`: stderr).
    pub(crate) fn open(path: &Path) -> io::Result<AccessLog> {
        let out: Box<dyn Write + Send> = match path.to_str() {
            Some("-") => Box::new(io::stderr()),
            _ => Box::new(File::options().create(true).append(true).open(path)?),
        };
        Ok(AccessLog { out: Mutex::new(out) })
    }

    /// Writes one line (errors are reported on stderr, never fatal).
    pub(crate) fn write(&self, entry: &Entry) {
        let line = json!({
            "time": rfc3339(SystemTime::now()),
            "peer": entry.peer,
            "path": entry.path,
            "origin": entry.origin,
            "status": entry.status,
            "duration_ms": entry.duration.as_millis() as u64,
            "bytes_in": entry.bytes_in,
            "bytes_out": entry.bytes_out,
            "dropped": entry.dropped,
            "close_code": entry.close_code,
        });
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush()) {
            eprintln!("ws-pipe: access log: {e}");
        }
    }
}

/// `2026-12-06T02:11:43.123Z`.
fn rfc3339(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        since.subsec_millis()
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_times() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_796_523_103_250);
        assert_eq!(rfc3339(t), "2026-12-06T02:11:43.250Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000Z");
    }
}
