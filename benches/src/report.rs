//! Turns the raw rows `compare.sh` records into the results tables (medians and ratios).
//!
//! Input rows are tab-separated, one per measurement:
//!
//! ```text
//! echo  <cell>  <server>  <round>  <msgs_per_sec>  <msgs_per_server_cpu_s>  <p99_us>
//! idle  <mode>  <at_s>  <server>  <conns>  <rss_growth_bytes_per_conn>  <threads>  <kernel_stack_growth_bytes_per_conn>
//! ```
//!
//! Ratios are the median over rounds of the per-round ratio (ours in round r against the peer
//! in round r): rounds run interleaved, so a slow patch of the shared machine hits both sides of
//! a ratio alike.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The name `compare.sh` gives our server.
pub const OURS: &str = "ours";

/// One echo measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct EchoRow {
    /// Matrix cell, e.g. `100x20`.
    pub cell: String,
    /// Server name.
    pub server: String,
    /// Round number.
    pub round: u32,
    /// Messages per second.
    pub rate: f64,
    /// Messages per second of server CPU time.
    pub per_cpu: f64,
    /// 99th percentile round trip, microseconds.
    pub p99_us: f64,
}

/// One idle-memory measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct IdleRow {
    /// What the connections did before idling (`handshake` or `one-echo`).
    pub mode: String,
    /// Seconds of idleness when the sample was taken (`NaN` for a failed run).
    pub at_s: f64,
    /// Server name.
    pub server: String,
    /// Connections held open.
    pub conns: u64,
    /// Server RSS growth per connection, bytes.
    pub bytes_per_conn: f64,
    /// The server's threads at the sample.
    pub threads: f64,
    /// Growth of the machine's kernel stacks per connection, bytes (threads cost this outside
    /// their process's RSS).
    pub kernel_stack_per_conn: f64,
}

/// Parsed rows.
#[derive(Debug, Default)]
pub struct Rows {
    /// Echo measurements, in file order.
    pub echo: Vec<EchoRow>,
    /// Idle-memory measurements, in file order.
    pub idle: Vec<IdleRow>,
}

/// Parses the rows; blank lines and `#` comments are skipped.
pub fn parse(input: &str) -> Result<Rows, String> {
    let mut rows = Rows::default();
    for (n, line) in input.lines().enumerate() {
        let f: Vec<&str> = line.split('\t').collect();
        let bad = || format!("line {}: malformed row {line:?}", n + 1);
        let num = |s: &str| s.trim().parse::<f64>().map_err(|_| bad());
        match f[..] {
            [] | [""] => {}
            [c, ..] if c.starts_with('#') => {}
            ["echo", cell, server, round, rate, per_cpu, p99] => rows.echo.push(EchoRow {
                cell: cell.to_owned(),
                server: server.to_owned(),
                round: round.parse().map_err(|_| bad())?,
                rate: num(rate)?,
                per_cpu: num(per_cpu)?,
                p99_us: num(p99)?,
            }),
            ["idle", mode, at, server, conns, per_conn, threads, kstack] => {
                rows.idle.push(IdleRow {
                    mode: mode.to_owned(),
                    at_s: num(at)?,
                    server: server.to_owned(),
                    conns: conns.parse().map_err(|_| bad())?,
                    bytes_per_conn: num(per_conn)?,
                    threads: num(threads)?,
                    kernel_stack_per_conn: num(kstack)?,
                })
            }
            _ => return Err(bad()),
        }
    }
    Ok(rows)
}

/// The median (the mean of the middle two for an even count), ignoring `NaN`s (failed runs);
/// `NaN` if nothing is left.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| !x.is_nan());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 { v[m] } else { (v[m - 1] + v[m]) / 2.0 }
}

/// Median over rounds of `subject / peer` for the metric `pick`, pairing rows by round.
fn paired_ratio(rows: &[&EchoRow], subject: &str, peer: &str, pick: fn(&EchoRow) -> f64) -> f64 {
    let by_round = |server: &str| -> BTreeMap<u32, f64> {
        rows.iter().filter(|r| r.server == server).map(|r| (r.round, pick(r))).collect()
    };
    let (ours, theirs) = (by_round(subject), by_round(peer));
    median(ours.iter().filter_map(|(round, o)| theirs.get(round).map(|t| o / t)).collect())
}

fn fmt_num(v: f64) -> String {
    if v.is_nan() {
        "n/a".to_owned()
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn fmt_int(v: f64) -> String {
    if v.is_nan() { "n/a".to_owned() } else { format!("{v:.0}") }
}

/// The Markdown tables: per cell medians for every server, then the ratios of ours to each peer.
pub fn render(rows: &Rows) -> String {
    render_for(rows, &[OURS])
}

/// Like [`render`], with a table of ratios for each of `subjects` against every other server
/// (e.g. `["ours", "ws-server"]`: ours / each peer, then ws-server / each other server).
/// Cells named `setup:CONNSxBYTES` count connections (connect, upgrade, one echo, close)
/// instead of messages.
pub fn render_for(rows: &Rows, subjects: &[&str]) -> String {
    let mut cells: Vec<&str> = Vec::new();
    let mut servers: Vec<&str> = Vec::new();
    for r in &rows.echo {
        if !cells.contains(&r.cell.as_str()) {
            cells.push(&r.cell);
        }
        if !servers.contains(&r.server.as_str()) {
            servers.push(&r.server);
        }
    }
    let mut out = String::new();
    if !rows.echo.is_empty() {
        let rounds = rows.echo.iter().map(|r| r.round).max().unwrap_or(0);
        let _ = writeln!(
            out,
            "Echo (medians of {rounds} interleaved rounds; cell = connections x payload bytes)\n"
        );
        let _ = writeln!(out, "| cell | server | msgs/s | msgs per server CPU-s | p99 RTT (us) |");
        let _ = writeln!(out, "|---|---|---:|---:|---:|");
        for cell in &cells {
            let in_cell: Vec<&EchoRow> = rows.echo.iter().filter(|r| r.cell == *cell).collect();
            for server in &servers {
                let of = |pick: fn(&EchoRow) -> f64| {
                    median(
                        in_cell.iter().filter(|r| r.server == *server).map(|r| pick(r)).collect(),
                    )
                };
                let _ = writeln!(
                    out,
                    "| {cell} | {server} | {} | {} | {} |",
                    fmt_num(of(|r| r.rate)),
                    fmt_num(of(|r| r.per_cpu)),
                    fmt_num(of(|r| r.p99_us))
                );
            }
        }
        if cells.iter().any(|c| c.starts_with("setup:")) {
            let _ = writeln!(
                out,
                "\nsetup: cells count whole connections (TCP connect, upgrade, one echo, close) \
                 instead of messages; their p99 is a connection's whole life."
            );
        }
        for subject in subjects.iter().filter(|s| servers.contains(s)) {
            let peers: Vec<&str> = servers.iter().copied().filter(|s| s != subject).collect();
            let _ = writeln!(
                out,
                "\nRatios, {subject} / peer (median of per-round ratios; > 1 means {subject} is \
                 better, for p99 < 1 is better)\n"
            );
            let _ = writeln!(out, "| cell | peer | msgs/s | msgs per CPU-s | p99 |");
            let _ = writeln!(out, "|---|---|---:|---:|---:|");
            for cell in &cells {
                let in_cell: Vec<&EchoRow> = rows.echo.iter().filter(|r| r.cell == *cell).collect();
                for peer in &peers {
                    let ratio = |pick| paired_ratio(&in_cell, subject, peer, pick);
                    let _ = writeln!(
                        out,
                        "| {cell} | {peer} | {} | {} | {} |",
                        fmt_num(ratio(|r| r.rate)),
                        fmt_num(ratio(|r| r.per_cpu)),
                        fmt_num(ratio(|r| r.p99_us))
                    );
                }
            }
        }
    }
    if !rows.idle.is_empty() {
        render_idle(&rows.idle, &mut out);
    }
    out
}

/// Idle memory, one row per server and connection count, one column per mode and time.
fn render_idle(rows: &[IdleRow], out: &mut String) {
    let mut columns: Vec<(&str, f64)> = Vec::new();
    let mut servers: Vec<(&str, u64)> = Vec::new();
    for r in rows.iter().filter(|r| !r.at_s.is_nan()) {
        if !columns.iter().any(|&(m, a)| m == r.mode && a == r.at_s) {
            columns.push((&r.mode, r.at_s));
        }
    }
    for r in rows {
        if !servers.contains(&(r.server.as_str(), r.conns)) {
            servers.push((&r.server, r.conns));
        }
    }
    let _ = writeln!(
        out,
        "\nIdle connections: server RSS growth per connection, bytes, at the given seconds of \
         idleness; threads and the machine's kernel-stack growth per connection at the last sample\n"
    );
    let heads: Vec<String> = columns.iter().map(|(m, a)| format!("{m} +{a} s")).collect();
    let _ = writeln!(
        out,
        "| server | connections | {} | threads | kernel stacks per connection |",
        heads.join(" | ")
    );
    let _ = writeln!(out, "|---|---:|{}---:|---:|", "---:|".repeat(columns.len()));
    for (server, conns) in servers {
        let mine: Vec<&IdleRow> =
            rows.iter().filter(|r| r.server == server && r.conns == conns).collect();
        let cells: Vec<String> = columns
            .iter()
            .map(|&(m, a)| {
                let v = mine.iter().find(|r| r.mode == m && r.at_s == a);
                fmt_int(v.map_or(f64::NAN, |r| r.bytes_per_conn))
            })
            .collect();
        let last = mine.iter().rev().find(|r| !r.at_s.is_nan());
        let _ = writeln!(
            out,
            "| {server} | {conns} | {} | {} | {} |",
            cells.join(" | "),
            fmt_int(last.map_or(f64::NAN, |r| r.threads)),
            fmt_int(last.map_or(f64::NAN, |r| r.kernel_stack_per_conn)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(vec![]).is_nan());
        assert_eq!(median(vec![f64::NAN, 5.0, 1.0, 3.0]), 3.0);
    }

    #[test]
    fn ratios_pair_rounds() {
        let input = "# cell server round rate per_cpu p99\n\
            echo\t100x20\tours\t1\t200\t400\t10\n\
            echo\t100x20\tfastwebsockets\t1\t100\t100\t20\n\
            echo\t100x20\tours\t2\t50\t300\t10\n\
            echo\t100x20\tfastwebsockets\t2\t100\t100\t20\n\
            echo\t100x20\tours\t3\t300\t200\t10\n\
            echo\t100x20\tfastwebsockets\t3\t100\t100\t20\n\
            idle\thandshake\t0.1\tours\t10000\t3500.5\t1\t0\n\
            idle\thandshake\t2\tours\t10000\t3000\t1\t0\n\
            idle\thandshake\t0.1\tws-blocking\t2000\t9000\t2002\t16384\n\
            idle\thandshake\tnan\tws-async-std\t10000\tnan\tnan\tnan\n";
        let rows = parse(input).unwrap();
        assert_eq!((rows.echo.len(), rows.idle.len()), (6, 4));
        let cell: Vec<&EchoRow> = rows.echo.iter().collect();
        assert_eq!(paired_ratio(&cell, OURS, "fastwebsockets", |r| r.rate), 2.0);
        assert_eq!(paired_ratio(&cell, OURS, "fastwebsockets", |r| r.per_cpu), 3.0);
        assert_eq!(paired_ratio(&cell, "fastwebsockets", OURS, |r| r.per_cpu), 1.0 / 3.0);
        let table = render(&rows);
        assert!(table.contains("| 100x20 | ours | 200 | 300 | 10.00 |"), "{table}");
        assert!(table.contains("| 100x20 | fastwebsockets | 2.00 | 3.00 | 0.50 |"), "{table}");
        assert!(table.contains("| handshake +0.1 s | handshake +2 s | threads |"), "{table}");
        assert!(table.contains("| ours | 10000 | 3500 | 3000 | 1 | 0 |"), "{table}");
        assert!(table.contains("| ws-blocking | 2000 | 9000 | n/a | 2002 | 16384 |"), "{table}");
        assert!(table.contains("| ws-async-std | 10000 | n/a | n/a | n/a | n/a |"), "{table}");
    }

    #[test]
    fn ratios_for_another_subject() {
        let input = "echo\tsetup:10x20\tours\t1\t100\t200\t10\n\
            echo\tsetup:10x20\tws-server\t1\t90\t180\t20\n";
        let rows = parse(input).unwrap();
        let table = render_for(&rows, &[OURS, "ws-server", "absent"]);
        assert!(table.contains("setup: cells count whole connections"), "{table}");
        assert!(table.contains("Ratios, ours / peer"), "{table}");
        assert!(table.contains("| setup:10x20 | ws-server | 1.11 | 1.11 | 0.50 |"), "{table}");
        assert!(table.contains("Ratios, ws-server / peer"), "{table}");
        assert!(table.contains("| setup:10x20 | ours | 0.90 | 0.90 | 2.00 |"), "{table}");
        assert!(!table.contains("absent"), "{table}");
    }

    #[test]
    fn rejects_malformed_rows() {
        assert!(parse("echo\ta\tb\n").is_err());
        assert!(parse("echo\t1x1\tours\tx\t1\t1\t1\n").is_err());
        assert!(parse("\n# only comments\n").unwrap().echo.is_empty());
    }
}
