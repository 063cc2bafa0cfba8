//! The mock Enterprise Manager: answers requests from recorded exchanges. It mints session
//! tokens at logon and checks them afterwards, rewrites links to the caller's own address,
//! replays polling sequences per session, and explains every request it cannot match.

pub mod coverage;
mod index;
mod near_miss;
mod render;
mod sessions;
pub mod users;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::cassette::LoadedCassette;
use crate::cassette::template::{Fill, fill_text};
use crate::clock::{Clock, SystemClock};
use crate::em::{self, Repr};
use crate::http::server::{Handler, Reply, RequestProblem};
use crate::http::{Headers, Request, Response, http_date};
use crate::model::{Answer, Model, Step};
use index::Index;
use sessions::{Caller, LiveSession, Sessions};
pub use users::{Role, User};

/// Which of several recorded answers to give.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pick {
    First,
    Last,
}

/// What a recorded exchange that matches a request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lookup {
    /// It is a logon, starting recorded session N.
    pub logon: Option<u32>,
    /// It is a logout.
    pub logout: bool,
    /// Which cassette holds it (an index into those the mock was made with).
    pub source: usize,
    /// Its seq.
    pub seq: u64,
    /// The line its exchange starts on; 0 when not known.
    pub line: usize,
}

/// How the mock behaves beyond what the cassettes say.
#[derive(Clone, Debug)]
pub struct MockOptions {
    /// A session unused this long is over (EM: 15 minutes).
    pub session_timeout: Duration,
    /// Print one line per request on stderr.
    pub log_requests: bool,
    /// Live logon sessions at most; past it a logon gets EM's 503 unless an idle one gives way.
    pub max_sessions: usize,
    /// Print why a request matched nothing on stderr. Off by default: a mock embedded in a
    /// test suite (`emtape::MockServer`) says so in its answers and reports only.
    pub log_misses: bool,
    /// Every task answers Running this many times before its last recorded state.
    pub running_polls: Option<u32>,
    /// Wait this long before every answer.
    pub latency: Option<Duration>,
    /// Where sessions and the model read the time.
    pub clock: Arc<dyn Clock>,
    /// Who may log on; empty: anyone, with any credentials.
    pub users: Arc<[User]>,
    /// Remember which requests each recorded exchange answered ([`Mock::matches`]): for tests
    /// that ask, not for a long-running server.
    pub remember_matches: bool,
    /// Count what the requests exercise of what the cassettes serve ([`Mock::coverage`]).
    pub coverage: bool,
}

impl Default for MockOptions {
    fn default() -> Self {
        Self {
            session_timeout: Duration::from_secs(15 * 60),
            max_sessions: 10_000,
            log_requests: false,
            log_misses: false,
            running_polls: None,
            latency: None,
            clock: Arc::new(SystemClock),
            users: Arc::from(Vec::new()),
            remember_matches: false,
            coverage: false,
        }
    }
}

/// A cassette the mock serves, by name, with where its exchanges start.
struct Source {
    name: String,
}

/// Replays cassettes as an EM server would answer.
pub struct Mock {
    sources: Vec<Source>,
    /// The packs whose bodies are read by place: each answer is made while they are as loaded.
    packs: Vec<Arc<crate::cassette::pack::PackFile>>,
    index: Index,
    model: Model,
    /// Whether any request asked for XML, for JSON: `--strict` counts an exchange of a
    /// representation nobody asked for as out of reach, not unused.
    asked: [AtomicBool; 2],
    sessions: Sessions,
    options: MockOptions,
    /// Answers served that rest on no recording of their own, by request.
    unrecorded: Mutex<BTreeMap<String, Unrecorded>>,
    /// With `remember_matches`: the requests each recorded exchange answered, by entry.
    matched: Mutex<BTreeMap<usize, Vec<String>>>,
    /// With `coverage`: what the requests exercised.
    exercised: Mutex<coverage::Exercised>,
}

/// An answer the mock served that no recording holds as it is: what it rests on, and how it
/// was made.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Unrecorded {
    /// `GET /api/vmRestorePoints/{id}?format=Entity (JSON)`, its first target.
    pub request: String,
    pub basis: crate::model::Basis,
    pub note: String,
    pub count: usize,
}

/// Unrecorded answers remembered at most (distinct requests).
const UNRECORDED_KEPT: usize = 10_000;

/// The request reduced to what matching looks at.
pub(crate) struct Key<'a> {
    pub method: &'a str,
    pub path: String,
    pub query: Vec<(String, String)>,
    /// The `v=` of a logon request, lower case.
    pub version: Option<String>,
    pub repr: Repr,
    pub body: &'a [u8],
}

impl<'a> Key<'a> {
    fn of(req: &'a Request) -> Key<'a> {
        let path = em::normalize_path(req.path());
        let mut query = em::normalize_query(req.query());
        let version = query.iter().find(|(k, _)| k == "v").map(|(_, v)| v.clone());
        query.retain(|(k, _)| k != "v");
        let logon = em::is_logon_path(&path);
        Key {
            method: &req.method,
            path,
            query,
            version: if logon { version } else { None },
            repr: Repr::from_accept(&req.headers),
            body: &req.body,
        }
    }
}

impl Mock {
    pub fn new(cassettes: Vec<LoadedCassette>, options: MockOptions) -> Mock {
        let sources = cassettes.iter().map(|c| Source { name: c.name.clone() }).collect();
        let packs = cassettes.iter().filter_map(|c| c.pack.clone()).collect();
        let style = cassettes
            .iter()
            .find_map(|c| {
                let meta = &c.cassette.meta;
                em::TokenStyle::of_meta(meta.session_tokens.as_deref(), meta.product_version.as_deref())
            })
            .unwrap_or_default();
        let (model, compiled) = Model::build_beside(cassettes, options.clock.clone(), Index::compile);
        let index = Index::build(compiled);
        Mock {
            sources,
            packs,
            index,
            model,
            asked: Default::default(),
            sessions: Sessions::new(options.session_timeout, options.max_sessions, options.clock.clone(), style),
            options,
            unrecorded: Mutex::default(),
            matched: Mutex::default(),
            exercised: Mutex::default(),
        }
    }

    /// How many recorded exchanges it serves.
    pub fn exchange_count(&self) -> usize {
        self.index.entries.len()
    }

    /// The LogonSession id of a live session's token (opaque tokens name none themselves).
    pub fn session_id(&self, token: &str) -> Option<String> {
        self.sessions.session_id(token)
    }

    /// Number of sessions currently logged on.
    pub fn live_sessions(&self) -> usize {
        self.sessions.live_count()
    }

    /// Forgets every session and every position in every sequence.
    pub fn reset(&self) {
        self.sessions.reset();
    }

    /// Answers one request.
    pub fn respond(&self, req: &Request) -> Response {
        self.respond_with(req, None)
    }

    /// Answers one request; for a request recorded several times, `pick` chooses the first or
    /// the last recorded answer instead of the next one in the sequence.
    pub fn respond_with(&self, req: &Request, pick: Option<Pick>) -> Response {
        render::settled(self.respond_later(req, pick))
    }

    /// [`Mock::respond_with`], a large body of a pack left to be written as it is sent
    /// ([`Response::later`]): what a server answers with.
    pub fn respond_later(&self, req: &Request, pick: Option<Pick>) -> Response {
        let mut response = self.answer_with(req, pick);
        // A body read by place from a pack written over meanwhile would be another's bytes
        // (each read checks its pack; a derived answer reads several, and says nothing).
        if let Some(e) = self.packs.iter().find_map(|p| p.unchanged().err()) {
            response = render::unreadable(&e);
        }
        if self.options.coverage && !req.path().starts_with("/__emtape/") {
            self.exercise(req, &response);
        }
        response
    }

    /// Counts what a request exercised.
    fn exercise(&self, req: &Request, response: &Response) {
        let key = Key::of(req);
        let asked = self.model.asked(&key.method.to_ascii_uppercase(), &key.path, &key.query);
        let mut e = self.exercised.lock().unwrap_or_else(|e| e.into_inner());
        e.requests += 1;
        let count = |map: &mut BTreeMap<String, usize>, name: String| *map.entry(name).or_default() += 1;
        if let Some(kind) = asked.kind {
            count(&mut e.types, kind);
        }
        for l in asked.links {
            count(&mut e.links, l);
        }
        for a in asked.actions {
            count(&mut e.actions, a);
        }
        if let Some(q) = asked.query_type {
            count(&mut e.query_types, q);
        }
        count(&mut e.reprs, key.repr.name().to_owned());
        count(&mut e.statuses, format!("{}xx", response.status / 100));
    }

    /// What the requests so far exercised of what the cassettes serve (needs `coverage`).
    pub fn coverage(&self) -> coverage::Coverage {
        let surface = self.model.surface();
        let e = self.exercised.lock().unwrap_or_else(|e| e.into_inner());
        let mut reprs: BTreeMap<String, usize> = BTreeMap::new();
        let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
        for entry in &self.index.entries {
            if let Some(r) = entry.repr {
                *reprs.entry(r.name().to_owned()).or_default() += 1;
            }
            *statuses.entry(format!("{}xx", entry.response.status() / 100)).or_default() += 1;
        }
        coverage::Coverage {
            requests: e.requests,
            dimensions: vec![
                coverage::dimension("resource types", &surface.types, &e.types),
                coverage::dimension("links followed", &surface.links, &e.links),
                coverage::dimension("actions", &surface.actions, &e.actions),
                coverage::dimension("query types", &surface.query_types, &e.query_types),
                coverage::dimension("representations", &reprs, &e.reprs),
                coverage::dimension("statuses", &statuses, &e.statuses),
            ],
        }
    }

    fn answer_with(&self, req: &Request, pick: Option<Pick>) -> Response {
        if req.method == "HEAD" {
            // GET's answer; the server sends its head only.
            let get = Request { method: "GET".to_owned(), ..req.clone() };
            return self.answer_with(&get, pick);
        }
        let key = Key::of(req);
        self.asked[usize::from(key.repr == Repr::Json)].store(true, Ordering::Relaxed);
        let token = em::session_token(&req.headers);
        let caller = self.sessions.caller(token);
        if let Some(user) = caller.live().and_then(|s| self.user(s)) {
            if !user.role.may_use(&key.path) {
                return self.forbid(req, key.repr, &format!("{} ({}) may not use {}", user.name, user.role, key.path));
            }
        }
        if let Some(response) = self.own(req, &key, &caller, pick) {
            return response;
        }
        // A collection the caller's session added to (a restore's RestoreSession) is answered
        // as it is now, with the new member, not as it was recorded.
        if key.method == "GET" && self.grew(&caller, &key.path) {
            return self.model_answer(req, &key, &caller);
        }
        let Some(group) = self.find(&key, &caller) else {
            if let Some(refusal) = self.unsupported_version(req, &key) {
                return refusal;
            }
            return self.model_answer(req, &key, &caller);
        };
        let members = self.index.group(group);
        let first = &self.index.entries[members[0]];
        if first.session.is_some() && !(key.method == "GET" && em::is_public_path(&key.path)) {
            match &caller {
                Caller::Live(_) => {}
                Caller::Anonymous => return self.refuse(req, key.repr, NO_TOKEN),
                Caller::Rejected(why) => return self.refuse(req, key.repr, why),
            }
        }
        if first.needs_credentials && basic_user(&req.headers).is_none() {
            return self.refuse(
                req,
                key.repr,
                "logon needs credentials: send Authorization: Basic base64(user:password)",
            );
        }
        let user = if first.needs_credentials && !self.options.users.is_empty() {
            match self.account(&req.headers) {
                Some(i) => Some(i),
                None => return self.refuse(req, key.repr, WRONG_CREDENTIALS),
            }
        } else {
            None
        };
        let position = match pick {
            _ if members.len() == 1 => 0,
            Some(Pick::First) => 0,
            Some(Pick::Last) => members.len() - 1,
            None => self.sessions.next(caller.live().map(|s| s.token.as_str()), group, members.len()),
        };
        let entry = &self.index.entries[members[position]];
        entry.used.store(true, Ordering::Relaxed);
        if self.options.remember_matches {
            let request = format!("{} {}", req.method, crate::em::session::loggable(&req.target));
            self.matched.lock().unwrap_or_else(|e| e.into_inner()).entry(members[position]).or_default().push(request);
        }
        let date = http_date();
        let opens = entry.logon.as_ref().filter(|_| entry.opens_session());
        let started = match opens.map(|l| self.sessions.start(l.session, user)) {
            Some(Err(why)) => return em::error(key.repr, 503, &why),
            Some(Ok(s)) => Some(s),
            None => None,
        };
        let live = started.as_ref().or(caller.live());
        let session = live.map(|s| (s.id.as_str(), s.token.as_str()));
        let mut response = entry.response.render(&Fill { origin: &req.origin, date: &date, session });
        if let Some(user) = live.and_then(|s| self.user(s)) {
            if opens.is_some() || key.path.starts_with("/api/logonsessions") {
                response = render::settled(response);
                response.body =
                    em::session::with_user_name(&String::from_utf8_lossy(&response.body), &user.name).into();
            }
        }
        if entry.logout && response.status < 300 {
            if let Some(t) = caller.live() {
                self.sessions.end(&t.token);
            }
        }
        if self.options.log_requests {
            log::info!(
                "emtape: {} {} {} -> {} ({} exchange {})",
                req.method,
                crate::em::session::loggable(&req.target),
                key.repr.name(),
                response.status,
                self.sources[entry.source].name,
                entry.seq
            );
        }
        response
    }

    /// The user a Basic credential names with its password, among the mock's users.
    fn account(&self, headers: &crate::http::Headers) -> Option<usize> {
        let (name, password) = basic_credentials(headers)?;
        self.options.users.iter().position(|u| u.name.eq_ignore_ascii_case(&name) && u.password_is(&password))
    }

    /// Whether the caller's session created a member of the collection at `path`.
    fn grew(&self, caller: &Caller, path: &str) -> bool {
        let Some(live) = caller.live() else { return false };
        self.sessions.with_work(&live.token, |w| w.created.iter().any(|c| c.is_in(path))).unwrap_or(false)
    }

    /// Who a live session logged on as, when the mock has users.
    fn user(&self, live: &LiveSession) -> Option<&User> {
        live.user.and_then(|i| self.options.users.get(i))
    }

    /// EM's 403 for what the caller's role may not do.
    fn forbid(&self, req: &Request, repr: Repr, why: &str) -> Response {
        if self.options.log_requests || self.options.log_misses {
            log::info!("emtape: 403 {} {}: {why}", req.method, crate::em::session::loggable(&req.target));
        }
        em::error(repr, 403, "Access denied.")
    }

    /// Answers what the session model owns whatever the tape holds: actions (each POST starts
    /// a new task of the caller's session), the caller's tasks, and the caller's own
    /// LogonSession.
    fn own(&self, req: &Request, key: &Key<'_>, caller: &Caller, pick: Option<Pick>) -> Option<Response> {
        let path = key.path.as_str();
        let action = key.method == "POST" && self.model.is_action(path, &key.query);
        let task = path == "/api/tasks" || path.starts_with("/api/tasks/");
        let logon_session = matches!(key.method, "GET" | "DELETE") && path.starts_with("/api/logonsessions/");
        if !(action || task || logon_session) {
            return None;
        }
        let live = match caller {
            Caller::Live(live) => live,
            _ if !action => return None,
            Caller::Anonymous => return Some(self.refuse(req, key.repr, NO_TOKEN)),
            Caller::Rejected(why) => return Some(self.refuse(req, key.repr, why)),
        };
        let session = Some((live.id.as_str(), live.token.as_str()));
        if action {
            return Some(self.start_action(req, key, live));
        }
        if logon_session {
            let own = path.rsplit('/').next().is_some_and(|id| id.eq_ignore_ascii_case(&live.id));
            if !own {
                // Its id is not echoed: an id is as good as the token it is the base64 of.
                let why = "that LogonSession is not this session's: a client reads and ends only its own logon \
                           session, the one its logon's Location header names";
                self.log(req, key.repr, 404, "another session's LogonSession");
                return Some(em::error(key.repr, 404, why));
            }
            return if key.method == "GET" { self.own_logon_session(req, key, live) } else { None };
        }
        let id = path.strip_prefix("/api/tasks/");
        let step = match pick {
            None => self.options.running_polls.map_or(Step::Next, Step::Running),
            Some(Pick::First) => Step::First,
            Some(Pick::Last) => Step::Last,
        };
        let answer = self.sessions.with_work(&live.token, |work| match (key.method, id) {
            ("GET", None) => {
                Some((200, key.repr, self.model.task_list(&work.tasks, key.repr), "the session's tasks".into()))
            }
            ("GET", Some(id)) => {
                let task = work.tasks.iter_mut().find(|t| t.id.eq_ignore_ascii_case(id))?;
                let (repr, body) = task.poll(key.repr, step);
                Some((200, repr, body, task.note.clone()))
            }
            ("DELETE", Some(id)) => {
                let at = work.tasks.iter().position(|t| t.id.eq_ignore_ascii_case(id))?;
                let task = work.tasks.remove(at);
                Some((204, key.repr, String::new(), format!("{} deleted", task.id)))
            }
            _ => None,
        })?;
        // A task this session did not start (or deleted) does not exist for it, whatever the
        // tape holds: EM scopes tasks to the logon session.
        let (status, repr, body, note) = match (answer, id) {
            (Some(a), _) => a,
            (None, Some(id)) if matches!(key.method, "GET" | "DELETE") => (
                404,
                key.repr,
                format!(
                    "Task {id} does not exist in this logon session (a task belongs to the session that started it)."
                ),
                "model".to_owned(),
            ),
            (None, _) => return None,
        };
        let answer = Answer { status, repr, body, note, basis: crate::model::Basis::Assembled };
        Some(self.answer(req, answer, session))
    }

    fn start_action(&self, req: &Request, key: &Key<'_>, live: &LiveSession) -> Response {
        let session = Some((live.id.as_str(), live.token.as_str()));
        if let (Some(user), Some(vm)) = (self.user(live), self.model.vm_of(&key.path)) {
            if !user.may_restore(&vm) {
                let why = format!(
                    "{} ({}) may not restore {vm}: it is not in the account's restore scope",
                    user.name, user.role
                );
                return self.forbid(req, key.repr, &why);
            }
        }
        // The number is reserved under the sessions lock, the work done outside it: starting a
        // task derives bodies (and may wait for the catalog), and every other request needs
        // that lock.
        let Some((number, repeat)) = self.sessions.with_work(&live.token, |work| {
            work.started += 1;
            (work.started, work.targets.contains(&key.path))
        }) else {
            return self.refuse(req, key.repr, "the session ended; log on again");
        };
        let started = match self.model.start(&key.path, &key.query, key.repr, key.body, number, repeat) {
            Some(Ok(started)) => Some(Ok(started)),
            Some(Err(answer)) => {
                self.sessions.with_work(&live.token, |work| {
                    if work.started == number {
                        work.started -= 1;
                    }
                });
                Some(Err(answer))
            }
            None => None,
        };
        let started = started.map(|r| {
            r.map(|crate::model::Started { task, created, exchanges }| {
                let (repr, body) = task.accepted(key.repr);
                let response = (task.status, task.headers.clone(), repr, body, task.note.clone());
                self.sessions.with_work(&live.token, |work| {
                    work.targets.insert(key.path.clone());
                    work.created.extend(created);
                    work.tasks.push(task);
                });
                (response, exchanges)
            })
        });
        match started {
            None => self.refuse(req, key.repr, "the session ended while the action started; log on again"),
            Some(Err(answer)) => self.answer(req, answer, session),
            Some(Ok(((status, headers, repr, body, note), exchanges))) => {
                self.mark_used(&exchanges);
                let date = http_date();
                let fill = Fill { origin: &req.origin, date: &date, session };
                let mut response = Response::new(status);
                for (name, value) in &headers {
                    response.headers.push(name.clone(), fill_text(value, &fill));
                }
                response.headers.set("Content-Type", repr.content_type());
                response.body = fill_text(&body, &fill).into();
                self.log(req, key.repr, response.status, &note);
                response
            }
        }
    }

    /// `GET /api/logonSessions/{own id}`: the LogonSession the caller's logon answered with.
    fn own_logon_session(&self, req: &Request, key: &Key<'_>, live: &LiveSession) -> Option<Response> {
        let logons = self
            .index
            .entries
            .iter()
            .filter(|e| e.opens_session() && e.logon.as_ref().is_some_and(|l| l.session == live.recorded));
        let entry = logons.clone().find(|e| e.repr == Some(key.repr)).or_else(|| logons.clone().next())?;
        let date = http_date();
        let session = Some((live.id.as_str(), live.token.as_str()));
        let mut response = entry.response.render(&Fill { origin: &req.origin, date: &date, session });
        response = render::settled(response);
        response.status = 200;
        response.reason = None;
        if let Some(user) = self.user(live) {
            response.body = em::session::with_user_name(&String::from_utf8_lossy(&response.body), &user.name).into();
        }
        for name in ["location", "set-cookie", em::SESSION_HEADER] {
            response.headers.remove(name);
        }
        self.log(req, key.repr, 200, "the caller's LogonSession, from its logon");
        Some(response)
    }

    /// A logon asking for an API version no recorded logon of the server accepts (its
    /// `SupportedVersions`) is refused as EM refuses it: a 400 `Error` naming the versions
    /// there are. EM's exact words are not documented; the status and shape are EM's.
    fn unsupported_version(&self, req: &Request, key: &Key<'_>) -> Option<Response> {
        let asked = key.version.as_deref().filter(|v| *v != "latest")?;
        if key.method != "POST" || !em::is_logon_path(&key.path) {
            return None;
        }
        let logons: Vec<&index::Logon> = self.index.entries.iter().filter_map(|e| e.logon.as_deref()).collect();
        if logons.is_empty() || logons.iter().any(|l| l.versions.iter().any(|v| v == asked)) {
            return None;
        }
        let mut versions: Vec<&str> = Vec::new();
        for v in logons.iter().flat_map(|l| &l.versions) {
            if !versions.contains(&v.as_str()) {
                versions.push(v);
            }
        }
        let message =
            format!("The requested API version {asked} is not supported. Supported versions: {}.", versions.join(", "));
        self.log(req, key.repr, 400, "a version the server does not support");
        Some(em::error(key.repr, 400, &message))
    }

    /// What the model answers for a request the tape does not hold: a resource, collection or
    /// service it knows (for a live session), or the near miss explained.
    fn model_answer(&self, req: &Request, key: &Key<'_>, caller: &Caller) -> Response {
        let live = caller.live().map(|s| (s.id.as_str(), s.token.as_str()));
        if key.method == "GET" && em::is_query_path(&key.path) && caller.live().is_none() {
            return match caller {
                Caller::Rejected(why) => self.refuse(req, key.repr, why),
                _ => self.refuse(req, key.repr, NO_TOKEN),
            };
        }
        if key.method == "GET" {
            let created = caller
                .live()
                .and_then(|s| self.sessions.with_work(&s.token, |w| w.created.clone()))
                .unwrap_or_default();
            if let Some(mut answer) = self.model.get(&key.path, &key.query, key.repr, &created) {
                if answer.status == 404 {
                    answer.body = format!("{}\n{}", answer.body, near_miss::explain(self, req, key, live));
                }
                return match caller {
                    Caller::Live(_) => self.answer(req, answer, live),
                    Caller::Anonymous => self.refuse(req, key.repr, NO_TOKEN),
                    Caller::Rejected(why) => self.refuse(req, key.repr, why),
                };
            }
        }
        let explanation = near_miss::explain(self, req, key, live);
        let allowed = self.methods_on(key, live);
        if allowed.is_empty() || allowed.contains(&key.method) {
            if self.options.log_misses || self.options.log_requests {
                log::info!("emtape: 404 {}", indent(&explanation));
            }
            return em::error(key.repr, 404, &explanation);
        }
        let allow = allowed.join(", ");
        let message = format!("{} is not allowed on {}: it takes {allow}\n{explanation}", key.method, req.path());
        if self.options.log_misses || self.options.log_requests {
            log::info!("emtape: 405 {}", indent(&message));
        }
        em::error(key.repr, 405, &message).header("Allow", allow)
    }

    /// The methods something answers on the request's path: those recorded there, and GET
    /// where the model holds the resource.
    fn methods_on<'k>(&'k self, key: &Key<'k>, live: Option<(&str, &str)>) -> Vec<&'k str> {
        let mut methods: Vec<&str> =
            self.index.entries.iter().filter(|e| e.path_matches(&key.path, live)).map(|e| e.method.as_str()).collect();
        if key.method != "GET" && self.model.get(&key.path, &[], key.repr, &[]).is_some_and(|a| a.status < 400) {
            methods.push("GET");
        }
        methods.sort_unstable();
        methods.dedup();
        methods
    }

    fn answer(&self, req: &Request, answer: Answer, session: Option<(&str, &str)>) -> Response {
        let response = if answer.status >= 400 {
            em::error(answer.repr, answer.status, &answer.body)
        } else {
            let date = http_date();
            let mut response =
                Response::new(answer.status).header("Server", "Microsoft-HTTPAPI/2.0").header("Date", date.clone());
            if !answer.body.is_empty() {
                let fill = Fill { origin: &req.origin, date: &date, session };
                response =
                    response.header("Content-Type", answer.repr.content_type()).body(fill_text(&answer.body, &fill));
            }
            response
        };
        self.log(req, answer.repr, response.status, &answer.note);
        if answer.basis.unrecorded() && response.status < 400 {
            let request =
                format!("{} {} ({})", req.method, crate::em::session::loggable(&req.target), answer.repr.name());
            let mut seen = self.unrecorded.lock().unwrap_or_else(|e| e.into_inner());
            let shape = crate::diff::link_template(&request);
            if let Some(u) = seen.get_mut(&shape) {
                u.count += 1;
                // A shape's example is its least request, not the first answered: requests
                // answered side by side (lint's walk) would show one or another from run to run.
                if request < u.request {
                    (u.request, u.basis, u.note) = (request, answer.basis, answer.note.clone());
                }
            } else if seen.len() < UNRECORDED_KEPT {
                seen.insert(shape, Unrecorded { request, basis: answer.basis, note: answer.note.clone(), count: 1 });
            }
        }
        response
    }

    /// With `remember_matches`: each recorded exchange that answered something (`cassette:line,
    /// exchange N`), with the requests it answered, in the order of the tape.
    pub fn matches(&self) -> Vec<(String, Vec<String>)> {
        let matched = self.matched.lock().unwrap_or_else(|e| e.into_inner());
        matched
            .iter()
            .map(|(i, requests)| {
                let e = &self.index.entries[*i];
                (format!("{}:{}, exchange {}", self.sources[e.source].name, e.line, e.seq), requests.clone())
            })
            .collect()
    }

    /// The answers served so far that rest on no recording of their own (derived from a
    /// sibling, or written from listings), one per request shape, most made first.
    pub fn unrecorded(&self) -> Vec<Unrecorded> {
        let seen = self.unrecorded.lock().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<Unrecorded> = seen.values().cloned().collect();
        all.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.request.cmp(&b.request)));
        all
    }

    fn log(&self, req: &Request, repr: Repr, status: u16, note: &str) {
        if self.options.log_requests {
            log::info!(
                "emtape: {} {} {} -> {status} ({note})",
                req.method,
                crate::em::session::loggable(&req.target),
                repr.name()
            );
        }
    }

    fn mark_used(&self, exchanges: &[(usize, u64)]) {
        for e in &self.index.entries {
            if exchanges.contains(&(e.source, e.seq)) {
                e.used.store(true, Ordering::Relaxed);
            }
        }
    }

    fn refuse(&self, req: &Request, repr: Repr, why: &str) -> Response {
        if self.options.log_requests {
            log::info!("emtape: 401 {} {}: {why}", req.method, crate::em::session::loggable(&req.target));
        }
        em::unauthorized(repr, why)
    }

    /// The sequence that answers `key`: among those that match, the one recorded in the
    /// caller's own recorded session first, then a logon recorded with the very version asked.
    fn find(&self, key: &Key<'_>, caller: &Caller) -> Option<usize> {
        let live = caller.live().map(|s| (s.id.as_str(), s.token.as_str()));
        let recorded = caller.live().map(|s| s.recorded);
        let routed = self.index.routed(&key.path);
        let templated = self
            .index
            .templated
            .iter()
            .copied()
            .filter(|&g| self.index.entries[self.index.group(g)[0]].path_matches(&key.path, live));
        routed
            .chain(templated)
            .filter(|&g| {
                let e = &self.index.entries[self.index.group(g)[0]];
                e.method == key.method
                    && e.query == key.query
                    && e.accepts_version(key.version.as_deref())
                    && e.repr.is_none_or(|r| r == key.repr)
                    && e.body.check(key.body).is_ok()
            })
            .min_by_key(|&g| {
                let e = &self.index.entries[self.index.group(g)[0]];
                let other_session = e.session.flatten().is_some() && e.session.flatten() != recorded;
                let other_version =
                    e.logon.as_ref().is_some_and(|l| Some(l.recorded.as_str()) != key.version.as_deref());
                // A recorded refusal yields to a recorded logon that answers the same request.
                (e.refused_logon(), other_session, other_version, g)
            })
    }

    /// What the mock would answer `req` with, without answering or changing anything:
    /// `None` when no recorded exchange matches.
    pub fn lookup(&self, req: &Request) -> Option<Lookup> {
        let key = Key::of(req);
        let caller = self.sessions.caller(em::session_token(&req.headers));
        let group = self.find(&key, &caller)?;
        let entry = &self.index.entries[self.index.group(group)[0]];
        let logon = entry.logon.as_ref().filter(|_| entry.opens_session()).map(|l| l.session);
        Some(Lookup { logon, logout: entry.logout, source: entry.source, seq: entry.seq, line: entry.line })
    }

    /// Whether `token` is the token of a session the mock has started and not ended.
    pub fn is_live(&self, token: &str) -> bool {
        matches!(self.sessions.caller(Some(token)), Caller::Live(_))
    }

    /// Treats `token`, issued by a real server, as a live session standing in for recorded
    /// session `recorded` (a recorder appending to a cassette logs on for real).
    pub fn adopt(&self, token: &str, recorded: u32) {
        self.sessions.adopt(token, recorded);
    }

    /// Ends the session of `token`.
    pub fn end_session(&self, token: &str) {
        self.sessions.end(token);
    }

    /// Recorded exchanges no request has used, one line each; exchanges of a representation no
    /// request asked for are out of reach, not unused.
    pub fn unused(&self) -> Vec<String> {
        // A representation no client asked for is not counted; when none was asked, both are.
        let asked = |r: Repr| {
            let [xml, json] = [&self.asked[0], &self.asked[1]].map(|a| a.load(Ordering::Relaxed));
            !(xml || json) || if r == Repr::Json { json } else { xml }
        };
        // The same request recorded in two cassettes (the logout of the XML and of the JSON
        // flow) is answered by one of them: the other could not have been used.
        let answered: std::collections::HashSet<_> = self
            .index
            .entries
            .iter()
            .filter(|e| e.used.load(Ordering::Relaxed))
            .map(|e| (e.source, e.match_key()))
            .collect();
        let shadowed = |e: &index::Entry| {
            let key = e.match_key();
            answered.iter().any(|(source, k)| *source != e.source && *k == key)
        };
        self.index
            .entries
            .iter()
            .filter(|e| !e.used.load(Ordering::Relaxed) && e.repr.is_none_or(asked) && !shadowed(e))
            .map(|e| format!("{} {} ({})", e.method, e.uri, self.place(e)))
            .collect()
    }

    /// The mock's own endpoints, never confused with EM's: `POST /__emtape/reset` forgets every
    /// session and task, `GET /__emtape/coverage` says what was exercised so far (JSON; with
    /// `--coverage`); a client report needs `serve --scenario`.
    pub(crate) fn admin(&self, req: &Request) -> Response {
        let text = |status: u16, body: String| {
            Response::new(status).header("Content-Type", "text/plain; charset=utf-8").body(body)
        };
        match (req.method.as_str(), req.path().trim_end_matches('/')) {
            ("POST", "/__emtape/reset") => {
                self.reset();
                Response::new(204)
            }
            ("GET", "/__emtape/report") | ("POST", "/__emtape/finish") => {
                text(404, "no client report: this mock checks no clients (start serve with --scenario FILE)\n".into())
            }
            ("GET", "/__emtape/coverage") if self.options.coverage => Response::new(200)
                .header("Content-Type", "application/json")
                .body(serde_json::to_string_pretty(&self.coverage()).unwrap_or_default()),
            ("GET", "/__emtape/coverage") => text(
                404,
                "no coverage: this mock counts nothing (start serve with --coverage or --coverage-json FILE)\n".into(),
            ),
            _ => text(
                404,
                format!(
                    "{} {} is not an emtape admin endpoint; there are POST /__emtape/reset and GET /__emtape/coverage\n",
                    req.method,
                    req.path()
                ),
            ),
        }
    }

    /// The representation the set holds that no client asked for while another was (its
    /// exchanges are not counted as unused).
    pub fn unasked(&self) -> Option<Repr> {
        let unasked = match [&self.asked[0], &self.asked[1]].map(|a| a.load(Ordering::Relaxed)) {
            [true, false] => Repr::Json,
            [false, true] => Repr::Xml,
            _ => return None,
        };
        self.index.entries.iter().any(|e| e.repr == Some(unasked)).then_some(unasked)
    }

    /// Recorded exchanges no request can ever get: an earlier cassette of the set holds the
    /// same request with another answer, and the earlier one always wins. (file, line, what).
    pub fn shadowed(&self) -> Vec<(String, usize, String)> {
        let fill = Fill { origin: "http://x", date: "d", session: None };
        let entries = &self.index.entries;
        // Each sequence's first exchange; a sequence of another cassette answers the same request.
        let firsts: Vec<usize> = self.index.groups().map(|members| members[0]).collect();
        let mut out = Vec::new();
        for (g, earlier) in index::first_alike(firsts.len(), |g| entries[firsts[g]].match_key()).into_iter().enumerate()
        {
            let (w, e) = (&entries[firsts[earlier]], &entries[firsts[g]]);
            if earlier == g || w.source == e.source {
                continue;
            }
            let (a, b) = (render::settled(w.response.render(&fill)), render::settled(e.response.render(&fill)));
            if a.status != b.status || a.body != b.body {
                out.push((
                    self.sources[e.source].name.clone(),
                    e.line,
                    format!(
                        "exchange {} ({} {}) is never served: {} answers the same request first",
                        e.seq,
                        e.method,
                        e.uri,
                        self.place(w)
                    ),
                ));
            }
        }
        out
    }

    fn place(&self, e: &index::Entry) -> String {
        let name = &self.sources[e.source].name;
        if e.line > 0 {
            format!("{name}:{}, exchange {}", e.line, e.seq)
        } else {
            format!("{name}, exchange {}", e.seq)
        }
    }
}

/// The user of a request's `Authorization: Basic base64(user:password)`, if it has one.
fn basic_user(headers: &crate::http::Headers) -> Option<String> {
    basic_credentials(headers).map(|(user, _)| user)
}

/// The user and password of a request's `Authorization: Basic base64(user:password)`.
fn basic_credentials(headers: &crate::http::Headers) -> Option<(String, String)> {
    let value = headers.get("authorization")?.trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(crate::codec::base64_decode(encoded.trim())?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    (!user.is_empty()).then(|| (user.to_owned(), password.to_owned()))
}

/// What a logon with credentials no user of the mock has gets (EM's words are not documented).
const WRONG_CREDENTIALS: &str = "Logon failed: the user name or password is incorrect.";

const NO_TOKEN: &str = "the request carries no session token (X-RestSvcSessionId header or cookie); log on first with POST /api/sessionMngr/?v=latest";

/// Continuation lines of a multi-line message, indented under its first line.
fn indent(text: &str) -> String {
    text.replace('\n', "\n  ")
}

impl Handler for Mock {
    async fn handle(&self, req: Request) -> Reply {
        if req.path().starts_with("/__emtape/") {
            return self.admin(&req).into();
        }
        if let Some(latency) = self.options.latency {
            tokio::time::sleep(latency).await;
        }
        self.respond_later(&req, None).into()
    }

    fn reject(&self, request_line: &str, problem: &RequestProblem) -> Response {
        let message = match problem {
            RequestProblem::TooLarge { limit } => {
                format!("{request_line}: the request body is larger than {limit} bytes")
            }
            RequestProblem::Broken(e) => format!("{request_line}: the request body could not be read: {e}"),
            #[allow(unreachable_patterns)]
            _ => format!("{request_line}: the request could not be read"),
        };
        if self.options.log_misses || self.options.log_requests {
            log::info!("emtape: {message}");
        }
        let status = if matches!(problem, RequestProblem::TooLarge { .. }) { 413 } else { 400 };
        em::error(Repr::Xml, status, &message)
    }

    fn panicked(&self, request_line: &str, headers: &Headers, why: &str) -> Response {
        em::panicked(request_line, headers, why)
    }
}
