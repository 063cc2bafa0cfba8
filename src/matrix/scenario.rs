//! The scenario against each release's mock, in each representation asked for.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use super::{Cell, MatrixError, Running, collect, release_cassettes};
use crate::em::Repr;
use crate::http::client::Client;
use crate::mock::{Mock, MockOptions};
use crate::runner::result::{Outcome, RunReport};
use crate::runner::{self, Credentials, RunOptions, Secret};
use crate::scenario::Scenario;
use crate::vbr::{Api, VbrMock, VbrOptions};

/// How to run the scenario against each release.
#[derive(Clone, Debug)]
pub struct ScenarioPlan {
    /// A column per representation, each run with its `Accept`.
    pub representations: Vec<Repr>,
    /// The scenario's variables, with the user's values.
    pub vars: HashMap<String, String>,
    /// The variables the user set: the matrix leaves them as they are (it sets `accept` per
    /// representation and `poll_interval` to none otherwise).
    pub given: Vec<String>,
}

/// The scenario against each release's mock, in each representation of the plan; releases
/// run `jobs` at a time. Needs the runtime.
pub async fn scenario_cells(
    releases: &[String],
    scenario: &Scenario,
    plan: &ScenarioPlan,
    jobs: usize,
) -> Result<Vec<Cell>, MatrixError> {
    let scenario = Arc::new(scenario.clone());
    let plan = Arc::new(plan.clone());
    let gate = Arc::new(tokio::sync::Semaphore::new(jobs));
    let mut running = tokio::task::JoinSet::new();
    for (order, release) in releases.iter().enumerate() {
        let cassettes = release_cassettes(release)?;
        let (gate, scenario, plan, release) = (gate.clone(), scenario.clone(), plan.clone(), release.clone());
        running.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let mut cells = Vec::new();
            let vbr = cassettes.iter().any(|c| c.cassette.meta.api.as_deref().and_then(Api::parse) == Some(Api::Vbr));
            for repr in &plan.representations {
                let given = |name: &str| plan.given.iter().any(|g| g == name);
                let mut vars = plan.vars.clone();
                let (server, mock) = if vbr {
                    // The scenario asks for the revision each server serves, as `accept` follows the column.
                    let revision = cassettes.iter().find_map(|c| c.cassette.meta.api_version.clone());
                    if let (Some(r), true) = (revision, vars.contains_key("api_version") && !given("api_version")) {
                        vars.insert("api_version".into(), r);
                    }
                    let mock = Arc::new(VbrMock::new(cassettes.clone(), VbrOptions::default()));
                    (Running::start(mock, None, &release).await?, None)
                } else {
                    let options = MockOptions { coverage: true, ..MockOptions::default() };
                    let mock = Arc::new(Mock::new(cassettes.clone(), options));
                    (Running::start(mock.clone(), None, &release).await?, Some(mock))
                };
                if vars.contains_key("accept") && !given("accept") {
                    vars.insert("accept".into(), repr.content_type().to_owned());
                }
                if vars.contains_key("poll_interval") && !given("poll_interval") {
                    vars.insert("poll_interval".into(), "0s".into());
                }
                let client = Client::new(None);
                let options = RunOptions {
                    client: &client,
                    base_url: server.url.clone(),
                    target: format!("{} (release {release})", server.url),
                    vars,
                    credentials: Some(Credentials { user: "emtape".into(), password: Secret::new("emtape".into()) }),
                    recorder: None,
                    secret_names: Vec::new(),
                    spec: None,
                };
                let t = Instant::now();
                let report = runner::run(&scenario, options).await;
                let millis = t.elapsed().as_secs_f64() * 1000.0;
                server.stop().await;
                let mut c = cell(&release, *repr, &report, millis);
                c.coverage = mock.map(|m| m.coverage());
                cells.push(c);
            }
            Ok((order, cells))
        });
    }
    collect(running).await
}

/// A run's cell: its steps passed, and the first failed step's first failed check.
fn cell(release: &str, repr: Repr, report: &RunReport, millis: f64) -> Cell {
    let failed = report.steps.iter().find(|s| s.outcome != Outcome::Passed && s.outcome != Outcome::Skipped);
    let reason = failed.map(|s| {
        let why = s
            .checks
            .iter()
            .find(|c| !c.passed)
            .map(|c| {
                let em = c.context.as_deref().and_then(crate::em::error_message).map(|m| format!(" (EM: {m})"));
                let vbr = || {
                    c.context
                        .as_deref()
                        .and_then(|b| crate::vbr::error_message(b.as_bytes()))
                        .map(|m| format!(" (VBR: {m})"))
                };
                let said = em.or_else(vbr).unwrap_or_default();
                format!("{}: expected {}, got {}{said}", c.what, c.expected, c.actual)
            })
            .or_else(|| s.message.clone())
            .unwrap_or_else(|| "failed".into());
        format!("{}: {why}", s.name)
    });
    let passed_steps = report.steps.iter().filter(|s| s.outcome == Outcome::Passed).count();
    Cell {
        release: release.to_owned(),
        check: format!("scenario {}", repr.name()),
        passed: report.passed,
        expected_to_fail: false,
        summary: format!("{passed_steps}/{} steps", report.steps.len()),
        reason,
        details: Vec::new(),
        millis,
        overhead_ms: None,
        choices: Vec::new(),
        coverage: None,
        used: Vec::new(),
    }
}
