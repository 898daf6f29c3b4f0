//! What a run must produce (`autobahn/expected.json`) and the wstest spec templates
//! (`autobahn/fuzzingclient.json`, `autobahn/fuzzingserver.json`).
//!
//! `expected.json` names every agent (adapter and role), the case sets and the named plans
//! that give each agent one set ([`super::plan`]), the cases wstest may grade INFORMATIONAL
//! (each with its reason), and the excluded cases, each with its reason. Every other case must
//! be graded OK. The spec templates carry wstest's own `exclude-cases` list, which must name
//! exactly the same cases: nothing is excluded silently.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use serde_json::{Map, Value, json};

use super::plan::{CaseSet, Pattern, Plan};
use super::report::{AgentResults, CaseId};
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
    /// Its adapter (the one it runs on, for a crate built on an adapter); `None` for a server
    /// or client that drives the core on its own loop (ws-uring), which names its crate and
    /// its server, or its client.
    pub adapter: Option<Adapter>,
    /// A client-role agent's `autobahn-client --adapter` value: `"client"` in `expected.json`
    /// (`uring`: ws-uring's client, on no adapter), else its adapter's name. `None` for a
    /// server-role agent.
    pub client: Option<String>,
    /// Its role.
    pub role: Role,
    /// The crate under test: `"crate"` in `expected.json`, else the adapter's.
    pub crate_name: String,
    /// A server-role agent's echo server: `"server"` in `expected.json`, else the adapter's
    /// `echo_server` example without arguments. (Unused for client-role agents; empty for a
    /// client on no adapter.)
    pub server: EchoServer,
}

/// The echo server a server-role agent is: a binary in the driver's `--bin-dir`, started with
/// `--addr 127.0.0.1:0` and these arguments, printing its `ws://` URL.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct EchoServer {
    /// The file name in the bin directory (`echo_server-tokio`, `echo-ws-server`).
    pub binary: String,
    /// Its arguments after `--addr 127.0.0.1:0`.
    pub args: Vec<String>,
}

impl AgentSpec {
    /// `ws-tokio, server role`; `ws-server (on ws-tokio), server role`.
    pub fn describe(&self) -> String {
        match self.adapter.map(Adapter::crate_name) {
            Some(on) if on != self.crate_name => {
                format!("{} (on {on}), {} role", self.crate_name, self.role)
            }
            _ => format!("{}, {} role", self.crate_name, self.role),
        }
    }
}

/// Reads an agent's optional `"server": {"binary": NAME, "args": [...]}`.
fn echo_server(agent: &Value, adapter: Option<Adapter>, role: Role) -> Result<EchoServer, String> {
    let name = agent["agent"].as_str().unwrap_or_default();
    let Some(server) = agent.get("server") else {
        if role == Role::Client && adapter.is_none() {
            // Client-role agents use no echo server; one on no adapter has none to name.
            return Ok(EchoServer { binary: String::new(), args: Vec::new() });
        }
        let adapter = adapter.ok_or_else(|| format!("agents: {name}: no adapter, no server"))?;
        return Ok(EchoServer { binary: format!("echo_server-{adapter}"), args: Vec::new() });
    };
    if role != Role::Server {
        return Err(format!("agents: {name}: a client-role agent has no \"server\""));
    }
    let binary = server["binary"].as_str().filter(|b| !b.is_empty() && !b.contains('/'));
    let binary = binary.ok_or_else(|| format!("agents: {name}: server: no binary file name"))?;
    let args = match server.get("args") {
        None => Vec::new(),
        Some(args) => args
            .as_array()
            .and_then(|a| a.iter().map(|v| v.as_str().map(str::to_owned)).collect())
            .ok_or_else(|| format!("agents: {name}: server: args: not a list of text"))?,
    };
    Ok(EchoServer { binary: binary.to_owned(), args })
}

/// The contents of `expected.json`.
#[derive(Debug, Clone)]
pub struct Expected {
    /// The agents, in report order (never empty).
    pub agents: Vec<AgentSpec>,
    /// Case set name → its cases.
    pub case_sets: BTreeMap<String, CaseSet>,
    /// Plan name → which case set each agent runs.
    pub plans: BTreeMap<String, Plan>,
    /// The only cases that may be graded INFORMATIONAL, each with why wstest grades it so.
    pub informational: BTreeMap<CaseId, String>,
    /// Excluded case → why.
    pub exclusions: BTreeMap<CaseId, String>,
}

/// Reads `{"case": "reason", ...}`: every key a case number, every reason non-empty.
fn reasons(value: &Value, what: &str) -> Result<BTreeMap<CaseId, String>, BoxError> {
    let mut out = BTreeMap::new();
    for (case, reason) in value.as_object().ok_or_else(|| format!("{what}: not an object"))? {
        let id: CaseId = case.parse().map_err(|e| format!("{what}: {e}"))?;
        match reason.as_str() {
            Some(reason) if !reason.trim().is_empty() => out.insert(id, reason.to_owned()),
            _ => return Err(format!("{what}: {case} has no reason").into()),
        };
    }
    Ok(out)
}

fn object<'a>(value: &'a Value, what: &str) -> Result<&'a Map<String, Value>, String> {
    value.as_object().ok_or_else(|| format!("{what}: not an object"))
}

impl Expected {
    /// Reads `expected.json`.
    pub fn load(path: &Path) -> Result<Expected, BoxError> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Expected::parse(&text).map_err(|e| format!("{}: {e}", path.display()).into())
    }

    /// Parses and checks the text of `expected.json`.
    pub fn parse(text: &str) -> Result<Expected, BoxError> {
        let value: Value = serde_json::from_str(text)?;
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
            // A server or client on no adapter of ours (its own loop around the core) has
            // none, and must name its crate and its server, or its client, instead.
            let own_loop = match role {
                Role::Server => agent.get("server").is_some(),
                Role::Client => agent.get("client").is_some(),
            };
            let adapter: Option<Adapter> = match agent.get("adapter") {
                None if own_loop => None,
                _ => Some(field("adapter")?.parse()?),
            };
            let client = match (role, agent.get("client")) {
                (Role::Server, None) => None,
                (Role::Server, Some(_)) => {
                    let name = field("agent")?;
                    return Err(
                        format!("agents: {name}: a server-role agent has no \"client\"").into()
                    );
                }
                (Role::Client, Some(client)) => {
                    let client = client.as_str().filter(|c| !c.is_empty() && !c.contains(' '));
                    let name = field("agent")?;
                    let client =
                        client.ok_or_else(|| format!("agents: {name}: client: no name"))?;
                    Some(client.to_owned())
                }
                (Role::Client, None) => adapter.map(|a| a.name().to_owned()),
            };
            let crate_name = match agent.get("crate") {
                None => match adapter {
                    Some(adapter) => adapter.crate_name().to_owned(),
                    None => {
                        return Err(
                            format!("agents: {}: no adapter, no crate", field("agent")?).into()
                        );
                    }
                },
                Some(name) => name
                    .as_str()
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned)
                    .ok_or(format!("agents: {}: crate: not a crate name", field("agent")?))?,
            };
            agents.push(AgentSpec {
                agent: field("agent")?.to_owned(),
                adapter,
                client,
                role,
                crate_name,
                server: echo_server(agent, adapter, role)?,
            });
        }
        if agents.is_empty() {
            return Err("agents: none listed, so a run would test nothing".into());
        }
        let names: BTreeSet<&str> = agents.iter().map(|a| a.agent.as_str()).collect();
        if names.len() != agents.len() {
            return Err("agents: a name is used twice".into());
        }
        let mut case_sets = BTreeMap::new();
        for (name, set) in object(&value["case_sets"], "case_sets")? {
            let what = format!("case set {name:?}");
            let patterns = set["cases"]
                .as_array()
                .ok_or_else(|| format!("{what}: cases: not a list"))?
                .iter()
                .map(|p| p.as_str().ok_or_else(|| format!("{what}: cases: not text"))?.parse())
                .collect::<Result<Vec<Pattern>, String>>()?;
            let count =
                set["count"].as_u64().ok_or_else(|| format!("{what}: count: not a number"))?;
            case_sets.insert(name.clone(), CaseSet::new(name, patterns, count as usize)?);
        }
        let mut plans = BTreeMap::new();
        for (name, plan) in object(&value["plans"], "plans")? {
            let what = format!("plan {name:?}");
            let mut assigned = BTreeMap::new();
            for (agent, set) in object(&plan["agents"], &format!("{what}: agents"))? {
                let set = set.as_str().ok_or_else(|| format!("{what}: {agent}: not a set name"))?;
                assigned.insert(agent.clone(), set.to_owned());
            }
            let about = plan["about"].as_str().unwrap_or_default().to_owned();
            let plan = Plan { name: name.clone(), about, agents: assigned };
            plan.check(&agents, &case_sets)?;
            plans.insert(name.clone(), plan);
        }
        if plans.is_empty() {
            return Err("plans: none listed".into());
        }
        let informational = reasons(&value["informational"], "informational")?;
        let exclusions = reasons(&value["exclusions"], "exclusions")?;
        if let Some(both) = informational.keys().find(|c| exclusions.contains_key(*c)) {
            return Err(format!("{both} is both excluded and allowed to be INFORMATIONAL").into());
        }
        Ok(Expected { agents, case_sets, plans, informational, exclusions })
    }

    /// How many cases an agent running `set` must report: its count less its exclusions.
    pub fn expected_count(&self, set: &CaseSet) -> usize {
        let excluded = self.exclusions.keys().filter(|c| set.contains(c)).count();
        set.count.saturating_sub(excluded)
    }

    /// What is wrong with one agent's results. With `set` (a named plan's case set for the
    /// agent), the agent must have reported exactly that set's cases less the exclusions;
    /// without it (ad-hoc `--cases`) the cases are not counted. Either way every case must be
    /// graded OK, or INFORMATIONAL if `expected.json` lists it as such, in both its
    /// `behavior` and its `behaviorClose`.
    pub fn problems(&self, results: Option<&AgentResults>, set: Option<&CaseSet>) -> Vec<String> {
        let Some(results) = results else {
            return vec!["no results".to_owned()];
        };
        let mut problems = Vec::new();
        if let Some(set) = set {
            let expected_count = self.expected_count(set);
            if results.len() != expected_count {
                problems.push(format!(
                    "{} cases reported, expected {expected_count} (case set {})",
                    results.len(),
                    set.name
                ));
            }
        }
        for (id, result) in results {
            let informational_ok = self.informational.contains_key(id);
            let grade = |outcome: &str| match outcome {
                "OK" => None,
                "INFORMATIONAL" if informational_ok => None,
                "INFORMATIONAL" => {
                    Some("INFORMATIONAL, but expected.json does not list it as such")
                }
                _ => Some("not OK"),
            };
            if self.exclusions.contains_key(id) {
                problems.push(format!("{id}: excluded, but it ran"));
            } else if set.is_some_and(|s| !s.contains(id)) {
                problems.push(format!("{id}: not a case of this agent's plan, but it ran"));
            } else if let Some(why) = grade(&result.behavior).or(grade(&result.behavior_close)) {
                problems.push(format!(
                    "{id}: {} (close: {}): {why}, report {}",
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
        let excluded: BTreeSet<CaseId> = value["exclude-cases"]
            .as_array()
            .ok_or("exclude-cases: not a list")?
            .iter()
            .map(|c| c.as_str().ok_or("exclude-cases: not text")?.parse().map_err(|e: String| e))
            .collect::<Result<_, _>>()?;
        let listed: BTreeSet<CaseId> = expected.exclusions.keys().cloned().collect();
        if excluded != listed {
            let show = |s: &BTreeSet<CaseId>| s.iter().map(ToString::to_string).collect::<Vec<_>>();
            return Err(format!(
                "exclude-cases {:?} differ from the exclusions of expected.json {:?}",
                show(&excluded),
                show(&listed)
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
pub(crate) mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::autobahn::report::CaseResult;

    /// A small `expected.json`: two agents per role, the same two case sets and plans as the
    /// real one, one exclusion.
    pub(crate) const EXPECTED: &str = r#"{
        "agents": [
            {"agent": "ws-tokio-server", "adapter": "tokio", "role": "server"},
            {"agent": "ws-blocking-server", "adapter": "blocking", "role": "server"},
            {"agent": "ws-tokio-client", "adapter": "tokio", "role": "client"},
            {"agent": "ws-blocking-client", "adapter": "blocking", "role": "client"}
        ],
        "case_sets": {
            "all": {"cases": ["*"], "count": 517},
            "uncompressed": {"cases": ["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "8.*",
                                       "9.*", "10.*", "11.*"], "count": 301}
        },
        "plans": {
            "full": {"about": "everything", "agents": {
                "ws-tokio-server": "all", "ws-blocking-server": "all",
                "ws-tokio-client": "all", "ws-blocking-client": "all"}},
            "ci": {"about": "compression once per role", "agents": {
                "ws-tokio-server": "all", "ws-blocking-server": "uncompressed",
                "ws-tokio-client": "uncompressed", "ws-blocking-client": "all"}}
        },
        "informational": {"7.1.6": "why", "7.13.1": "why", "7.13.2": "why"},
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

    fn parse_err(text: &str) -> String {
        match Expected::parse(text) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn parses_agents_sets_plans_and_reasons() {
        let expected = Expected::parse(EXPECTED).unwrap();
        assert_eq!(expected.agents.len(), 4);
        assert_eq!(expected.agents[1].adapter, Some(Adapter::Blocking));
        assert_eq!(expected.agents[2].role, Role::Client);
        assert_eq!(expected.exclusions[&"1.1.3".parse().unwrap()], "a reason");
        let pinned: Vec<String> = expected.informational.keys().map(ToString::to_string).collect();
        assert_eq!(pinned, ["7.1.6", "7.13.1", "7.13.2"]);
        assert_eq!(expected.plans["ci"].agents["ws-tokio-client"], "uncompressed");
        // 1.1.3 is excluded, and it is a case of both sets.
        assert_eq!(expected.expected_count(&expected.case_sets["all"]), 516);
        assert_eq!(expected.expected_count(&expected.case_sets["uncompressed"]), 300);
    }

    #[test]
    fn a_client_on_no_adapter_names_its_client() {
        let own = concat!(
            r#"{"agent": "ws-tokio-client", "role": "client", "crate": "ws-uring", "#,
            r#""client": "uring"}"#
        );
        let tokio_client = r#"{"agent": "ws-tokio-client", "adapter": "tokio", "role": "client"}"#;
        let with = EXPECTED.replace(tokio_client, own);
        let expected = Expected::parse(&with).unwrap();
        let agent = expected.agents.iter().find(|a| a.agent == "ws-tokio-client").unwrap();
        assert_eq!((agent.adapter, agent.client.as_deref()), (None, Some("uring")));
        assert_eq!(agent.describe(), "ws-uring, client role");
        let nameless = with.replace(r#", "client": "uring""#, "");
        assert!(parse_err(&nameless).contains("an entry has no adapter"));
        let empty = with.replace(r#""client": "uring""#, r#""client": """#);
        assert!(parse_err(&empty).contains("client: no name"));
        let on_server = EXPECTED.replace(
            r#""adapter": "tokio", "role": "server"}"#,
            r#""adapter": "tokio", "role": "server", "client": "uring"}"#,
        );
        assert!(parse_err(&on_server).contains(r#"a server-role agent has no "client""#));
        // An adapter's client is its adapter's name.
        let expected = Expected::parse(EXPECTED).unwrap();
        let blocking = expected.agents.iter().find(|a| a.agent == "ws-blocking-client").unwrap();
        assert_eq!(blocking.client.as_deref(), Some("blocking"));
    }

    #[test]
    fn agents_may_name_their_crate_and_echo_server() {
        let expected = Expected::parse(EXPECTED).unwrap();
        let tokio = &expected.agents[0];
        assert_eq!(tokio.describe(), "ws-tokio, server role");
        assert_eq!(tokio.server, EchoServer { binary: "echo_server-tokio".into(), args: vec![] });

        let agent = r#"{"agent": "ws-server", "adapter": "tokio", "role": "server",
            "crate": "ws-server", "server": {"binary": "echo-ws-server", "args": ["--compression"]}},
            {"agent": "ws-tokio-client""#;
        let with = EXPECTED
            .replacen(r#"{"agent": "ws-tokio-client""#, agent, 1)
            .replace(
                r#""ws-tokio-client": "all","#,
                r#""ws-tokio-client": "all", "ws-server": "all","#,
            )
            .replace(
                r#""ws-tokio-client": "uncompressed","#,
                r#""ws-server": "all", "ws-tokio-client": "uncompressed","#,
            );
        let expected = Expected::parse(&with).unwrap();
        let agent = expected.agents.iter().find(|a| a.agent == "ws-server").unwrap();
        assert_eq!(agent.describe(), "ws-server (on ws-tokio), server role");
        assert_eq!(agent.server.binary, "echo-ws-server");
        assert_eq!(agent.server.args, ["--compression"]);

        let on_client = with.replace(
            r#""role": "server",
            "crate""#,
            r#""role": "client",
            "crate""#,
        );
        assert!(parse_err(&on_client).contains(r#"a client-role agent has no "server""#));
        let path = with.replace(r#""echo-ws-server""#, r#""../echo""#);
        assert!(parse_err(&path).contains("server: no binary file name"));
        let args = with.replace(r#"["--compression"]"#, "[1]");
        assert!(parse_err(&args).contains("args: not a list of text"));
        let no_crate = with.replace(r#""crate": "ws-server""#, r#""crate": """#);
        assert!(parse_err(&no_crate).contains("crate: not a crate name"));
    }

    #[test]
    fn refuses_an_empty_agent_list() {
        let start = EXPECTED.find("\"agents\": [").unwrap();
        let end = start + EXPECTED[start..].find(']').unwrap() + 1;
        let none = format!("{}\"agents\": []{}", &EXPECTED[..start], &EXPECTED[end..]);
        assert!(parse_err(&none).contains("agents: none listed"));
    }

    #[test]
    fn refuses_unreasoned_or_ambiguous_lists() {
        let no_reason = EXPECTED.replace("\"a reason\"", "\" \"");
        assert!(parse_err(&no_reason).contains("1.1.3 has no reason"));
        let twice =
            EXPECTED.replace("ws-blocking-client\", \"adapter", "ws-tokio-server\", \"adapter");
        assert!(parse_err(&twice).contains("used twice"));
        let bad_role = EXPECTED.replace("\"client\"", "\"peer\"");
        assert!(parse_err(&bad_role).contains("unknown role"));
        let no_why = EXPECTED.replace("\"7.13.1\": \"why\"", "\"7.13.1\": \"\"");
        assert!(parse_err(&no_why).contains("7.13.1 has no reason"));
        let not_a_case = EXPECTED.replace("\"7.13.1\": \"why\"", "\"7.*\": \"why\"");
        assert!(parse_err(&not_a_case).contains("informational"));
        let both = EXPECTED.replace("\"1.1.3\": \"a reason\"", "\"7.1.6\": \"a reason\"");
        assert!(parse_err(&both).contains("both excluded and"));
        let no_pin_list = EXPECTED.replace("\"informational\"", "\"informative\"");
        assert!(parse_err(&no_pin_list).contains("informational: not an object"));
    }

    #[test]
    fn refuses_plans_that_leave_an_agent_or_a_case_out() {
        let missing = EXPECTED.replace("\"ws-blocking-server\": \"uncompressed\",", "");
        assert!(parse_err(&missing).contains("no case set for ws-blocking-server"), "{missing}");
        let unknown = EXPECTED
            .replace("\"ws-blocking-server\": \"uncompressed\"", "\"ws-x\": \"uncompressed\"");
        assert!(parse_err(&unknown).contains("unknown agent \"ws-x\""));
        let no_set = EXPECTED
            .replace("\"ws-blocking-client\": \"all\"}}", "\"ws-blocking-client\": \"most\"}}");
        assert!(parse_err(&no_set).contains("unknown case set \"most\""));
        // Compression on no client: every case must run in each role at least once.
        let no_client = EXPECTED.replace(
            "\"ws-blocking-client\": \"all\"}}",
            "\"ws-blocking-client\": \"uncompressed\"}}",
        );
        assert!(parse_err(&no_client).contains("no client agent runs 12.1.*"));
        let no_about = EXPECTED.replace("\"about\": \"everything\"", "\"about\": \" \"");
        assert!(parse_err(&no_about).contains("no \"about\""));
    }

    #[test]
    fn refuses_case_sets_that_do_not_map_onto_batches() {
        let set =
            |cases: &str| EXPECTED.replace("\"cases\": [\"*\"]", &format!("\"cases\": [{cases}]"));
        assert!(
            parse_err(&set("\"12.1.1.*\", \"1.*\"")).contains("part of the batch pattern 12.1.*")
        );
        assert!(parse_err(&set("\"14.*\"")).contains("selects no batch"));
        assert!(parse_err(&set("\"12.*\", \"12.2.*\"")).contains("overlap"));
        assert!(parse_err(&set("\"1.1.1\"")).contains("not a case pattern"));
        assert!(parse_err(&set("\"1*\"")).contains("not a case pattern"));
        assert!(parse_err(&set("")).contains("no cases"));
    }

    #[test]
    fn problems_name_every_bad_case() {
        let expected = Expected::parse(EXPECTED).unwrap();
        let set =
            CaseSet::new("small", vec!["1.*".parse().unwrap(), "7.*".parse().unwrap()], 4).unwrap();
        assert_eq!(expected.problems(None, Some(&set)), ["no results"]);

        let mut cases = AgentResults::new();
        let mut put = |id: &str, r: CaseResult| cases.insert(id.parse().unwrap(), r);
        put("1.1.1", result("OK", "OK"));
        put("1.1.2", result("OK", "OK"));
        put("7.1.6", result("INFORMATIONAL", "INFORMATIONAL"));
        // 4 cases in the set, 1.1.3 excluded: 3 expected.
        assert!(expected.problems(Some(&cases), Some(&set)).is_empty());

        cases.insert("1.1.2".parse().unwrap(), result("OK", "WRONG CODE"));
        let problems = expected.problems(Some(&cases), Some(&set));
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("1.1.2: OK (close: WRONG CODE): not OK"), "{problems:?}");

        cases.insert("1.1.2".parse().unwrap(), result("NON-STRICT", "OK"));
        cases.insert("1.1.3".parse().unwrap(), result("OK", "OK"));
        let problems = expected.problems(Some(&cases), Some(&set));
        assert_eq!(problems.len(), 3, "{problems:?}"); // count, NON-STRICT, excluded but ran

        cases.remove(&"1.1.3".parse().unwrap());
        cases.remove(&"1.1.2".parse().unwrap());
        let problems = expected.problems(Some(&cases), Some(&set));
        assert_eq!(problems, ["2 cases reported, expected 3 (case set small)"]);
        assert!(expected.problems(Some(&cases), None).is_empty()); // ad-hoc cases: not counted
    }

    #[test]
    fn only_the_pinned_cases_may_be_informational() {
        let expected = Expected::parse(EXPECTED).unwrap();
        let set = &expected.case_sets["uncompressed"];
        let check = |id: &str, r: CaseResult| {
            let mut cases = AgentResults::new();
            cases.insert(id.parse().unwrap(), r);
            expected.problems(Some(&cases), None)
        };
        assert!(check("7.13.1", result("INFORMATIONAL", "OK")).is_empty());
        assert!(check("7.13.2", result("OK", "INFORMATIONAL")).is_empty());
        assert!(check("7.1.6", result("OK", "OK")).is_empty());
        // Not pinned: INFORMATIONAL in either field fails.
        let problems = check("7.1.5", result("INFORMATIONAL", "OK"));
        assert!(problems[0].contains("does not list it"), "{problems:?}");
        let problems = check("1.1.1", result("OK", "INFORMATIONAL"));
        assert!(problems[0].contains("does not list it"), "{problems:?}");
        // Pinned, but graded worse than INFORMATIONAL.
        for bad in ["NON-STRICT", "FAILED", "UNIMPLEMENTED", "WRONG CODE"] {
            assert_eq!(check("7.13.1", result(bad, "OK")).len(), 1, "{bad}");
            assert_eq!(check("7.1.6", result("OK", bad)).len(), 1, "{bad}");
        }
        // A case outside the agent's set is a problem even when it passed.
        let mut cases = AgentResults::new();
        cases.insert("12.1.1".parse().unwrap(), result("OK", "OK"));
        let problems = expected.problems(Some(&cases), Some(set));
        assert!(problems.iter().any(|p| p.starts_with("12.1.1: not a case of this agent's plan")));
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
        assert!(SpecTemplate::parse(silent, &expected).unwrap_err().to_string().contains("2.1.1"));
        let partial = r#"{"cases": ["1.*"], "exclude-cases": ["1.1.3"]}"#;
        assert!(SpecTemplate::parse(partial, &expected).is_err());
        let per_agent = r#"{"cases": ["*"], "exclude-cases": ["1.1.3"], "exclude-agent-cases": {"a": ["1.*"]}}"#;
        assert!(SpecTemplate::parse(per_agent, &expected).is_err());
    }
}
