//! What a check of clients found: per client session, the steps it performed in order, the
//! faults injected into it, and everything it did against the contract.

use serde::Serialize;

/// How a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ending {
    LoggedOut,
    /// No request for the idle time.
    Idle,
    /// The mock expired it (the `session-expired` fault).
    Expired,
    /// The client process ended while the session was open (`matrix --client`).
    ClientExited,
}

/// Something a client did against the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemKind {
    MissingToken,
    StaleToken,
    UnknownToken,
    HandBuiltUrl,
    OutsideFlow,
    SkippedStep,
    PolledTooFast,
    GaveUpPolling,
    IgnoredFailure,
    NoLogout,
    MissingStep,
    /// A non-idempotent request sent again, unchecked, after its connection dropped.
    BlindRetry,
    /// A fault answered in place of a step, and the client gave up: it neither logged on
    /// again (an expired session) nor sent the request again.
    NotRecovered,
    /// The client chose an item a variable the user pinned (`--var`, `pinned:`) rules out.
    PinnedChoice,
}

#[derive(Clone, Debug, Serialize)]
pub struct Problem {
    pub kind: ProblemKind,
    pub message: String,
}

/// A request of the session that was a step of the scenario (or not).
#[derive(Clone, Debug, Serialize)]
pub struct Performed {
    /// The scenario step, or `None` for a request outside the flow.
    pub step: Option<String>,
    pub request: String,
    /// `None` when the connection was dropped (a fault).
    pub status: Option<u16>,
    pub at_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SessionReport {
    pub number: usize,
    pub representation: String,
    pub passed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended: Option<Ending>,
    pub duration_ms: f64,
    pub faults: Vec<String>,
    pub requests: Vec<Performed>,
    pub problems: Vec<Problem>,
    /// What the client chose where the scenario selects (which VM, which point).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    /// Requests it made to see how EM answers them (no token before logon, a token after
    /// logout), answered with EM's 401 and then left alone: notes, not problems.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<String>,
    /// Whether it counts as ended for `--until-complete`: it ended on the client's side, or a
    /// fault interrupted it (the server expired it, say) and the client, not recovering, went
    /// quiet for the idle time.
    #[serde(skip)]
    pub settled: bool,
}

/// Everything checked so far.
#[derive(Clone, Debug, Serialize)]
pub struct ClientReport {
    pub scenario: String,
    pub passed: bool,
    pub sessions: Vec<SessionReport>,
    /// Requests that belong to no session (no token, or a token this mock never issued).
    pub unattributed: Vec<Problem>,
    /// Requests of no session the client sent to see EM refuse them (its first token-less
    /// request, answered with EM's 401): notes, not problems.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<String>,
    /// Why the run failed beyond its sessions' own problems (too few sessions, a deadline).
    pub reasons: Vec<String>,
    /// Answers the mock served that no recording holds as they are (derived from a sibling, or
    /// written from listings): what the verdict rests on beside the tape.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unrecorded: Vec<crate::mock::Unrecorded>,
}

impl ClientReport {
    /// The verdict with what the run was asked to see: `expected` sessions ended (with
    /// `--until-complete`), before `deadline` (with `--deadline`, when it passed). No session
    /// at all is never a pass: there is no evidence.
    pub fn judged(mut self, expected: Option<usize>, deadline: Option<std::time::Duration>) -> ClientReport {
        let ended = self.ended();
        if let Some(n) = expected.filter(|n| ended < *n) {
            let why = match deadline {
                Some(d) => format!("the deadline of {:.0} s passed", d.as_secs_f64()),
                None => "the mock was stopped".to_owned(),
            };
            self.reasons.push(format!(
                "{ended} of {n} expected client sessions ended ({} started) before {why}",
                self.sessions.len()
            ));
        }
        self.passed = self.passed && self.reasons.is_empty();
        self
    }

    /// Sessions that ended on the client's side: logged out or left idle. A session a fault
    /// interrupted (the server expired it, a 500 it never retried) counts only once the client
    /// has gone quiet without a new logon: a client that recovers is counted by its next
    /// session instead.
    pub fn ended(&self) -> usize {
        self.sessions.iter().filter(|s| s.settled).count()
    }
}
