//! The release matrix (`emtape matrix`): one check run against every release on tape, a
//! [`Cell`] per release and check (the scenario in a representation, or the user's client);
//! and what changed from release to release, as a compatibility [`Changelog`].

mod changelog;
mod client;
mod process;
mod scenario;

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

pub use changelog::{Change, Changelog, ReleaseFacts, Step, changelog};
pub use client::{Ca, ClientPlan, client_cells};
pub use process::Clients;
pub use scenario::{ScenarioPlan, scenario_cells};

use crate::cassette::{self, CassetteError, LoadedCassette};
use crate::http::server::{Server, ServerOptions};
use crate::http::tls;

/// One cell: a release and a check (the scenario in a representation, or the client).
#[derive(Debug, Serialize)]
pub struct Cell {
    pub release: String,
    pub check: String,
    pub passed: bool,
    pub expected_to_fail: bool,
    /// `8/8 steps`, `exit 0, 1 session`.
    pub summary: String,
    /// Why it failed, in one line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What a passing client chose where the scenario selects (which VM, which point).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    /// What the check exercised of what the release's cassettes serve.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<crate::mock::coverage::Coverage>,
    /// Everything else that went wrong (the client check's problems, the client's stderr).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
    pub millis: f64,
    /// For a client: the mock's own time (start, check, stop), the client's excluded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overhead_ms: Option<f64>,
    /// For a client: the requests it made (`GET /api/vmRestorePoints/{id}?format=Entity`) and in
    /// which representations, to say which of a release's changes it met.
    #[serde(skip)]
    pub used: Vec<(String, &'static str)>,
}

/// For each client cell that failed where the release before passed: the breaking changes
/// between the two releases on the requests the client made, as the cell's first details (a
/// JSON client written against 12 meets 13's renamed keys). Reads the releases' cassettes.
pub fn explain_regressions(cells: &mut [Cell]) -> Result<(), MatrixError> {
    for i in 1..cells.len() {
        let (before, now) = cells.split_at_mut(i);
        let (prev, cell) = (&before[i - 1], &mut now[0]);
        if cell.check != "client" || prev.check != "client" || cell.passed || !prev.passed {
            continue;
        }
        let log = changelog(&[prev.release.clone(), cell.release.clone()])?;
        let Some(step) = log.steps.first() else { continue };
        // A client that never logged on made only the first requests every client makes.
        let first = ["GET /api/", "POST /api/sessionMngr/?v={v}"];
        let met: Vec<&Change> = step
            .changes
            .iter()
            .filter(|c| c.severity == crate::diff::Severity::Breaking)
            .filter(|c| match cell.used.is_empty() {
                true => first.iter().any(|r| c.seen_in.iter().any(|s| s == r)),
                false => cell
                    .used
                    .iter()
                    .any(|(request, repr)| c.representations.contains(repr) && c.seen_in.contains(request)),
            })
            .collect();
        if met.is_empty() {
            continue;
        }
        let shown: Vec<&str> = met.iter().take(8).map(|c| c.change.as_str()).collect();
        let more = if met.len() > 8 { format!(" and {} more", met.len() - 8) } else { String::new() };
        cell.details.insert(
            0,
            format!(
                "changed since {} on the client's requests: {}{more} (emtape matrix --diff --releases {},{})",
                prev.release,
                shown.join("; "),
                prev.release,
                cell.release
            ),
        );
    }
    Ok(())
}

/// What a cell says, in every report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    /// It failed on a release named as known not to work.
    FailedAsExpected,
    Failed,
}

impl Verdict {
    /// `PASS`, `XFAIL`, `FAIL`.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Passed => "PASS",
            Verdict::FailedAsExpected => "XFAIL",
            Verdict::Failed => "FAIL",
        }
    }
}

impl Cell {
    pub fn verdict(&self) -> Verdict {
        match (self.passed, self.expected_to_fail) {
            (true, _) => Verdict::Passed,
            (false, true) => Verdict::FailedAsExpected,
            (false, false) => Verdict::Failed,
        }
    }
}

/// A whole matrix: what was checked (`scenario vm-restore`), its cells in release order, and
/// how long it took.
#[derive(Debug)]
pub struct Matrix {
    pub check: String,
    pub cells: Vec<Cell>,
    pub took: Duration,
}

impl Matrix {
    /// The cells that failed on a release not named as known not to work.
    pub fn unexpected_failures(&self) -> usize {
        self.cells.iter().filter(|c| c.verdict() == Verdict::Failed).count()
    }
}

/// Why a matrix could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MatrixError {
    #[error(transparent)]
    Cassette(#[from] CassetteError),
    #[error("cannot start the mock of release {release}: {reason}")]
    Mock { release: String, reason: std::io::Error },
    /// The scenario cannot be checked against a client.
    #[error("{0}")]
    Check(String),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("cannot create {}: {reason}", path.display())]
    CreateFolder { path: std::path::PathBuf, reason: std::io::Error },
    #[error("cannot write {}: {reason}", path.display())]
    Write { path: std::path::PathBuf, reason: std::io::Error },
    #[error(transparent)]
    Diff(#[from] crate::diff::DiffError),
    #[error("a release's check failed to finish: {0}")]
    Unfinished(tokio::task::JoinError),
}

/// The built-in cassettes of a release (none for a release not on tape).
fn release_cassettes(release: &str) -> Result<Vec<LoadedCassette>, MatrixError> {
    Ok(cassette::release(release).unwrap_or_else(|| Ok(Vec::new()))?)
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
    ) -> Result<Running, MatrixError> {
        let server = Server::bind("127.0.0.1:0", tls)
            .await
            .map_err(|reason| MatrixError::Mock { release: release.to_owned(), reason })?;
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

type Finished = Result<(usize, Vec<Cell>), MatrixError>;

/// Results in release order, whatever order they finished in.
async fn collect(mut running: tokio::task::JoinSet<Finished>) -> Result<Vec<Cell>, MatrixError> {
    let mut done = Vec::new();
    while let Some(joined) = running.join_next().await {
        done.push(joined.map_err(MatrixError::Unfinished)??);
    }
    done.sort_by_key(|(order, _)| *order);
    Ok(done.into_iter().flat_map(|(_, cells)| cells).collect())
}
