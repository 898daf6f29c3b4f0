//! Named plans: which cases each agent runs, and the checks that keep a run honest.
//!
//! `expected.json` defines *case sets* (wstest patterns and how many cases wstest 0.8.2 has
//! in them) and *plans* that give every agent one case set. A run names its plan; the driver
//! turns each agent's set into batches ([`CaseSet::batches`]) and afterwards checks that the
//! agent reported exactly that set's cases.
//!
//! Development runs may instead pick cases (`--cases`) or agents (`--agents`) by hand. Under
//! CI ([`ci_from_env`]) [`select`] refuses both: a gate runs a named plan, whole.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use super::expect::{AgentSpec, Expected, Role};
use super::report::CaseId;
use super::{Batch, batches};

/// A case pattern as plans write it: `*` (every case) or a case-number prefix followed by
/// `.*` (`7.*`, `12.1.*`). wstest reads the same text as an fnmatch pattern with the same
/// meaning.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pattern(Vec<u32>);

impl Pattern {
    /// Whether every case `other` matches is matched by `self` too.
    pub fn covers(&self, other: &Pattern) -> bool {
        other.0.starts_with(&self.0)
    }

    /// Whether the case `id` is one of this pattern's cases.
    pub fn matches(&self, id: &CaseId) -> bool {
        id.parts().len() > self.0.len() && id.parts().starts_with(&self.0)
    }

    /// The first number of the prefix (`12` for `12.1.*`); `None` for `*`.
    fn major(&self) -> Option<u32> {
        self.0.first().copied()
    }
}

impl FromStr for Pattern {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "*" {
            return Ok(Pattern(Vec::new()));
        }
        let bad = || format!("not a case pattern: {s:?} (expected * or a prefix like 12.1.*)");
        let prefix = s.strip_suffix(".*").ok_or_else(bad)?;
        let parts = prefix.split('.').map(|p| match p.bytes().all(|b| b.is_ascii_digit()) {
            true => p.parse::<u32>().map_err(|_| bad()),
            false => Err(bad()),
        });
        Ok(Pattern(parts.collect::<Result<_, _>>()?))
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.0 {
            write!(f, "{part}.")?;
        }
        f.write_str("*")
    }
}

/// The patterns of the whole testsuite's batches ([`batches`]), in order.
fn suite_patterns() -> Vec<Pattern> {
    let patterns = batches().into_iter().flat_map(|b| b.cases);
    patterns.map(|c| c.parse().expect("the batches use plan patterns")).collect()
}

/// A named set of cases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseSet {
    /// Its name in `expected.json`.
    pub name: String,
    /// Its cases.
    pub patterns: Vec<Pattern>,
    /// How many cases wstest has in it, exclusions included.
    pub count: usize,
}

impl CaseSet {
    /// Checks a set read from `expected.json`: it must select whole batch patterns (so the
    /// batches run exactly its cases), and its patterns must not overlap.
    pub fn new(name: &str, patterns: Vec<Pattern>, count: usize) -> Result<CaseSet, String> {
        let what = format!("case set {name:?}");
        if patterns.is_empty() || count == 0 {
            return Err(format!("{what}: no cases"));
        }
        let suite = suite_patterns();
        for (i, p) in patterns.iter().enumerate() {
            if let Some(q) = suite.iter().find(|q| q.covers(p) && *q != p) {
                return Err(format!("{what}: {p} is part of the batch pattern {q}, not whole"));
            }
            if !suite.iter().any(|q| p.covers(q)) {
                return Err(format!("{what}: {p} selects no batch of the testsuite"));
            }
            if let Some(q) = patterns[i + 1..].iter().find(|q| p.covers(q) || q.covers(p)) {
                return Err(format!("{what}: {p} and {q} overlap"));
            }
        }
        Ok(CaseSet { name: name.to_owned(), patterns, count })
    }

    /// Whether `id` is one of the set's cases.
    pub fn contains(&self, id: &CaseId) -> bool {
        self.patterns.iter().any(|p| p.matches(id))
    }

    fn covers(&self, pattern: &Pattern) -> bool {
        self.patterns.iter().any(|p| p.covers(pattern))
    }

    /// The batches that run exactly this set's cases: the testsuite's [`batches`], each cut
    /// down to the patterns the set covers, dropped when none is left.
    pub fn batches(&self) -> Vec<Batch> {
        let mut out = Vec::new();
        for batch in batches() {
            let kept: Vec<String> = batch
                .cases
                .iter()
                .filter(|c| c.parse().is_ok_and(|p: Pattern| self.covers(&p)))
                .cloned()
                .collect();
            if kept.len() == batch.cases.len() {
                out.push(batch);
            } else if !kept.is_empty() {
                let label = kept.iter().map(|c| c.trim_end_matches(".*")).collect::<Vec<_>>();
                out.push(Batch { label: label.join("+"), cases: kept, cost: batch.cost });
            }
        }
        out
    }

    /// The testsuite's patterns this set leaves out, a whole group written as one pattern
    /// (`12.*` rather than `12.1.*` … `12.5.*`). Empty when the set is every case.
    pub fn left_out(&self) -> Vec<Pattern> {
        let suite = suite_patterns();
        let mut out: Vec<Pattern> = Vec::new();
        for p in suite.iter().filter(|p| !self.covers(p)) {
            let group = suite.iter().filter(|q| q.major() == p.major());
            match group.clone().all(|q| !self.covers(q)) {
                true => {
                    let whole = Pattern(p.0.iter().take(1).copied().collect());
                    if !out.contains(&whole) {
                        out.push(whole);
                    }
                }
                false => out.push(p.clone()),
            }
        }
        out
    }
}

/// A named plan: one case set per agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Its name (`ci`, `full`).
    pub name: String,
    /// What it is for, one line.
    pub about: String,
    /// Agent name → case set name, for every agent of `expected.json`.
    pub agents: BTreeMap<String, String>,
}

impl Plan {
    /// Checks a plan read from `expected.json`: it gives every agent exactly one known case
    /// set, and every case of the testsuite runs in it for each role at least once.
    pub fn check(
        &self,
        agents: &[AgentSpec],
        sets: &BTreeMap<String, CaseSet>,
    ) -> Result<(), String> {
        let what = format!("plan {:?}", self.name);
        if self.about.trim().is_empty() {
            return Err(format!("{what}: no \"about\""));
        }
        for (agent, set) in &self.agents {
            if !agents.iter().any(|a| &a.agent == agent) {
                return Err(format!("{what}: unknown agent {agent:?}"));
            }
            if !sets.contains_key(set) {
                return Err(format!("{what}: {agent} has the unknown case set {set:?}"));
            }
        }
        if let Some(missing) = agents.iter().find(|a| !self.agents.contains_key(&a.agent)) {
            return Err(format!("{what}: no case set for {}", missing.agent));
        }
        for role in [Role::Server, Role::Client] {
            let in_role: Vec<&CaseSet> = agents
                .iter()
                .filter(|a| a.role == role)
                .map(|a| &sets[&self.agents[&a.agent]])
                .collect();
            if in_role.is_empty() {
                continue;
            }
            if let Some(p) = suite_patterns().iter().find(|p| !in_role.iter().any(|s| s.covers(p)))
            {
                return Err(format!("{what}: no {role} agent runs {p}"));
            }
        }
        Ok(())
    }
}

/// Whether the environment variable `CI` (its value given) asks for the CI gate: any value
/// but empty, `0` and `false`.
pub fn ci_from_env(value: Option<&str>) -> bool {
    value.is_some_and(|v| !matches!(v.trim().to_ascii_lowercase().as_str(), "" | "0" | "false"))
}

/// What the command line asks for.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The plan's name (`--plan`).
    pub plan: String,
    /// `--cases`: these wstest patterns instead of the plan's sets (development only).
    pub cases: Option<Vec<String>>,
    /// `--agents`: only these agents (development only).
    pub agents: Option<Vec<String>>,
    /// Under CI: only a named plan, whole.
    pub ci: bool,
}

/// What one agent runs.
#[derive(Debug, Clone)]
pub struct AgentRun<'a> {
    /// The agent.
    pub agent: &'a AgentSpec,
    /// Its case set in the plan; `None` when `--cases` replaced it.
    pub set: Option<&'a CaseSet>,
    /// Its batches.
    pub batches: Vec<Batch>,
}

/// The agents and batches of a run.
#[derive(Debug, Clone)]
pub struct Selection<'a> {
    /// The plan.
    pub plan: &'a Plan,
    /// The agents, in `expected.json`'s order.
    pub runs: Vec<AgentRun<'a>>,
    /// Why the run is partial (`--cases`, `--agents`), if it is.
    pub partial: Option<String>,
}

/// Chooses the agents and batches of a run, refusing what a gate must not run: under CI any
/// `--cases` or `--agents`; always an unknown plan or agent and a run with no agent or case.
pub fn select<'a>(expected: &'a Expected, request: &Request) -> Result<Selection<'a>, String> {
    if request.ci {
        for (given, flag, var) in [
            (request.cases.is_some(), "--cases", "AUTOBAHN_CASES"),
            (request.agents.is_some(), "--agents", "AUTOBAHN_AGENTS"),
        ] {
            if given {
                return Err(format!(
                    "CI is set: refusing {flag} ({var}), an ad-hoc partial run; CI runs a named \
                     plan of expected.json, whole"
                ));
            }
        }
    }
    let plan = expected.plans.get(&request.plan).ok_or_else(|| {
        let known: Vec<&String> = expected.plans.keys().collect();
        format!("unknown plan {:?}; expected.json has {known:?}", request.plan)
    })?;
    if expected.agents.is_empty() {
        return Err("expected.json names no agent: the run would test nothing".to_owned());
    }
    if let Some(names) = &request.agents {
        if let Some(unknown) =
            names.iter().find(|n| !expected.agents.iter().any(|a| &a.agent == *n))
        {
            let known: Vec<&str> = expected.agents.iter().map(|a| a.agent.as_str()).collect();
            return Err(format!("unknown agent {unknown:?}; expected.json has {known:?}"));
        }
    }
    let custom = match &request.cases {
        Some(patterns) if patterns.is_empty() => {
            return Err("--cases selects no case: the run would test nothing".to_owned());
        }
        Some(patterns) => Some(
            patterns
                .iter()
                .map(|p| Batch { label: p.replace('*', "all"), cases: vec![p.clone()], cost: 1 })
                .collect::<Vec<_>>(),
        ),
        None => None,
    };
    let runs: Vec<AgentRun<'_>> = expected
        .agents
        .iter()
        .filter(|a| request.agents.as_ref().is_none_or(|names| names.contains(&a.agent)))
        .map(|agent| {
            let set = &expected.case_sets[&plan.agents[&agent.agent]];
            match &custom {
                Some(batches) => AgentRun { agent, set: None, batches: batches.clone() },
                None => AgentRun { agent, set: Some(set), batches: set.batches() },
            }
        })
        .collect();
    if runs.is_empty() {
        return Err("--agents selects no agent: the run would test nothing".to_owned());
    }
    let partial = match (&request.cases, &request.agents) {
        (None, None) => None,
        (Some(c), None) => Some(format!("--cases {}", c.join(","))),
        (None, Some(a)) => Some(format!("--agents {}", a.join(","))),
        (Some(c), Some(a)) => Some(format!("--cases {} --agents {}", c.join(","), a.join(","))),
    };
    Ok(Selection { plan, runs, partial })
}

/// How many cases an agent ran against how many its set has, and what its set leaves out
/// (with the plans that run those cases on this agent), for the summary line: e.g.
/// `301 of 301 cases; 12.*, 13.* only in plan full`.
pub fn scope(expected: &Expected, plan: &Plan, run: &AgentRun<'_>, reported: usize) -> String {
    let Some(set) = run.set else {
        let patterns: Vec<&str> =
            run.batches.iter().flat_map(|b| &b.cases).map(String::as_str).collect();
        return format!("{reported} cases, ad-hoc --cases {}", patterns.join(","));
    };
    let mut text = format!("{reported} of {} cases", expected.expected_count(set));
    let left_out = set.left_out();
    if left_out.is_empty() {
        text.push_str(", every case");
        return text;
    }
    let shown: Vec<String> = left_out.iter().map(ToString::to_string).collect();
    let elsewhere: BTreeSet<&str> = expected
        .plans
        .values()
        .filter(|p| p.name != plan.name)
        .filter(|p| {
            let other = &expected.case_sets[&p.agents[&run.agent.agent]];
            left_out.iter().all(|l| other.covers(l))
        })
        .map(|p| p.name.as_str())
        .collect();
    match elsewhere.is_empty() {
        true => text.push_str(&format!("; {} left out", shown.join(", "))),
        false => {
            let plans: Vec<&str> = elsewhere.into_iter().collect();
            text.push_str(&format!("; {} only in plan {}", shown.join(", "), plans.join(", ")));
        }
    }
    text
}

#[cfg(test)]
mod tests;
