//! The user's client against each release: the mock with the scenario's client check, the
//! command pointed at it in a process group of its own (so that a timeout ends everything it
//! started), its exit status and the check's verdict.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::process::{Clients, Ran, run_client};
use super::{Cell, MatrixError, Running, collect, release_cassettes};
use crate::clientcheck::result::ClientReport;
use crate::clientcheck::{CheckOptions, Checker};
use crate::http::tls;
use crate::mock::{Mock, MockOptions};
use crate::scenario::Scenario;
use crate::vbr::mock::Heard;
use crate::vbr::{Api, VbrMock, VbrOptions};

/// How to run the user's client against each release.
#[derive(Clone, Debug)]
pub struct ClientPlan {
    /// A shell command line; `{url}`, `{ca}` and `{release}` are filled in.
    pub command: String,
    /// How long a client may take before it is ended.
    pub timeout: Duration,
    /// Values for the scenario's variables.
    pub vars: Vec<(String, String)>,
}

/// One certificate for every release's mock (a client trusts one CA file), written to a
/// folder of its own that goes when this does.
pub struct Ca {
    dir: PathBuf,
    file: PathBuf,
    tls: tls::ServerTls,
}

impl Ca {
    /// Mints a certificate for localhost and writes it to a temporary folder.
    pub fn mint() -> Result<Ca, MatrixError> {
        let minted = tls::mint_localhost()?;
        let dir = std::env::temp_dir().join(format!("emtape-matrix-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|reason| MatrixError::CreateFolder { path: dir.clone(), reason })?;
        let file = dir.join("ca.pem");
        // Made now, so that the folder goes even when writing the file fails.
        let ca = Ca { dir, file, tls: minted.tls };
        std::fs::write(&ca.file, &minted.cert_pem)
            .map_err(|reason| MatrixError::Write { path: ca.file.clone(), reason })?;
        Ok(ca)
    }

    /// The folder the CA file is in (to remove when the matrix is stopped).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Ca {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// For each release: the mock with the scenario's client check (over TLS with `ca`), the
/// user's command pointed at it, the command's exit status and the check's verdict; releases
/// run `jobs` at a time. The clients running are in `clients`, for whoever stops the matrix
/// to end them. Needs the runtime.
pub async fn client_cells(
    releases: &[String],
    scenario: &Scenario,
    plan: &ClientPlan,
    ca: Option<&Ca>,
    jobs: usize,
    clients: &Clients,
) -> Result<Vec<Cell>, MatrixError> {
    let tls = ca.map(|c| c.tls.clone());
    let ca_file = ca.map(|c| c.file.display().to_string()).unwrap_or_default();
    let gate = Arc::new(tokio::sync::Semaphore::new(jobs));
    let mut running = tokio::task::JoinSet::new();
    for (order, release) in releases.iter().enumerate() {
        let (gate, release, tls, ca, clients) =
            (gate.clone(), release.clone(), tls.clone(), ca_file.clone(), clients.clone());
        let (plan, scenario) = (plan.clone(), scenario.clone());
        running.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let setup = Instant::now();
            let cassettes = release_cassettes(&release)?;
            if cassettes.iter().any(|c| c.cassette.meta.api.as_deref().and_then(Api::parse) == Some(Api::Vbr)) {
                // VBR REST: no client check yet; the verdict is the client's, with every request
                // the mock refused.
                let mock = Arc::new(VbrMock::new(cassettes, VbrOptions { remember: true, ..VbrOptions::default() }));
                let server = Running::start(mock.clone(), tls, &release).await?;
                let setup = setup.elapsed();
                let t = Instant::now();
                let ran = run_client(&plan.command, &server.url, &ca, &release, plan.timeout, &clients).await;
                let client_ms = t.elapsed().as_secs_f64() * 1000.0;
                server.stop().await;
                let mut cell = vbr_cell(&release, ran, &mock.heard(), client_ms);
                cell.overhead_ms = Some(setup.as_secs_f64() * 1000.0);
                return Ok((order, vec![cell]));
            }
            let options = CheckOptions { vars: plan.vars, ..CheckOptions::default() };
            let mock = Mock::new(cassettes, MockOptions { coverage: true, ..MockOptions::default() });
            let checker = Checker::new(mock, scenario, options).map_err(MatrixError::Check)?;
            let checker = Arc::new(checker);
            let server = Running::start(checker.clone(), tls, &release).await?;
            let setup = setup.elapsed();
            let t = Instant::now();
            let ran = run_client(&plan.command, &server.url, &ca, &release, plan.timeout, &clients).await;
            let client_ms = t.elapsed().as_secs_f64() * 1000.0;
            let teardown = Instant::now();
            checker.client_exited();
            server.stop().await;
            let report = checker.report();
            let mut cell = client_cell(&release, ran, &report, client_ms);
            cell.coverage = Some(checker.mock().coverage());
            cell.overhead_ms = Some((setup + teardown.elapsed()).as_secs_f64() * 1000.0);
            Ok((order, vec![cell]))
        });
    }
    collect(running).await
}

/// The last few lines of a client's stderr, for a failing cell.
fn tail(stderr: &str, lines: usize) -> Vec<String> {
    let all: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..].iter().map(|l| format!("stderr: {l}")).collect()
}

/// How a client's run ended: `exit 0`, `timed out`, ….
fn how_it_ended(ran: &Ran) -> String {
    match (&ran.failed_to_start, ran.timed_out, ran.code) {
        (Some(e), _, _) => format!("could not start: {e}"),
        (None, true, _) => "timed out".to_owned(),
        (None, false, Some(c)) => format!("exit {c}"),
        (None, false, None) => "killed by a signal".to_owned(),
    }
}

/// A VBR client's cell: it passed when it exited 0; the requests the mock refused are the
/// details (the first is the reason when the client failed and said nothing).
fn vbr_cell(release: &str, ran: Ran, heard: &[Heard], millis: f64) -> Cell {
    let exit_ok = ran.code == Some(0);
    let status = how_it_ended(&ran);
    let refused: Vec<String> = heard
        .iter()
        .filter(|h| h.status >= 400)
        .map(|h| {
            format!(
                "refused: {} -> {}{}",
                h.request,
                h.status,
                h.message.as_deref().map(|m| format!(" {m}")).unwrap_or_default()
            )
        })
        .collect();
    let mut details = Vec::new();
    // Exit 0 with nothing asked of the mock is no evidence the client works.
    let silent = heard.is_empty();
    let reason = if exit_ok && silent {
        Some("the client exited 0 without a request to the mock".to_owned())
    } else if exit_ok {
        None
    } else {
        let mut stderr = tail(&ran.stderr, 4);
        let last = stderr.pop().map(|l| format!(": {}", l.trim_start_matches("stderr: ")));
        details.extend(stderr);
        Some(format!("the client failed ({status}){}", last.unwrap_or_default()))
    };
    details.extend(refused.iter().take(8).cloned());
    let mut used: Vec<(String, &'static str)> = Vec::new();
    for h in heard {
        let (method, target) = h.request.split_once(' ').unwrap_or(("GET", &h.request));
        let shown = format!("{method} {}", crate::diff::link_template(target));
        if !used.iter().any(|(r, _)| *r == shown) {
            used.push((shown, "JSON"));
        }
    }
    Cell {
        release: release.to_owned(),
        check: "client".to_owned(),
        passed: exit_ok && !silent,
        expected_to_fail: false,
        summary: format!("{status}, {} requests, {} refused", heard.len(), refused.len()),
        reason,
        details,
        millis,
        overhead_ms: None,
        choices: Vec::new(),
        coverage: None,
        used,
    }
}

fn client_cell(release: &str, ran: Ran, report: &ClientReport, millis: f64) -> Cell {
    let mut details = Vec::new();
    let exit_ok = ran.code == Some(0);
    let status = how_it_ended(&ran);
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
        choices: report.sessions.iter().flat_map(|s| s.choices.iter().cloned()).collect(),
        coverage: None,
        used: used(report),
    }
}

/// The requests of a check's sessions as the changelog names them (ids as `{id}`), with their
/// representation.
fn used(report: &ClientReport) -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = Vec::new();
    for s in &report.sessions {
        let repr = if s.representation == "JSON" { "JSON" } else { "XML" };
        for p in &s.requests {
            let (method, target) = p.request.split_once(' ').unwrap_or(("GET", &p.request));
            let shown = format!("{method} {}", crate::diff::link_template(target));
            if !out.iter().any(|(r, x)| *r == shown && *x == repr) {
                out.push((shown, repr));
            }
        }
    }
    out
}
