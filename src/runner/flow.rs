//! What a scenario run knows between requests, with no I/O: variables and captures, the
//! responses seen so far, the session token, and from them the URL of the next step, the
//! checks of a response, and whether a poll is done. The client runner drives it with real
//! requests; a mock that checks clients drives it with the responses it serves.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use super::document::{Document, Node, excerpt};
use super::result::Check;
use crate::em;
use crate::em::Link;
use crate::http::{Headers, Response};
use crate::scenario::{
    Action, At, CaptureSource, Matcher, Poll, Query, Scenario, Step, Tpl, method_for_rel, parse_duration,
};

/// Why a step cannot make its request.
pub(crate) enum Blocked {
    /// Something it needs is missing (a finally step after a failure): not a failure itself.
    Skip(String),
    /// A check failed while finding the URL (no such link, nothing selected).
    Fail(Box<Check>),
}

pub(crate) fn check(
    what: impl Into<String>,
    passed: bool,
    expected: impl Into<String>,
    actual: impl Into<String>,
) -> Check {
    Check { what: what.into(), passed, expected: expected.into(), actual: actual.into(), context: None, at: None }
}

/// Where a step goes.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// The Type of the link followed, when the step names one.
    pub link_type: Option<String>,
}

/// A regular expression compiled once: a client check asks the same few, request after request.
fn compiled(pattern: &str) -> Result<Arc<regex::Regex>, String> {
    use std::sync::{Mutex, OnceLock};
    // Shared, not cloned: a clone of a Regex starts with cold caches of its own.
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<regex::Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    if let Some(re) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(pattern) {
        return Ok(re.clone());
    }
    let re = Arc::new(regex::Regex::new(pattern).map_err(|e| e.to_string())?);
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    if cache.len() >= 256 {
        cache.clear();
    }
    cache.insert(pattern.to_owned(), re.clone());
    Ok(re)
}

/// An item a checked client may choose at a `select` step: the target its link gives, its
/// `Name`, and the variables choosing it binds.
#[derive(Clone, Debug)]
pub(crate) struct Choice {
    pub target: Target,
    pub item: String,
    pub binds: Vec<(String, String)>,
}

/// What a response taught the flow.
pub(crate) struct Observed {
    pub checks: Vec<Check>,
    /// Live session tokens it carried (captured from the session header, or set as the session).
    pub tokens: Vec<String>,
}

pub(crate) struct Flow {
    scenario: Arc<Scenario>,
    pub base_url: String,
    pub vars: HashMap<String, String>,
    seen: HashMap<String, Document>,
    previous: Option<String>,
    /// The session token requests carry, once a step has set it.
    pub session: Option<String>,
    /// The logon step EM refused, and the status it answered: no session to follow links of.
    refused: Option<(String, u16)>,
}

impl Flow {
    pub fn new(scenario: Arc<Scenario>, base_url: String, vars: HashMap<String, String>) -> Flow {
        Flow { scenario, base_url, vars, seen: HashMap::new(), previous: None, session: None, refused: None }
    }

    /// Takes in that EM refused the logon `step` made: later steps have no session, and a
    /// link of the logon's (its `Delete`, to log out) is not there to follow.
    pub fn refuse_logon(&mut self, step: &Step, status: u16) {
        self.refused = Some((step.name.clone(), status));
    }

    /// Why nothing after a refused logon can run: `the logon was refused (401)`.
    pub fn refused(&self) -> Option<String> {
        self.refused.as_ref().map(|(_, status)| format!("the logon was refused ({status})"))
    }

    /// `c`, saying where the scenario asks for it.
    pub fn placed(&self, mut c: Check, at: At) -> Check {
        c.at = Some(format!("{}:{}:{}", self.scenario.file, at.line, at.column));
        c
    }

    pub fn render(&self, t: &Tpl) -> Result<String, Blocked> {
        t.render(&self.vars).map_err(Blocked::Skip)
    }

    /// Method, absolute URL, and the Type of the link followed.
    pub fn target(&self, step: &Step) -> Result<Target, Blocked> {
        match &step.action {
            Action::Request { method, url } => {
                Ok(Target { method: method.clone(), url: self.absolute(&self.render(url)?), link_type: None })
            }
            Action::Follow(f) => {
                let source_name = f
                    .from
                    .as_ref()
                    .or(self.previous.as_ref())
                    .ok_or_else(|| Blocked::Skip("there is no earlier response to follow a link from".into()))?;
                let seen = self.seen.get(source_name).ok_or_else(|| match &self.refused {
                    Some((logon, status)) if logon == source_name => {
                        Blocked::Skip(format!("there is no session: the logon was refused ({status})"))
                    }
                    _ => Blocked::Skip(format!("step `{source_name}` has no response to follow a link from")),
                })?;
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
                    Some((from, node)) => (*from, Some(*node)),
                    None => (seen, None),
                };
                self.follow_in(step, f, source_name, doc, at)
            }
        }
    }

    /// The link `f` names in `doc` (under `at`, a selected item), as the step's target.
    fn follow_in(
        &self,
        step: &Step,
        f: &crate::scenario::Follow,
        source_name: &str,
        doc: &Document,
        at: Option<Node<'_>>,
    ) -> Result<Target, Blocked> {
        let rel = self.render(&f.rel)?;
        let kind = f.kind.as_ref().map(|k| self.render(k)).transpose()?;
        let name = f.name.as_ref().map(|n| self.render(n)).transpose()?;
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
            let actual =
                if here.is_empty() { "no links at all".to_owned() } else { format!("links here: {}", here.join(", ")) };
            let whose = if at.is_some() { "the selected item" } else { "the response" };
            return Err(Blocked::Fail(Box::new(self.placed(
                check(
                    format!("link {wanted} in {whose} of `{source_name}`"),
                    false,
                    format!("a link {wanted}"),
                    actual,
                ),
                step.at.request,
            ))));
        };
        let method = f.method.clone().unwrap_or_else(|| method_for_rel(&rel).to_owned());
        Ok(Target { method, url: self.absolute(&link.href), link_type: link.kind.clone().filter(|_| kind.is_some()) })
    }

    /// What a checked client may choose at a `select` step: each item the step allows once the
    /// scenario's variables that are not `pinned` are left open (an item binds them to what it
    /// says: `Name` `oracle03@…` matched against `^{{vm}}@` binds `vm` to `oracle03`), with the
    /// target its link gives; and apart, the items only a pinned variable keeps out. `None`
    /// for a step that selects nothing.
    pub fn choices(&self, step: &Step, pinned: &HashSet<String>) -> Option<(Vec<Choice>, Vec<Choice>)> {
        let (Some(select), Action::Follow(f)) = (&step.select, &step.action) else { return None };
        let source_name = f.from.as_ref().or(self.previous.as_ref())?;
        let seen = self.seen.get(source_name)?;
        let from = match &select.from {
            Some(n) => self.seen.get(n)?,
            None => seen,
        };
        let declared = |v: &str| self.scenario.vars.iter().any(|(n, _)| n == v);
        let (mut allowed, mut kept_out) = (Vec::new(), Vec::new());
        for item in from.items(&select.items) {
            let value = |q: &Query| from.query(q, Some(item)).into_iter().next();
            // Open: the unpinned variables (the client's to choose); then also the pinned ones,
            // to find the items only a pin keeps out.
            let mut verdicts = Vec::new();
            for open_pinned in [false, true] {
                let open = |v: &str| declared(v) && (open_pinned || !pinned.contains(v));
                let mut binds: Vec<(String, String)> = Vec::new();
                let mut ok = true;
                for (q, m) in &select.filters {
                    let (tpl, regex_text) = match m {
                        Matcher::Equals(t) => (t, false),
                        Matcher::Matches(t) => (t, true),
                        _ => {
                            ok &= self.matches(m, value(q).as_deref()).is_ok_and(|(passed, _)| passed);
                            continue;
                        }
                    };
                    if !tpl.vars().any(open) {
                        ok &= self.matches(m, value(q).as_deref()).is_ok_and(|(passed, _)| passed);
                        continue;
                    }
                    let bound = value(q).and_then(|actual| {
                        let (pattern, names) = tpl.open_pattern(&self.vars, &open, regex_text).ok()?;
                        let caps = compiled(&pattern).ok()?.captures(&actual)?;
                        Some(
                            names
                                .into_iter()
                                .zip(caps.iter().skip(1))
                                .filter_map(|(n, c)| Some((n, c?.as_str().to_owned())))
                                .collect::<Vec<_>>(),
                        )
                    });
                    match bound {
                        Some(b) => binds.extend(b),
                        None => ok = false,
                    }
                }
                verdicts.push(ok.then_some(binds));
            }
            let name = value(&Query::Field(vec!["Name".into()])).unwrap_or_default();
            let Ok(target) = self.follow_in(step, f, source_name, from, Some(item)) else { continue };
            match (verdicts[0].take(), verdicts[1].take()) {
                (Some(binds), _) => allowed.push(Choice { target, item: name, binds }),
                (None, Some(binds)) => kept_out.push(Choice { target, item: name, binds }),
                (None, None) => {}
            }
        }
        Some((allowed, kept_out))
    }

    /// Binds a variable for the steps to come (a checked client's choice).
    pub fn bind(&mut self, var: &str, value: &str) {
        self.vars.insert(var.to_owned(), value.to_owned());
    }

    fn select<'d>(&self, step: &Step, from: &'d Document) -> Result<Node<'d>, Blocked> {
        let Some(select) = &step.select else {
            return Err(Blocked::Skip("nothing to select".into()));
        };
        let items = from.items(&select.items);
        let first = |n: Node<'d>, q: &Query| from.query(q, Some(n)).into_iter().next();
        let mut chosen: Vec<Node<'d>> = Vec::new();
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
                Err(Blocked::Fail(Box::new(self.placed(
                    check(
                        format!("select {}", select.items),
                        false,
                        format!("an item where {}", wanted.join(" and ")),
                        actual,
                    ),
                    step.at.select.unwrap_or(step.at.request),
                ))))
            }
        }
    }

    pub fn absolute(&self, url: &str) -> String {
        if url.starts_with("http://") || url.starts_with("https://") {
            url.to_owned()
        } else if url.starts_with('/') {
            format!("{}{url}", self.base_url)
        } else {
            format!("{}/{url}", self.base_url)
        }
    }

    /// The headers of a step's request: the scenario's, the step's, and the session token.
    pub fn headers(&self, step: &Step) -> Result<Headers, Blocked> {
        let mut headers = Headers::new();
        for (name, value) in self.scenario.headers.iter().chain(&step.headers) {
            headers.set(name, self.render(value)?);
        }
        if let Some(token) = &self.session {
            match self.scenario.api {
                crate::vbr::Api::Em => headers.set(em::SESSION_HEADER, token.clone()),
                crate::vbr::Api::Vbr => headers.set("Authorization", format!("Bearer {token}")),
            }
        }
        Ok(headers)
    }

    /// The poll's interval and timeout.
    pub fn poll_times(&self, poll: &Poll) -> Result<(Duration, Duration), String> {
        let interval = self.render(&poll.interval).ok().and_then(|s| parse_duration(&s));
        let timeout = self.render(&poll.timeout).ok().and_then(|s| parse_duration(&s));
        match (interval, timeout) {
            (Some(i), Some(t)) => Ok((i, t)),
            _ => Err(format!(
                "poll interval `{}` or timeout `{}` is not a duration",
                poll.interval.source(),
                poll.timeout.source()
            )),
        }
    }

    /// Whether `response` ends the poll, and the polled values (`State=Running`).
    pub fn poll_until(&self, poll: &Poll, response: &Response) -> (bool, String) {
        let doc = Document::parse_with(response, self.scenario.json_keys);
        let mut done = response.status < 400;
        let mut notes = Vec::new();
        for (q, m) in &poll.until {
            let (passed, actual) = match doc.one(q) {
                Ok(actual) => {
                    (self.matches(m, actual.as_deref()).is_ok_and(|r| r.0), actual.unwrap_or_else(|| "(absent)".into()))
                }
                Err(why) => (false, why),
            };
            done &= passed;
            notes.push(format!("{}={actual}", q.describe()));
        }
        (done, notes.join(" "))
    }

    /// What the poll waits for, in words.
    pub fn poll_wanted(&self, poll: &Poll) -> String {
        let wanted: Vec<String> = poll
            .until
            .iter()
            .map(|(q, m)| format!("{} {}", q.describe(), self.matches(m, None).map(|x| x.1).unwrap_or_default()))
            .collect();
        wanted.join(" and ")
    }

    /// Takes in the response a step got: checks it, captures from it, takes its session token,
    /// and keeps it for the links of later steps.
    pub fn observe(&mut self, step: &Step, response: &Response, link_type: Option<&str>) -> Observed {
        let doc = Document::parse_with(response, self.scenario.json_keys);
        let mut checks = self.checks(step, response, &doc, link_type);
        let (failed, mut tokens) = self.capture(step, response, &doc);
        checks.extend(failed);
        if let Some(session) = &step.session {
            if let Ok(token) = session.render(&self.vars) {
                tokens.push(token.clone());
                self.session = Some(token);
            }
        }
        self.seen.insert(step.name.clone(), doc);
        self.previous = Some(step.name.clone());
        Observed { checks, tokens }
    }

    fn checks(&self, step: &Step, response: &Response, doc: &Document, link_type: Option<&str>) -> Vec<Check> {
        let mut checks = Vec::new();
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
        let at = &step.at;
        let mut status =
            self.placed(check("status", status_ok, wanted, response.status.to_string()), at.status.unwrap_or(at.step));
        if !status_ok {
            status.context = Some(excerpt(&body_text, 1, 6));
        }
        checks.push(status);
        if let Document::Other { reason: Some(reason) } = doc {
            checks.push(self.placed(check("body", false, "XML or JSON", reason.clone()), at.step));
        }
        if let Some(root) = &expect.root {
            let want = self.render(root).unwrap_or_default();
            let (passed, got) = doc.is_root(&want);
            let expected =
                if matches!(doc, Document::Json(..)) { format!("\"Type\": \"{want}\"") } else { format!("<{want}>") };
            let mut c = self.placed(check("root", passed, expected, got), at.root.unwrap_or(at.step));
            if !c.passed {
                c.context = Some(excerpt(&body_text, 1, 3));
            }
            checks.push(c);
        } else if let (Some(kind), true, true) = (link_type, expect.link_contract, response.status < 400) {
            // An error answer (an expected 403, say) is EM's `Error`, not what the link leads to.
            let outcome = doc.honours_link_type(kind);
            let got = doc.root_name().map_or_else(
                || "(no body)".to_owned(),
                |r| if matches!(doc, Document::Xml(_)) { format!("<{r}>") } else { format!("\"Type\": \"{r}\"") },
            );
            let passed = outcome.is_ok();
            let expected = outcome.err().unwrap_or_else(|| got.clone());
            let mut c = self.placed(
                check(format!("link contract: Type {kind}"), passed, expected, got),
                at.link_type.unwrap_or(at.request),
            );
            if !c.passed {
                c.context = Some(excerpt(&body_text, 1, 3));
            }
            checks.push(c);
        }
        for (i, (name, m)) in expect.headers.iter().enumerate() {
            let actual = response.headers.get(name);
            let (passed, expected) = self.matches(m, actual).unwrap_or((false, "(a value)".into()));
            let c = check(format!("header {name}"), passed, expected, actual.unwrap_or("(absent)"));
            checks.push(self.placed(c, at.headers.get(i).copied().unwrap_or(at.step)));
        }
        for (i, (q, m)) in expect.body.iter().enumerate() {
            let (passed, expected, actual) = match doc.one(q) {
                Ok(actual) => {
                    let (passed, expected) = self.matches(m, actual.as_deref()).unwrap_or((false, "(a value)".into()));
                    (passed, expected, actual.unwrap_or_else(|| "(absent)".into()))
                }
                // Several nodes are present.
                Err(_) if matches!(m, Matcher::Exists(true)) && doc.query(q, None).len() > 1 => {
                    (true, "present".into(), format!("{} nodes", doc.query(q, None).len()))
                }
                Err(why) => {
                    let (_, expected) = self.matches(m, None).unwrap_or((false, "(a value)".into()));
                    (false, expected, why)
                }
            };
            let mut c = self.placed(
                check(format!("body {}", q.describe()), passed, expected, actual),
                at.body.get(i).copied().unwrap_or(at.step),
            );
            if !passed {
                c.context = doc.context(&body_text, q, None).or_else(|| Some(excerpt(&body_text, 1, 6)));
            }
            checks.push(c);
        }
        checks
    }

    /// Captures values into the variables; returns the failed captures as checks, and the
    /// values taken from the session header (live tokens).
    fn capture(&mut self, step: &Step, response: &Response, doc: &Document) -> (Vec<Check>, Vec<String>) {
        let mut failed = Vec::new();
        let mut tokens = Vec::new();
        for (i, (name, capture)) in step.captures.iter().enumerate() {
            let at = step.at.captures.get(i).copied().unwrap_or(step.at.step);
            let raw = match &capture.source {
                CaptureSource::Header(h) => response.headers.get(h).map(str::to_owned),
                CaptureSource::Body(q) => match doc.one(q) {
                    Ok(value) => value,
                    Err(why) => {
                        failed.push(self.placed(check(format!("capture {name}"), false, "one value", why), at));
                        continue;
                    }
                },
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
                        tokens.push(v.clone());
                    }
                    self.vars.insert(name.clone(), v);
                }
                None => failed.push(self.placed(check(format!("capture {name}"), false, "a value", "(absent)"), at)),
            }
        }
        (failed, tokens)
    }

    /// Whether `actual` satisfies `m`, and what `m` expects, in words.
    pub fn matches(&self, m: &Matcher, actual: Option<&str>) -> Result<(bool, String), Blocked> {
        Ok(match m {
            Matcher::Equals(t) => {
                let want = self.render(t)?;
                (actual == Some(want.as_str()), want)
            }
            Matcher::Matches(t) => {
                let pattern = t.render_with(&self.vars, regex::escape).map_err(Blocked::Skip)?;
                let re = compiled(&pattern).map_err(Blocked::Skip)?;
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
}
