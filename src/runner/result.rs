//! What HAPPENED when a scenario ran: per step, the request made, the response, every check
//! with its expected and actual value. Reports render these; nothing here is about the file.

use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    pub scenario: String,
    pub file: String,
    pub target: String,
    pub passed: bool,
    pub duration_ms: f64,
    pub steps: Vec<StepResult>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Main,
    Finally,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Passed,
    /// A check did not hold.
    Failed,
    /// Not run, because an earlier step failed or what it needs is missing.
    Skipped,
    /// No response: the network or TLS failed.
    Error,
}

#[derive(Clone, Debug, Serialize)]
pub struct StepResult {
    pub name: String,
    pub phase: Phase,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub duration_ms: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<Attempt>,
    pub checks: Vec<Check>,
    /// Why it was skipped, what went wrong before any check could run, or the one cause a
    /// step failed for instead of its checks (a refused logon).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The request and (last) response bodies, scrubbed of session secrets, for the HTML
    /// report; not in the JSON report.
    #[serde(skip)]
    pub bodies: Option<(String, String)>,
}

/// One request of a polling step.
#[derive(Clone, Debug, Serialize)]
pub struct Attempt {
    pub status: u16,
    /// The polled values, `State=Running`.
    pub note: String,
    pub elapsed_ms: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// `status`, `header Location`, `body State`, `link contract`, ...
    pub what: String,
    pub passed: bool,
    pub expected: String,
    pub actual: String,
    /// The part of the response that shows the problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// Where the scenario asks for it: `scenarios/vm-restore.yaml:84:7`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

impl StepResult {
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.passed)
    }
}

impl RunReport {
    pub fn count(&self, outcome: Outcome) -> usize {
        self.steps.iter().filter(|s| s.outcome == outcome).count()
    }
}
