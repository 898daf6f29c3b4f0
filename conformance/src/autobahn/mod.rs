//! The Autobahn|Testsuite run: every agent (adapter × role) against the cases a named plan of
//! `autobahn/expected.json` gives it ([`plan`]), in parallel batches, merged into one summary
//! and compared with the expectation.
//!
//! * Server role: each adapter's `echo_server` example, tested by `wstest -m fuzzingclient`.
//! * Client role: `autobahn-client --adapter …`, tested by `wstest -m fuzzingserver`.
//!
//! wstest runs one message at a time and its PyPy process grows with every compression case,
//! so the cases are split into [`batches`] (cases 1–11 together, then each group of 18
//! compression cases), each its own wstest process with its own report directory, several at
//! once. The merged results are checked case by case: every case of the agent's plan must be
//! reported, once, graded OK (or INFORMATIONAL, for the few cases `expected.json` lists), and
//! no other case.

pub mod expect;
pub mod plan;
pub mod report;
mod run;

pub use run::{Options, run};

/// A set of cases run by one wstest process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Names the batch's report directory, e.g. `1-11` or `12.3`.
    pub label: String,
    /// wstest case patterns.
    pub cases: Vec<String>,
    /// Rough relative cost (CPU time), so the longest batches start first and the run does
    /// not end waiting on one long batch started last.
    pub cost: u32,
}

/// How `"cases": ["*"]` is split: cases 1–11 (301 cases in wstest 0.8.2, about 15 s), then
/// the compression groups 12.1–12.5 and 13.1–13.7 (18 cases each, 20–90 s).
///
/// Nothing here can drop a case silently: the merged results of an agent must hold exactly the
/// number of cases `expected.json` gives for its case set.
pub fn batches() -> Vec<Batch> {
    let mut batches = vec![Batch {
        label: "1-11".to_owned(),
        cases: (1..=11).map(|n| format!("{n}.*")).collect(),
        cost: 2,
    }];
    let groups = (1..=5).map(|g| (12, g)).chain((1..=7).map(|g| (13, g)));
    for (major, group) in groups {
        // 12.2 (a bitmap), 12.3 (German text) and 12.5 (a PDF) compress poorly: both ends
        // spend several times longer in zlib than on the JSON and HTML of the other groups.
        let cost = match (major, group) {
            (12, 2 | 3 | 5) => 6,
            _ => 2,
        };
        batches.push(Batch {
            label: format!("{major}.{group}"),
            cases: vec![format!("{major}.{group}.*")],
            cost,
        });
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_cover_every_category_once() {
        let batches = batches();
        assert_eq!(batches.len(), 13);
        let patterns: Vec<&str> =
            batches.iter().flat_map(|b| b.cases.iter().map(String::as_str)).collect();
        for n in 1..=11 {
            assert!(patterns.contains(&format!("{n}.*").as_str()));
        }
        assert!(patterns.contains(&"12.5.*"));
        assert!(patterns.contains(&"13.7.*"));
        let labels: std::collections::BTreeSet<&str> =
            batches.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(labels.len(), batches.len());
        let cost = |label: &str| batches.iter().find(|b| b.label == label).unwrap().cost;
        assert!(cost("12.3") > cost("12.1") && cost("12.2") > cost("13.7"));
    }
}
