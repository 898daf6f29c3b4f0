//! What a run must produce (`autobahn/expected.json`) and the wstest spec templates
//! (`autobahn/fuzzingclient.json`, `autobahn/fuzzingserver.json`).
//!
//! `expected.json` names every agent (adapter and role), the outcomes accepted for every case,
//! the number of cases the testsuite has, and the excluded cases, each with its reason. The
//! spec templates carry wstest's own `exclude-cases` list, which must name exactly the same
//! cases: nothing is excluded silently.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use serde_json::{Value, json};

use super::report::AgentResults;
use crate::session::{Adapter, BoxError};

/// Which side of the connection the agent under test plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Our server, tested by `wstest -m fuzzingclient`.
    Server,
    /// Our client, tested by `wstest -m fuzzingserver`.
    Client,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Server => "server",
            Role::Client => "client",
        })
    }
}

/// One agent under test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSpec {
    /// The name wstest reports it under.
    pub agent: String,
    /// Its adapter.
    pub adapter: Adapter,
    /// Its role.
    pub role: Role,
}

/// The contents of `expected.json`.
#[derive(Debug, Clone)]
pub struct Expected {
    /// How many cases the testsuite has (`"cases": ["*"]`), exclusions included.
    pub total_cases: usize,
    /// Outcomes accepted for a case's `behavior` and `behaviorClose`.
    pub accepted: Vec<String>,
    /// The agents, in report order.
    pub agents: Vec<AgentSpec>,
    /// Excluded case → why.
    pub exclusions: BTreeMap<String, String>,
}

impl Expected {
    /// Reads `expected.json`.
    pub fn load(path: &Path) -> Result<Expected, BoxError> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Expected::parse(&text).map_err(|e| format!("{}: {e}", path.display()).into())
    }

    /// Parses the text of `expected.json`.
    pub fn parse(text: &str) -> Result<Expected, BoxError> {
        let value: Value = serde_json::from_str(text)?;
        let total_cases = value["total_cases"].as_u64().ok_or("total_cases: not a number")?;
        let strings = |v: &Value, what: &str| -> Result<Vec<String>, BoxError> {
            v.as_array()
                .ok_or_else(|| format!("{what}: not a list"))?
                .iter()
                .map(|s| {
                    s.as_str().map(str::to_owned).ok_or_else(|| format!("{what}: not text").into())
                })
                .collect()
        };
        let accepted = strings(&value["accepted"], "accepted")?;
        let mut agents = Vec::new();
        for agent in value["agents"].as_array().ok_or("agents: not a list")? {
            let field = |key: &str| {
                agent[key].as_str().ok_or_else(|| format!("agents: an entry has no {key}"))
            };
            let role = match field("role")? {
                "server" => Role::Server,
                "client" => Role::Client,
                other => return Err(format!("agents: unknown role {other:?}").into()),
            };
            agents.push(AgentSpec {
                agent: field("agent")?.to_owned(),
                adapter: field("adapter")?.parse()?,
                role,
            });
        }
        let names: BTreeSet<&str> = agents.iter().map(|a| a.agent.as_str()).collect();
        if names.len() != agents.len() {
            return Err("agents: a name is used twice".into());
        }
        let mut exclusions = BTreeMap::new();
        for (case, reason) in value["exclusions"].as_object().ok_or("exclusions: not an object")? {
            match reason.as_str() {
                Some(reason) if !reason.trim().is_empty() => {
                    exclusions.insert(case.clone(), reason.to_owned())
                }
                _ => return Err(format!("exclusions: {case} has no reason").into()),
            };
        }
        Ok(Expected { total_cases: total_cases as usize, accepted, agents, exclusions })
    }

    /// What is wrong with one agent's results. With `complete` (all cases were run), the
    /// number of cases must also be the testsuite's total less the exclusions.
    pub fn problems(&self, results: Option<&AgentResults>, complete: bool) -> Vec<String> {
        let Some(results) = results else {
            return vec!["no results".to_owned()];
        };
        let mut problems = Vec::new();
        let expected_count = self.total_cases - self.exclusions.len();
        if complete && results.len() != expected_count {
            problems.push(format!("{} cases reported, expected {expected_count}", results.len()));
        }
        let accepted = |outcome: &str| self.accepted.iter().any(|a| a == outcome);
        for (id, result) in results {
            if self.exclusions.contains_key(&id.to_string()) {
                problems.push(format!("{id}: excluded, but it ran"));
            } else if !accepted(&result.behavior) || !accepted(&result.behavior_close) {
                problems.push(format!(
                    "{id}: {} (close: {}), report {}",
                    result.behavior,
                    result.behavior_close,
                    result.report.with_extension("html").display()
                ));
            }
        }
        problems
    }
}

/// A wstest spec file, completed per batch by the driver.
#[derive(Debug, Clone)]
pub struct SpecTemplate(Value);

impl SpecTemplate {
    /// Reads a spec template and checks that its `exclude-cases` are exactly the exclusions
    /// listed (with reasons) in `expected`, and that it runs every case (`"cases": ["*"]`).
    pub fn load(path: &Path, expected: &Expected) -> Result<SpecTemplate, BoxError> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        SpecTemplate::parse(&text, expected).map_err(|e| format!("{}: {e}", path.display()).into())
    }

    /// Parses and checks the text of a spec template (see [`load`](Self::load)).
    pub fn parse(text: &str, expected: &Expected) -> Result<SpecTemplate, BoxError> {
        let value: Value = serde_json::from_str(text)?;
        if value["cases"] != json!(["*"]) {
            return Err("\"cases\" must be [\"*\"]: the driver splits them into batches".into());
        }
        let excluded: BTreeSet<&str> = value["exclude-cases"]
            .as_array()
            .ok_or("exclude-cases: not a list")?
            .iter()
            .map(|c| c.as_str().ok_or("exclude-cases: not text"))
            .collect::<Result<_, _>>()?;
        let listed: BTreeSet<&str> = expected.exclusions.keys().map(String::as_str).collect();
        if excluded != listed {
            return Err(format!(
                "exclude-cases {excluded:?} differ from the exclusions of expected.json {listed:?}"
            )
            .into());
        }
        if value
            .get("exclude-agent-cases")
            .and_then(Value::as_object)
            .is_some_and(|m| !m.is_empty())
        {
            return Err("exclude-agent-cases must be empty: exclusions go in exclude-cases".into());
        }
        Ok(SpecTemplate(value))
    }

    /// The spec of one `wstest -m fuzzingclient` batch: `agent` at `url`, `cases` only.
    pub fn fuzzingclient(&self, outdir: &Path, agent: &str, url: &str, cases: &[String]) -> Value {
        let mut spec = self.0.clone();
        spec["outdir"] = json!(outdir);
        spec["servers"] = json!([{ "agent": agent, "url": url }]);
        spec["cases"] = json!(cases);
        spec
    }

    /// The spec of one `wstest -m fuzzingserver` batch listening on `url`, `cases` only.
    pub fn fuzzingserver(&self, outdir: &Path, url: &str, cases: &[String]) -> Value {
        let mut spec = self.0.clone();
        spec["outdir"] = json!(outdir);
        spec["url"] = json!(url);
        spec["cases"] = json!(cases);
        spec
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::autobahn::report::CaseResult;

    const EXPECTED: &str = r#"{
        "total_cases": 3,
        "accepted": ["OK", "INFORMATIONAL"],
        "agents": [
            {"agent": "ws-tokio-server", "adapter": "tokio", "role": "server"},
            {"agent": "ws-blocking-client", "adapter": "blocking", "role": "client"}
        ],
        "exclusions": {"1.1.3": "a reason"}
    }"#;

    fn result(behavior: &str, close: &str) -> CaseResult {
        CaseResult {
            behavior: behavior.into(),
            behavior_close: close.into(),
            duration_ms: 1,
            report: PathBuf::from("r.json"),
        }
    }

    #[test]
    fn parses_agents_and_exclusions() {
        let expected = Expected::parse(EXPECTED).unwrap();
        assert_eq!(expected.agents.len(), 2);
        assert_eq!(expected.agents[1].adapter, Adapter::Blocking);
        assert_eq!(expected.agents[1].role, Role::Client);
        assert_eq!(expected.exclusions["1.1.3"], "a reason");
    }

    #[test]
    fn exclusions_need_reasons_and_names_are_unique() {
        let no_reason = EXPECTED.replace("\"a reason\"", "\" \"");
        assert!(Expected::parse(&no_reason).is_err());
        let twice = EXPECTED.replace("ws-blocking-client", "ws-tokio-server");
        assert!(Expected::parse(&twice).is_err());
        let bad_role = EXPECTED.replace("\"client\"", "\"peer\"");
        assert!(Expected::parse(&bad_role).is_err());
    }

    #[test]
    fn problems_name_every_bad_case() {
        let expected = Expected::parse(EXPECTED).unwrap();
        assert_eq!(expected.problems(None, true), ["no results"]);

        let mut cases = AgentResults::new();
        cases.insert("1.1.1".parse().unwrap(), result("OK", "OK"));
        cases.insert("1.1.2".parse().unwrap(), result("INFORMATIONAL", "OK"));
        assert!(expected.problems(Some(&cases), true).is_empty());

        cases.insert("1.1.2".parse().unwrap(), result("OK", "WRONG CODE"));
        let problems = expected.problems(Some(&cases), true);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("1.1.2: OK (close: WRONG CODE)"), "{problems:?}");

        cases.insert("1.1.2".parse().unwrap(), result("NON-STRICT", "OK"));
        cases.insert("1.1.3".parse().unwrap(), result("OK", "OK"));
        let problems = expected.problems(Some(&cases), true);
        assert_eq!(problems.len(), 3, "{problems:?}"); // count, NON-STRICT, excluded but ran

        cases.remove(&"1.1.3".parse().unwrap());
        cases.remove(&"1.1.2".parse().unwrap());
        assert_eq!(expected.problems(Some(&cases), true).len(), 1); // too few cases
        assert!(expected.problems(Some(&cases), false).is_empty()); // a partial run
    }

    #[test]
    fn spec_templates_must_match_the_exclusions() {
        let expected = Expected::parse(EXPECTED).unwrap();
        let spec = r#"{"cases": ["*"], "exclude-cases": ["1.1.3"], "exclude-agent-cases": {}}"#;
        let template = SpecTemplate::parse(spec, &expected).unwrap();
        let batch = template.fuzzingclient(Path::new("/r"), "a", "ws://x", &["1.*".into()]);
        assert_eq!(batch["servers"][0]["agent"], "a");
        assert_eq!(batch["cases"], json!(["1.*"]));
        assert_eq!(batch["exclude-cases"], json!(["1.1.3"]));
        let batch = template.fuzzingserver(Path::new("/r"), "ws://x", &["2.*".into()]);
        assert_eq!(batch["url"], "ws://x");

        let silent = r#"{"cases": ["*"], "exclude-cases": ["1.1.3", "2.1.1"]}"#;
        assert!(SpecTemplate::parse(silent, &expected).is_err());
        let partial = r#"{"cases": ["1.*"], "exclude-cases": ["1.1.3"]}"#;
        assert!(SpecTemplate::parse(partial, &expected).is_err());
        let per_agent = r#"{"cases": ["*"], "exclude-cases": ["1.1.3"], "exclude-agent-cases": {"a": ["1.*"]}}"#;
        assert!(SpecTemplate::parse(per_agent, &expected).is_err());
    }
}
