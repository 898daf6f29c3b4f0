//! wstest's results: reading `index.json` files, merging batches, counting outcomes, and the
//! merged summary pages (`reports/index.html`, `reports/summary.md`, `reports/summary.json`).

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde_json::{Value, json};

use crate::session::BoxError;

/// A case number like `12.1.10`, ordered numerically (`9.1.1` < `10.1.1`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CaseId(Vec<u32>);

impl CaseId {
    /// The numbers of the case, e.g. `[12, 1, 10]`.
    pub fn parts(&self) -> &[u32] {
        &self.0
    }
}

impl FromStr for CaseId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let parts = s.split('.').map(str::parse).collect::<Result<Vec<u32>, _>>();
        match parts {
            Ok(parts) if !parts.is_empty() => Ok(CaseId(parts)),
            _ => Err(format!("not a case number: {s:?}")),
        }
    }
}

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, part) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{part}")?;
        }
        Ok(())
    }
}

/// One case's outcome, as wstest reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseResult {
    /// `OK`, `NON-STRICT`, `FAILED`, `UNIMPLEMENTED` or `INFORMATIONAL`.
    pub behavior: String,
    /// The closing handshake's outcome: `OK`, `INFORMATIONAL`, `FAILED`, `WRONG CODE`, `UNCLEAN`…
    pub behavior_close: String,
    /// How long the case took (milliseconds).
    pub duration_ms: u64,
    /// The case's JSON report (the HTML page is next to it), relative to the reports directory.
    pub report: PathBuf,
}

/// Every case of one agent.
pub type AgentResults = BTreeMap<CaseId, CaseResult>;

/// Merged results: agent name → case → outcome.
#[derive(Debug, Default, Clone)]
pub struct Results {
    /// The agents seen, each with its cases.
    pub agents: BTreeMap<String, AgentResults>,
}

impl Results {
    /// Adds the cases of one wstest `index.json`. `dir` is the directory of that file relative
    /// to the reports directory (case report paths are made relative to the latter).
    pub fn merge_index(&mut self, index: &str, dir: &Path) -> Result<(), BoxError> {
        let index: Value = serde_json::from_str(index)?;
        let agents = index.as_object().ok_or("index.json: not an object")?;
        for (agent, cases) in agents {
            let cases = cases.as_object().ok_or("index.json: an agent is not an object")?;
            let merged = self.agents.entry(agent.clone()).or_default();
            for (case, result) in cases {
                let text =
                    |key: &str| {
                        result.get(key).and_then(Value::as_str).map(str::to_owned).ok_or_else(
                            || format!("index.json: case {case} of {agent} has no {key}"),
                        )
                    };
                let id: CaseId = case.parse()?;
                let result = CaseResult {
                    behavior: text("behavior")?,
                    behavior_close: text("behaviorClose")?,
                    duration_ms: result.get("duration").and_then(Value::as_u64).unwrap_or(0),
                    report: dir.join(text("reportfile")?),
                };
                if merged.insert(id.clone(), result).is_some() {
                    return Err(format!("case {id} of {agent} reported twice").into());
                }
            }
        }
        Ok(())
    }
}

/// Counts of each outcome for one agent, in the order the summary line prints them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// `OK`.
    pub ok: usize,
    /// `NON-STRICT`.
    pub non_strict: usize,
    /// `FAILED`, and any outcome wstest 0.8.2 is not known to produce.
    pub failed: usize,
    /// `UNIMPLEMENTED`.
    pub unimplemented: usize,
    /// `INFORMATIONAL`.
    pub informational: usize,
}

impl Summary {
    /// Counts the cases' `behavior`.
    pub fn of(results: &AgentResults) -> Summary {
        let mut summary = Summary::default();
        for result in results.values() {
            match result.behavior.as_str() {
                "OK" => summary.ok += 1,
                "NON-STRICT" => summary.non_strict += 1,
                "UNIMPLEMENTED" => summary.unimplemented += 1,
                "INFORMATIONAL" => summary.informational += 1,
                _ => summary.failed += 1,
            }
        }
        summary
    }

    /// Number of cases counted.
    pub fn total(&self) -> usize {
        self.ok + self.non_strict + self.failed + self.unimplemented + self.informational
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "OK {}, NON-STRICT {}, FAILED {}, UNIMPLEMENTED {}, INFORMATIONAL {}",
            self.ok, self.non_strict, self.failed, self.unimplemented, self.informational
        )
    }
}

/// One row of the merged summary: an agent, what it is, its counts and its problems.
#[derive(Debug, Clone)]
pub struct Row {
    /// The agent name.
    pub agent: String,
    /// E.g. `ws-tokio, server role`.
    pub what: String,
    /// How many cases it ran and which its plan leaves out, e.g.
    /// `301 of 301 cases; 12.*, 13.* only in plan full`.
    pub scope: String,
    /// Counts (all zero when the agent has no results).
    pub summary: Summary,
    /// Wall time of the agent's jobs, summed (seconds).
    pub seconds: f64,
    /// What does not match the expectation (empty: as expected).
    pub problems: Vec<String>,
}

/// Writes `index.html`, `summary.md` and `summary.json` into `dir` (the reports directory).
pub fn write_pages(
    dir: &Path,
    rows: &[Row],
    results: &Results,
    batches: &[(String, PathBuf)],
) -> Result<(), BoxError> {
    std::fs::write(dir.join("summary.md"), markdown(rows))?;
    let json = json!({
        "agents": rows.iter().map(|r| json!({
            "agent": r.agent, "what": r.what, "cases": r.scope, "ok": r.summary.ok,
            "non_strict": r.summary.non_strict, "failed": r.summary.failed,
            "unimplemented": r.summary.unimplemented, "informational": r.summary.informational,
            "seconds": r.seconds, "problems": r.problems,
        })).collect::<Vec<_>>(),
    });
    std::fs::write(dir.join("summary.json"), serde_json::to_string_pretty(&json)? + "\n")?;
    std::fs::write(dir.join("index.html"), html(rows, results, batches))?;
    Ok(())
}

/// The Markdown table the README shows.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from(
        "| agent | adapter, role | cases | OK | NON-STRICT | FAILED | UNIMPLEMENTED | INFORMATIONAL |\n\
         |---|---|---|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let s = r.summary;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.agent,
            r.what,
            r.scope.replace('*', "\\*"), // Markdown would read `12.*, 13.*` as emphasis
            s.ok,
            s.non_strict,
            s.failed,
            s.unimplemented,
            s.informational
        );
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn html(rows: &[Row], results: &Results, batches: &[(String, PathBuf)]) -> String {
    let mut out = String::from(
        "<!doctype html>\n<meta charset=\"utf-8\">\n<title>Autobahn|Testsuite: merged results</title>\n\
         <style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}\
         td,th{border:1px solid #ccc;padding:.2em .6em}td.n{text-align:right}\
         .bad{background:#fdd}</style>\n<h1>Autobahn|Testsuite: merged results</h1>\n\
         <p>One row per agent. wstest ran in batches; each batch has its own full report \
         (linked below), with a page per case.</p>\n<table>\n<tr><th>agent</th><th>adapter, role</th><th>cases</th>\
         <th>OK</th><th>NON-STRICT</th><th>FAILED</th><th>UNIMPLEMENTED</th><th>INFORMATIONAL</th>\
         <th>problems</th></tr>\n",
    );
    for r in rows {
        let s = r.summary;
        let class = if r.problems.is_empty() { "" } else { " class=\"bad\"" };
        let _ = writeln!(
            out,
            "<tr{class}><td>{}</td><td>{}</td><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td>\
             <td class=n>{}</td><td class=n>{}</td><td>{}</td></tr>",
            escape(&r.agent),
            escape(&r.what),
            escape(&r.scope),
            s.ok,
            s.non_strict,
            s.failed,
            s.unimplemented,
            s.informational,
            r.problems.len()
        );
    }
    out.push_str("</table>\n<h2>Cases not OK</h2>\n<ul>\n");
    for (agent, cases) in &results.agents {
        for (id, result) in
            cases.iter().filter(|(_, r)| r.behavior != "OK" || r.behavior_close != "OK")
        {
            let _ = writeln!(
                out,
                "<li>{} <a href=\"{}\">{id}</a>: {} (close: {})</li>",
                escape(agent),
                escape(&result.report.with_extension("html").to_string_lossy()),
                escape(&result.behavior),
                escape(&result.behavior_close)
            );
        }
    }
    out.push_str("</ul>\n<h2>Batch reports</h2>\n<ul>\n");
    for (label, index) in batches {
        let _ = writeln!(
            out,
            "<li><a href=\"{}\">{}</a></li>",
            escape(&index.to_string_lossy()),
            escape(label)
        );
    }
    out.push_str("</ul>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = r#"{
        "ws-tokio-server": {
            "1.1.1": {"behavior": "OK", "behaviorClose": "OK", "duration": 2,
                      "remoteCloseCode": 1000, "reportfile": "ws_tokio_server_case_1_1_1.json"},
            "10.1.1": {"behavior": "NON-STRICT", "behaviorClose": "OK", "duration": 5,
                       "remoteCloseCode": 1000, "reportfile": "ws_tokio_server_case_10_1_1.json"},
            "9.1.1": {"behavior": "INFORMATIONAL", "behaviorClose": "WRONG CODE", "duration": 7,
                      "remoteCloseCode": 1000, "reportfile": "ws_tokio_server_case_9_1_1.json"}
        }
    }"#;

    #[test]
    fn case_ids_order_numerically() {
        let mut ids: Vec<CaseId> =
            ["10.1.1", "9.1.1", "1.1.10", "1.1.2"].iter().map(|s| s.parse().unwrap()).collect();
        ids.sort();
        let shown: Vec<String> = ids.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["1.1.2", "1.1.10", "9.1.1", "10.1.1"]);
        assert!("1.x".parse::<CaseId>().is_err());
        assert!("".parse::<CaseId>().is_err());
    }

    #[test]
    fn merges_and_counts() {
        let mut results = Results::default();
        results.merge_index(INDEX, Path::new("server/ws-tokio-server/1")).unwrap();
        let agent = &results.agents["ws-tokio-server"];
        assert_eq!(agent.len(), 3);
        let first = agent.values().next().unwrap();
        assert_eq!(
            first.report,
            Path::new("server/ws-tokio-server/1/ws_tokio_server_case_1_1_1.json")
        );
        let summary = Summary::of(agent);
        assert_eq!(
            summary.to_string(),
            "OK 1, NON-STRICT 1, FAILED 0, UNIMPLEMENTED 0, INFORMATIONAL 1"
        );
        assert_eq!(summary.total(), 3);
        // The same cases again: a batch overlap is an error, not a silent overwrite.
        assert!(results.merge_index(INDEX, Path::new("again")).is_err());
    }

    #[test]
    fn rejects_malformed_indexes() {
        let mut results = Results::default();
        assert!(results.merge_index("[]", Path::new(".")).is_err());
        assert!(
            results.merge_index(r#"{"a": {"1.1.1": {"behavior": "OK"}}}"#, Path::new(".")).is_err()
        );
        assert!(results.merge_index("{", Path::new(".")).is_err());
    }

    #[test]
    fn unknown_outcomes_count_as_failed() {
        let mut cases = AgentResults::new();
        let result = |b: &str| CaseResult {
            behavior: b.to_owned(),
            behavior_close: "OK".to_owned(),
            duration_ms: 0,
            report: PathBuf::new(),
        };
        cases.insert("1.1.1".parse().unwrap(), result("WRONG CODE"));
        cases.insert("1.1.2".parse().unwrap(), result("UNIMPLEMENTED"));
        let summary = Summary::of(&cases);
        assert_eq!((summary.failed, summary.unimplemented), (1, 1));
    }

    #[test]
    fn pages_list_agents_and_failures() {
        let mut results = Results::default();
        results.merge_index(INDEX, Path::new("b")).unwrap();
        let rows = vec![Row {
            agent: "ws-tokio-server".into(),
            what: "ws-tokio, server role".into(),
            scope: "3 cases, ad-hoc --cases 1.*,2.*".into(),
            summary: Summary::of(&results.agents["ws-tokio-server"]),
            seconds: 1.0,
            problems: vec!["10.1.1: NON-STRICT".into()],
        }];
        let md = markdown(&rows);
        assert!(
            md.contains(
                "| ws-tokio-server | ws-tokio, server role | 3 cases, ad-hoc --cases 1.\\*,2.\\* | 1 | 1 | 0 | 0 | 1 |"
            ),
            "{md}"
        );
        let page = html(&rows, &results, &[("batch".into(), PathBuf::from("b/index.html"))]);
        assert!(page.contains("class=\"bad\""));
        assert!(page.contains("10.1.1"));
        assert!(page.contains("9.1.1")); // close WRONG CODE is listed
        assert!(!page.contains(">1.1.1<"));
        assert!(page.contains("b/index.html"));
    }
}
