//! `emtape matrix`: one check across every release on tape, as a table: which releases a flow
//! (the scenario, in XML and JSON) or a client (`--client CMD`) works with; and with `--diff`,
//! what changed from release to release, as a compatibility changelog.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::run::variables;
use super::{Exit, Failure, runtime};
use crate::cassette::{self, LoadedCassette};
use crate::cli::{CrawlRepr, MatrixArgs};
use crate::clientcheck::result::ClientReport;
use crate::clientcheck::{CheckOptions, Checker};
use crate::diff::{DriftKind, Severity};
use crate::http::client::Client;
use crate::http::server::{Server, ServerOptions};
use crate::http::tls;
use crate::mock::{Mock, MockOptions};
use crate::report::Style;
use crate::runner::result::Outcome;
use crate::runner::{self, Credentials, RunOptions, Secret};
use crate::scenario::{self, Scenario, parse_duration};

/// One cell: a release and a check (the scenario in a representation, or the client).
#[derive(Debug, Serialize)]
struct Cell {
    release: String,
    check: String,
    passed: bool,
    expected_to_fail: bool,
    /// `8/8 steps`, `exit 0, 1 session`.
    summary: String,
    /// Why it failed, in one line.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// Everything else that went wrong (the client check's problems, the client's stderr).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    details: Vec<String>,
    millis: f64,
    /// For a client: the mock's own time (start, check, stop), the client's excluded.
    #[serde(skip_serializing_if = "Option::is_none")]
    overhead_ms: Option<f64>,
}

pub(super) fn matrix(args: MatrixArgs) -> Result<Exit, Failure> {
    let known = cassette::release_names();
    let canonical = |r: &str| if r.eq_ignore_ascii_case("reference") { "13".to_owned() } else { r.to_owned() };
    let releases: Vec<String> = if args.releases.is_empty() {
        known.iter().map(|s| (*s).to_owned()).collect()
    } else {
        args.releases.iter().map(|r| canonical(r)).collect()
    };
    let expect_fail: Vec<String> = args.expect_fail.iter().map(|r| canonical(r)).collect();
    for r in releases.iter().chain(&expect_fail) {
        if !known.contains(&r.as_str()) {
            return Err(Failure::bad_input(format!(
                "release {r} is not on tape; the releases are {}",
                known.join(", ")
            )));
        }
    }
    let style = Style::for_stdout();
    if args.diff {
        if releases.len() < 2 {
            return Err(Failure::bad_input(format!(
                "--diff compares releases: name two or more (--releases {}), or leave --releases out for all of them",
                known.join(",")
            )));
        }
        let log = changelog(&releases)?;
        print!("{}", changelog_text(&log, style));
        if let Some(path) = &args.markdown {
            write(path, &changelog_markdown(&log))?;
        }
        if let Some(path) = &args.json {
            write(path, &(serde_json::to_string_pretty(&log).unwrap_or_default() + "\n"))?;
        }
        return Ok(Exit::Success);
    }
    let scenario = match &args.scenario {
        Some(path) => Scenario::load(path),
        None => Scenario::parse(&format!("built-in {}", scenario::VM_RESTORE.0), scenario::VM_RESTORE.1),
    }
    .map_err(|e| Failure::bad_input(e.to_string()))?;
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())).max(1);
    let started = Instant::now();
    let mut cells = match &args.client {
        Some(command) => {
            let timeout = parse_duration(&args.client_timeout).ok_or_else(|| {
                Failure::bad_input(format!("--client-timeout {}: not a duration (write 30s, 2m)", args.client_timeout))
            })?;
            let plan = ClientPlan { command: command.clone(), tls: args.tls, timeout, vars: args.vars.clone() };
            client_cells(&releases, &scenario, &plan, jobs)?
        }
        None => scenario_cells(&releases, &scenario, &args, jobs)?,
    };
    for c in &mut cells {
        c.expected_to_fail = expect_fail.contains(&c.release);
    }
    let what = match &args.client {
        Some(command) => format!("client `{command}` checked against scenario {}", scenario.name),
        None => format!("scenario {}", scenario.name),
    };
    print!("{}", text(&what, &cells, started.elapsed(), style));
    if let Some(path) = &args.json {
        let json = serde_json::json!({"check": what, "cells": cells});
        write(path, &(serde_json::to_string_pretty(&json).unwrap_or_default() + "\n"))?;
    }
    if let Some(path) = &args.markdown {
        write(path, &markdown(&what, &cells))?;
    }
    if let Some(path) = &args.junit {
        write(path, &junit(&what, &cells))?;
    }
    if let Some(path) = &args.html {
        let view = cells
            .iter()
            .map(|c| crate::report::html::MatrixCell {
                release: c.release.clone(),
                check: c.check.clone(),
                passed: c.passed,
                expected_to_fail: c.expected_to_fail,
                summary: c.summary.clone(),
                reason: c.reason.clone().unwrap_or_default(),
                details: c.details.clone(),
            })
            .collect();
        write(path, &crate::report::html::matrix(&what, view))?;
    }
    let unexpected = cells.iter().filter(|c| !c.passed && !c.expected_to_fail).count();
    Ok(if unexpected == 0 { Exit::Success } else { Exit::Failed })
}

fn write(path: &std::path::Path, text: &str) -> Result<(), Failure> {
    std::fs::write(path, text).map_err(|e| Failure::bad_input(format!("cannot write {}: {e}", path.display())))
}

fn release_cassettes(release: &str) -> Result<Vec<LoadedCassette>, Failure> {
    cassette::release(release).unwrap_or_else(|| Ok(Vec::new())).map_err(|e| Failure::bad_input(e.to_string()))
}

/// A mock of a release on a free loopback port, until `stop` is sent.
struct Running {
    url: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn start<H: crate::http::server::Handler>(
        handler: Arc<H>,
        tls: Option<tls::ServerTls>,
        release: &str,
    ) -> Result<Running, Failure> {
        let server = Server::bind("127.0.0.1:0", tls)
            .await
            .map_err(|e| Failure::network(format!("cannot start the mock of release {release}: {e}")))?;
        let url = server.base_url();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.run(handler, ServerOptions::default(), async move {
            let _ = stopped.await;
        }));
        Ok(Running { url, stop, task })
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// The scenario against each release's mock, in each representation asked for; releases run
/// `jobs` at a time.
fn scenario_cells(
    releases: &[String],
    scenario: &Scenario,
    args: &MatrixArgs,
    jobs: usize,
) -> Result<Vec<Cell>, Failure> {
    let reprs: &[(&str, &str)] = match args.repr {
        CrawlRepr::Xml => &[("XML", "application/xml")],
        CrawlRepr::Json => &[("JSON", "application/json")],
        CrawlRepr::Both => &[("XML", "application/xml"), ("JSON", "application/json")],
    };
    let base_vars = variables(scenario, &args.vars)?;
    let user_set = |name: &str| args.vars.iter().any(|v| v.starts_with(&format!("{name}=")));
    let (accept_set, poll_set) = (user_set("accept"), user_set("poll_interval"));
    let scenario = Arc::new(scenario.clone());
    runtime(Some(jobs.min(releases.len().max(1))))?.block_on(async {
        let gate = Arc::new(tokio::sync::Semaphore::new(jobs));
        let mut running = tokio::task::JoinSet::new();
        for (order, release) in releases.iter().enumerate() {
            let cassettes = release_cassettes(release)?;
            let (gate, scenario, base_vars, release) =
                (gate.clone(), scenario.clone(), base_vars.clone(), release.clone());
            running.spawn(async move {
                let _permit = gate.acquire_owned().await;
                let mock = Arc::new(Mock::new(cassettes, MockOptions::default()));
                let server = Running::start(mock, None, &release).await?;
                let mut cells = Vec::new();
                for (name, accept) in reprs {
                    let mut vars: HashMap<String, String> = base_vars.clone();
                    if vars.contains_key("accept") && !accept_set {
                        vars.insert("accept".into(), (*accept).to_owned());
                    }
                    if vars.contains_key("poll_interval") && !poll_set {
                        vars.insert("poll_interval".into(), "0s".into());
                    }
                    let client = Client::new(None);
                    let options = RunOptions {
                        client: &client,
                        base_url: server.url.clone(),
                        target: format!("{} (release {release})", server.url),
                        vars,
                        credentials: Some(Credentials {
                            user: "emtape".into(),
                            password: Secret::new("emtape".into()),
                        }),
                        recorder: None,
                        secret_names: Vec::new(),
                    };
                    let t = Instant::now();
                    let report = runner::run(&scenario, options).await;
                    let failed =
                        report.steps.iter().find(|s| s.outcome != Outcome::Passed && s.outcome != Outcome::Skipped);
                    let reason = failed.map(|s| {
                        let why = s
                            .checks
                            .iter()
                            .find(|c| !c.passed)
                            .map(|c| {
                                let said = c.context.as_deref().and_then(crate::em::error_message);
                                let said = said.map(|m| format!(" (EM: {m})")).unwrap_or_default();
                                format!("{}: expected {}, got {}{said}", c.what, c.expected, c.actual)
                            })
                            .or_else(|| s.message.clone())
                            .unwrap_or_else(|| "failed".into());
                        format!("{}: {why}", s.name)
                    });
                    let passed_steps = report.steps.iter().filter(|s| s.outcome == Outcome::Passed).count();
                    cells.push(Cell {
                        release: release.clone(),
                        check: format!("scenario {name}"),
                        passed: report.passed,
                        expected_to_fail: false,
                        summary: format!("{passed_steps}/{} steps", report.steps.len()),
                        reason,
                        details: Vec::new(),
                        millis: t.elapsed().as_secs_f64() * 1000.0,
                        overhead_ms: None,
                    });
                }
                server.stop().await;
                Ok::<_, Failure>((order, cells))
            });
        }
        collect(running).await
    })
}

/// Results in release order, whatever order they finished in.
async fn collect(mut running: tokio::task::JoinSet<Result<(usize, Vec<Cell>), Failure>>) -> Result<Vec<Cell>, Failure> {
    let mut done = Vec::new();
    while let Some(joined) = running.join_next().await {
        match joined {
            Ok(result) => done.push(result?),
            Err(e) => return Err(Failure::bad_input(format!("a release's check failed to finish: {e}"))),
        }
    }
    done.sort_by_key(|(order, _)| *order);
    Ok(done.into_iter().flat_map(|(_, cells)| cells).collect())
}

/// How to run the user's client against each release.
struct ClientPlan {
    command: String,
    tls: bool,
    timeout: Duration,
    vars: Vec<String>,
}

/// For each release: the mock with the scenario's client check, the user's command pointed at
/// it, the command's exit status and the check's verdict.
fn client_cells(
    releases: &[String],
    scenario: &Scenario,
    plan: &ClientPlan,
    jobs: usize,
) -> Result<Vec<Cell>, Failure> {
    let vars = super::serve::var_pairs(&plan.vars)?;
    // One certificate for every release's mock: a client trusts one CA file.
    let minted =
        if plan.tls { Some(tls::mint_localhost().map_err(|e| Failure::bad_input(e.to_string()))?) } else { None };
    let ca_dir = std::env::temp_dir().join(format!("emtape-matrix-{}", std::process::id()));
    let ca_file = match &minted {
        Some(m) => {
            std::fs::create_dir_all(&ca_dir)
                .map_err(|e| Failure::bad_input(format!("cannot create {}: {e}", ca_dir.display())))?;
            let path = ca_dir.join("ca.pem");
            write(&path, &m.cert_pem)?;
            Some(path)
        }
        None => None,
    };
    let tls = minted.map(|m| m.tls);
    let ca = ca_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
    let result = runtime(Some(jobs.min(releases.len().max(1))))?.block_on(async {
        // The clients run in process groups of their own (so that a timeout ends all they
        // started), where the terminal's Ctrl-C does not reach them: pass it on, then leave.
        let clients = Clients::default();
        let stop = super::stop_signal();
        let (on_stop, leftover) = (clients.clone(), ca_file.as_ref().map(|_| ca_dir.clone()));
        tokio::spawn(async move {
            stop.await;
            on_stop.end_all();
            if let Some(dir) = leftover {
                let _ = std::fs::remove_dir_all(dir);
            }
            eprintln!("interrupted: the clients were stopped");
            std::process::exit(130);
        });
        let gate = Arc::new(tokio::sync::Semaphore::new(jobs));
        let mut running = tokio::task::JoinSet::new();
        for (order, release) in releases.iter().enumerate() {
            let (gate, release, tls, ca, vars) = (gate.clone(), release.clone(), tls.clone(), ca.clone(), vars.clone());
            let clients = clients.clone();
            let (command, timeout, scenario) = (plan.command.clone(), plan.timeout, scenario.clone());
            running.spawn(async move {
                let _permit = gate.acquire_owned().await;
                let setup = Instant::now();
                let cassettes = release_cassettes(&release)?;
                let options = CheckOptions { vars, ..CheckOptions::default() };
                let checker = Checker::new(Mock::new(cassettes, MockOptions::default()), scenario, options)
                    .map_err(Failure::bad_input)?;
                let checker = Arc::new(checker);
                let server = Running::start(checker.clone(), tls, &release).await?;
                let setup = setup.elapsed();
                let t = Instant::now();
                let ran = run_client(&command, &server.url, &ca, &release, timeout, &clients).await;
                let client_ms = t.elapsed().as_secs_f64() * 1000.0;
                let teardown = Instant::now();
                checker.client_exited();
                server.stop().await;
                let report = checker.report();
                let mut cell = client_cell(&release, ran, &report, client_ms);
                cell.overhead_ms = Some((setup + teardown.elapsed()).as_secs_f64() * 1000.0);
                Ok::<_, Failure>((order, vec![cell]))
            });
        }
        collect(running).await
    });
    if ca_file.is_some() {
        let _ = std::fs::remove_dir_all(&ca_dir);
    }
    result
}

/// What the client command did.
struct Ran {
    /// Exit code; `None` when it was killed (a signal, or the timeout).
    code: Option<i32>,
    timed_out: bool,
    stderr: String,
    /// It could not be started at all.
    failed_to_start: Option<String>,
}

/// The process groups of the clients running now.
#[derive(Clone, Default)]
struct Clients(Arc<std::sync::Mutex<std::collections::BTreeSet<u32>>>);

impl Clients {
    fn started(&self, group: u32) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(group);
    }

    /// Ends what the client started (its background children too, as `timeout(1)` does).
    fn end(&self, group: u32) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(&group);
        kill_group(group);
    }

    fn end_all(&self) {
        let groups = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
        groups.into_iter().for_each(kill_group);
    }
}

#[cfg(unix)]
fn kill_group(group: u32) {
    use nix::sys::signal::{Signal, killpg};
    if let Ok(group) = i32::try_from(group) {
        // Gone already (ESRCH) is what a well-behaved client leaves.
        let _ = killpg(nix::unistd::Pid::from_raw(group), Signal::SIGKILL);
    }
}

#[cfg(not(unix))]
fn kill_group(_group: u32) {}

async fn run_client(command: &str, url: &str, ca: &str, release: &str, timeout: Duration, clients: &Clients) -> Ran {
    let line = command.replace("{url}", url).replace("{ca}", ca).replace("{release}", release);
    let mut cmd = if cfg!(windows) {
        let mut c = tokio::process::Command::new("cmd");
        c.arg("/C").arg(&line);
        c
    } else {
        let mut c = tokio::process::Command::new("sh");
        c.arg("-c").arg(&line);
        c
    };
    cmd.env("EMTAPE_URL", url).env("EMTAPE_RELEASE", release).kill_on_drop(true);
    if ca.is_empty() {
        cmd.env_remove("EMTAPE_CA");
    } else {
        cmd.env("EMTAPE_CA", ca);
    }
    cmd.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped());
    #[cfg(unix)]
    cmd.process_group(0);
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Ran { code: None, timed_out: false, stderr: String::new(), failed_to_start: Some(e.to_string()) };
        }
    };
    let group = child.id();
    if let Some(group) = group {
        clients.started(group);
    }
    let waited = tokio::time::timeout(timeout, child.wait_with_output()).await;
    if let Some(group) = group {
        clients.end(group);
    }
    match waited {
        Ok(Ok(out)) => Ran {
            code: out.status.code(),
            timed_out: false,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            failed_to_start: None,
        },
        Ok(Err(e)) => Ran { code: None, timed_out: false, stderr: String::new(), failed_to_start: Some(e.to_string()) },
        // Dropping the wait kills the child (kill_on_drop).
        Err(_) => Ran { code: None, timed_out: true, stderr: String::new(), failed_to_start: None },
    }
}

/// The last few lines of a client's stderr, for a failing cell.
fn tail(stderr: &str, lines: usize) -> Vec<String> {
    let all: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..].iter().map(|l| format!("stderr: {l}")).collect()
}

fn client_cell(release: &str, ran: Ran, report: &ClientReport, millis: f64) -> Cell {
    let mut details = Vec::new();
    let exit_ok = ran.code == Some(0);
    let status = match (&ran.failed_to_start, ran.timed_out, ran.code) {
        (Some(e), _, _) => format!("could not start: {e}"),
        (None, true, _) => "timed out".to_owned(),
        (None, false, Some(c)) => format!("exit {c}"),
        (None, false, None) => "killed by a signal".to_owned(),
    };
    let problems: Vec<String> = report
        .reasons
        .iter()
        .cloned()
        .chain(report.unattributed.iter().map(|p| p.message.clone()))
        .chain(
            report
                .sessions
                .iter()
                .flat_map(|s| s.problems.iter().map(move |p| format!("session {}: {}", s.number, p.message))),
        )
        .collect();
    // The reason is the client's own last word when it failed, else the check's first problem;
    // the details are the rest.
    let reason = if !exit_ok {
        let mut stderr = tail(&ran.stderr, 6);
        let last = stderr.pop().map(|l| format!(": {}", l.trim_start_matches("stderr: ")));
        details.extend(stderr);
        details.extend(problems.iter().map(|p| format!("check: {p}")));
        Some(format!("the client failed ({status}){}", last.unwrap_or_default()))
    } else {
        details.extend(problems.iter().skip(1).map(|p| format!("check: {p}")));
        problems.first().map(|p| format!("the client check failed: {p}"))
    };
    let sessions = report.sessions.len();
    Cell {
        release: release.to_owned(),
        check: "client".to_owned(),
        passed: exit_ok && report.passed,
        expected_to_fail: false,
        summary: format!("{status}, {sessions} session{}", if sessions == 1 { "" } else { "s" }),
        reason,
        details,
        millis,
        overhead_ms: None,
    }
}

fn verdict(c: &Cell) -> (&'static str, &'static str) {
    match (c.passed, c.expected_to_fail) {
        (true, _) => ("PASS", "32"),
        (false, true) => ("XFAIL", "33"),
        (false, false) => ("FAIL", "31"),
    }
}

fn text(what: &str, cells: &[Cell], took: Duration, style: Style) -> String {
    let mut out = format!("emtape matrix: {what}, {} cells\n\n", cells.len());
    let _ = writeln!(out, "  {:<8} {:<14} {:<6} {:<22} why", "release", "check", "result", "");
    for c in cells {
        let (word, colour) = verdict(c);
        let painted = style.paint(colour, &format!("{word:<6}"));
        let _ = writeln!(
            out,
            "  {:<8} {:<14} {painted} {:<22} {}",
            c.release,
            c.check,
            c.summary,
            c.reason.as_deref().unwrap_or("")
        );
        if !c.passed {
            for d in c.details.iter().take(8) {
                let _ = writeln!(out, "  {:<8} {:<14} {:<6} {:<22}   {d}", "", "", "", "");
            }
        }
    }
    let passed = cells.iter().filter(|c| c.passed).count();
    let expected = cells.iter().filter(|c| !c.passed && c.expected_to_fail).count();
    let _ = write!(out, "\n{passed} of {} cells passed", cells.len());
    if expected > 0 {
        let _ = write!(out, ", {expected} failed as expected");
    }
    let _ = writeln!(out, " in {:.2} s", took.as_secs_f64());
    if let Some(most) = cells.iter().filter_map(|c| c.overhead_ms).reduce(f64::max) {
        let _ = writeln!(
            out,
            "the mock's own time per release (start, check, stop; the client's excluded): at most {most:.1} ms"
        );
    }
    out
}

fn markdown(what: &str, cells: &[Cell]) -> String {
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let mut out =
        format!("## emtape matrix: {}\n\n| release | check | result | | why |\n|---|---|---|---|---|\n", cell(what));
    for c in cells {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            c.release,
            c.check,
            verdict(c).0,
            cell(&c.summary),
            cell(c.reason.as_deref().unwrap_or(""))
        );
    }
    out
}

/// A test case per release × check; an expected failure is a skipped case, so CI tracks it
/// without going red.
fn junit(what: &str, cells: &[Cell]) -> String {
    use crate::report::junit::{Case, Suite, Verdict};
    let cases = cells
        .iter()
        .map(|c| {
            let reason = c.reason.as_deref().unwrap_or("failed");
            let verdict = match (c.passed, c.expected_to_fail) {
                (true, _) => Verdict::Passed,
                (false, true) => Verdict::Skipped { message: format!("expected to fail: {reason}") },
                (false, false) => Verdict::Failed {
                    kind: "incompatible",
                    message: reason.to_owned(),
                    text: c.details.iter().map(|d| format!("{d}\n")).collect(),
                },
            };
            Case {
                classname: "emtape.matrix".into(),
                name: format!("release {} / {}", c.release, c.check),
                millis: Some(c.millis),
                verdict,
            }
        })
        .collect();
    crate::report::junit::write(&Suite {
        tool: "emtape matrix".into(),
        name: what.to_owned(),
        file: None,
        properties: Vec::new(),
        cases,
        millis: None,
    })
}

/// A release as the changelog shows it.
#[derive(Debug, Serialize)]
struct ReleaseFacts {
    release: String,
    product_version: String,
    api_version: String,
    supported_versions: Vec<String>,
    representations: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

/// A named change between two releases: `field added WcfPort`, where it shows.
#[derive(Debug, Serialize)]
struct Change {
    severity: &'static str,
    change: String,
    /// The exchanges (requests) it shows in.
    seen_in: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Step {
    from: String,
    to: String,
    breaking: usize,
    additive: usize,
    changes: Vec<Change>,
}

#[derive(Debug, Serialize)]
struct Changelog {
    releases: Vec<ReleaseFacts>,
    steps: Vec<Step>,
}

fn facts(release: &str, cassettes: &[LoadedCassette]) -> ReleaseFacts {
    let meta = cassettes.first().map(|c| c.cassette.meta.clone()).unwrap_or_default();
    let mut representations: Vec<String> = Vec::new();
    for c in cassettes {
        for i in 0..c.cassette.exchanges.len() {
            let r = c.cassette.exchanges[i].response_repr().name().to_owned();
            if !representations.contains(&r) {
                representations.push(r);
            }
        }
    }
    ReleaseFacts {
        release: release.to_owned(),
        product_version: meta.product_version.unwrap_or_default(),
        api_version: meta.api_version.unwrap_or_default(),
        supported_versions: meta.supported_versions,
        representations,
        note: cassette::release_note(release).map(str::to_owned),
    }
}

/// What one drift says, in words that are the same in XML and JSON (so that both collapse
/// into one change).
fn change_words(kind: DriftKind, path: &str, old: Option<&str>, new: Option<&str>) -> String {
    let name = |v: Option<&str>| v.unwrap_or("").split('=').next().unwrap_or("").to_owned();
    let value = |v: Option<&str>| v.unwrap_or("").to_owned();
    let version = path.contains("SupportedVersion");
    match kind {
        DriftKind::ElementAdded | DriftKind::AttributeAdded => format!("field added: {}", name(new)),
        DriftKind::ElementRemoved | DriftKind::AttributeRemoved => format!("field removed: {}", name(old)),
        DriftKind::ItemAdded if version => format!("supported version added: {}", value(new)),
        DriftKind::ItemRemoved if version => format!("supported version removed: {}", value(old)),
        _ => match (old, new) {
            (Some(o), Some(n)) => format!("{}: {o} -> {n}", kind.describe()),
            (Some(v), None) | (None, Some(v)) => format!("{}: {v}", kind.describe()),
            (None, None) => kind.describe().to_owned(),
        },
    }
}

fn changelog(releases: &[String]) -> Result<Changelog, Failure> {
    let loaded: Vec<(String, Vec<LoadedCassette>)> =
        releases.iter().map(|r| release_cassettes(r).map(|c| (r.clone(), c))).collect::<Result<_, _>>()?;
    let releases_facts = loaded.iter().map(|(r, c)| facts(r, c)).collect();
    let mut steps = Vec::new();
    for pair in loaded.windows(2) {
        let ((from, old), (to, new)) = (&pair[0], &pair[1]);
        let mut changes: Vec<Change> = Vec::new();
        let (mut breaking, mut additive) = (0, 0);
        // The cassettes of a release pair up by file name (the XML flow, the JSON flow).
        for o in old {
            let file = |c: &LoadedCassette| c.name.rsplit('/').next().unwrap_or_default().to_owned();
            let Some(n) = new.iter().find(|n| file(n) == file(o)) else { continue };
            let report = crate::diff::diff_loaded(o, n, &[]).map_err(|e| Failure::bad_input(e.to_string()))?;
            for e in &report.exchanges {
                let at = e.key.trim_end_matches(" (XML)").trim_end_matches(" (JSON)").to_owned();
                for d in &e.drifts {
                    let severity = match d.severity {
                        Severity::Breaking => "breaking",
                        Severity::Additive => "additive",
                        _ => continue,
                    };
                    let words = change_words(d.kind, &d.path, d.old.as_deref(), d.new.as_deref());
                    match changes.iter_mut().find(|c| c.change == words && c.severity == severity) {
                        Some(c) => {
                            if !c.seen_in.contains(&at) {
                                c.seen_in.push(at.clone());
                            }
                        }
                        None => {
                            if severity == "breaking" {
                                breaking += 1;
                            } else {
                                additive += 1;
                            }
                            changes.push(Change { severity, change: words, seen_in: vec![at.clone()] });
                        }
                    }
                }
            }
        }
        // Breaking first.
        changes.sort_by(|a, b| b.severity.cmp(a.severity).then_with(|| a.change.cmp(&b.change)));
        steps.push(Step { from: from.clone(), to: to.clone(), breaking, additive, changes });
    }
    Ok(Changelog { releases: releases_facts, steps })
}

fn describe_release(f: &ReleaseFacts) -> String {
    format!(
        "{} (EM {}, API {}; advertises {}; {})",
        f.release,
        f.product_version,
        f.api_version,
        f.supported_versions.join(", "),
        f.representations.join(" and ")
    )
}

fn changelog_text(log: &Changelog, style: Style) -> String {
    let mut out = String::from("emtape matrix --diff: what changed from release to release\n\n");
    if let Some(first) = log.releases.first() {
        let _ = writeln!(out, "{}", describe_release(first));
        if let Some(note) = &first.note {
            let _ = writeln!(out, "  {note}");
        }
    }
    for (step, to) in log.steps.iter().zip(log.releases.iter().skip(1)) {
        let _ = writeln!(
            out,
            "\n{} -> {}: {} breaking, {} additive",
            step.from,
            describe_release(to),
            step.breaking,
            step.additive
        );
        if let Some(note) = &to.note {
            let _ = writeln!(out, "  {note}");
        }
        for c in &step.changes {
            let colour = if c.severity == "breaking" { "31" } else { "32" };
            let more = if c.seen_in.len() > 1 { format!(" and {} more", c.seen_in.len() - 1) } else { String::new() };
            let _ = writeln!(
                out,
                "  {} {}  ({}{more})",
                style.paint(colour, &format!("{:<8}", c.severity)),
                c.change,
                c.seen_in[0]
            );
        }
    }
    out
}

fn changelog_markdown(log: &Changelog) -> String {
    let cell = |s: &str| s.replace('|', "\\|");
    let mut out = String::from("## Compatibility changelog\n\n");
    if let Some(first) = log.releases.first() {
        let _ = writeln!(out, "**{}**", cell(&describe_release(first)));
        if let Some(note) = &first.note {
            let _ = writeln!(out, "\n- {}", cell(note));
        }
    }
    for (step, to) in log.steps.iter().zip(log.releases.iter().skip(1)) {
        let _ = writeln!(
            out,
            "\n**{} → {}**: {} breaking, {} additive\n",
            step.from,
            cell(&describe_release(to)),
            step.breaking,
            step.additive
        );
        if let Some(note) = &to.note {
            let _ = writeln!(out, "- {}", cell(note));
        }
        for c in &step.changes {
            let _ = writeln!(out, "- {}: {} (`{}`)", c.severity, cell(&c.change), c.seen_in.join("`, `"));
        }
    }
    out
}
