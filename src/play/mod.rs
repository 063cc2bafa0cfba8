//! Running a scenario against a server, as a client: render each step, find its URL (a path,
//! or a link of an earlier response), send it, poll when asked, check what came back, capture
//! values for later steps. The results are [`result`] types; reports render them.

mod document;
pub mod result;

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::codec::{base64_decode, base64_encode};
use crate::em;
use crate::http::client::Client;
use crate::http::{Headers, Response};
use crate::record::{Recorder, Sent};
use crate::scenario::{Action, CaptureSource, Matcher, Query, Scenario, Step, Tpl, method_for_rel, parse_duration};
use document::{Document, Link, Node, excerpt};
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
}

struct Seen {
    doc: Document,
}

struct Runner<'a> {
    scenario: &'a Scenario,
    options: RunOptions<'a>,
    vars: HashMap<String, String>,
    seen: HashMap<String, Seen>,
    previous: Option<String>,
    session: Option<String>,
    /// Values never to show (live token, session id, password) and what to show instead.
    secrets: Vec<(String, &'static str)>,
}

/// Runs `scenario` and reports every step.
pub async fn run(scenario: &Scenario, options: RunOptions<'_>) -> RunReport {
    let started = Instant::now();
    let mut vars = options.vars.clone();
    vars.insert("base_url".into(), options.base_url.clone());
    if let Some(c) = &options.credentials {
        vars.insert("user".into(), c.user.clone());
    }
    let mut secrets = Vec::new();
    if let Some(c) = &options.credentials {
        if !c.password.0.is_empty() {
            secrets.push((c.password.0.clone(), "(redacted)"));
        }
    }
    let target = options.target.clone();
    let mut runner = Runner { scenario, options, vars, seen: HashMap::new(), previous: None, session: None, secrets };
    let mut steps = Vec::new();
    let mut stop: Option<String> = None;
    for step in &scenario.steps {
        if let Some(reason) = &stop {
            steps.push(skipped(step, Phase::Main, reason.clone()));
            continue;
        }
        let result = runner.step(step, Phase::Main).await;
        if result.outcome != Outcome::Passed {
            stop = Some(format!("step `{}` did not pass", step.name));
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
    }
}

/// Why a step could not make its request.
enum Blocked {
    /// Something it needs is missing (a finally step after a failure): not a failure itself.
    Skip(String),
    /// A check failed while finding the URL (no such link, nothing selected).
    Fail(Check),
}

fn check(what: impl Into<String>, passed: bool, expected: impl Into<String>, actual: impl Into<String>) -> Check {
    Check { what: what.into(), passed, expected: expected.into(), actual: actual.into(), context: None }
}

impl Runner<'_> {
    fn render(&self, t: &Tpl) -> Result<String, Blocked> {
        t.render(&self.vars).map_err(Blocked::Skip)
    }

    async fn step(&mut self, step: &Step, phase: Phase) -> StepResult {
        let started = Instant::now();
        let mut result = skipped(step, phase, String::new());
        result.message = None;
        let target = match self.target(step) {
            Ok(t) => t,
            Err(Blocked::Skip(why)) => {
                result.message = Some(self.scrub(&why));
                return result;
            }
            Err(Blocked::Fail(c)) => {
                result.outcome = Outcome::Failed;
                result.checks.push(c);
                result.duration_ms = ms(started.elapsed());
                return self.scrub_result(result);
            }
        };
        let (method, url, link_type) = target;
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
                result.checks.push(c);
                return self.scrub_result(result);
            }
        };
        let response = match self.exchange(step, &method, &url, &headers, body, &mut result).await {
            Ok(r) => r,
            Err(message) => {
                result.outcome = Outcome::Error;
                result.message = Some(message);
                result.duration_ms = ms(started.elapsed());
                return self.scrub_result(result);
            }
        };
        result.status = Some(response.status);
        let doc = Document::parse(&response);
        self.checks(step, &response, &doc, link_type.as_deref(), &mut result);
        self.capture(step, &response, &doc, &mut result);
        if let Some(session) = &step.session {
            if let Ok(token) = session.render(&self.vars) {
                self.remember_session(&token);
                self.session = Some(token);
            }
        }
        self.seen.insert(step.name.clone(), Seen { doc });
        self.previous = Some(step.name.clone());
        if result.checks.iter().any(|c| !c.passed) {
            result.outcome = Outcome::Failed;
        } else {
            result.outcome = Outcome::Passed;
        }
        result.duration_ms = ms(started.elapsed());
        self.scrub_result(result)
    }

    /// Method, absolute URL, and the Type of the link followed.
    fn target(&self, step: &Step) -> Result<(String, String, Option<String>), Blocked> {
        match &step.action {
            Action::Request { method, url } => Ok((method.clone(), self.absolute(&self.render(url)?), None)),
            Action::Follow(f) => {
                let source_name = f
                    .from
                    .as_ref()
                    .or(self.previous.as_ref())
                    .ok_or_else(|| Blocked::Skip("there is no earlier response to follow a link from".into()))?;
                let seen = self.seen.get(source_name).ok_or_else(|| {
                    Blocked::Skip(format!("step `{source_name}` has no response to follow a link from"))
                })?;
                let rel = self.render(&f.rel)?;
                let kind = f.kind.as_ref().map(|k| self.render(k)).transpose()?;
                let name = f.name.as_ref().map(|n| self.render(n)).transpose()?;
                let item = match &step.select {
                    Some(select) => {
                        let from = match &select.from {
                            Some(n) => {
                                self.seen.get(n).ok_or_else(|| Blocked::Skip(format!("step `{n}` has no response")))?
                            }
                            None => seen,
                        };
                        Some((from, self.select(step, from)?))
                    }
                    None => None,
                };
                let (doc, at) = match &item {
                    Some((from, node)) => (&from.doc, Some(*node)),
                    None => (&seen.doc, None),
                };
                let links = doc.links(at);
                let wanted = |l: &&Link| {
                    l.rel == rel
                        && kind.as_ref().is_none_or(|k| l.kind.as_ref() == Some(k))
                        && name.as_ref().is_none_or(|n| l.name.as_ref() == Some(n))
                };
                let Some(link) = links.iter().find(wanted) else {
                    let wanted = match &kind {
                        Some(k) => format!("Rel=\"{rel}\" Type=\"{k}\""),
                        None => format!("Rel=\"{rel}\""),
                    };
                    let mut here: Vec<String> = links.iter().map(Link::describe).collect();
                    here.dedup();
                    let actual = if here.is_empty() {
                        "no links at all".to_owned()
                    } else {
                        format!("links here: {}", here.join(", "))
                    };
                    let whose = if item.is_some() { "the selected item" } else { "the response" };
                    return Err(Blocked::Fail(check(
                        format!("link {wanted} in {whose} of `{source_name}`"),
                        false,
                        format!("a link {wanted}"),
                        actual,
                    )));
                };
                let method = f.method.clone().unwrap_or_else(|| method_for_rel(&rel).to_owned());
                Ok((method, self.absolute(&link.href), link.kind.clone().filter(|_| kind.is_some())))
            }
        }
    }

    fn select<'s>(&self, step: &Step, from: &'s Seen) -> Result<Node<'s>, Blocked> {
        let Some(select) = &step.select else {
            return Err(Blocked::Skip("nothing to select".into()));
        };
        let items = from.doc.items(&select.items);
        let first = |n: Node<'s>, q: &Query| from.doc.query(q, Some(n)).into_iter().next();
        let mut chosen: Vec<Node<'s>> = Vec::new();
        for item in &items {
            let mut ok = true;
            for (q, m) in &select.filters {
                let (passed, _) = self.matches(m, first(*item, q).as_deref())?;
                ok &= passed;
            }
            if ok {
                chosen.push(*item);
            }
        }
        if let Some(order) = &select.order_by {
            chosen.sort_by_cached_key(|n| first(*n, order).unwrap_or_default());
            if select.descending {
                chosen.reverse();
            }
        }
        match chosen.first() {
            Some(n) => Ok(*n),
            None => {
                let mut wanted = Vec::new();
                for (q, m) in &select.filters {
                    wanted.push(format!("{} {}", q.describe(), self.matches(m, None)?.1));
                }
                let names: Vec<String> = items
                    .iter()
                    .take(5)
                    .map(|n| first(*n, &Query::Field(vec!["Name".into()])).unwrap_or_else(|| "?".into()))
                    .collect();
                let actual = match items.len() {
                    0 => format!("no <{}> items at all", select.items),
                    n => format!("none of {n} items ({}{})", names.join(", "), if n > 5 { ", ..." } else { "" }),
                };
                Err(Blocked::Fail(check(
                    format!("select {}", select.items),
                    false,
                    format!("an item where {}", wanted.join(" and ")),
                    actual,
                )))
            }
        }
    }

    fn absolute(&self, url: &str) -> String {
        if url.starts_with("http://") || url.starts_with("https://") {
            url.to_owned()
        } else if url.starts_with('/') {
            format!("{}{url}", self.options.base_url)
        } else {
            format!("{}/{url}", self.options.base_url)
        }
    }

    fn display_url(&self, url: &str) -> String {
        self.scrub(url.strip_prefix(&self.options.base_url).filter(|p| p.starts_with('/')).unwrap_or(url))
    }

    fn request_parts(&self, step: &Step) -> Result<(Headers, Bytes), Blocked> {
        let mut headers = Headers::new();
        for (name, value) in self.scenario.headers.iter().chain(&step.headers) {
            headers.set(name, self.render(value)?);
        }
        if let Some(token) = &self.session {
            headers.set(em::SESSION_HEADER, token.clone());
        }
        if step.auth {
            let Some(c) = &self.options.credentials else {
                return Err(Blocked::Skip(
                    "the step logs on, and the run has no credentials (--user, --password-env)".into(),
                ));
            };
            headers.set(
                "Authorization",
                format!("Basic {}", base64_encode(format!("{}:{}", c.user, c.password.0).as_bytes())),
            );
        }
        let body = match &step.body {
            Some(b) => {
                let text = self.render(b)?;
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
            Some(p) => {
                let interval = self.render(&p.interval).ok().and_then(|s| parse_duration(&s));
                let timeout = self.render(&p.timeout).ok().and_then(|s| parse_duration(&s));
                match (interval, timeout) {
                    (Some(i), Some(t)) => Some((p, i, t)),
                    _ => {
                        return Err(format!(
                            "poll interval `{}` or timeout `{}` is not a duration",
                            p.interval.source(),
                            p.timeout.source()
                        ));
                    }
                }
            }
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
            let Some((poll, interval, timeout)) = poll else {
                return Ok(response);
            };
            let doc = Document::parse(&response);
            let mut done = response.status < 400;
            let mut notes = Vec::new();
            for (q, m) in &poll.until {
                let actual = doc.query(q, None).into_iter().next();
                let (passed, _) = self.matches(m, actual.as_deref()).unwrap_or((false, String::new()));
                done &= passed;
                notes.push(format!("{}={}", q.describe(), actual.as_deref().unwrap_or("(absent)")));
            }
            result.attempts.push(Attempt {
                status: response.status,
                note: notes.join(" "),
                elapsed_ms: ms(started.elapsed()),
            });
            let attempts = result.attempts.len() as u32;
            let out_of_time =
                started.elapsed() + interval > timeout || poll.max_attempts.is_some_and(|m| attempts >= m);
            if done || response.status >= 400 || out_of_time {
                if !done && response.status < 400 {
                    let wanted: Vec<String> = poll
                        .until
                        .iter()
                        .map(|(q, m)| {
                            format!("{} {}", q.describe(), self.matches(m, None).map(|x| x.1).unwrap_or_default())
                        })
                        .collect();
                    result.checks.push(check(
                        "poll until",
                        false,
                        wanted.join(" and "),
                        format!(
                            "{} after {attempts} attempts in {:.1} s",
                            notes.join(" "),
                            started.elapsed().as_secs_f64()
                        ),
                    ));
                }
                return Ok(response);
            }
            tokio::time::sleep(interval).await;
        }
    }

    fn checks(
        &self,
        step: &Step,
        response: &Response,
        doc: &Document,
        link_type: Option<&str>,
        result: &mut StepResult,
    ) {
        let expect = &step.expect;
        let body_text = String::from_utf8_lossy(&response.body);
        let status_ok = if expect.status.is_empty() {
            (200..300).contains(&response.status)
        } else {
            expect.status.contains(&response.status)
        };
        let wanted = if expect.status.is_empty() {
            "2xx".to_owned()
        } else {
            expect.status.iter().map(u16::to_string).collect::<Vec<_>>().join(" or ")
        };
        let mut status = check("status", status_ok, wanted, response.status.to_string());
        if !status_ok {
            status.context = Some(excerpt(&body_text, 1, 6));
        }
        result.checks.push(status);
        if let Document::Other { reason: Some(reason) } = doc {
            result.checks.push(check("body", false, "XML or JSON", reason.clone()));
        }
        if let Some(root) = &expect.root {
            let want = self.render(root).unwrap_or_default();
            let (passed, got) = doc.is_root(&want);
            let expected =
                if matches!(doc, Document::Json(_)) { format!("\"Type\": \"{want}\"") } else { format!("<{want}>") };
            let mut c = check("root", passed, expected, got);
            if !c.passed {
                c.context = Some(excerpt(&body_text, 1, 3));
            }
            result.checks.push(c);
        } else if let (Some(kind), true) = (link_type, expect.link_contract) {
            let outcome = doc.honours_link_type(kind);
            let got = doc.root_name().map_or_else(
                || "(no body)".to_owned(),
                |r| if matches!(doc, Document::Xml(_)) { format!("<{r}>") } else { format!("\"Type\": \"{r}\"") },
            );
            let passed = outcome.is_ok();
            let expected = outcome.err().unwrap_or_else(|| got.clone());
            let mut c = check(format!("link contract: Type {kind}"), passed, expected, got);
            if !c.passed {
                c.context = Some(excerpt(&body_text, 1, 3));
            }
            result.checks.push(c);
        }
        for (name, m) in &expect.headers {
            let actual = response.headers.get(name);
            let (passed, expected) = self.matches(m, actual).unwrap_or((false, "(a value)".into()));
            result.checks.push(check(format!("header {name}"), passed, expected, actual.unwrap_or("(absent)")));
        }
        for (q, m) in &expect.body {
            let actual = doc.query(q, None).into_iter().next();
            let (passed, expected) = self.matches(m, actual.as_deref()).unwrap_or((false, "(a value)".into()));
            let mut c = check(
                format!("body {}", q.describe()),
                passed,
                expected,
                actual.clone().unwrap_or_else(|| "(absent)".into()),
            );
            if !passed {
                c.context = doc.context(&body_text, q, None).or_else(|| Some(excerpt(&body_text, 1, 6)));
            }
            result.checks.push(c);
        }
    }

    fn capture(&mut self, step: &Step, response: &Response, doc: &Document, result: &mut StepResult) {
        for (name, capture) in &step.captures {
            let raw = match &capture.source {
                CaptureSource::Header(h) => response.headers.get(h).map(str::to_owned),
                CaptureSource::Body(q) => doc.query(q, None).into_iter().next(),
                CaptureSource::BodyText => Some(String::from_utf8_lossy(&response.body).into_owned()),
            };
            let value = match (&capture.regex, raw) {
                (Some(re), Some(text)) => {
                    re.captures(&text).map(|c| c.get(1).or_else(|| c.get(0)).map_or("", |m| m.as_str()).to_owned())
                }
                (None, raw) => raw,
                (Some(_), None) => None,
            };
            match value {
                Some(v) => {
                    if matches!(&capture.source, CaptureSource::Header(h) if h.eq_ignore_ascii_case(em::SESSION_HEADER))
                    {
                        self.remember_session(&v);
                    }
                    self.vars.insert(name.clone(), v);
                }
                None => result.checks.push(check(format!("capture {name}"), false, "a value", "(absent)")),
            }
        }
    }

    /// Whether `actual` satisfies `m`, and what `m` expects, in words.
    fn matches(&self, m: &Matcher, actual: Option<&str>) -> Result<(bool, String), Blocked> {
        Ok(match m {
            Matcher::Equals(t) => {
                let want = self.render(t)?;
                (actual == Some(want.as_str()), want)
            }
            Matcher::Matches(t) => {
                let pattern = t.render_with(&self.vars, regex::escape).map_err(Blocked::Skip)?;
                let re = regex::Regex::new(&pattern).map_err(|e| Blocked::Skip(e.to_string()))?;
                (actual.is_some_and(|a| re.is_match(a)), format!("matches regex `{pattern}`"))
            }
            Matcher::OneOf(ts) => {
                let options: Vec<String> = ts.iter().map(|t| self.render(t)).collect::<Result<_, _>>()?;
                (actual.is_some_and(|a| options.iter().any(|o| o == a)), format!("one of {}", options.join(", ")))
            }
            Matcher::Exists(want) => {
                (actual.is_some() == *want, if *want { "present".into() } else { "absent".into() })
            }
            Matcher::Not(inner) => {
                let (passed, expected) = self.matches(inner, actual)?;
                (!passed, format!("not {expected}"))
            }
        })
    }

    fn remember_session(&mut self, token: &str) {
        if self.secrets.iter().any(|(s, _)| s == token) {
            return;
        }
        self.secrets.push((token.to_owned(), "{session-token}"));
        if let Some(id) = base64_decode(token).and_then(|b| String::from_utf8(b).ok()) {
            if id.len() >= 8 {
                self.secrets.push((id, "{session-id}"));
            }
        }
    }

    fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (secret, shown) in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), shown);
            }
        }
        out
    }

    fn scrub_result(&self, mut r: StepResult) -> StepResult {
        r.url = r.url.map(|u| self.scrub(&u));
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
