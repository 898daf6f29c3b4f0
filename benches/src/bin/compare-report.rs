//! Prints the results tables from the rows `compare.sh` recorded.
//!
//!     compare-report results.tsv [SUBJECT...]
//!
//! Ratios are given for each SUBJECT (a server name; default `ours`) against every other
//! server. See `benches::report` for the row format and how ratios are computed.

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: compare-report ROWS.tsv [SUBJECT...]");
        std::process::exit(2);
    };
    let mut subjects: Vec<String> = std::env::args().skip(2).collect();
    if subjects.is_empty() {
        subjects.push(benches::report::OURS.to_owned());
    }
    let subjects: Vec<&str> = subjects.iter().map(String::as_str).collect();
    let rows = std::fs::read_to_string(&path)
        .map_err(|e| format!("{path}: {e}"))
        .and_then(|s| benches::report::parse(&s));
    match rows {
        Ok(rows) => print!("{}", benches::report::render_for(&rows, &subjects)),
        Err(e) => {
            eprintln!("compare-report: {e}");
            std::process::exit(1);
        }
    }
}
