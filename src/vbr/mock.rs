//! The mock VBR server: a small, consistent Backup & Replication REST server built from
//! recordings. It mints OAuth2 tokens (password and refresh_token grants, expiry, logout),
//! insists on a revision it serves in `x-api-version`, answers every list with paging
//! (`skip`, `limit`), the spec's filters and order, every id a list names as its entity, runs
//! restores and instant recovery as sessions that progress to `Stopped`/`Success`, and answers
//! everything else in the API's error model, saying what was recorded instead.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::store::{Store, plain, shape, singular};
use super::{API_VERSION_HEADER, ErrorCode, LOGOUT_PATH, TOKEN_PATH, bearer, error, form_value};
use crate::cassette::LoadedCassette;
use crate::clock::{Clock, SystemClock};
use crate::codec::{base64_encode, is_uuid, random_bytes, random_uuid};
use crate::http::server::{Handler, Reply};
use crate::http::{Request, Response, format_rfc3339};
use crate::mock::User;

/// How the mock behaves beyond what the recordings say.
#[derive(Clone, Debug)]
pub struct VbrOptions {
    /// An access token's life (VBR: 15 minutes).
    pub token_lifetime: Duration,
    /// A refresh token's life (VBR: 14 days).
    pub refresh_lifetime: Duration,
    /// A session answers `Working` this many times before it stops.
    pub running_polls: u32,
    /// Who may log on; empty: anyone, with any non-empty credentials.
    pub users: Arc<[User]>,
    /// Print one line per request on stderr.
    pub log_requests: bool,
    /// Print why a request matched nothing on stderr.
    pub log_misses: bool,
    pub clock: Arc<dyn Clock>,
    /// An OpenAPI document request bodies must meet (else 400) and answers are checked against
    /// (a warning each): `serve --spec`.
    pub spec: Option<Arc<crate::openapi::Spec>>,
    /// Remember every request and its answer ([`VbrMock::heard`]): for a matrix cell, not a
    /// long-running server.
    pub remember: bool,
    /// Count what the requests exercise of what the cassettes serve ([`VbrMock::coverage`]).
    pub coverage: bool,
}

/// Operations by name (`GET /api/v1/restorePoints/{id}`): how often, with which statuses.
type Uses = BTreeMap<String, (u64, BTreeSet<u16>)>;

/// A request the mock answered, as a report shows it.
#[derive(Clone, Debug)]
pub struct Heard {
    /// `GET /api/v1/restorePoints?limit=1`, secrets redacted.
    pub request: String,
    pub status: u16,
    /// The error model's message, for a refusal.
    pub message: Option<String>,
}

impl Default for VbrOptions {
    fn default() -> Self {
        VbrOptions {
            token_lifetime: Duration::from_secs(15 * 60),
            refresh_lifetime: Duration::from_secs(14 * 24 * 3600),
            running_polls: 1,
            users: Arc::from(Vec::new()),
            log_requests: false,
            log_misses: false,
            clock: Arc::new(SystemClock),
            spec: None,
            remember: false,
            coverage: false,
        }
    }
}

/// A pair of tokens the mock issued.
struct Grant {
    access: String,
    refresh: String,
    access_until: Instant,
    refresh_until: Instant,
    /// Logged out, or its refresh token used.
    revoked: bool,
}

/// What an asynchronous operation does to the estate when its session stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Effect {
    None,
    /// Its mount becomes `Mounted`.
    Mount,
    /// Its mount is gone (unmounted, or migrated to production).
    Dismount,
}

/// A session the mock started.
struct Running {
    model: Map<String, Value>,
    polls: u32,
    effect: Effect,
    mount: Option<String>,
}

#[derive(Default)]
struct State {
    grants: Vec<Grant>,
    sessions: Vec<Running>,
    /// Instant recovery mounts started here, by the path of their list.
    mounts: Vec<(String, Map<String, Value>)>,
    usn: u64,
}

pub struct VbrMock {
    store: Store,
    /// Revisions a request may name (the recordings'); any, when they name none.
    revisions: Vec<String>,
    options: VbrOptions,
    state: Mutex<State>,
    heard: Mutex<Vec<Heard>>,
    /// Of the operations on tape, and of the `--spec` document's.
    used: Mutex<(Uses, Uses)>,
}

impl VbrMock {
    pub fn new(cassettes: Vec<LoadedCassette>, options: VbrOptions) -> VbrMock {
        let mut revisions: Vec<String> = Vec::new();
        for c in &cassettes {
            let named = c.cassette.meta.api_version.iter().cloned();
            let sent = c
                .cassette
                .exchanges
                .iter()
                .filter_map(|e| e.request.headers.get(API_VERSION_HEADER))
                .map(|v| v.trim().to_owned());
            for r in named.chain(sent) {
                if !revisions.contains(&r) {
                    revisions.push(r);
                }
            }
        }
        VbrMock {
            store: Store::build(&cassettes),
            revisions,
            options,
            state: Mutex::default(),
            heard: Mutex::default(),
            used: Mutex::default(),
        }
    }

    /// What the requests so far exercised, when asked to count.
    pub fn coverage(&self) -> super::coverage::Coverage {
        let mut recorded: BTreeSet<String> = BTreeSet::new();
        recorded.insert(format!("POST {TOKEN_PATH}"));
        recorded.insert(format!("POST {LOGOUT_PATH}"));
        let gets = self.store.lists.keys().chain(self.store.entities.keys()).chain(self.store.exact.keys());
        recorded.extend(gets.map(|p| format!("GET {}", operation(p.split('?').next().unwrap_or(p)))));
        recorded.extend(self.store.actions.keys().map(|(m, p)| format!("{m} {}", p.replace("{}", "{id}"))));
        let documented: Option<BTreeSet<String>> =
            self.options.spec.as_ref().map(|s| s.operations().map(|(m, t)| format!("{m} {t}")).collect());
        let used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        super::coverage::Coverage::new(self.revisions.clone(), &recorded, documented.as_ref(), &used.0, &used.1)
    }

    /// The requests it answered, when asked to remember them.
    pub fn heard(&self) -> Vec<Heard> {
        self.heard.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The revisions it serves.
    pub fn revisions(&self) -> &[String] {
        &self.revisions
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now(&self) -> Instant {
        self.options.clock.now()
    }

    fn timestamp(&self) -> String {
        format_rfc3339(self.options.clock.unix_seconds())
    }

    pub fn respond(&self, req: &Request) -> Response {
        let response = match self.refuse_body(req) {
            Some(refused) => refused,
            None => self.answer(req),
        };
        if let Some(spec) = &self.options.spec {
            if let Some(c) = spec.check_response(&req.method, req.path(), response.status, &response.body) {
                for v in &c.violations {
                    log::warn!("emtape: spec: the answer to {} breaks {}: {v}", c.operation, spec.file);
                }
            }
        }
        if self.options.coverage {
            let op = format!("{} {}", req.method.to_ascii_uppercase(), operation(req.path()));
            let documented = self.options.spec.as_ref().and_then(|s| s.template_of(&req.method, plain(req.path())));
            let documented = documented.map(|t| format!("{} {t}", req.method.to_ascii_uppercase()));
            let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
            let (tape, spec) = &mut *used;
            for (uses, key) in [(tape, Some(op)), (spec, documented)] {
                if let Some(key) = key {
                    let entry = uses.entry(key).or_default();
                    entry.0 += 1;
                    entry.1.insert(response.status);
                }
            }
        }
        if self.options.remember {
            let mut heard = self.heard.lock().unwrap_or_else(|e| e.into_inner());
            if heard.len() < 10_000 {
                heard.push(Heard {
                    request: format!("{} {}", req.method, crate::em::session::loggable(&req.target)),
                    status: response.status,
                    message: super::error_message(&response.body),
                });
            }
        }
        if self.options.log_requests || (self.options.log_misses && response.status >= 400) {
            let why = super::error_message(&response.body).unwrap_or_default();
            log::info!(
                "emtape: {} {} -> {} {why}",
                req.method,
                crate::em::session::loggable(&req.target),
                response.status
            );
        }
        response
    }

    fn answer(&self, req: &Request) -> Response {
        let path = plain(req.path());
        let method = req.method.to_ascii_uppercase();
        if let Some(refused) = self.refuse_revision(req) {
            return refused;
        }
        if path.eq_ignore_ascii_case(TOKEN_PATH) {
            return if method == "POST" { self.token(req) } else { not_allowed(&method, path) };
        }
        let Some(token) = bearer(&req.headers) else {
            return error(
                401,
                ErrorCode::AccessDenied,
                "Authorization header is missing: get a token with POST /api/oauth2/token and send it as `Authorization: Bearer <access_token>`.",
                None,
            );
        };
        if let Some(refused) = self.refuse_token(token) {
            return refused;
        }
        if path.eq_ignore_ascii_case(LOGOUT_PATH) {
            return self.logout(token);
        }
        match method.as_str() {
            "GET" => self.get(req, path),
            "POST" | "PUT" | "DELETE" => self.act(req, &method, path),
            other => not_allowed(other, path),
        }
    }

    /// A JSON request body that breaks the OpenAPI document the mock was given: the API's 400,
    /// naming every violation by its JSON pointer.
    fn refuse_body(&self, req: &Request) -> Option<Response> {
        let spec = self.options.spec.as_ref()?;
        let checked = spec.check_request(&req.method, plain(req.path()), &req.body)?;
        if checked.violations.is_empty() {
            return None;
        }
        let said: Vec<String> = checked.violations.iter().map(ToString::to_string).collect();
        let message = format!("The request body breaks {} ({}): {}", spec.file, checked.operation, said.join("; "));
        Some(error(400, ErrorCode::UnexpectedContent, &message, None))
    }

    /// EM has no such header; VBR answers a request without one, or naming a revision it does
    /// not serve, with a 400 listing the ones it does.
    fn refuse_revision(&self, req: &Request) -> Option<Response> {
        let asked = req.headers.get(API_VERSION_HEADER).map(str::trim);
        if asked.is_some_and(|a| self.revisions.is_empty() || self.revisions.iter().any(|r| r == a)) {
            return None;
        }
        let served = self.revisions.join(", ");
        let message = match asked {
            None => {
                format!("Missing required header {API_VERSION_HEADER}. The following versions are supported: {served}.")
            }
            Some(a) => format!("Unsupported RESTAPI version {a}. The following versions are supported: {served}."),
        };
        Some(error(400, ErrorCode::NotImplemented, &message, None))
    }

    fn refuse_token(&self, token: &str) -> Option<Response> {
        let now = self.now();
        let state = self.lock();
        let (message, code) = match state.grants.iter().find(|g| g.access == token) {
            Some(g) if g.revoked => ("The access token has been revoked (logged out).", ErrorCode::InvalidToken),
            Some(g) if now >= g.access_until => {
                ("The access token has expired: get a new one with grant_type=refresh_token.", ErrorCode::ExpiredToken)
            }
            Some(_) => return None,
            None => ("The access token is not one this server issued.", ErrorCode::InvalidToken),
        };
        Some(error(401, code, message, None))
    }

    fn token(&self, req: &Request) -> Response {
        let body = String::from_utf8_lossy(&req.body);
        let grant = form_value(&body, "grant_type").unwrap_or_default().to_ascii_lowercase();
        let now = self.now();
        match grant.as_str() {
            "password" => {
                let user = form_value(&body, "username").unwrap_or_default();
                let password = form_value(&body, "password").unwrap_or_default();
                let known =
                    self.options.users.iter().any(|u| u.name.eq_ignore_ascii_case(&user) && u.password_is(&password));
                let anyone = self.options.users.is_empty() && !user.is_empty() && !password.is_empty();
                if !(known || anyone) {
                    return error(
                        401,
                        ErrorCode::AccessDenied,
                        "Authentication failed: wrong user name or password.",
                        None,
                    );
                }
            }
            "refresh_token" => {
                let refresh = form_value(&body, "refresh_token").unwrap_or_default();
                let mut state = self.lock();
                let Some(g) = state.grants.iter_mut().find(|g| g.refresh == refresh && !refresh.is_empty()) else {
                    return error(
                        401,
                        ErrorCode::InvalidToken,
                        "The refresh token is not one this server issued.",
                        None,
                    );
                };
                if g.revoked || now >= g.refresh_until {
                    return error(
                        401,
                        ErrorCode::ExpiredToken,
                        "The refresh token has expired or was used already.",
                        None,
                    );
                }
                // A refresh token serves once.
                g.revoked = true;
            }
            "" => {
                return error(
                    400,
                    ErrorCode::UnexpectedContent,
                    "grant_type is required (password or refresh_token).",
                    None,
                );
            }
            other => {
                return error(
                    400,
                    ErrorCode::UnexpectedContent,
                    &format!("grant_type {other} is not supported by this mock (password, refresh_token)."),
                    None,
                );
            }
        }
        let grant = Grant {
            access: mint(),
            refresh: mint(),
            access_until: now + self.options.token_lifetime,
            refresh_until: now + self.options.refresh_lifetime,
            revoked: false,
        };
        let issued = self.options.clock.unix_seconds();
        let mut model = self.store.token.clone().unwrap_or_default();
        model.insert("access_token".into(), grant.access.clone().into());
        model.insert("token_type".into(), "bearer".into());
        model.insert("refresh_token".into(), grant.refresh.clone().into());
        model.insert("expires_in".into(), self.options.token_lifetime.as_secs().into());
        model.insert(".issued".into(), format_rfc3339(issued).into());
        model.insert(".expires".into(), format_rfc3339(issued + self.options.token_lifetime.as_secs()).into());
        let mut state = self.lock();
        state.grants.retain(|g| !g.revoked || now < g.refresh_until);
        state.grants.push(grant);
        json_response(200, &Value::Object(model))
    }

    fn logout(&self, token: &str) -> Response {
        if let Some(g) = self.lock().grants.iter_mut().find(|g| g.access == token) {
            g.revoked = true;
        }
        json_response(200, &json!({}))
    }

    fn get(&self, req: &Request, path: &str) -> Response {
        let target = if req.query().is_empty() { path.to_owned() } else { format!("{path}?{}", req.query()) };
        // What was recorded for this very request answers as recorded, unless what it lists
        // has changed here since.
        if let Some(r) = self.store.exact.get(&target) {
            if !self.changed(path) {
                return Response::new(r.status)
                    .header("Content-Type", "application/json; charset=utf-8")
                    .body(r.body.clone());
            }
        }
        if let Some(id) = path.strip_prefix("/api/v1/sessions/").filter(|id| is_uuid(id)) {
            if let Some(model) = self.poll(id) {
                return json_response(200, &Value::Object(model));
            }
        }
        if let Some(mount) = self.mount(path) {
            return json_response(200, &Value::Object(mount));
        }
        let started = self.started(path);
        let recorded = self.store.list(path);
        if recorded.is_some() || !started.is_empty() {
            let items = recorded.into_iter().flatten().chain(&started).collect();
            return match page(&self.store, items, req.query()) {
                Ok(body) => Response::new(200).header("Content-Type", "application/json; charset=utf-8").body(body),
                Err(message) => error(400, ErrorCode::UnexpectedContent, &message, None),
            };
        }
        if let Some(entity) = self.store.entities.get(path) {
            return json_response(200, entity);
        }
        // A document recorded without a query answers whatever query it is asked with, as the
        // server ignores parameters it does not take (`/api/v1/serverInfo?limit=3`).
        if let Some(r) = self.store.exact.get(path).filter(|r| r.status < 300) {
            return Response::new(r.status)
                .header("Content-Type", "application/json; charset=utf-8")
                .body(r.body.clone());
        }
        self.not_found(path)
    }

    /// Whether the mock has changed what `path` answers: a session or mount started here.
    fn changed(&self, path: &str) -> bool {
        let state = self.lock();
        let sessions = path.starts_with("/api/v1/sessions") && !state.sessions.is_empty();
        let (list, _) = path.rsplit_once('/').unwrap_or((path, ""));
        sessions || state.mounts.iter().any(|(l, _)| l == path || l == list)
    }

    /// What the mock added to a list: the sessions and mounts started here.
    fn started(&self, path: &str) -> Vec<Value> {
        let state = self.lock();
        let mut out = Vec::new();
        if path == "/api/v1/sessions" {
            out.extend(state.sessions.iter().map(|s| Value::Object(s.model.clone())));
        }
        out.extend(state.mounts.iter().filter(|(l, _)| l == path).map(|(_, m)| Value::Object(m.clone())));
        out
    }

    fn mount(&self, path: &str) -> Option<Map<String, Value>> {
        let (list, id) = path.rsplit_once('/')?;
        let state = self.lock();
        state
            .mounts
            .iter()
            .find(|(l, m)| l == list && m.get("id").and_then(Value::as_str) == Some(id))
            .map(|(_, m)| m.clone())
    }

    /// The id names nothing recorded: the API's 404, saying what is there instead.
    fn not_found(&self, path: &str) -> Response {
        let (parent, id) = path.rsplit_once('/').unwrap_or(("", path));
        if is_uuid(id)
            && (self.store.lists.contains_key(parent)
                || self.store.entities.keys().any(|k| k.starts_with(&format!("{parent}/"))))
        {
            let kind = if parent.contains("/instantRecovery/") {
                "mount"
            } else {
                singular(parent.rsplit('/').next().unwrap_or(parent))
            };
            return error(404, ErrorCode::NotFound, &format!("The {kind} with ID {id} was not found."), Some(id));
        }
        let s = shape(path);
        let mut shapes: Vec<String> = self.store.known.iter().map(|k| shape(k)).collect();
        shapes.sort();
        shapes.dedup();
        // The same place under another name (1.1's objectRestorePoints for restorePoints): one
        // segment differs, and it ends alike.
        let segments: Vec<&str> = s.split('/').collect();
        let alike = |k: &str| -> usize {
            let other: Vec<&str> = k.split('/').collect();
            let differ: Vec<(&&str, &&str)> = other.iter().zip(&segments).filter(|(a, b)| a != b).collect();
            match differ[..] {
                [(a, b)] if other.len() == segments.len() => a
                    .to_ascii_lowercase()
                    .bytes()
                    .rev()
                    .zip(b.to_ascii_lowercase().bytes().rev())
                    .take_while(|(x, y)| x == y)
                    .count(),
                _ => 0,
            }
        };
        let moved: Vec<&String> =
            shapes.iter().filter(|k| alike(k) >= 4).max_by_key(|k| alike(k)).into_iter().collect();
        let hint = match moved.first() {
            Some(m) => format!("recorded in its place: {m}"),
            None => format!("what is recorded: {}", shapes.into_iter().take(12).collect::<Vec<_>>().join(", ")),
        };
        error(404, ErrorCode::NotFound, &format!("Nothing recorded answers GET {path} ({hint})."), None)
    }

    /// A POST, PUT or DELETE: an operation the recordings answered, started as a session.
    fn act(&self, req: &Request, method: &str, path: &str) -> Response {
        let s = shape(path);
        let Some(recorded) = self.store.actions.get(&(method.to_owned(), s.clone())) else {
            let actions: Vec<String> = self.store.actions.keys().map(|(m, p)| format!("{m} {p}")).collect();
            return error(
                404,
                ErrorCode::NotFound,
                &format!("Nothing recorded answers {method} {path} (recorded actions: {}).", actions.join(", ")),
                None,
            );
        };
        let spec: Value = match req.body.is_empty() {
            true => Value::Null,
            false => match serde_json::from_slice(&req.body) {
                Ok(v) => v,
                Err(e) => {
                    return error(
                        400,
                        ErrorCode::UnexpectedContent,
                        &format!("The request body is not JSON: {e}."),
                        None,
                    );
                }
            },
        };
        // A restore names its restore point; it must be one the server has.
        if let Some((key, id)) = restore_point_of(&spec) {
            if self.store.restore_point(&id).is_none() {
                return error(404, ErrorCode::NotFound, &format!("{key}: no restore point with ID {id}."), Some(&id));
            }
        }
        let (parent, last) = path.rsplit_once('/').unwrap_or(("", path));
        let mount_id = parent.rsplit('/').next().filter(|id| is_uuid(id)).map(str::to_owned);
        if let Some(id) = &mount_id {
            if self.mount(parent).is_none() && !self.store.entities.contains_key(parent) {
                return error(404, ErrorCode::NotFound, &format!("No mount with ID {id}."), Some(id));
            }
        }
        let Ok(Value::Object(template)) = serde_json::from_str::<Value>(&recorded.body) else {
            return Response::new(recorded.status)
                .header("Content-Type", "application/json")
                .body(recorded.body.clone());
        };
        if !template.contains_key("sessionType") {
            return json_response(recorded.status, &Value::Object(template));
        }
        let effect = match last {
            "unmount" | "dismount" | "migrate" => Effect::Dismount,
            _ if path.contains("/instantRecovery/") => Effect::Mount,
            _ => Effect::None,
        };
        let session = self.start(template, effect, mount_id.clone(), (effect == Effect::Mount).then_some(path));
        if effect == Effect::Mount {
            let revision = req.headers.get(API_VERSION_HEADER).unwrap_or_default();
            self.add_mount(path, &spec, &session, revision);
        }
        if let (Effect::Dismount, Some(id)) = (effect, &mount_id) {
            self.set_mount_state(id, "Dismounting");
        }
        json_response(recorded.status, &Value::Object(session))
    }

    /// A new session from the recorded answer of its operation; one that mounts names the mount
    /// it makes (its own id, as the spec's example has it).
    fn start(
        &self,
        mut model: Map<String, Value>,
        effect: Effect,
        mount: Option<String>,
        mounts_in: Option<&str>,
    ) -> Map<String, Value> {
        let mut state = self.lock();
        state.usn += 1;
        let id = random_uuid();
        model.insert("id".into(), id.clone().into());
        let mount = mount.or_else(|| mounts_in.map(|_| id.clone()));
        if let Some(list) = mounts_in {
            model.insert("resourceReference".into(), format!("{list}/{id}").into());
        }
        model.insert("creationTime".into(), self.timestamp().into());
        model.insert("state".into(), "Starting".into());
        model.insert("progressPercent".into(), 0.into());
        model.insert("result".into(), json!({"result": "None", "message": "", "isCanceled": false}));
        model.insert("usn".into(), state.usn.into());
        model.remove("endTime");
        if let Some(m) = &mount {
            model.insert("resourceId".into(), m.clone().into());
        }
        state.sessions.push(Running { model: model.clone(), polls: 0, effect, mount });
        model
    }

    /// A session as a poll sees it: `Working` for the first polls, then `Stopped`, `Success`.
    fn poll(&self, id: &str) -> Option<Map<String, Value>> {
        let now = self.timestamp();
        let running = self.options.running_polls;
        let mut state = self.lock();
        let s = state.sessions.iter_mut().find(|s| s.model.get("id").and_then(Value::as_str) == Some(id))?;
        s.polls += 1;
        let done = s.polls > running;
        if done && s.model.get("state").and_then(Value::as_str) != Some("Stopped") {
            s.model.insert("state".into(), "Stopped".into());
            s.model.insert("progressPercent".into(), 100.into());
            s.model.insert("endTime".into(), now.into());
            s.model.insert("result".into(), json!({"result": "Success", "message": "", "isCanceled": false}));
            let (effect, mount) = (s.effect, s.mount.clone());
            let session_id = id.to_owned();
            let model = s.model.clone();
            match effect {
                Effect::Mount => {
                    for (_, m) in state.mounts.iter_mut() {
                        if m.get("sessionId").and_then(Value::as_str) == Some(&session_id) {
                            m.insert("state".into(), "Mounted".into());
                        }
                    }
                }
                Effect::Dismount => {
                    if let Some(mount) = mount {
                        state.mounts.retain(|(_, m)| m.get("id").and_then(Value::as_str) != Some(&mount));
                    }
                }
                Effect::None => {}
            }
            return Some(model);
        }
        if !done {
            s.model.insert("state".into(), "Working".into());
            s.model.insert("progressPercent".into(), (100 * s.polls / (running + 1)).into());
        }
        Some(s.model.clone())
    }

    /// The mount an instant recovery starts, `Mounting` until its session stops; from 1.3 it
    /// names the job and the restore point's time.
    fn add_mount(&self, path: &str, spec: &Value, session: &Map<String, Value>, revision: &str) {
        let point = restore_point_of(spec).map(|(_, id)| id).unwrap_or_default();
        let entity = self.store.restore_point(&point);
        let field = |v: Option<&Value>, k: &str| {
            v.and_then(|e| e.get(k)).and_then(Value::as_str).unwrap_or_default().to_owned()
        };
        let id = session.get("id").cloned().unwrap_or_default();
        let mut mount = Map::new();
        mount.insert("id".into(), id.clone());
        mount.insert("sessionId".into(), id);
        mount.insert("state".into(), "Mounting".into());
        mount.insert("spec".into(), spec.clone());
        mount.insert("vmName".into(), field(entity, "name").into());
        if super::revision_at_least(revision, "1.3-rev0") {
            let backup = self.store.entities.get(&format!("/api/v1/backups/{}", field(entity, "backupId")));
            mount.insert("jobName".into(), field(backup, "name").into());
            mount.insert("restorePointDate".into(), field(entity, "creationTime").into());
        }
        mount.insert("errorMessage".into(), "".into());
        self.lock().mounts.push((path.to_owned(), mount));
    }

    fn set_mount_state(&self, id: &str, to: &str) {
        for (_, m) in self.lock().mounts.iter_mut() {
            if m.get("id").and_then(Value::as_str) == Some(id) {
                m.insert("state".into(), to.into());
            }
        }
    }
}

/// An operation's path as coverage names it: ids as `{id}`.
fn operation(path: &str) -> String {
    shape(plain(path)).replace("{}", "{id}")
}

/// The restore point a restore spec names (`restorePointId`; 1.1: `objectRestorePointId`).
fn restore_point_of(spec: &Value) -> Option<(String, String)> {
    let m = spec.as_object()?;
    m.iter().find(|(k, _)| k.ends_with("estorePointId")).and_then(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
}

/// An opaque token, as unguessable as the mock's session ids.
fn mint() -> String {
    let mut bytes = random_bytes().to_vec();
    bytes.extend_from_slice(&random_bytes());
    base64_encode(&bytes).trim_end_matches('=').replace('+', "-").replace('/', "_")
}

fn json_response(status: u16, body: &Value) -> Response {
    Response::new(status).header("Content-Type", "application/json; charset=utf-8").body(body.to_string())
}

fn not_allowed(method: &str, path: &str) -> Response {
    error(405, ErrorCode::MethodNotAllowed, &format!("{method} is not allowed on {path}."), None)
}

/// One page of a list, by the spec's query parameters: the `…Filter`s, `orderColumn` and
/// `orderAsc`, `skip` and `limit`.
fn page(store: &Store, mut items: Vec<&Value>, query: &str) -> Result<String, String> {
    let pairs: Vec<(String, String)> = query
        .split('&')
        .filter_map(|p| p.split_once('=').or(Some((p, ""))))
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (crate::em::percent_decode(k), crate::em::percent_decode(&v.replace('+', " "))))
        .collect();
    let number = |name: &str| -> Result<Option<usize>, String> {
        match pairs.iter().find(|(k, _)| k == name) {
            Some((_, v)) => {
                v.parse::<usize>().map(Some).map_err(|_| format!("{name}={v} is not a non-negative integer."))
            }
            None => Ok(None),
        }
    };
    let (skip, limit) = (number("skip")?.unwrap_or(0), number("limit")?);
    let mut filters: Vec<(&str, Vec<&str>)> = Vec::new();
    for (k, v) in &pairs {
        if let Some(field) = k.strip_suffix("Filter") {
            match filters.iter_mut().find(|(f, _)| *f == field) {
                Some((_, values)) => values.extend(v.split(',')),
                None => filters.push((field, v.split(',').collect())),
            }
        }
    }
    for (field, values) in &filters {
        items.retain(|item| matches_filter(store, item, field, values));
    }
    if let Some((_, column)) = pairs.iter().find(|(k, _)| k == "orderColumn") {
        let field = camel(column);
        let asc = pairs.iter().find(|(k, _)| k == "orderAsc").is_none_or(|(_, v)| !v.eq_ignore_ascii_case("false"));
        if asc {
            items.sort_by_cached_key(|v| sort_key(v.get(&field)));
        } else {
            items.sort_by_cached_key(|v| std::cmp::Reverse(sort_key(v.get(&field))));
        }
    }
    let total = items.len();
    let data: Vec<&Value> = items.into_iter().skip(skip).take(limit.unwrap_or(usize::MAX)).collect();
    let mut pagination = json!({"total": total, "count": data.len(), "skip": skip});
    if let Some(l) = limit {
        pagination["limit"] = l.into();
    }
    // Written as it goes: the page's items are the recordings' own values, not copies.
    let mut out = String::from("{\"data\":[");
    for (i, item) in data.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&item.to_string());
    }
    out.push_str("],\"pagination\":");
    out.push_str(&pagination.to_string());
    out.push('}');
    Ok(out)
}

fn matches_filter(store: &Store, item: &Value, field: &str, values: &[&str]) -> bool {
    let time = |key: &str| item.get(key).and_then(Value::as_str).and_then(super::seconds);
    let bound = || values.first().and_then(|v| super::seconds(v));
    match field {
        "createdAfter" => return time("creationTime").zip(bound()).is_some_and(|(t, b)| t >= b),
        "createdBefore" => return time("creationTime").zip(bound()).is_some_and(|(t, b)| t <= b),
        "endedAfter" => return time("endTime").zip(bound()).is_some_and(|(t, b)| t >= b),
        "endedBefore" => return time("endTime").zip(bound()).is_some_and(|(t, b)| t <= b),
        _ => {}
    }
    if let Some(parent) = field.strip_suffix("Id").filter(|p| !p.is_empty() && item.get(field).is_none()) {
        return values.iter().any(|v| store.member_of(item, parent, v));
    }
    // A session's `typeFilter` is on its `sessionType`.
    let capitalised =
        field.chars().next().map(|c| c.to_ascii_uppercase().to_string() + &field[1..]).unwrap_or_default();
    let found =
        item.get(field).or_else(|| item.as_object()?.iter().find(|(k, _)| k.ends_with(&capitalised)).map(|(_, v)| v));
    let value = match found {
        // A session's result is `{"result": "Success", …}`.
        Some(Value::Object(m)) => m.get(field).and_then(Value::as_str).map(str::to_owned),
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    };
    let Some(value) = value else { return false };
    values.iter().any(|pattern| wildcard(pattern, &value))
}

/// `*` matches any run of characters; case does not matter.
fn wildcard(pattern: &str, value: &str) -> bool {
    let (p, v) = (pattern.to_lowercase(), value.to_lowercase());
    let parts: Vec<&str> = p.split('*').collect();
    if parts.len() == 1 {
        return p == v;
    }
    let mut at = 0;
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            continue;
        }
        match v[at..].find(part) {
            Some(found) if i > 0 || found == 0 => at += found + part.len(),
            _ => return false,
        }
    }
    parts.last().is_some_and(|last| last.is_empty() || v.ends_with(last))
}

fn sort_key(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => super::seconds(s).map_or_else(|| s.to_lowercase(), |t| format!("{t:020}")),
        Some(Value::Number(n)) => format!("{:020}", n.as_f64().unwrap_or(0.0) as i64),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// `CreationTime` -> `creationTime`.
fn camel(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map(|c| c.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default()
}

impl Handler for VbrMock {
    async fn handle(&self, req: Request) -> Reply {
        self.respond(&req).into()
    }

    fn panicked(&self, request_line: &str, _headers: &crate::http::Headers, why: &str) -> Response {
        error(500, ErrorCode::UnknownError, &format!("emtape failed while answering {request_line}: {why}"), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_as_the_api_documents_them() {
        assert!(wildcard("web*", "WEB-01"));
        assert!(wildcard("*01", "web-01"));
        assert!(wildcard("*b-0*", "web-01"));
        assert!(wildcard("web-01", "Web-01"));
        assert!(!wildcard("web", "web-01"));
        assert!(!wildcard("*x*", "web-01"));
    }
}
