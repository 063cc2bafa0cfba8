//! Running a scenario against a server, as a client: render each step, find its URL (a path,
//! or a link of an earlier response), send it, poll when asked, check what came back, capture
//! values for later steps. The results are [`result`] types; reports render them.

pub(crate) mod document;
pub(crate) mod flow;
pub mod result;

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::codec::base64_encode;
use crate::em::Scrubber;
use crate::http::client::Client;
use crate::http::{Headers, Response};
use crate::record::{Recorder, Sent};
use crate::scenario::{Auth, Scenario, Step};
use flow::{Blocked, Flow, check};
use result::{Attempt, Check, Outcome, Phase, RunReport, StepResult};

/// A password, kept out of every `Debug` and `Display`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(redacted)")
    }
}

#[derive(Clone, Debug)]
pub struct Credentials {
    pub user: String,
    pub password: Secret,
}

/// Where and how to run.
pub struct RunOptions<'a> {
    pub client: &'a Client,
    /// `scheme://host:port` of the server.
    pub base_url: String,
    /// How the report names the target.
    pub target: String,
    /// Variable values: the scenario's defaults with the user's overrides applied.
    pub vars: HashMap<String, String>,
    pub credentials: Option<Credentials>,
    /// Writes every exchange to a cassette, when recording.
    pub recorder: Option<&'a Recorder>,
    /// Header and body field names whose values are secrets besides the usual ones (a
    /// `--redact` file's `headers` and `json`): never shown in a report.
    pub secret_names: Vec<String>,
    /// An OpenAPI document every JSON body sent and answered is checked against (`--spec`).
    pub spec: Option<&'a crate::openapi::Spec>,
}

struct Runner<'a> {
    flow: Flow,
    options: RunOptions<'a>,
    /// Values never to show (live token, session id, password) and what to show instead.
    secrets: Scrubber,
}

/// Runs `scenario` and reports every step.
pub async fn run(scenario: &Scenario, options: RunOptions<'_>) -> RunReport {
    let started = Instant::now();
    let mut vars = options.vars.clone();
    vars.insert("base_url".into(), options.base_url.clone());
    if let Some(c) = &options.credentials {
        vars.insert("user".into(), c.user.clone());
    }
    let mut secrets = Scrubber::default();
    if let Some(c) = &options.credentials {
        secrets.secret(&c.password.0, "(redacted)");
    }
    let target = options.target.clone();
    let flow = Flow::new(std::sync::Arc::new(scenario.clone()), options.base_url.clone(), vars);
    let mut runner = Runner { flow, options, secrets };
    let mut steps = Vec::new();
    let mut stop: Option<String> = None;
    for step in &scenario.steps {
        if let Some(reason) = &stop {
            steps.push(skipped(step, Phase::Main, reason.clone()));
            continue;
        }
        let result = runner.step(step, Phase::Main).await;
        if result.outcome != Outcome::Passed {
            stop = Some(runner.flow.refused().unwrap_or_else(|| format!("step `{}` did not pass", step.name)));
        }
        steps.push(result);
    }
    for step in &scenario.finally {
        steps.push(runner.step(step, Phase::Finally).await);
    }
    let passed = steps.iter().all(|s| matches!(s.outcome, Outcome::Passed | Outcome::Skipped))
        && steps.iter().any(|s| s.outcome == Outcome::Passed)
        && !steps.iter().any(|s| s.phase == Phase::Main && s.outcome == Outcome::Skipped);
    RunReport {
        scenario: scenario.name.clone(),
        file: scenario.file.clone(),
        target,
        passed,
        duration_ms: ms(started.elapsed()),
        steps,
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}

/// `"Name": "value"` (JSON) and `<Name>value<` (XML) in a request body; compiled once.
fn body_fields() -> &'static regex::Regex {
    static FIELDS: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#""([\w.-]+)"\s*:\s*"((?:[^"\\]|\\.)*)"|<(?:[\w.-]+:)?([\w.-]+)(?:\s[^>]*)?>([^<]*)<"#)
            .expect("a fixed pattern")
    });
    &FIELDS
}

/// A body as a report shows it: text, at most 256 KiB of it.
fn shown_body(bytes: &[u8]) -> String {
    const MOST: usize = 256 << 10;
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MOST)]).into_owned();
    if bytes.len() > MOST { format!("{text}\n… ({} bytes in all)", bytes.len()) } else { text }
}

fn skipped(step: &Step, phase: Phase, reason: String) -> StepResult {
    StepResult {
        name: step.name.clone(),
        phase,
        outcome: Outcome::Skipped,
        method: None,
        url: None,
        status: None,
        duration_ms: 0.0,
        attempts: Vec::new(),
        checks: Vec::new(),
        message: Some(reason),
        bodies: None,
    }
}

/// The bodies of an exchange against the OpenAPI document: a check for the request body (when
/// it sent JSON) and one for the answer, each failing with every violation by its JSON pointer.
fn spec_checks(spec: &crate::openapi::Spec, method: &str, url: &str, sent: &[u8], response: &Response) -> Vec<Check> {
    let path = url.split_once("://").map_or(url, |(_, rest)| rest.find('/').map_or("/", |i| &rest[i..]));
    spec.check_exchange(method, path, sent, response.status, &response.body)
        .into_iter()
        .map(|c| {
            let actual = if c.violations.is_empty() {
                "as described".to_owned()
            } else {
                c.violations.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
            };
            check(
                format!("spec {}", c.operation),
                c.violations.is_empty(),
                format!("the body {} describes", spec.file),
                actual,
            )
        })
        .collect()
}

impl Runner<'_> {
    async fn step(&mut self, step: &Step, phase: Phase) -> StepResult {
        let started = Instant::now();
        let mut result = skipped(step, phase, String::new());
        result.message = None;
        let target = match self.flow.target(step) {
            Ok(t) => t,
            Err(Blocked::Skip(why)) => {
                result.message = Some(self.scrub(&why));
                return result;
            }
            Err(Blocked::Fail(c)) => {
                result.outcome = Outcome::Failed;
                result.checks.push(*c);
                result.duration_ms = ms(started.elapsed());
                return self.scrub_result(result);
            }
        };
        let flow::Target { method, url, link_type } = target;
        result.method = Some(method.clone());
        result.url = Some(self.display_url(&url));
        let (headers, body) = match self.request_parts(step) {
            Ok(parts) => parts,
            Err(Blocked::Skip(why)) => {
                result.message = Some(why);
                return result;
            }
            Err(Blocked::Fail(c)) => {
                result.outcome = Outcome::Failed;
                result.checks.push(self.flow.placed(*c, step.at.step));
                return self.scrub_result(result);
            }
        };
        self.learn_secrets(&url, &headers, &body);
        let response = match self.exchange(step, &method, &url, &headers, body.clone(), &mut result).await {
            Ok(r) => r,
            Err(message) => {
                result.outcome = Outcome::Error;
                result.message = Some(message);
                result.duration_ms = ms(started.elapsed());
                return self.scrub_result(result);
            }
        };
        result.status = Some(response.status);
        result.bodies = Some((shown_body(&body), shown_body(&response.body)));
        // Wrong credentials are one cause, said once: not a status, a root, a header and two
        // captures that all fail for it.
        let refusal = match step.auth {
            Some(Auth::Basic) => crate::em::logon_refusal(&response),
            Some(Auth::OAuth2) => crate::vbr::logon_refusal(&response),
            None => None,
        };
        if let Some(refusal) = refusal {
            self.flow.refuse_logon(step, response.status);
            result.outcome = Outcome::Failed;
            result.message = Some(refusal);
            result.duration_ms = ms(started.elapsed());
            return self.scrub_result(result);
        }
        let observed = self.flow.observe(step, &response, link_type.as_deref());
        // A session the server opened is live whether the scenario captures its token or not.
        if let Some(token) = response.headers.get(crate::em::SESSION_HEADER) {
            let id = crate::em::session::logon_session_id(&response);
            self.remember_session(token, id.as_deref());
        }
        for token in &observed.tokens {
            self.remember_session(token, None);
        }
        // VBR's tokens are secrets whether the scenario captures them or not.
        if let (Some(access), refresh) = crate::vbr::tokens_in(&response.body) {
            self.remember_session(&access, None);
            if let Some(r) = refresh {
                self.secrets.secret(&r, "{refresh-token}");
            }
        }
        result.checks.extend(observed.checks);
        if let Some(spec) = self.options.spec {
            result.checks.extend(spec_checks(spec, &method, &url, &body, &response));
        }
        if result.checks.iter().any(|c| !c.passed) {
            result.outcome = Outcome::Failed;
        } else {
            result.outcome = Outcome::Passed;
        }
        result.duration_ms = ms(started.elapsed());
        self.scrub_result(result)
    }

    fn display_url(&self, url: &str) -> String {
        self.scrub(url.strip_prefix(&self.flow.base_url).filter(|p| p.starts_with('/')).unwrap_or(url))
    }

    fn request_parts(&self, step: &Step) -> Result<(Headers, Bytes), Blocked> {
        let mut headers = self.flow.headers(step)?;
        if let Some(auth) = step.auth {
            let Some(c) = &self.options.credentials else {
                return Err(Blocked::Skip(
                    "the step logs on, and the run has no credentials (--user, --password-env)".into(),
                ));
            };
            match auth {
                Auth::Basic => headers.set(
                    "Authorization",
                    format!("Basic {}", base64_encode(format!("{}:{}", c.user, c.password.0).as_bytes())),
                ),
                Auth::OAuth2 => {
                    headers.set("Content-Type", "application/x-www-form-urlencoded");
                    return Ok((headers, Bytes::from(crate::vbr::password_grant(&c.user, &c.password.0))));
                }
            }
        }
        let body = match &step.body {
            Some(b) => {
                let text = self.flow.render(b)?;
                if !headers.contains("content-type") {
                    let kind = if text.trim_start().starts_with('<') { "application/xml" } else { "application/json" };
                    headers.set("Content-Type", kind);
                }
                Bytes::from(text)
            }
            None => Bytes::new(),
        };
        Ok((headers, body))
    }

    /// Sends the request, again and again while polling; returns the last response.
    async fn exchange(
        &self,
        step: &Step,
        method: &str,
        url: &str,
        headers: &Headers,
        body: Bytes,
        result: &mut StepResult,
    ) -> Result<Response, String> {
        let started = Instant::now();
        let poll = match &step.poll {
            Some(p) => Some((p, self.flow.poll_times(p)?)),
            None => None,
        };
        loop {
            let response = self
                .options
                .client
                .send(method, url, headers, body.clone())
                .await
                .map_err(|e| self.scrub(&e.to_string()))?;
            if let Some(recorder) = self.options.recorder {
                recorder.record(&Sent { method, url, headers, body: &body }, &response);
            }
            let Some((poll, (interval, timeout))) = poll else {
                return Ok(response);
            };
            let (done, notes) = self.flow.poll_until(poll, &response);
            result.attempts.push(Attempt {
                status: response.status,
                note: notes.clone(),
                elapsed_ms: ms(started.elapsed()),
            });
            let attempts = result.attempts.len() as u32;
            let out_of_time =
                started.elapsed() + interval > timeout || poll.max_attempts.is_some_and(|m| attempts >= m);
            if done || response.status >= 400 || out_of_time {
                if !done && response.status < 400 {
                    let actual =
                        format!("{notes} after {attempts} attempts in {:.1} s", started.elapsed().as_secs_f64());
                    let c = check("poll until", false, self.flow.poll_wanted(poll), actual);
                    result.checks.push(self.flow.placed(c, step.at.poll.unwrap_or(step.at.step)));
                }
                return Ok(response);
            }
            tokio::time::sleep(interval).await;
        }
    }

    /// Whether a header, parameter or field of this name holds a secret.
    fn secret_named(&self, name: &str) -> bool {
        crate::em::session::secret_name(name) || self.options.secret_names.iter().any(|n| n.eq_ignore_ascii_case(name))
    }

    /// The values of what a request is about to send under a secret's name (a query
    /// parameter, a header, a body field): reports show `{redacted}` instead.
    fn learn_secrets(&mut self, url: &str, headers: &Headers, body: &[u8]) {
        let mut found: Vec<String> = Vec::new();
        if let Some((_, query)) = url.split_once('?') {
            for (k, v) in query.split('&').filter_map(|p| p.split_once('=')) {
                if self.secret_named(&crate::em::percent_decode(k)) {
                    found.push(v.to_owned());
                    found.push(crate::em::percent_decode(v));
                }
            }
        }
        for (name, value) in headers.iter() {
            if self.secret_named(name) && !name.eq_ignore_ascii_case(crate::em::SESSION_HEADER) {
                found.push(value.to_owned());
            }
        }
        let text = String::from_utf8_lossy(body);
        for c in body_fields().captures_iter(&text) {
            let (name, value) = match (c.get(1), c.get(2), c.get(3), c.get(4)) {
                (Some(n), Some(v), _, _) | (_, _, Some(n), Some(v)) => (n.as_str(), v.as_str()),
                _ => continue,
            };
            if self.secret_named(name) {
                found.push(value.to_owned());
            }
        }
        for value in found {
            if value.len() >= 4 && !value.contains("{{") {
                self.secrets.secret(&value, "{redacted}");
            }
        }
    }

    fn remember_session(&mut self, token: &str, id: Option<&str>) {
        if !self.secrets.knows(token) {
            self.secrets.session(token, id);
        }
    }

    fn scrub(&self, text: &str) -> String {
        self.secrets.scrub(text)
    }

    fn scrub_result(&self, mut r: StepResult) -> StepResult {
        r.url = r.url.map(|u| self.scrub(&u));
        r.bodies = r.bodies.map(|(q, a)| (self.scrub(&q), self.scrub(&a)));
        r.message = r.message.map(|m| self.scrub(&m));
        for c in &mut r.checks {
            c.expected = self.scrub(&c.expected);
            c.actual = self.scrub(&c.actual);
            c.context = c.context.as_deref().map(|x| self.scrub(x));
        }
        for a in &mut r.attempts {
            a.note = self.scrub(&a.note);
        }
        r
    }
}
