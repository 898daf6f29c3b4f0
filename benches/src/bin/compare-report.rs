//! Prints the results tables from the rows `compare.sh` recorded.
//!
//!     compare-report results.tsv
//!
//! See `benches::report` for the row format and how ratios are computed.

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: compare-report ROWS.tsv");
        std::process::exit(2);
    };
    let rows = std::fs::read_to_string(&path)
        .map_err(|e| format!("{path}: {e}"))
        .and_then(|s| benches::report::parse(&s));
    match rows {
        Ok(rows) => print!("{}", benches::report::render(&rows)),
        Err(e) => {
            eprintln!("compare-report: {e}");
            std::process::exit(1);
        }
    }
}
