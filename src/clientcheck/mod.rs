//! Checking clients: the mock serves a scenario's flow and watches each client session against
//! it. For every session it runs the scenario in the shadow of the client, fed with the very
//! responses it served, so it knows what a client that follows the contract asks next: the
//! link it was given, the URL it captured. Everything else is reported: a missing or stale
//! token, a URL built by hand, polling too fast or giving up, continuing after a failure, no
//! logout, requests outside the flow. It can also shape the run: how long the Task runs,
//! latency, and faults.

pub mod result;
mod server;
mod shell;

pub use server::{MockServer, MockServerConfig, StartError, Times};

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

pub use crate::clock::{Clock, ManualClock, SystemClock};
use crate::em::{self, Repr};

use crate::http::{Request, Response};
use crate::mock::{Mock, Pick};
use crate::runner::flow::{Choice, Flow, Target};
use crate::scenario::{Action, Fault, FaultKind, FaultScope, Scenario, Step, parse_duration};
use result::{ClientReport, Ending, Performed, Problem, ProblemKind, SessionReport};

/// How the checking mock shapes the run; the scenario's `server:` section fills what is not set.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// The Task answers Running this many times before Finished (default: as recorded).
    pub running_polls: Option<u32>,
    /// Added before every answer.
    pub latency: Option<Duration>,
    /// Faults to inject: `NAME` at its usual step, or `NAME@step name`.
    pub faults: Vec<Fault>,
    /// Polls closer together than this are too fast.
    pub poll_min_interval: Option<Duration>,
    /// A session without requests this long has ended.
    pub idle: Duration,
    /// Scenario variables set from outside (`--var`).
    pub vars: Vec<(String, String)>,
    /// Count the requests by what they ask ([`Checker::calls`]), for expectations.
    pub count_calls: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        Self {
            running_polls: None,
            latency: None,
            faults: Vec::new(),
            poll_min_interval: None,
            idle: Duration::from_secs(30),
            vars: Vec::new(),
            count_calls: false,
        }
    }
}

/// What a client that does not recover left undone, and what a recovering one does.
fn unrecovered(fault: FaultKind, step: &str, method: &str) -> String {
    let retry = "and the client never sent it again: a recovering client retries the request";
    match fault {
        FaultKind::SessionExpired => format!(
            "the session expired (fault session-expired) at step `{step}`, and the client never logged on \
             again: a recovering client logs on again and carries on from `{step}`"
        ),
        FaultKind::Http500 | FaultKind::Http503 => {
            let status = if fault == FaultKind::Http500 { 500 } else { 503 };
            format!("the server answered step `{step}` with HTTP {status} (fault {fault}), {retry}")
        }
        FaultKind::DropConnection if method == "POST" => format!(
            "the connection of step `{step}` closed without an answer (fault drop-connection), {retry} (a \
             POST once GET /api/tasks shows the first did not start)"
        ),
        FaultKind::DropConnection => {
            format!("the connection of step `{step}` closed without an answer (fault drop-connection), {retry}")
        }
        FaultKind::TaskFailed => format!("the Task of step `{step}` failed (fault task-failed)"),
    }
}

/// A fault that answered a session's request in place of its step: the client must recover,
/// in this session (sending the request again) or in a later one (logging on again).
#[derive(Clone, Debug)]
struct Hit {
    kind: FaultKind,
    step: usize,
    method: String,
    at: Instant,
    /// The step was answered in this session since, without a fault.
    recovered: bool,
}

/// A fault, and the step it is injected at.
#[derive(Clone, Debug)]
struct Armed {
    kind: FaultKind,
    step: usize,
    scope: FaultScope,
}

struct Watch {
    number: usize,
    token: String,
    /// Its LogonSession id, as the logon named it (an opaque token names none).
    session_id: Option<String>,
    repr: Repr,
    flow: Flow,
    started: Instant,
    last_seen: Instant,
    requests: Vec<Performed>,
    performed: HashSet<usize>,
    /// The next step a client following the flow takes.
    position: usize,
    /// URLs (normalised) given to this session in responses.
    served: HashSet<String>,
    poll_attempts: Vec<Instant>,
    poll_done: bool,
    /// A step whose answer failed the scenario's checks (an injected fault, mostly).
    failed: Option<(usize, String)>,
    faults: Vec<FaultKind>,
    /// Faults that answered in place of a step, and whether the client recovered in-session.
    hits: Vec<Hit>,
    /// Steps answered below 400 without a fault: what a later session's recovery performs.
    answered: HashSet<usize>,
    ended: Option<Ending>,
    problems: Vec<Problem>,
    /// What the client chose where the scenario selects.
    choices: Vec<String>,
    probes: Vec<String>,
    /// Each step's target as the flow stands (method, normalised URL), until the flow moves on.
    targets: HashMap<usize, Option<(String, String, Target)>>,
    /// Each select step's choices as the flow stands (normalised URL, choice, allowed).
    options: HashMap<usize, Vec<(String, Choice, bool)>>,
    /// The last body answered to each request target, its URLs in `served` already: the same
    /// answer again is compared (cheap), not read again (up to REQUESTS_KEPT targets).
    read: HashMap<String, Bytes>,
    /// Problems said already: a request outside the flow sent a thousand times is one problem.
    said: HashSet<String>,
    /// Requests outside the flow seen already (method and normalised URL).
    outside: HashSet<String>,
    /// Requests (raw target, methods) outside the flow and said already, while the flow and
    /// what the session was given stand: the same request again is planned without a look.
    quiet: HashMap<String, Vec<String>>,
    /// Requests beyond the ones kept in `requests`.
    more_requests: usize,
}

/// Requests of a session kept for its report; a client hammering the mock is counted beyond.
const REQUESTS_KEPT: usize = 10_000;

impl Watch {
    /// Says a problem once.
    fn problem(&mut self, p: Problem) {
        if self.said.insert(p.message.clone()) {
            self.problems.push(p);
        }
    }

    /// The flow moved on (it took a response, or a choice bound a variable): its targets change.
    fn moved(&mut self) {
        self.targets.clear();
        self.options.clear();
        self.quiet.clear();
    }

    /// Takes in the URLs a response gave the session.
    fn given(&mut self, urls: Vec<String>) {
        let before = self.served.len();
        self.served.extend(urls);
        if self.served.len() > before {
            // A URL given now may make a request said outside the flow a choice.
            self.quiet.clear();
        }
    }

    fn is_quiet(&self, req: &Request) -> bool {
        self.quiet.get(&req.target).is_some_and(|methods| methods.contains(&req.method))
    }
}

/// An unauthenticated request before a logon (discovering the API), kept until a logon from
/// the same address claims it.
struct Pending {
    ip: Option<IpAddr>,
    step: usize,
    response: Response,
    request: String,
    at: Instant,
}

#[derive(Default)]
struct State {
    /// Faults (by index) that have fired, for those that fire once.
    fired: HashSet<usize>,
    watches: Vec<Watch>,
    by_token: HashMap<String, usize>,
    pending: Vec<Pending>,
    unattributed: Vec<Problem>,
    /// Token-less requests EM answered with 401, by client address: the first is a probe.
    probed: HashMap<Option<IpAddr>, usize>,
    /// Probes of no session (no token at all).
    probes: Vec<String>,
    /// With `count_calls`: requests by `METHOD /api/path/{id}?query` (ids templated, sessions
    /// hidden), in the order first seen, with how many came.
    calls: Vec<(String, usize)>,
    /// When idle sessions were last looked for: at most every SWEEP_EVERY, not per request.
    swept: Option<Instant>,
}

/// How often requests look for idle sessions (idle limits are seconds).
const SWEEP_EVERY: Duration = Duration::from_millis(50);

/// The mock with a scenario watching its clients.
pub struct Checker {
    mock: Mock,
    scenario: Arc<Scenario>,
    steps: Vec<Step>,
    main: usize,
    logon: Option<usize>,
    poll: Option<usize>,
    /// The scenario's poll timeout: a session polling past it is idle whatever its pace.
    poll_timeout: Option<Duration>,
    /// Variables the client must keep to (`--var`, the scenario's `pinned:`); the others are
    /// the client's to choose where the scenario selects.
    pinned: HashSet<String>,
    /// The scenario's poll interval: the pace a polling client is expected to keep at least.
    poll_interval: Duration,
    faults: Vec<Armed>,
    options: CheckOptions,
    state: Mutex<State>,
    epoch: Instant,
    clock: Arc<dyn Clock>,
    changed: tokio::sync::Notify,
}

/// What to do with a request, decided before answering it.
struct Plan {
    watch: Option<usize>,
    /// The request matched no step: the answer may still show which step it stands in for.
    unmatched: bool,
    step: Option<usize>,
    target: Option<Target>,
    logon: bool,
    pending_step: Option<usize>,
    fault: Option<FaultKind>,
    pick: Option<Pick>,
    latency: Duration,
    /// A request EM refuses without a live session (no token; a token of a session over): a
    /// probe of the client's own error handling if EM's 401 answers it and it is the first.
    probe: Option<Probe>,
    /// A URL no response gave the session.
    hand_built: bool,
    /// The session's task is to fail (a task-failed fault fired on it).
    task_failed: bool,
}

/// A request sent without a live session.
#[derive(Clone, Copy, Debug)]
enum Probe {
    NoToken,
    After(Ending),
}

fn normalize(url: &str, origin: &str) -> String {
    let rest = url.strip_prefix(origin).unwrap_or(url);
    let rest = match rest.split_once("://") {
        Some((_, after)) => after.find('/').map_or("/", |i| &after[i..]),
        None => rest,
    };
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let query: Vec<String> =
        em::normalize_query(query).into_iter().filter(|(k, _)| k != "v").map(|(k, v)| format!("{k}={v}")).collect();
    format!("{}?{}", em::normalize_path(path), query.join("&"))
}

/// Every URL a response gives: `Href` values and `Location`.
fn urls_in(response: &Response, origin: &str) -> Vec<String> {
    let mut out: Vec<String> = response.headers.get("location").map(|l| normalize(l, origin)).into_iter().collect();
    let body = String::from_utf8_lossy(&response.body);
    if let Some(repr) = Repr::sniff(&body) {
        out.extend(em::links::hrefs(&body, repr, None).into_iter().map(|f| normalize(&f.href, origin)));
    }
    out
}

fn line(req: &Request) -> String {
    format!("{} {}", req.method, req.target)
}

/// A request line with the session's token and id out of it.
fn scrubbed(text: String, token: &str, id: Option<&str>) -> String {
    em::Scrubber::for_session(token, id).scrub(&text)
}

/// Whether `path` is the LogonSession `id`.
fn own_logon_session(path: &str, id: Option<&str>) -> bool {
    let Some(id) = id.filter(|id| !id.is_empty()) else { return false };
    em::normalize_path(path).strip_prefix("/api/logonsessions/").is_some_and(|p| p.eq_ignore_ascii_case(id))
}

fn problem(kind: ProblemKind, message: impl Into<String>) -> Problem {
    Problem { kind, message: message.into() }
}

impl Checker {
    pub fn new(mock: Mock, mut scenario: Scenario, options: CheckOptions) -> Result<Checker, String> {
        for (name, value) in &options.vars {
            let Some(slot) = scenario.vars.iter_mut().find(|(n, _)| n == name) else {
                let known: Vec<&str> = scenario.vars.iter().map(|(n, _)| n.as_str()).collect();
                return Err(format!(
                    "--var {name}={value}: scenario {} has no variable `{name}`; its variables are: {}",
                    scenario.file,
                    known.join(", ")
                ));
            };
            slot.1.clone_from(value);
        }
        let vars: HashMap<String, String> = scenario.vars.iter().cloned().collect();
        scenario.check_values(&vars).map_err(|e| e.to_string())?;
        let poll_duration = |of: fn(&crate::scenario::Poll) -> &crate::scenario::Tpl| {
            scenario
                .steps
                .iter()
                .filter_map(|s| s.poll.as_ref())
                .filter_map(|p| of(p).render(&vars).ok().and_then(|t| parse_duration(&t)))
                .max()
        };
        let poll_timeout = poll_duration(|p| &p.timeout);
        let poll_interval = poll_duration(|p| &p.interval).unwrap_or_default();
        let steps: Vec<Step> = scenario.steps.iter().chain(&scenario.finally).cloned().collect();
        let main = scenario.steps.len();
        let logon = steps.iter().position(|s| matches!(&s.action, Action::Request { url, .. } if em::is_logon_path(&em::normalize_path(url.source().split('?').next().unwrap_or("")))));
        let poll = steps.iter().position(|s| s.poll.is_some());
        let restore = steps.iter().position(|s| matches!(&s.action, Action::Follow(f) if f.rel.source() == "Restore"));
        let named = |name: &str| steps.iter().position(|s| s.name == name);
        let mut faults = Vec::new();
        let mut specs: Vec<(&Fault, Option<usize>)> =
            scenario.server.faults.iter().chain(&options.faults).map(|f| (f, None)).collect();
        specs.extend(steps.iter().enumerate().filter_map(|(i, s)| s.fault.as_ref().map(|f| (f, Some(i)))));
        for (fault, at) in specs {
            let Fault { kind, scope, .. } = *fault;
            let usual = match kind {
                FaultKind::TaskFailed | FaultKind::Http503 | FaultKind::DropConnection => poll,
                FaultKind::SessionExpired | FaultKind::Http500 => restore.or(logon.map(|l| l + 2)),
            };
            let step = match &fault.step {
                Some(s) => Some(named(s).ok_or_else(|| format!("fault `{fault}`: the scenario has no step `{s}`"))?),
                None => at.or(usual),
            };
            let step = step.ok_or_else(|| {
                format!("fault `{kind}`: the scenario has no step to inject it at; name one with {kind}@STEP")
            })?;
            if kind == FaultKind::TaskFailed && Some(step) != poll {
                // Only a poll reads the Task's state: anywhere else it would never be injected.
                let at = poll.map_or_else(
                    || "the scenario has no poll step".to_owned(),
                    |p| format!("inject it at `{}`", steps[p].name),
                );
                return Err(format!("fault `{fault}`: task-failed changes the Task that a poll reads; {at}"));
            }
            faults.push(Armed { kind, step, scope });
        }
        let pinned: HashSet<String> =
            options.vars.iter().map(|(n, _)| n.clone()).chain(scenario.pinned.iter().cloned()).collect();
        let mut options = options;
        options.running_polls = options.running_polls.or(scenario.server.running_polls);
        options.latency = options.latency.or(scenario.server.latency);
        options.poll_min_interval =
            options.poll_min_interval.or(scenario.server.poll_min_interval).or(Some(Duration::from_millis(200)));
        Ok(Checker {
            mock,
            scenario: Arc::new(scenario),
            steps,
            main,
            logon,
            poll,
            poll_timeout,
            poll_interval,
            pinned,
            faults,
            options,
            state: Mutex::new(State::default()),
            epoch: Instant::now(),
            clock: Arc::new(SystemClock),
            changed: tokio::sync::Notify::new(),
        })
    }

    /// Reads the time from `clock` (a [`ManualClock`] in tests) instead of the system's.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Checker {
        self.epoch = clock.now();
        self.clock = clock;
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn scenario_name(&self) -> &str {
        &self.scenario.file
    }

    /// The mock underneath.
    pub fn mock(&self) -> &Mock {
        &self.mock
    }

    /// The faults injected, as the report names them.
    pub fn fault_names(&self) -> Vec<String> {
        self.faults.iter().map(|f| format!("{} at `{}`", f.kind.name(), self.steps[f.step].name)).collect()
    }

    fn new_flow(&self, origin: &str) -> Flow {
        Flow::new(self.scenario.clone(), origin.to_owned(), self.scenario.vars.iter().cloned().collect())
    }

    /// Ends sessions that have been idle too long.
    fn sweep(&self, state: &mut State, now: Instant) {
        if state.swept.is_some_and(|at| now.saturating_duration_since(at) < SWEEP_EVERY) {
            return;
        }
        state.swept = Some(now);
        let mut ended = false;
        for w in state.watches.iter_mut().filter(|w| w.ended.is_none()) {
            let polling = self.poll.is_some_and(|p| w.position >= p) && !w.poll_done;
            let idle = match self.poll_timeout {
                Some(timeout) if polling => self.patience(w, timeout),
                _ => self.options.idle,
            };
            if now.duration_since(w.last_seen) >= idle {
                self.finish(w, Ending::Idle);
                ended = true;
            }
        }
        if ended {
            self.changed.notify_waiters();
        }
    }

    /// How long a session waiting on its Task may go without a request: a slow but patient
    /// poller may wait longer between polls than --idle, so it gets three of its pace (the
    /// scenario's poll interval, or its own longest gap between polls if longer), within the
    /// scenario's poll timeout; one that stopped polling is idle after that, not after the
    /// whole poll timeout.
    fn patience(&self, w: &Watch, timeout: Duration) -> Duration {
        let gap = w.poll_attempts.windows(2).map(|p| p[1].duration_since(p[0])).max().unwrap_or_default();
        self.options.idle.max((3 * gap.max(self.poll_interval)).min(timeout))
    }

    /// The client's process has ended: every session still open is over, without a logout.
    pub fn client_exited(&self) {
        let mut state = self.lock();
        for w in state.watches.iter_mut().filter(|w| w.ended.is_none()) {
            self.finish(w, Ending::ClientExited);
        }
        self.changed.notify_waiters();
    }

    /// Closes a session's account: what it should have done and did not.
    fn finish(&self, w: &mut Watch, how: Ending) {
        w.ended = Some(how);
        match how {
            Ending::Idle => w.problems.push(problem(
                ProblemKind::NoLogout,
                format!(
                    "did not log out (no request for {:.1} s)",
                    self.clock.now().saturating_duration_since(w.last_seen).as_secs_f64()
                ),
            )),
            Ending::ClientExited => {
                w.problems.push(problem(ProblemKind::NoLogout, "did not log out before the client exited".to_owned()))
            }
            Ending::LoggedOut | Ending::Expired => {}
        }
        // Steps after a failure, an expired session or a fault the client did not recover from
        // are rightly left out: the fault's own problem says what went undone.
        let interrupted = w.hits.iter().filter(|h| !h.recovered).map(|h| h.step).min();
        let until = match (&w.failed, how) {
            (Some((k, _)), _) => *k,
            (None, Ending::Expired) => w.position,
            (None, _) => self.main,
        }
        .min(interrupted.unwrap_or(usize::MAX));
        if w.failed.is_none()
            && interrupted.is_none()
            && how != Ending::Expired
            && !w.poll_attempts.is_empty()
            && !w.poll_done
        {
            w.problems.push(problem(
                ProblemKind::GaveUpPolling,
                match w.poll_attempts.len() {
                    1 => "stopped polling while the Task was still Running, after 1 poll".to_owned(),
                    n => format!("stopped polling while the Task was still Running, after {n} polls"),
                },
            ));
        }
        let start = self.logon.map_or(0, |l| l + 1);
        for i in start..until {
            let polled = Some(i) == self.poll && !w.poll_attempts.is_empty();
            if !w.performed.contains(&i) && !polled {
                w.problems
                    .push(problem(ProblemKind::MissingStep, format!("did not perform step `{}`", self.steps[i].name)));
            }
        }
    }

    /// Which step of the flow `req` is, for a session whose shadow flow is `flow`.
    /// The `select` step among `candidates` whose items include the one the request takes:
    /// the step, the choice, and whether the run allows it (`false`: only a pinned variable
    /// rules it out).
    fn choice_of(
        &self,
        w: &mut Watch,
        req: &Request,
        wanted: &str,
        candidates: &[usize],
    ) -> Option<(usize, Choice, bool)> {
        for &i in candidates {
            // Worked out once per flow state: (normalised URL, choice, allowed).
            let choices = w.options.entry(i).or_insert_with(|| {
                let (allowed, kept_out) = w.flow.choices(&self.steps[i], &self.pinned).unwrap_or_default();
                let tag = |ok: bool| move |c: Choice| (normalize(&c.target.url, &req.origin), c, ok);
                allowed.into_iter().map(tag(true)).chain(kept_out.into_iter().map(tag(false))).collect()
            });
            let hit =
                choices.iter().find(|(url, c, _)| c.target.method.eq_ignore_ascii_case(&req.method) && url == wanted);
            if let Some((_, c, ok)) = hit {
                return Some((i, c.clone(), *ok));
            }
        }
        None
    }

    fn step_of(&self, flow: &Flow, req: &Request, candidates: impl Iterator<Item = usize>) -> Option<(usize, Target)> {
        let wanted = normalize(&req.target, &req.origin);
        for i in candidates {
            let Ok(target) = flow.target(&self.steps[i]) else { continue };
            if target.method.eq_ignore_ascii_case(&req.method) && normalize(&target.url, &req.origin) == wanted {
                return Some((i, target));
            }
        }
        None
    }

    /// [`Checker::step_of`] for a session, each step's target worked out once per flow state.
    fn session_step_of(
        &self,
        w: &mut Watch,
        req: &Request,
        wanted: &str,
        candidates: &[usize],
    ) -> Option<(usize, Target)> {
        for &i in candidates {
            let entry = w.targets.entry(i).or_insert_with(|| {
                let target = w.flow.target(&self.steps[i]).ok()?;
                Some((target.method.to_ascii_uppercase(), normalize(&target.url, &req.origin), target))
            });
            if let Some((method, url, target)) = entry {
                if method.eq_ignore_ascii_case(&req.method) && url == wanted {
                    return Some((i, target.clone()));
                }
            }
        }
        None
    }

    fn plan(&self, req: &Request) -> Plan {
        let mut guard = self.lock();
        let state = &mut *guard;
        let now = self.clock.now();
        self.sweep(state, now);
        if self.options.count_calls {
            let call = format!("{} {}", req.method, crate::diff::link_template(&em::session::loggable(&req.target)));
            match state.calls.iter_mut().find(|(c, _)| *c == call) {
                Some((_, n)) => *n += 1,
                None => state.calls.push((call, 1)),
            }
        }
        let mut plan = Plan {
            watch: None,
            unmatched: false,
            step: None,
            target: None,
            logon: false,
            pending_step: None,
            fault: None,
            pick: None,
            latency: self.options.latency.unwrap_or_default(),
            probe: None,
            hand_built: false,
            task_failed: false,
        };
        if req.method == "POST" && em::is_logon_path(&em::normalize_path(req.path())) {
            plan.logon = true;
            plan.step = self.logon;
            return plan;
        }
        let Some(token) = em::session_token(&req.headers).map(str::to_owned) else {
            // Before logon: discovering the API.
            let flow = self.new_flow(&req.origin);
            if let Some((i, _)) = self.step_of(&flow, req, 0..self.logon.unwrap_or(0)) {
                plan.pending_step = Some(i);
            } else {
                // Judged once answered: EM's 401 to a first try is the client probing.
                plan.probe = Some(Probe::NoToken);
            }
            return plan;
        };
        let Some(&w) = state.by_token.get(&token) else {
            state.unattributed.push(problem(
                ProblemKind::UnknownToken,
                format!("{} carried a session token this server never issued", line(req)),
            ));
            return plan;
        };
        plan.watch = Some(w);
        let fired = &mut state.fired;
        let watch = &mut state.watches[w];
        watch.last_seen = now;
        if let Some(how) = watch.ended {
            if how == Ending::Expired
                && req.method == "DELETE"
                && own_logon_session(req.path(), watch.session_id.as_deref())
            {
                // Logging out after a 401, to be sure: a careful client's cleanup, not a misuse.
                return plan;
            }
            plan.probe = Some(Probe::After(how));
            return plan;
        }
        if watch.is_quiet(req) {
            plan.unmatched = true;
            return plan;
        }
        let candidates: Vec<usize> = (watch.position..self.main).chain(self.main..self.steps.len()).collect();
        let wanted = normalize(&req.target, &req.origin);
        let mut matched = self.session_step_of(watch, req, &wanted, &candidates);
        // Where the scenario selects (which VM, which point), the choice is the client's: any
        // item the step allows binds the step's open variables to what it says.
        // Only a link the session was given can be a choice.
        let given = watch.served.contains(&wanted);
        let select = |k: &usize| self.steps[*k].select.is_some();
        let chose = match &matched {
            Some((k, _)) if !select(k) => None,
            _ if !given => None,
            _ => self
                .choice_of(watch, req, &wanted, &candidates)
                .filter(|(k, ..)| matched.as_ref().is_none_or(|(m, _)| m == k)),
        };
        if let Some((k, choice, allowed)) = chose {
            let step = &self.steps[k].name;
            let binds: Vec<String> = choice.binds.iter().map(|(n, v)| format!("{n}={v}")).collect();
            let binds = if binds.is_empty() { String::new() } else { format!(" ({})", binds.join(", ")) };
            if allowed {
                watch.choices.push(format!("`{step}`: {}{binds}, the client's choice", choice.item));
            } else {
                let pins: Vec<String> = choice
                    .binds
                    .iter()
                    .filter(|(n, _)| self.pinned.contains(n))
                    .map(|(n, _)| format!("{n}={}", watch.flow.vars.get(n).map_or("", String::as_str)))
                    .collect();
                watch.problems.push(problem(
                    ProblemKind::PinnedChoice,
                    format!(
                        "chose {} at `{step}`{binds}, which the run rules out: it pins {}",
                        choice.item,
                        pins.join(", ")
                    ),
                ));
            }
            for (n, v) in &choice.binds {
                watch.flow.bind(n, v);
            }
            watch.moved();
            matched = Some((k, choice.target));
        }
        match matched {
            Some((k, target)) => {
                if k < self.main {
                    if let Some((f, why)) = &watch.failed {
                        // Reading what failed (the RestoreSession of a failed Task) to report
                        // it is what a careful client does; acting on as if nothing failed is not.
                        let acts = req.method != "GET";
                        if k > *f && acts && !watch.problems.iter().any(|p| p.kind == ProblemKind::IgnoredFailure) {
                            let name = &self.steps[*f].name;
                            watch.problems.push(problem(
                                ProblemKind::IgnoredFailure,
                                format!("went on to `{}` after step `{name}` failed ({why})", self.steps[k].name),
                            ));
                        }
                    } else {
                        for skipped in watch.position..k {
                            if !watch.performed.contains(&skipped) {
                                watch.problems.push(problem(
                                    ProblemKind::SkippedStep,
                                    format!("skipped step `{}`", self.steps[skipped].name),
                                ));
                            }
                        }
                    }
                }
                if Some(k) == self.poll {
                    let now = self.clock.now();
                    if let (Some(last), Some(min)) = (watch.poll_attempts.last(), self.options.poll_min_interval) {
                        let gap = now.duration_since(*last);
                        if gap < min && !watch.problems.iter().any(|p| p.kind == ProblemKind::PolledTooFast) {
                            watch.problems.push(problem(
                                ProblemKind::PolledTooFast,
                                format!(
                                    "polled the Task {} ms after the previous poll (at least {} ms apart)",
                                    gap.as_millis(),
                                    min.as_millis()
                                ),
                            ));
                        }
                    }
                    plan.pick = self
                        .options
                        .running_polls
                        .map(|n| if (watch.poll_attempts.len() as u32) < n { Pick::First } else { Pick::Last });
                    watch.poll_attempts.push(now);
                }
                let number = watch.number;
                let due = self.faults.iter().enumerate().find(|(i, f)| {
                    f.step == k
                        && !watch.faults.contains(&f.kind)
                        && match f.scope {
                            FaultScope::Once => !fired.contains(i),
                            FaultScope::Session(n) => n == number,
                            FaultScope::Every => true,
                        }
                });
                if let Some((i, fault)) = due {
                    watch.faults.push(fault.kind);
                    plan.fault = Some(fault.kind);
                    fired.insert(i);
                }
                plan.latency += self.steps[k].latency.unwrap_or_default();
                plan.task_failed = watch.faults.contains(&FaultKind::TaskFailed);
                plan.step = Some(k);
                plan.target = Some(target);
            }
            None => {
                plan.unmatched = true;
                let url = wanted;
                // Said once per request: a client sending it again adds nothing to say.
                if !watch.outside.insert(format!("{} {url}", req.method)) {
                    if req.target.starts_with('/') && watch.quiet.len() < REQUESTS_KEPT {
                        watch.quiet.entry(req.target.clone()).or_default().push(req.method.clone());
                    }
                    return plan;
                }
                // A query is built from the query service, not given as a link of its own.
                let query = req.method == "GET"
                    && em::is_query_path(&em::normalize_path(req.path()))
                    && watch.served.iter().any(|u| em::is_query_service_path(u.split('?').next().unwrap_or(u)));
                plan.hand_built = !query && !watch.served.contains(&url);
                let p = if query {
                    problem(
                        ProblemKind::OutsideFlow,
                        format!(
                            "{} is outside the flow (a query of the query service it was given, but no step of \
                             the scenario)",
                            line(req)
                        ),
                    )
                } else if watch.served.contains(&url) {
                    problem(
                        ProblemKind::OutsideFlow,
                        format!("{} is outside the flow (a link it was given, but no step of the scenario)", line(req)),
                    )
                } else {
                    problem(
                        ProblemKind::HandBuiltUrl,
                        format!("{} was built by hand: no response gave this URL to the session", line(req)),
                    )
                };
                watch.problem(p);
            }
        }
        plan
    }

    /// Takes in what was answered.
    fn account(&self, req: &Request, plan: &Plan, response: Option<&Response>) {
        let mut state = self.lock();
        let at_ms = self.clock.now().saturating_duration_since(self.epoch).as_secs_f64() * 1000.0;
        let status = response.map(|r| r.status);
        if plan.logon {
            let Some(r) = response.filter(|r| r.status == 201) else { return };
            let Some(token) = r.headers.get(em::SESSION_HEADER).map(str::to_owned) else { return };
            let mut w = Watch {
                number: state.watches.len() + 1,
                token: token.clone(),
                session_id: em::session::logon_session_id(r),
                repr: Repr::from_accept(&req.headers),
                flow: self.new_flow(&req.origin),
                started: self.clock.now(),
                last_seen: self.clock.now(),
                requests: Vec::new(),
                performed: HashSet::new(),
                position: 0,
                served: HashSet::new(),
                poll_attempts: Vec::new(),
                poll_done: false,
                failed: None,
                faults: Vec::new(),
                hits: Vec::new(),
                answered: HashSet::new(),
                ended: None,
                problems: Vec::new(),
                choices: Vec::new(),
                probes: Vec::new(),
                targets: HashMap::new(),
                options: HashMap::new(),
                read: HashMap::new(),
                said: HashSet::new(),
                outside: HashSet::new(),
                quiet: HashMap::new(),
                more_requests: 0,
            };
            // Discovery requests from the same address, just before, were this client's.
            let ip = req.peer.map(|p| p.ip());
            let mut claimed = Vec::new();
            let now = self.clock.now();
            state.pending.retain(|p| now.saturating_duration_since(p.at) < Duration::from_secs(60));
            let mut i = 0;
            while i < state.pending.len() {
                if state.pending[i].ip == ip {
                    claimed.push(state.pending.remove(i));
                } else {
                    i += 1;
                }
            }
            for p in claimed {
                w.flow.observe(&self.steps[p.step], &p.response, None);
                w.given(urls_in(&p.response, &req.origin));
                w.performed.insert(p.step);
                w.requests.push(Performed {
                    step: Some(self.steps[p.step].name.clone()),
                    request: p.request,
                    status: Some(p.response.status),
                    at_ms,
                    fault: None,
                });
            }
            if let Some(l) = self.logon {
                w.flow.observe(&self.steps[l], r, None);
                w.performed.insert(l);
                w.position = l + 1;
            }
            w.given(urls_in(r, &req.origin));
            w.requests.push(Performed {
                step: self.logon.map(|l| self.steps[l].name.clone()),
                request: line(req),
                status,
                at_ms,
                fault: None,
            });
            let n = state.watches.len();
            state.by_token.insert(token, n);
            state.watches.push(w);
            return;
        }
        if let Some(probe) = plan.probe {
            let refused = status == Some(401);
            match probe {
                Probe::NoToken => {
                    let ip = req.peer.map(|p| p.ip());
                    let n = state.probed.entry(ip).or_default();
                    *n += 1;
                    if refused && *n == 1 {
                        let note = format!("{} without a session token: EM's 401", line(req));
                        state.probes.push(note);
                    } else {
                        let why = if refused { ", again: a client that carries on without logging on" } else { "" };
                        state.unattributed.push(problem(
                            ProblemKind::MissingToken,
                            format!("{} carried no session token{why}", line(req)),
                        ));
                    }
                }
                Probe::After(how) => {
                    let Some(wi) = plan.watch else { return };
                    let w = &mut state.watches[wi];
                    let after = match how {
                        Ending::LoggedOut => "after logging out",
                        Ending::Expired => "after the server expired it",
                        Ending::Idle => "after sitting idle",
                        Ending::ClientExited => "after the client exited",
                    };
                    let request = scrubbed(line(req), &w.token, w.session_id.as_deref());
                    if refused && w.probes.is_empty() && how == Ending::LoggedOut {
                        w.probes.push(format!("{request} {after}: EM's 401, the session is over"));
                    } else {
                        w.problems.push(problem(
                            ProblemKind::StaleToken,
                            format!("{request} used the session token {after}"),
                        ));
                    }
                }
            }
            return;
        }
        if let Some(step) = plan.pending_step {
            if let Some(r) = response {
                state.pending.push(Pending {
                    ip: req.peer.map(|p| p.ip()),
                    step,
                    response: r.clone(),
                    request: line(req),
                    at: self.clock.now(),
                });
            }
            return;
        }
        let Some(wi) = plan.watch else { return };
        let w = &mut state.watches[wi];
        // Past REQUESTS_KEPT only POSTs are written out (a blind retry needs the line); a client
        // hammering one URL must not pay for a line nobody keeps.
        let keep = w.requests.len() < REQUESTS_KEPT;
        if keep || req.method == "POST" {
            let request = scrubbed(line(req), &w.token, w.session_id.as_deref());
            // A POST sent again right after its connection dropped: on a real EM the first one may
            // have started (a second restore of the same VM), so a client must look before it
            // retries (GET /api/tasks, the restore sessions).
            let retried = w.requests.last().is_some_and(|last| last.status.is_none() && last.request == request);
            if retried && req.method == "POST" {
                w.problems.push(problem(
                    ProblemKind::BlindRetry,
                    format!(
                        "sent {request} again after its connection dropped without checking whether the first one \
                         started (a real EM may now run two restores); look at GET /api/tasks first"
                    ),
                ));
            }
            if keep {
                w.requests.push(Performed {
                    step: plan.step.map(|k| self.steps[k].name.clone()),
                    request,
                    status,
                    at_ms,
                    fault: plan.fault.map(|k| k.name().to_owned()),
                });
            }
        }
        if !keep {
            w.more_requests += 1;
        }
        if let Some(r) = response {
            if w.read.get(&req.target) != Some(&r.body) {
                w.given(urls_in(r, &req.origin));
                if w.read.len() < REQUESTS_KEPT || w.read.contains_key(&req.target) {
                    w.read.insert(req.target.clone(), r.body.clone());
                }
            }
        }
        match (plan.fault, plan.step) {
            (Some(kind), Some(k)) if kind.interrupts() => {
                w.hits.push(Hit { kind, step: k, method: req.method.clone(), at: self.clock.now(), recovered: false })
            }
            (None, Some(k)) if status.is_some_and(|s| s < 400) => {
                w.answered.insert(k);
                w.hits.iter_mut().filter(|h| h.step == k).for_each(|h| h.recovered = true);
            }
            _ => {}
        }
        if plan.fault == Some(FaultKind::SessionExpired) {
            self.mock.end_session(&w.token);
            w.ended = Some(Ending::Expired);
            let step = plan.step.map(|k| k.to_owned());
            w.failed = step.map(|k| (k, "the session expired".to_owned()));
            self.changed.notify_waiters();
            return;
        }
        if plan.fault.is_some_and(FaultKind::interrupts) {
            // The shadow flow does not take the fault's answer: it stays at the step, which the
            // client's retry performs.
            return;
        }
        // A URL built by hand that still reached the resource a step leads to: the client
        // did that step (badly); the shadow flow takes the answer, to stay in step.
        let step = match (plan.step, response) {
            (None, Some(r)) if plan.hand_built && r.status < 300 && req.method == "GET" => {
                let doc = crate::runner::document::Document::parse_with(r, self.scenario.json_keys);
                (w.position..self.main).find(|i| match &self.steps[*i].action {
                    Action::Follow(f) => {
                        f.kind.as_ref().is_some_and(|k| doc.is_root(k.source()).0 && doc.root_name().is_some())
                    }
                    Action::Request { .. } => false,
                })
            }
            (k, _) => k,
        };
        let (Some(k), Some(r)) = (step, response) else { return };
        let step = &self.steps[k];
        if let Some(poll) = &step.poll {
            let (done, _) = w.flow.poll_until(poll, r);
            if !done {
                return;
            }
            w.poll_done = true;
        }
        let observed = w.flow.observe(step, r, plan.target.as_ref().and_then(|t| t.link_type.as_deref()));
        w.moved();
        w.performed.insert(k);
        if k < self.main {
            w.position = w.position.max(k + 1);
            if w.failed.is_none() {
                if let Some(c) = observed.checks.iter().find(|c| !c.passed) {
                    w.failed = Some((k, format!("{}: expected {}, got {}", c.what, c.expected, c.actual)));
                }
            }
        } else if r.status < 300 && req.method == "DELETE" {
            self.finish(w, Ending::LoggedOut);
            self.changed.notify_waiters();
        }
    }

    /// The report so far.
    pub fn report(&self) -> ClientReport {
        let mut state = self.lock();
        let now = self.clock.now();
        state.swept = None;
        self.sweep(&mut state, now);
        // A session a fault interrupted, its client not recovering in it (an expired session
        // never can), is over on the client's side only once the client has gone quiet without
        // a new logon; one that logs on again is counted by its next session.
        let settled = |w: &Watch| match w.ended {
            None => false,
            Some(Ending::ClientExited) => true,
            Some(_) if w.hits.iter().any(|h| !h.recovered) => {
                now.duration_since(w.last_seen) >= self.options.idle
                    && !state.watches.iter().any(|o| o.started > w.last_seen)
            }
            Some(_) => true,
        };
        let sessions: Vec<SessionReport> = state
            .watches
            .iter()
            .map(|w| (w, self.unrecovered(w, &state.watches)))
            .map(|(w, unrecovered)| SessionReport {
                number: w.number,
                representation: w.repr.name().to_owned(),
                passed: unrecovered.is_empty() && w.problems.is_empty(),
                ended: w.ended,
                duration_ms: (w.last_seen.duration_since(w.started).as_secs_f64() * 1000.0).round(),
                faults: w
                    .faults
                    .iter()
                    .map(|f| {
                        self.faults.iter().find(|x| x.kind == *f).map_or_else(
                            || f.name().to_owned(),
                            |x| format!("{} at `{}`", x.kind.name(), self.steps[x.step].name),
                        )
                    })
                    .collect(),
                requests: w.requests.clone(),
                problems: unrecovered
                    .into_iter()
                    .chain(w.problems.iter().cloned())
                    .map(|p| Problem { kind: p.kind, message: scrubbed(p.message, &w.token, w.session_id.as_deref()) })
                    .collect(),
                choices: w.choices.clone(),
                probes: w.probes.clone(),
                settled: settled(w),
            })
            .collect();
        let reasons: Vec<String> = if sessions.is_empty() {
            vec!["no client session was seen: nothing logged on, so nothing was checked".to_owned()]
        } else {
            Vec::new()
        };
        ClientReport {
            scenario: self.scenario.name.clone(),
            passed: sessions.iter().all(|s| s.passed) && state.unattributed.is_empty() && reasons.is_empty(),
            sessions,
            unattributed: state.unattributed.clone(),
            probes: state.probes.clone(),
            reasons,
            unrecorded: self.mock.unrecorded(),
        }
    }

    /// The faults the client of a session that is over did not recover from: not by sending
    /// the request again in it, nor in a session it logged on to after the fault (an expired
    /// session's recovery is that logon; any other's, that session answering the step).
    fn unrecovered(&self, w: &Watch, watches: &[Watch]) -> Vec<Problem> {
        if w.ended.is_none() {
            return Vec::new();
        }
        let later = |h: &Hit| {
            watches.iter().any(|o| {
                o.number > w.number
                    && o.started >= h.at
                    && (h.kind == FaultKind::SessionExpired || o.answered.contains(&h.step))
            })
        };
        w.hits
            .iter()
            .filter(|h| !h.recovered && !later(h))
            .map(|h| problem(ProblemKind::NotRecovered, unrecovered(h.kind, &self.steps[h.step].name, &h.method)))
            .collect()
    }

    /// With `count_calls`: the requests so far by `METHOD /api/path/{id}?query` (ids
    /// templated), with how many came.
    pub fn calls(&self) -> Vec<(String, usize)> {
        self.lock().calls.clone()
    }

    /// Forgets every session, of the checker and of the mock.
    pub fn reset(&self) {
        *self.lock() = State::default();
        self.mock.reset();
    }

    /// Waits until `n` sessions have ended.
    pub async fn until_ended(&self, n: usize) {
        loop {
            let notified = self.changed.notified();
            if self.report().ended() >= n {
                return;
            }
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Headers;
    use crate::http::server::{Handler, Reply};

    fn checker(clock: Arc<ManualClock>) -> Checker {
        checker_with(clock, CheckOptions::default())
    }

    fn checker_with(clock: Arc<ManualClock>, options: CheckOptions) -> Checker {
        let mock = Mock::new(crate::cassette::reference().unwrap(), crate::mock::MockOptions::default());
        let scenario =
            Scenario::parse(&format!("built-in {}", crate::scenario::VM_RESTORE.0), crate::scenario::VM_RESTORE.1)
                .unwrap();
        Checker::new(mock, scenario, options).unwrap().with_clock(clock)
    }

    async fn send(c: &Checker, method: &str, target: &str, token: Option<&str>) -> Response {
        let mut headers = Headers::new();
        headers.push("Accept", "application/xml");
        if let Some(t) = token {
            headers.push(em::SESSION_HEADER, t);
        } else if method == "POST" {
            headers.push("Authorization", "Basic dTpw");
        }
        let req = Request {
            method: method.into(),
            target: target.into(),
            headers,
            body: Default::default(),
            origin: "http://127.0.0.1:9".into(),
            peer: None,
        };
        match c.handle(req).await {
            Reply::Full(r) => r,
            _ => panic!("a full answer"),
        }
    }

    /// The whole session on a clock moved by hand: no sleep, no socket, no flake.
    #[tokio::test]
    async fn polling_too_fast_and_going_idle_are_judged_on_the_checkers_clock() {
        let clock = Arc::new(ManualClock::default());
        let c = checker(clock.clone());
        send(&c, "GET", "/api/", None).await;
        let logon = send(&c, "POST", "/api/sessionMngr/?v=latest", None).await;
        let token = logon.headers.get(em::SESSION_HEADER).unwrap().to_owned();
        let t = Some(token.as_str());
        send(&c, "GET", "/api/vmRestorePoints", t).await;
        let point = "/api/vmRestorePoints/6c958531-3177-4055-b0ce-dc4ef1ce6433";
        send(&c, "GET", &format!("{point}?format=Entity"), t).await;
        send(&c, "POST", &format!("{point}?action=restore"), t).await;
        send(&c, "GET", "/api/tasks/task-1", t).await;
        send(&c, "GET", "/api/tasks/task-1", t).await; // at once: too fast
        clock.advance(Duration::from_millis(300));
        send(&c, "GET", "/api/tasks/task-1", t).await;
        let report = c.report();
        let kinds: Vec<ProblemKind> = report.sessions[0].problems.iter().map(|p| p.kind).collect();
        assert_eq!(kinds, [ProblemKind::PolledTooFast], "{:?}", report.sessions[0].problems);
        assert_eq!(report.sessions[0].ended, None, "still working");
        clock.advance(Duration::from_secs(31));
        let report = c.report();
        assert_eq!(report.sessions[0].ended, Some(Ending::Idle));
        let no_logout = report.sessions[0].problems.iter().find(|p| p.kind == ProblemKind::NoLogout).unwrap();
        assert_eq!(no_logout.message, "did not log out (no request for 31.0 s)");
    }

    /// A client that stopped polling while its Task ran waited out the scenario's whole poll
    /// timeout (30 minutes) before it was judged; a patient one keeps three of its own pace.
    #[tokio::test]
    async fn a_client_that_stops_polling_is_idle_after_its_pace_not_the_whole_poll_timeout() {
        let clock = Arc::new(ManualClock::default());
        let c = checker(clock.clone());
        let logon = send(&c, "POST", "/api/sessionMngr/?v=latest", None).await;
        let token = logon.headers.get(em::SESSION_HEADER).unwrap().to_owned();
        let t = Some(token.as_str());
        send(&c, "GET", "/api/vmRestorePoints", t).await;
        let point = "/api/vmRestorePoints/6c958531-3177-4055-b0ce-dc4ef1ce6433";
        send(&c, "GET", &format!("{point}?format=Entity"), t).await;
        send(&c, "POST", &format!("{point}?action=restore"), t).await;
        send(&c, "GET", "/api/tasks/task-1", t).await;
        clock.advance(Duration::from_secs(25));
        send(&c, "GET", "/api/tasks/task-1", t).await; // Running still: a slow poller, 25 s apart
        clock.advance(Duration::from_secs(70));
        let r = c.report();
        assert_eq!(r.sessions[0].ended, None, "within three of its 25 s gaps: {:?}", r.sessions[0].problems);
        clock.advance(Duration::from_secs(6));
        let report = c.report();
        assert_eq!(report.sessions[0].ended, Some(Ending::Idle), "{:?}", report.sessions[0].problems);
        let kinds: Vec<ProblemKind> = report.sessions[0].problems.iter().map(|p| p.kind).collect();
        assert!(kinds.contains(&ProblemKind::NoLogout) && kinds.contains(&ProblemKind::GaveUpPolling), "{kinds:?}");
    }

    /// A client that logs out at the 500 of its restore and then logs on again to send it
    /// recovers in its next session: the first session waits for it (it is not over for
    /// `--until-complete`) and, once it came, passes.
    #[tokio::test]
    async fn a_500_sent_again_after_a_new_logon_is_a_recovery_the_first_session_waits_for() {
        let clock = Arc::new(ManualClock::default());
        let options = CheckOptions { faults: vec!["http-500".parse().unwrap()], ..CheckOptions::default() };
        let c = checker_with(clock.clone(), options);
        let point = "/api/vmRestorePoints/6c958531-3177-4055-b0ce-dc4ef1ce6433";
        for attempt in 0..2 {
            let logon = send(&c, "POST", "/api/sessionMngr/?v=latest", None).await;
            let token = logon.headers.get(em::SESSION_HEADER).unwrap().to_owned();
            let t = Some(token.as_str());
            send(&c, "GET", "/api/vmRestorePoints", t).await;
            send(&c, "GET", &format!("{point}?format=Entity"), t).await;
            let restore = send(&c, "POST", &format!("{point}?action=restore"), t).await;
            assert_eq!(restore.status, if attempt == 0 { 500 } else { 202 });
            if attempt == 0 {
                let id = em::session::logon_session_id(&logon).unwrap();
                send(&c, "DELETE", &format!("/api/logonSessions/{id}"), t).await;
                let report = c.report();
                assert_eq!(report.ended(), 0, "it may still log on again: {:?}", report.sessions[0]);
                assert_eq!(report.sessions[0].problems[0].kind, ProblemKind::NotRecovered);
            }
        }
        let report = c.report();
        assert!(report.sessions[0].problems.is_empty(), "{:?}", report.sessions[0].problems);
        assert_eq!(report.ended(), 0, "the first is counted by the second, which is still working");
    }
}
