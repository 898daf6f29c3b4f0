use super::*;
use crate::autobahn::expect::tests::EXPECTED;

/// The real `expected.json`, so its plans are checked by `cargo test` too.
const REAL: &str = include_str!("../../../autobahn/expected.json");

fn fixture() -> Expected {
    Expected::parse(EXPECTED).unwrap()
}

fn pattern(s: &str) -> Pattern {
    s.parse().unwrap()
}

fn request(plan: &str, ci: bool) -> Request {
    Request { plan: plan.to_owned(), ci, ..Request::default() }
}

fn list(items: &[&str]) -> Option<Vec<String>> {
    Some(items.iter().map(|s| s.to_string()).collect())
}

fn refusal(expected: &Expected, request: &Request) -> String {
    match select(expected, request) {
        Ok(s) => panic!("accepted {request:?}: {} agents", s.runs.len()),
        Err(e) => e,
    }
}

#[test]
fn patterns_parse_cover_and_match() {
    assert_eq!(pattern("*").to_string(), "*");
    assert_eq!(pattern("12.1.*").to_string(), "12.1.*");
    for bad in ["", "12", "12.1", "1*", "1.x.*", "*.*", "12.*.*", " 1.*", "+1.*"] {
        assert!(bad.parse::<Pattern>().is_err(), "{bad:?}");
    }
    assert!(pattern("*").covers(&pattern("12.1.*")));
    assert!(pattern("12.*").covers(&pattern("12.1.*")));
    assert!(pattern("12.1.*").covers(&pattern("12.1.*")));
    assert!(!pattern("12.1.*").covers(&pattern("12.*")));
    assert!(!pattern("1.*").covers(&pattern("12.*")));
    let id = |s: &str| s.parse::<CaseId>().unwrap();
    assert!(pattern("1.*").matches(&id("1.1.1")));
    assert!(!pattern("1.*").matches(&id("10.1.1")));
    assert!(!pattern("1.*").matches(&id("1")));
    assert!(pattern("*").matches(&id("13.7.18")));
}

#[test]
fn case_sets_become_exactly_their_batches() {
    let expected = fixture();
    let all = &expected.case_sets["all"];
    assert_eq!(all.batches(), batches());
    assert!(all.left_out().is_empty());

    let uncompressed = &expected.case_sets["uncompressed"];
    let labels: Vec<String> = uncompressed.batches().into_iter().map(|b| b.label).collect();
    assert_eq!(labels, ["1-11"]);
    assert_eq!(uncompressed.left_out(), [pattern("12.*"), pattern("13.*")]);

    // A set may cut a batch down to whole patterns; what it leaves out stays exact.
    let some = CaseSet::new("some", vec![pattern("1.*"), pattern("12.1.*")], 34).unwrap();
    let cut: Vec<(String, Vec<String>)> =
        some.batches().into_iter().map(|b| (b.label, b.cases)).collect();
    assert_eq!(
        cut,
        [("1".to_owned(), vec!["1.*".to_owned()]), ("12.1".to_owned(), vec!["12.1.*".to_owned()])]
    );
    let left: Vec<String> = some.left_out().iter().map(ToString::to_string).collect();
    assert_eq!(
        left,
        [
            "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "8.*", "9.*", "10.*", "11.*", "12.2.*",
            "12.3.*", "12.4.*", "12.5.*", "13.*"
        ]
    );
    assert!(some.contains(&"12.1.18".parse().unwrap()));
    assert!(!some.contains(&"12.2.1".parse().unwrap()));
}

#[test]
fn ci_is_on_unless_unset_empty_zero_or_false() {
    for on in ["true", "1", "yes", "TRUE"] {
        assert!(ci_from_env(Some(on)), "{on}");
    }
    for off in [None, Some(""), Some("0"), Some("false"), Some("False")] {
        assert!(!ci_from_env(off), "{off:?}");
    }
}

#[test]
fn ci_accepts_the_named_plans_whole() {
    let expected = fixture();
    let selection = select(&expected, &request("ci", true)).unwrap();
    assert!(selection.partial.is_none());
    let batches: Vec<(&str, usize)> =
        selection.runs.iter().map(|r| (r.agent.agent.as_str(), r.batches.len())).collect();
    assert_eq!(
        batches,
        [
            ("ws-tokio-server", 13),
            ("ws-blocking-server", 1),
            ("ws-tokio-client", 1),
            ("ws-blocking-client", 13)
        ]
    );
    let full = select(&expected, &request("full", true)).unwrap();
    assert!(full.runs.iter().all(|r| r.batches.len() == 13 && r.set.unwrap().name == "all"));
}

#[test]
fn ci_refuses_ad_hoc_cases_and_agents() {
    let expected = fixture();
    let cases = Request { cases: list(&["1.*"]), ..request("ci", true) };
    let why = refusal(&expected, &cases);
    assert!(why.contains("CI is set: refusing --cases (AUTOBAHN_CASES)"), "{why}");
    // Even naming every agent is an ad-hoc list under CI.
    let every: Vec<&str> = expected.agents.iter().map(|a| a.agent.as_str()).collect();
    let agents = Request { agents: list(&every), ..request("full", true) };
    assert!(refusal(&expected, &agents).contains("refusing --agents (AUTOBAHN_AGENTS)"));
    let both = Request { cases: list(&["*"]), agents: list(&every), ..request("full", true) };
    assert!(refusal(&expected, &both).starts_with("CI is set"));
}

#[test]
fn refuses_runs_that_test_nothing() {
    let mut expected = fixture();
    // An --agents filter that selects none (`--agents ,` parses to an empty list).
    let none = Request { agents: list(&[]), ..request("ci", false) };
    assert!(refusal(&expected, &none).contains("--agents selects no agent"));
    let no_cases = Request { cases: list(&[]), ..request("ci", false) };
    assert!(refusal(&expected, &no_cases).contains("--cases selects no case"));
    let unknown = Request { agents: list(&["ws-tokio-server", "ws-x"]), ..request("ci", false) };
    assert!(refusal(&expected, &unknown).contains("unknown agent \"ws-x\""));
    assert!(refusal(&expected, &request("quick", true)).contains("unknown plan \"quick\""));
    // expected.json refuses an empty agent list when it is read (see expect's tests); a value
    // built some other way is refused here too, CI or not.
    expected.agents.clear();
    for ci in [true, false] {
        assert!(refusal(&expected, &request("ci", ci)).contains("names no agent"));
    }
}

#[test]
fn development_runs_say_they_are_partial() {
    let expected = fixture();
    let cases = Request { cases: list(&["1.*", "12.1.*"]), ..request("ci", false) };
    let selection = select(&expected, &cases).unwrap();
    assert_eq!(selection.partial.as_deref(), Some("--cases 1.*,12.1.*"));
    assert_eq!(selection.runs.len(), 4);
    assert!(selection.runs.iter().all(|r| r.set.is_none() && r.batches.len() == 2));
    assert_eq!(selection.runs[0].batches[0].label, "1.all");

    let agents = Request { agents: list(&["ws-blocking-client"]), ..request("ci", false) };
    let selection = select(&expected, &agents).unwrap();
    assert_eq!(selection.partial.as_deref(), Some("--agents ws-blocking-client"));
    assert_eq!(selection.runs.len(), 1);
    // A plan's agent keeps its set, so its cases are still counted.
    assert_eq!(selection.runs[0].set.unwrap().name, "all");
}

#[test]
fn scope_says_what_each_agent_ran() {
    let expected = fixture();
    let selection = select(&expected, &request("ci", true)).unwrap();
    let plan = selection.plan;
    let line = |i: usize, n: usize| scope(&expected, plan, &selection.runs[i], n);
    assert_eq!(line(0, 516), "516 of 516 cases, every case");
    assert_eq!(line(2, 300), "300 of 300 cases; 12.*, 13.* only in plan full");
    assert_eq!(line(2, 299), "299 of 300 cases; 12.*, 13.* only in plan full");

    let adhoc = Request { cases: list(&["1.*", "2.*"]), ..request("ci", false) };
    let selection = select(&expected, &adhoc).unwrap();
    assert_eq!(scope(&expected, plan, &selection.runs[0], 20), "20 cases, ad-hoc --cases 1.*,2.*");
}

#[test]
fn the_real_plans_are_the_documented_ones() {
    let expected = Expected::parse(REAL).unwrap();
    assert_eq!(expected.agents.len(), 11);
    let ws_pipe = expected.agents.iter().find(|a| a.agent == "ws-pipe").unwrap();
    assert_eq!((ws_pipe.crate_name.as_str(), ws_pipe.role), ("ws-pipe", Role::Server));
    assert_eq!(ws_pipe.server.binary, "ws-pipe");
    let ws_server = expected.agents.iter().find(|a| a.agent == "ws-server").unwrap();
    assert_eq!((ws_server.crate_name.as_str(), ws_server.role), ("ws-server", Role::Server));
    assert_eq!(ws_server.server.binary, "echo-ws-server");
    // ws-uring runs on no adapter: it names its crate and its echo server.
    let ws_uring = expected.agents.iter().find(|a| a.agent == "ws-uring").unwrap();
    assert_eq!((ws_uring.crate_name.as_str(), ws_uring.adapter), ("ws-uring", None));
    assert_eq!(ws_uring.server.binary, "echo_server-uring");
    assert_eq!(ws_uring.describe(), "ws-uring, server role");
    assert_eq!(ws_uring.client, None);
    // Its client too, as autobahn-client --adapter uring.
    let uring_client = expected.agents.iter().find(|a| a.agent == "ws-uring-client").unwrap();
    assert_eq!(
        (uring_client.crate_name.as_str(), uring_client.role, uring_client.adapter),
        ("ws-uring", Role::Client, None)
    );
    assert_eq!(uring_client.client.as_deref(), Some("uring"));
    assert_eq!(uring_client.describe(), "ws-uring, client role");
    let tokio_client = expected.agents.iter().find(|a| a.agent == "ws-tokio-client").unwrap();
    assert_eq!(tokio_client.client.as_deref(), Some("tokio"));
    let mio = expected.agents.iter().find(|a| a.agent == "ws-proto-mio").unwrap();
    assert_eq!((mio.crate_name.as_str(), mio.role, mio.adapter), ("ws-proto", Role::Server, None));
    assert_eq!(mio.server.binary, "mio_server-ws-proto");
    assert_eq!(expected.expected_count(&expected.case_sets["all"]), 517);
    assert_eq!(expected.expected_count(&expected.case_sets["uncompressed"]), 301);
    let pinned: Vec<String> = expected.informational.keys().map(ToString::to_string).collect();
    assert_eq!(pinned, ["7.1.6", "7.13.1", "7.13.2"]);
    assert!(expected.exclusions.is_empty());

    let full = select(&expected, &request("full", true)).unwrap();
    assert!(full.runs.iter().all(|r| r.set.unwrap().name == "all"));
    // CI: compression on one server and one client, of different adapters.
    let ci = select(&expected, &request("ci", true)).unwrap();
    let compressed: Vec<&str> = ci
        .runs
        .iter()
        .filter(|r| r.set.unwrap().name == "all")
        .map(|r| r.agent.agent.as_str())
        .collect();
    assert_eq!(compressed, ["ws-tokio-server", "ws-async-std-client"]);
    let others = ci.runs.iter().filter(|r| r.set.unwrap().name == "uncompressed");
    assert_eq!(others.count(), 9);
    let batches: usize = ci.runs.iter().map(|r| r.batches.len()).sum();
    assert_eq!(batches, 2 * 13 + 9);
}
