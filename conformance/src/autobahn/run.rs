//! Running the plan: echo servers, wstest processes, the client binary, a bounded pool of
//! parallel jobs, then the merged summary.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::Batch;
use super::expect::{AgentSpec, EchoServer, Expected, Role, SpecTemplate};
use super::plan::{self, Request};
use super::report::{self, Results, Row, Summary};
use crate::process::{self, Child};
use crate::session::BoxError;

/// The first and last port a fuzzing server may listen on.
const PORTS: (u16, u16) = (9501, 9599);

/// What to run and where.
#[derive(Debug, Clone)]
pub struct Options {
    /// The `wstest` wrapper.
    pub wstest: PathBuf,
    /// Where the echo servers (`echo_server-<adapter>`, `echo-ws-server`) and
    /// `autobahn-client` are.
    pub bin_dir: PathBuf,
    /// The directory with `expected.json`, `fuzzingclient.json` and `fuzzingserver.json`.
    pub spec_dir: PathBuf,
    /// The reports directory (emptied first).
    pub out: PathBuf,
    /// How many wstest processes run at once.
    pub jobs: usize,
    /// How long one batch may take before it is killed and counted as failed.
    pub job_timeout: Duration,
    /// The named plan of `expected.json` to run (`ci`, `full`).
    pub plan: String,
    /// Only these case patterns (one batch each): a partial run, refused under CI.
    pub cases: Option<Vec<String>>,
    /// Only these agents: a partial run, refused under CI.
    pub agents: Option<Vec<String>>,
    /// Whether this is CI (the `CI` environment variable): only a named plan, whole.
    pub ci: bool,
}

struct Job<'a> {
    agent: &'a AgentSpec,
    batch: &'a Batch,
}

struct Outcome {
    agent: String,
    label: String,
    /// The batch's report directory, relative to the reports directory.
    dir: PathBuf,
    seconds: f64,
    error: Option<String>,
}

/// Runs the plan; returns whether every agent's results are as expected.
pub fn run(options: &Options) -> Result<bool, BoxError> {
    let expected = Expected::load(&options.spec_dir.join("expected.json"))?;
    let client_spec = SpecTemplate::load(&options.spec_dir.join("fuzzingclient.json"), &expected)?;
    let server_spec = SpecTemplate::load(&options.spec_dir.join("fuzzingserver.json"), &expected)?;
    let request = Request {
        plan: options.plan.clone(),
        cases: options.cases.clone(),
        agents: options.agents.clone(),
        ci: options.ci,
    };
    let selection = plan::select(&expected, &request)?;
    let agents: Vec<&AgentSpec> = selection.runs.iter().map(|r| r.agent).collect();
    println!("autobahn: plan {}: {}", selection.plan.name, selection.plan.about);
    for run in &selection.runs {
        let set =
            run.set.map_or_else(|| "ad-hoc cases".to_owned(), |s| format!("case set {}", s.name));
        let labels: Vec<&str> = run.batches.iter().map(|b| b.label.as_str()).collect();
        println!("autobahn:   {}: {set}, batches {}", run.agent.agent, labels.join(" "));
    }
    if let Some(why) = &selection.partial {
        println!("autobahn: PARTIAL RUN ({why}), for development only");
    }

    if options.out.exists() {
        std::fs::remove_dir_all(&options.out)?;
    }
    std::fs::create_dir_all(&options.out)?;
    let out = std::fs::canonicalize(&options.out)?;

    // One echo server per server-role agent's command line, shared by its batches.
    let mut servers = BTreeMap::new();
    for agent in agents.iter().filter(|a| a.role == Role::Server) {
        let server = &agent.server;
        if servers.contains_key(server) {
            continue;
        }
        let mut command = Command::new(options.bin_dir.join(&server.binary));
        command.args(["--addr", "127.0.0.1:0"]).args(&server.args);
        let log = out.join(format!("{}.log", server.binary));
        let name = format!("{} {}", agent.crate_name, server.binary);
        let mut child = Child::spawn(&name, &mut command, &log)?;
        let url = child.wait_for_line(Duration::from_secs(30), |line| {
            let at = line.find("ws://")?;
            line[at..].split_whitespace().next().map(str::to_owned)
        })?;
        let args = server.args.iter().map(|a| format!(" {a}")).collect::<String>();
        println!("autobahn: {name}{args} at {url}");
        servers.insert(server.clone(), (child, url));
    }

    let started = Instant::now();
    // Costliest batches first, the agents interleaved within a cost (position, then agent).
    let mut jobs: Vec<(u32, usize, usize, Job<'_>)> = Vec::new();
    for (a, run) in selection.runs.iter().enumerate() {
        for (b, batch) in run.batches.iter().enumerate() {
            jobs.push((batch.cost, b, a, Job { agent: run.agent, batch }));
        }
    }
    jobs.sort_by_key(|(cost, b, a, _)| (std::cmp::Reverse(*cost), *b, *a));
    let queue: VecDeque<Job<'_>> = jobs.into_iter().map(|(_, _, _, job)| job).collect();
    let total = queue.len();
    println!("autobahn: {total} batches for {} agents, {} at a time", agents.len(), options.jobs);
    let urls: BTreeMap<EchoServer, String> =
        servers.iter().map(|(k, (_, url))| (k.clone(), url.clone())).collect();
    let ctx = Context {
        options,
        out: &out,
        client_spec: &client_spec,
        server_spec: &server_spec,
        urls,
        ports: Mutex::default(),
    };
    let queue = Mutex::new(queue);
    let outcomes = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.max(1) {
            scope.spawn(|| {
                loop {
                    // Taken in its own statement: the queue is not locked while the job runs.
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                    let Some(job) = next else { break };
                    let outcome = ctx.run_job(&job);
                    let mut done = outcomes.lock().unwrap_or_else(|e| e.into_inner());
                    done.push(outcome);
                    let last = done.last().map(|o| {
                        let status =
                            o.error.as_deref().map_or("ok".to_owned(), |e| format!("ERROR: {e}"));
                        format!("{} {}: {:.0} s, {status}", o.agent, o.label, o.seconds)
                    });
                    println!(
                        "autobahn: [{}/{total} at {:.0} s] {}",
                        done.len(),
                        started.elapsed().as_secs_f64(),
                        last.unwrap_or_default()
                    );
                    let _ = std::io::stdout().flush();
                }
            });
        }
    });
    let mut outcomes = outcomes.into_inner().unwrap_or_else(|e| e.into_inner());
    outcomes.sort_by(|a, b| (&a.agent, &a.label).cmp(&(&b.agent, &b.label)));

    // A server that died during the run fails its agents even if wstest wrote reports.
    let mut server_errors = BTreeMap::new();
    for (server, (child, _)) in &mut servers {
        if let Some(status) = child.try_wait()? {
            let why = format!("{} exited during the run ({status})", server.binary);
            server_errors.insert(server.clone(), why);
        }
    }
    drop(servers);

    let mut results = Results::default();
    let mut batch_pages = Vec::new();
    for outcome in &outcomes {
        let index = out.join(&outcome.dir).join("index.json");
        match std::fs::read_to_string(&index) {
            Ok(text) => {
                results.merge_index(&text, &outcome.dir)?;
                batch_pages.push((
                    format!("{} {}", outcome.agent, outcome.label),
                    outcome.dir.join("index.html"),
                ));
            }
            Err(_) if outcome.error.is_some() => {}
            Err(e) => return Err(format!("{}: {e}", index.display()).into()),
        }
    }

    let mut rows = Vec::new();
    for run in &selection.runs {
        let agent = run.agent;
        let cases = results.agents.get(&agent.agent);
        let mut problems: Vec<String> = outcomes
            .iter()
            .filter(|o| o.agent == agent.agent)
            .filter_map(|o| o.error.as_ref().map(|e| format!("batch {}: {e}", o.label)))
            .collect();
        if agent.role == Role::Server {
            problems.extend(server_errors.get(&agent.server).cloned());
        }
        problems.extend(expected.problems(cases, run.set));
        let reported = cases.map_or(0, |c| c.len());
        rows.push(Row {
            agent: agent.agent.clone(),
            what: agent.describe(),
            scope: plan::scope(&expected, selection.plan, run, reported),
            summary: cases.map(Summary::of).unwrap_or_default(),
            seconds: outcomes.iter().filter(|o| o.agent == agent.agent).map(|o| o.seconds).sum(),
            problems,
        });
    }
    // Results from agents nobody asked for (a misnamed agent) are problems too.
    let strays: Vec<&String> =
        results.agents.keys().filter(|k| !agents.iter().any(|a| &a.agent == *k)).collect();
    report::write_pages(&out, &rows, &results, &batch_pages)?;

    println!(
        "\nautobahn: results of plan {} ({:.0} s wall time){}",
        selection.plan.name,
        started.elapsed().as_secs_f64(),
        selection.partial.as_ref().map_or(String::new(), |why| format!(", PARTIAL RUN ({why})"))
    );
    let width = rows.iter().map(|r| r.agent.len()).max().unwrap_or(0);
    for row in &rows {
        println!("{:width$}  {}   [{}: {}]", row.agent, row.summary, row.what, row.scope);
    }
    let mut ok = strays.is_empty();
    for stray in strays {
        println!("unexpected agent in the results: {stray}");
    }
    for row in &rows {
        for (i, problem) in row.problems.iter().enumerate() {
            if i == 25 {
                println!("  {}: … and {} more", row.agent, row.problems.len() - i);
                break;
            }
            println!("  {}: {problem}", row.agent);
        }
        ok &= row.problems.is_empty();
    }
    println!("autobahn: reports in {}", out.join("index.html").display());
    Ok(ok)
}

struct Context<'a> {
    options: &'a Options,
    out: &'a Path,
    client_spec: &'a SpecTemplate,
    server_spec: &'a SpecTemplate,
    /// The URL of each server-role agent's echo server.
    urls: BTreeMap<EchoServer, String>,
    /// Fuzzing-server ports in use.
    ports: Mutex<BTreeSet<u16>>,
}

impl Context<'_> {
    fn run_job(&self, job: &Job<'_>) -> Outcome {
        let dir =
            PathBuf::from(job.agent.role.to_string()).join(&job.agent.agent).join(&job.batch.label);
        let started = Instant::now();
        let result = std::fs::create_dir_all(self.out.join(&dir))
            .map_err(BoxError::from)
            .and_then(|()| match job.agent.role {
                Role::Server => self.server_batch(job, &self.out.join(&dir)),
                Role::Client => self.client_batch(job, &self.out.join(&dir)),
            })
            .and_then(|()| match self.out.join(&dir).join("index.json").exists() {
                true => Ok(()),
                false => Err("wstest wrote no index.json".into()),
            });
        Outcome {
            agent: job.agent.agent.clone(),
            label: job.batch.label.clone(),
            dir,
            seconds: started.elapsed().as_secs_f64(),
            error: result.err().map(|e| e.to_string()),
        }
    }

    fn write_spec(&self, dir: &Path, spec: &serde_json::Value) -> Result<PathBuf, BoxError> {
        let path = dir.join("spec.json");
        std::fs::write(&path, serde_json::to_string_pretty(spec)? + "\n")?;
        Ok(path)
    }

    /// wstest -m fuzzingclient against the adapter's echo server.
    fn server_batch(&self, job: &Job<'_>, dir: &Path) -> Result<(), BoxError> {
        let url = self.urls.get(&job.agent.server).ok_or("no echo server")?;
        let spec = self.client_spec.fuzzingclient(dir, &job.agent.agent, url, &job.batch.cases);
        let spec = self.write_spec(dir, &spec)?;
        let mut wstest = Child::spawn(
            "wstest -m fuzzingclient",
            Command::new(&self.options.wstest)
                .arg("-m")
                .arg("fuzzingclient")
                .arg("-s")
                .arg(&spec)
                .current_dir(dir),
            &dir.join("wstest.log"),
        )?;
        match wstest.wait_timeout(self.options.job_timeout)? {
            Some(status) if status.success() => Ok(()),
            Some(status) => Err(wstest.error(&format!("failed ({status})")).into()),
            None => {
                Err(wstest.error(&format!("timed out after {:?}", self.options.job_timeout)).into())
            }
        }
    }

    /// wstest -m fuzzingserver on a free port, and our client against it.
    fn client_batch(&self, job: &Job<'_>, dir: &Path) -> Result<(), BoxError> {
        let port = self.take_port()?;
        let result = self.client_batch_on(job, dir, port);
        self.ports.lock().unwrap_or_else(|e| e.into_inner()).remove(&port);
        release_port(port);
        result
    }

    fn client_batch_on(&self, job: &Job<'_>, dir: &Path, port: u16) -> Result<(), BoxError> {
        let url = format!("ws://127.0.0.1:{port}");
        let spec = self.server_spec.fuzzingserver(dir, &url, &job.batch.cases);
        let spec = self.write_spec(dir, &spec)?;
        let mut wstest = Child::spawn(
            "wstest -m fuzzingserver",
            Command::new(&self.options.wstest)
                .args(["-m", "fuzzingserver", "--webport", "0", "-s"])
                .arg(&spec)
                .current_dir(dir),
            &dir.join("wstest.log"),
        )?;
        wstest.wait_for_port(port, Duration::from_secs(60))?;
        let adapter = job.agent.client.as_deref().ok_or("a client-role agent without a client")?;
        let mut client = Child::spawn(
            "autobahn-client",
            Command::new(self.options.bin_dir.join("autobahn-client")).args([
                "--adapter",
                adapter,
                "--url",
                &url,
                "--agent",
                &job.agent.agent,
            ]),
            &dir.join("client.log"),
        )?;
        let status = client.wait_timeout(self.options.job_timeout)?;
        wstest.kill();
        match status {
            Some(status) if status.success() => Ok(()),
            Some(status) => Err(client.error(&format!("failed ({status})")).into()),
            None => {
                Err(client.error(&format!("timed out after {:?}", self.options.job_timeout)).into())
            }
        }
    }

    /// A port in [`PORTS`] that no other job uses and that can be bound now.
    fn take_port(&self) -> Result<u16, BoxError> {
        let mut used = self.ports.lock().unwrap_or_else(|e| e.into_inner());
        let port = (PORTS.0..=PORTS.1)
            .find(|p| !used.contains(p) && process::port_is_free(*p) && claim_port(*p))
            .ok_or_else(|| format!("no free port in {}-{}", PORTS.0, PORTS.1))?;
        used.insert(port);
        Ok(port)
    }
}

/// The claim file of a fuzzing-server port: two Autobahn runs on one machine (a developer's
/// and a CI run, say) would otherwise both find a port free, start wstest on it, and one of
/// them would talk to the other's server.
fn port_claim(port: u16) -> PathBuf {
    std::env::temp_dir().join(format!("ws-conformance-autobahn-port-{port}"))
}

/// Claims `port` for this process (a file created only if absent, holding our PID); a claim
/// whose process is gone is taken over.
fn claim_port(port: u16) -> bool {
    let path = port_claim(port);
    for _ in 0..2 {
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut file) => return writeln!(file, "{}", std::process::id()).is_ok(),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let owner = std::fs::read_to_string(&path).unwrap_or_default();
                let alive = owner
                    .trim()
                    .parse::<u32>()
                    .is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
                if alive {
                    return false;
                }
                let _ = std::fs::remove_file(&path); // stale: its run died
            }
            Err(_) => return false,
        }
    }
    false
}

fn release_port(port: u16) {
    let path = port_claim(port);
    let ours = std::fs::read_to_string(&path)
        .is_ok_and(|owner| owner.trim() == std::process::id().to_string());
    if ours {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::{claim_port, port_claim, release_port};

    #[test]
    fn a_port_claim_keeps_others_off_until_released_or_its_run_died() {
        // Port numbers outside the fuzzing-server range: only the claim files matter here.
        let port = 1;
        let _ = std::fs::remove_file(port_claim(port));
        assert!(claim_port(port));
        assert!(!claim_port(port), "a live run's claim holds");
        release_port(port);
        assert!(claim_port(port), "released");
        release_port(port);
        // A claim left by a run that is gone (no such PID) is taken over.
        let stale = 2;
        std::fs::write(port_claim(stale), "4294967294\n").unwrap();
        assert!(claim_port(stale));
        release_port(stale);
        assert!(!port_claim(stale).exists());
    }
}
