//! The checking mock in-process, for Rust tests: start it, point a client at its URL, read the
//! report.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::result::ClientReport;
use super::{CheckOptions, Checker};
use crate::cassette::{self, Cassette};
use crate::http::server::{Server, ServerOptions};
use crate::mock::{Mock, MockOptions};
use crate::scenario::{self, FaultError, Scenario};

/// What to serve and how to check: the reference cassettes and the built-in VM restore
/// scenario unless told otherwise.
#[derive(Clone, Debug, Default)]
pub struct MockServerConfig {
    cassettes: Vec<PathBuf>,
    scenario: Option<PathBuf>,
    /// Faults as written, parsed when the server starts.
    faults: Vec<String>,
    options: CheckOptions,
    /// How many times each request is expected, checked when the server is dropped.
    expectations: Vec<(String, Times)>,
}

/// How many times a request is expected: `1`, `2..=3`, `1..` (at least once), `..=2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Times {
    pub at_least: usize,
    pub at_most: Option<usize>,
}

impl Times {
    fn holds(self, n: usize) -> bool {
        n >= self.at_least && self.at_most.is_none_or(|m| n <= m)
    }
}

impl std::fmt::Display for Times {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.at_most {
            Some(m) if m == self.at_least => write!(f, "{m} time{}", if m == 1 { "" } else { "s" }),
            Some(m) => write!(f, "{} to {m} times", self.at_least),
            None => write!(f, "at least {} time{}", self.at_least, if self.at_least == 1 { "" } else { "s" }),
        }
    }
}

impl From<usize> for Times {
    fn from(n: usize) -> Times {
        Times { at_least: n, at_most: Some(n) }
    }
}

impl From<std::ops::RangeInclusive<usize>> for Times {
    fn from(r: std::ops::RangeInclusive<usize>) -> Times {
        Times { at_least: *r.start(), at_most: Some(*r.end()) }
    }
}

impl From<std::ops::RangeFrom<usize>> for Times {
    fn from(r: std::ops::RangeFrom<usize>) -> Times {
        Times { at_least: r.start, at_most: None }
    }
}

impl From<std::ops::RangeToInclusive<usize>> for Times {
    fn from(r: std::ops::RangeToInclusive<usize>) -> Times {
        Times { at_least: 0, at_most: Some(r.end) }
    }
}

/// Whether a call (`GET /api/vmRestorePoints/{id}?format=Entity`) is the request an expectation
/// names: the same method and path, ids as `{id}` or as written, with or without its query.
fn names(expected: &str, call: &str) -> bool {
    let normal = |s: &str| {
        let (method, target) = s.trim().split_once(' ').unwrap_or(("GET", s.trim()));
        (method.to_ascii_uppercase(), crate::diff::link_template(target.trim()).to_ascii_lowercase())
    };
    let ((em, et), (cm, ct)) = (normal(expected), normal(call));
    em == cm && (et == ct || (!et.contains('?') && ct.split('?').next() == Some(et.as_str())))
}

impl MockServerConfig {
    /// Serves this cassette (instead of the reference ones; call again for more).
    pub fn cassette(mut self, path: impl Into<PathBuf>) -> Self {
        self.cassettes.push(path.into());
        self
    }

    /// Checks clients against this scenario file.
    pub fn scenario(mut self, path: impl Into<PathBuf>) -> Self {
        self.scenario = Some(path.into());
        self
    }

    /// Injects a fault (`task-failed`, `session-expired`, `http-500`, `http-503`,
    /// `drop-connection`), at its usual step or at `NAME@step`.
    pub fn fault(mut self, fault: &str) -> Self {
        self.faults.push(fault.to_owned());
        self
    }

    /// The Task answers Running `n` times before Finished.
    pub fn running_polls(mut self, n: u32) -> Self {
        self.options.running_polls = Some(n);
        self
    }

    /// Polls closer together than this are too fast.
    pub fn poll_min_interval(mut self, d: Duration) -> Self {
        self.options.poll_min_interval = Some(d);
        self
    }

    /// Expects the clients to send `request` (`GET /api/vmRestorePoints`, `POST
    /// /api/vmRestorePoints/{id}?action=restore`; ids as `{id}` or as written; without a query,
    /// any query) this many `times` (`1`, `2..=3`, `1..`). Checked when the server is dropped,
    /// as wiremock does: an expectation not met panics, naming it and the calls there were.
    pub fn expect(mut self, request: &str, times: impl Into<Times>) -> Self {
        self.expectations.push((request.to_owned(), times.into()));
        self
    }

    /// Pins a scenario variable: the client must keep to it where the scenario selects
    /// (without it, which VM or point is the client's choice).
    pub fn var(mut self, name: &str, value: &str) -> Self {
        self.options.vars.push((name.to_owned(), value.to_owned()));
        self
    }

    /// A session without requests this long has ended.
    pub fn idle(mut self, d: Duration) -> Self {
        self.options.idle = d;
        self
    }
}

/// Why the mock did not start.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(String);

/// A mock EM on a free loopback port that checks the clients it serves.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use emtape::{MockServer, MockServerConfig};
///
/// let server = MockServer::start(MockServerConfig::default()).await?;
/// let client = emtape::http::client::Client::new(None);
/// let root = client.send("GET", &format!("{}/api/", server.url()), &Default::default(), Default::default()).await?;
/// assert_eq!(root.status, 200);
///
/// // A client that logs on and then types a URL it was never given:
/// let auth: emtape::http::Headers = [("Authorization".into(), "Basic dTpw".into())].into_iter().collect();
/// let logon = client.send("POST", &format!("{}/api/sessionMngr/?v=latest", server.url()), &auth, Default::default()).await?;
/// let token = logon.headers.get("x-restsvcsessionid").unwrap().to_owned();
/// let with_token: emtape::http::Headers = [("X-RestSvcSessionId".into(), token)].into_iter().collect();
/// client.send("GET", &format!("{}/api/tasks/task-1", server.url()), &with_token, Default::default()).await?;
///
/// let report = server.stop().await;
/// assert!(!report.passed);
/// assert!(report.sessions[0].problems[0].message.contains("built by hand"));
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
pub struct MockServer {
    url: String,
    checker: Arc<Checker>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    expectations: Vec<(String, Times)>,
}

impl MockServer {
    /// Starts serving on `127.0.0.1`, on a free port.
    pub async fn start(config: MockServerConfig) -> Result<MockServer, StartError> {
        let err = |e: String| StartError(e);
        let cassettes = if config.cassettes.is_empty() {
            cassette::reference().map_err(|e| err(e.to_string()))?
        } else {
            config
                .cassettes
                .iter()
                .map(|p| Cassette::load(p).map_err(|e| err(e.to_string())))
                .collect::<Result<_, _>>()?
        };
        let scenario = match &config.scenario {
            Some(p) => Scenario::load(p),
            None => Scenario::parse(&format!("built-in {}", scenario::VM_RESTORE.0), scenario::VM_RESTORE.1),
        }
        .map_err(|e| err(e.to_string()))?;
        let mut options = config.options;
        options.count_calls = true;
        for fault in &config.faults {
            options.faults.push(fault.parse().map_err(|e: FaultError| err(format!("--fault {fault}: {e}")))?);
        }
        let mock = Mock::new(cassettes, MockOptions { remember_matches: true, ..MockOptions::default() });
        let checker = Arc::new(Checker::new(mock, scenario, options).map_err(err)?);
        let server = Server::bind("127.0.0.1:0", None).await.map_err(|e| err(format!("cannot listen: {e}")))?;
        let url = server.base_url();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.run(checker.clone(), ServerOptions::default(), async move {
            let _ = stopped.await;
        }));
        Ok(MockServer { url, checker, stop: Some(stop), task: Some(task), expectations: config.expectations })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Says the clients are done: sessions still open end now, without a logout (as `matrix
    /// --client` ends them when the client exits), rather than after the idle time passes.
    pub fn clients_done(&self) {
        self.checker.client_exited();
    }

    /// What the clients did so far.
    pub fn report(&self) -> ClientReport {
        self.checker.report()
    }

    /// The requests the clients sent, as `METHOD /api/path/{id}?query` (ids templated), with
    /// how many of each came, in the order first seen.
    pub fn calls(&self) -> Vec<(String, usize)> {
        self.checker.calls()
    }

    /// Each recorded exchange that answered something (`cassette:line, exchange N`), with the
    /// requests it answered.
    pub fn matched(&self) -> Vec<(String, Vec<String>)> {
        self.checker.mock().matches()
    }

    /// Whether every expectation (`MockServerConfig::expect`) holds; `Err` names those that do
    /// not, with the calls there were.
    pub fn verify(&self) -> Result<(), String> {
        let calls = self.calls();
        let unmet: Vec<String> = self
            .expectations
            .iter()
            .filter_map(|(request, times)| {
                let n: usize = calls.iter().filter(|(c, _)| names(request, c)).map(|(_, n)| n).sum();
                (!times.holds(n)).then(|| format!("{request}: expected {times}, received {n}"))
            })
            .collect();
        if unmet.is_empty() {
            return Ok(());
        }
        let listed: Vec<String> = calls.iter().map(|(c, n)| format!("{c} ({n}x)")).collect();
        Err(format!("{}\nthe calls were:\n  {}", unmet.join("\n"), listed.join("\n  ")))
    }

    /// Stops serving and returns the final report.
    pub async fn stop(mut self) -> ClientReport {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.checker.report()
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // As wiremock: a test whose expectations were not met fails where the server goes.
        if !std::thread::panicking() {
            if let Err(why) = self.verify() {
                panic!("emtape MockServer: expectations not met:\n{why}");
            }
        }
    }
}
