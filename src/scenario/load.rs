//! Reading scenarios: YAML to checked specs. Everything that can be checked before running is:
//! every variable is defined before it is used, every `from:` names an earlier step, every
//! XPath, JSONPath and regex parses. Each problem names file, line and column, quotes the
//! offending text and gives a hint.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use super::template::Tpl;
use super::{
    Action, At, Auth, BUILTIN_VARS, Capture, CaptureSource, Expect, Fault, FaultError, Follow, JsonKeys, JsonPath,
    Matcher, Poll, Query, Scenario, Select, ServerPlan, Step, StepAt, ValueCheck, ValueKind, XPath, parse_duration,
};
use crate::diagnostic::{Diagnostic, did_you_mean, yaml_diagnostic};
use crate::vbr::Api;
use crate::yamlish::{Ordered, Place, Places, Scalar, Seg};

/// Why a scenario cannot run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    #[error("cannot read scenario {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("invalid scenario: {0}")]
    Invalid(Box<Diagnostic>),
}

pub(super) fn load_file(path: &Path) -> Result<Scenario, ScenarioError> {
    let name = path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|e| ScenarioError::Read { path: name.clone(), reason: e.to_string() })?;
    parse(&name, &text)
}

pub(super) fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let raw: RawScenario =
        serde_yaml::from_str(text).map_err(|e| ScenarioError::Invalid(Box::new(yaml_diagnostic(file, text, &e))))?;
    let src = Source { file, text, places: Places::read(text), checks: RefCell::default() };
    src.compile(raw)
}

struct Source<'a> {
    file: &'a str,
    text: &'a str,
    /// Where each node of the file is, from the YAML parser.
    places: Places,
    /// Values built from variables, checked once the run's variables are known.
    checks: RefCell<Vec<ValueCheck>>,
}

/// A node of the scenario file, by its path from the top (`steps/2/expect/body/State`):
/// where an error points, and where a check's place comes from.
#[derive(Clone, Debug, Default)]
struct Here(Vec<Seg>);

impl Here {
    fn key(&self, key: &str) -> Here {
        let mut path = self.0.clone();
        path.push(Seg::Key(key.to_owned()));
        Here(path)
    }

    fn index(&self, i: usize) -> Here {
        let mut path = self.0.clone();
        path.push(Seg::Index(i));
        Here(path)
    }
}

impl Source<'_> {
    /// Where the node at `here` is (its key, for a mapping's value), or the nearest node above
    /// it that the file has.
    fn place(&self, here: &Here) -> Place {
        (0..=here.0.len()).rev().find_map(|n| self.places.get(&here.0[..n])).unwrap_or(Place {
            line: 1,
            column: 1,
            key: None,
        })
    }

    /// The line and column of a node, its key first.
    fn at(&self, here: &Here) -> At {
        let p = self.place(here);
        let (line, column) = p.key.unwrap_or((p.line, p.column));
        At { line, column }
    }

    /// An error at `needle` within the node at `here` (searched from where the parser says the
    /// node begins, so the caret lands on this node's text and never on an earlier twin), or
    /// at the node itself.
    fn error(&self, here: &Here, needle: &str, message: String, hint: Option<String>) -> ScenarioError {
        let (line, column) = self.find(here, needle);
        let d = Diagnostic::at(self.file, self.text, line, column, message);
        ScenarioError::Invalid(Box::new(match hint {
            Some(h) => d.with_hint(h),
            None => d,
        }))
    }

    fn find(&self, here: &Here, needle: &str) -> (usize, usize) {
        let At { line, column } = self.at(here);
        if needle.is_empty() {
            return (line, column);
        }
        // A node's text runs on for a few lines at most (a block scalar, a flow mapping).
        for (i, text) in self.text.lines().enumerate().skip(line - 1).take(40) {
            let from =
                if i + 1 == line { text.char_indices().nth(column - 1).map_or(text.len(), |(b, _)| b) } else { 0 };
            if let Some(found) = text[from..].find(needle) {
                return (i + 1, text[..from + found].chars().count() + 1);
            }
        }
        (line, column)
    }

    fn compile(&self, raw: RawScenario) -> Result<Scenario, ScenarioError> {
        let whole = &Here::default();
        let mut defined: Vec<String> = BUILTIN_VARS.iter().map(|s| (*s).to_owned()).collect();
        let mut vars = Vec::new();
        for (name, Scalar(value)) in raw.vars.0 {
            if BUILTIN_VARS.contains(&name.as_str()) {
                return Err(self.error(
                    &whole.key("vars").key(&name),
                    &format!("{name}:"),
                    format!("`{name}` is built in and cannot be declared"),
                    None,
                ));
            }
            defined.push(name.clone());
            vars.push((name, value));
        }
        let namespaces: HashMap<String, String> = raw.namespaces.0.into_iter().collect();
        let headers = self.templates(&whole.key("headers"), raw.headers.0, &defined)?;
        for (name, value) in &headers {
            self.check_later(
                &whole.key("headers").key(name),
                value,
                ValueKind::HeaderValue,
                format!("the header `{name}` sent with every request"),
            );
        }
        if raw.steps.is_empty() {
            return Err(self.error(
                whole,
                "steps:",
                "the scenario has no steps".into(),
                Some("add at least one step under `steps:`".into()),
            ));
        }
        let mut names: Vec<String> = Vec::new();
        let mut steps = Vec::new();
        for (i, step) in raw.steps.into_iter().enumerate() {
            let step = self.step(&whole.key("steps").index(i), step, &defined, &names, &namespaces)?;
            defined.extend(step.captures.iter().map(|(n, _)| n.clone()));
            names.push(step.name.clone());
            steps.push(step);
        }
        let mut finally = Vec::new();
        for (i, step) in raw.finally.into_iter().enumerate() {
            let step = self.step(&whole.key("finally").index(i), step, &defined, &names, &namespaces)?;
            names.push(step.name.clone());
            finally.push(step);
        }
        let server = self.server(&whole.key("server"), raw.server, &names)?;
        let json_keys = match raw.json_keys.as_deref() {
            None | Some("exact") => JsonKeys::Exact,
            Some("any-case") => JsonKeys::AnyCase,
            Some(other) => {
                return Err(self.error(
                    &whole.key("json_keys"),
                    other,
                    format!("`{other}` is not a way to match JSON keys"),
                    Some("write `exact` (the default) or `any-case` (EM 13 writes its JSON keys in camelCase)".into()),
                ));
            }
        };
        for (i, p) in raw.pinned.iter().enumerate() {
            if !vars.iter().any(|(n, _)| n == p) {
                let names = vars.iter().map(|(n, _)| n.as_str());
                let hint = did_you_mean(p, names).map(|v| format!("did you mean `{v}`?"));
                return Err(self.error(
                    &whole.key("pinned").index(i),
                    p,
                    format!("`pinned: {p}` names no variable of the scenario"),
                    hint,
                ));
            }
        }
        let pinned = raw.pinned;
        let api = match raw.api.as_deref() {
            None => Api::Em,
            Some(a) => Api::parse(a).ok_or_else(|| {
                self.error(
                    &whole.key("api"),
                    a,
                    format!("`api: {a}` is not an API emtape knows"),
                    Some("write `em` (the default) or `vbr`".into()),
                )
            })?,
        };
        let name = raw.name.unwrap_or_else(|| {
            Path::new(self.file).file_stem().map_or_else(|| "scenario".to_owned(), |s| s.to_string_lossy().into_owned())
        });
        Ok(Scenario {
            name,
            description: raw.description,
            file: self.file.to_owned(),
            vars,
            namespaces,
            headers,
            steps,
            finally,
            server,
            json_keys,
            pinned,
            api,
            checks: self.checks.take(),
        })
    }

    /// Where the parts of the step at `step` are; the names are its `expect.headers`,
    /// `expect.body` and `capture` keys, in order.
    fn step_at(&self, step: &Here, headers: &[String], body: &[String], captures: &[String]) -> StepAt {
        let has = |here: &Here| self.places.get(&here.0).map(|_| self.at(here));
        let expect = step.key("expect");
        StepAt {
            step: self.at(step),
            request: has(&step.key("request")).or_else(|| has(&step.key("follow"))).unwrap_or(self.at(step)),
            status: has(&expect.key("status")),
            root: has(&expect.key("root")),
            link_type: has(&step.key("follow").key("type")),
            select: has(&step.key("select")),
            headers: headers.iter().map(|k| self.at(&expect.key("headers").key(k))).collect(),
            body: body.iter().map(|k| self.at(&expect.key("body").key(k))).collect(),
            captures: captures.iter().map(|k| self.at(&step.key("capture").key(k))).collect(),
            poll: has(&step.key("poll").key("until")).or_else(|| has(&step.key("poll"))),
        }
    }

    /// Remembers a value made of variables that must be of `kind`, to be checked before the
    /// first request once `--var` has given the variables their values.
    fn check_later(&self, span: &Here, tpl: &Tpl, kind: ValueKind, what: String) {
        if tpl.vars().next().is_none() {
            return;
        }
        let (line, column) = self.find(span, tpl.source());
        let source_line = self.text.lines().nth(line - 1).unwrap_or_default().to_owned();
        self.checks.borrow_mut().push(ValueCheck { kind, tpl: tpl.clone(), what, line, column, source_line });
    }

    fn literal_duration(&self, span: &Here, text: &str) -> Result<std::time::Duration, ScenarioError> {
        parse_duration(text).ok_or_else(|| {
            self.error(
                span,
                text,
                format!("`{text}` is not a duration"),
                Some("write `500ms`, `1s`, `2m` or `1h`".into()),
            )
        })
    }

    /// An HTTP method EM knows, upper-cased; a typo (`GTE`) is refused where it stands.
    fn method(&self, span: &Here, method: &str) -> Result<String, ScenarioError> {
        const METHODS: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];
        let upper = method.to_ascii_uppercase();
        if METHODS.contains(&upper.as_str()) {
            return Ok(upper);
        }
        let hint = did_you_mean(&upper, METHODS)
            .map_or_else(|| format!("the methods are {}", METHODS.join(", ")), |m| format!("did you mean `{m}`?"));
        Err(self.error(span, method, format!("`{method}` is not an HTTP method"), Some(hint)))
    }

    fn fault(&self, span: &Here, text: &str, steps: &[String]) -> Result<Fault, ScenarioError> {
        let fault: Fault = text.parse().map_err(|e: FaultError| self.error(span, &e.part, e.message, e.hint))?;
        if let Some(step) = &fault.step {
            if !steps.iter().any(|s| s == step) {
                let hint = did_you_mean(step, steps.iter().map(String::as_str)).map(|s| format!("did you mean `{s}`?"));
                return Err(self.error(span, step, format!("fault `{text}` names no step of the scenario"), hint));
            }
        }
        Ok(fault)
    }

    fn server(&self, span: &Here, raw: RawServer, steps: &[String]) -> Result<ServerPlan, ScenarioError> {
        Ok(ServerPlan {
            running_polls: raw.running_polls,
            latency: raw.latency.as_deref().map(|l| self.literal_duration(&span.key("latency"), l)).transpose()?,
            faults: raw
                .faults
                .iter()
                .enumerate()
                .map(|(i, f)| self.fault(&span.key("faults").index(i), f, steps))
                .collect::<Result<_, _>>()?,
            poll_min_interval: raw
                .poll_min_interval
                .as_deref()
                .map(|l| self.literal_duration(&span.key("poll_min_interval"), l))
                .transpose()?,
        })
    }

    fn template(&self, span: &Here, text: &str, defined: &[String]) -> Result<Tpl, ScenarioError> {
        let tpl = Tpl::parse(text).map_err(|e| {
            let needle = &text[e.offset..];
            self.error(span, needle.get(..needle.len().min(20)).unwrap_or(needle), e.message, None)
        })?;
        for var in tpl.vars() {
            if !defined.iter().any(|d| d == var) {
                let hint = match did_you_mean(var, defined.iter().map(String::as_str)) {
                    Some(d) => format!("did you mean `{{{{{d}}}}}`?"),
                    None => "declare it under `vars:`, or capture it in an earlier step".to_owned(),
                };
                return Err(self.error(span, var, format!("unknown variable `{var}` in `{text}`"), Some(hint)));
            }
        }
        Ok(tpl)
    }

    fn templates(
        &self,
        span: &Here,
        entries: Vec<(String, Scalar)>,
        defined: &[String],
    ) -> Result<Vec<(String, Tpl)>, ScenarioError> {
        entries
            .into_iter()
            .map(|(k, Scalar(v))| {
                let tpl = self.template(&span.key(&k), &v, defined)?;
                Ok((k, tpl))
            })
            .collect()
    }

    fn step(
        &self,
        span: &Here,
        raw: RawStep,
        defined: &[String],
        earlier: &[String],
        namespaces: &HashMap<String, String>,
    ) -> Result<Step, ScenarioError> {
        if earlier.contains(&raw.name) {
            return Err(self.error(
                span,
                &raw.name,
                format!("two steps are called `{}`", raw.name),
                Some("step names must differ so `from:` can name them".into()),
            ));
        }
        let from = |within: &Here, name: &Option<String>| -> Result<Option<String>, ScenarioError> {
            match name {
                Some(n) if !earlier.contains(n) => {
                    let hint = match did_you_mean(n, earlier.iter().map(String::as_str)) {
                        Some(d) => format!("did you mean `{d}`?"),
                        None => format!("`from:` names an earlier step; earlier steps: {}", list(earlier)),
                    };
                    Err(self.error(&within.key("from"), n, format!("`from: {n}` is not an earlier step"), Some(hint)))
                }
                other => Ok(other.clone()),
            }
        };
        let action = match (raw.request, raw.follow) {
            (Some(r), None) => {
                let span = &span.key("request");
                let mut parts = r.split_whitespace();
                let (method, url) = match (parts.next(), parts.next(), parts.next()) {
                    (Some(url), None, _) => ("GET".to_owned(), url),
                    (Some(m), Some(url), None) if m.bytes().all(|b| b.is_ascii_alphabetic()) => {
                        (self.method(span, m)?, url)
                    }
                    _ => {
                        return Err(self.error(
                            span,
                            &r,
                            format!("`request: {r}` is not `METHOD URL`"),
                            Some("for example `request: GET /api/`".into()),
                        ));
                    }
                };
                let url = self.template(span, url, defined)?;
                self.check_later(span, &url, ValueKind::Url, format!("the URL of step `{}`", raw.name));
                Action::Request { method, url }
            }
            (None, Some(f)) => {
                let follow = span.key("follow");
                Action::Follow(Follow {
                    rel: self.template(&follow.key("rel"), &f.rel, defined)?,
                    kind: f.kind.as_deref().map(|k| self.template(&follow.key("type"), k, defined)).transpose()?,
                    name: f.name.as_deref().map(|k| self.template(&follow.key("name"), k, defined)).transpose()?,
                    from: from(&follow, &f.from)?,
                    method: f.method.map(|m| self.method(&follow.key("method"), &m)).transpose()?,
                })
            }
            (Some(_), Some(_)) => {
                return Err(self.error(
                    span,
                    "follow:",
                    format!("step `{}` has both `request:` and `follow:`", raw.name),
                    Some("a step makes one request; split it in two".into()),
                ));
            }
            (None, None) => {
                return Err(self.error(
                    span,
                    &raw.name,
                    format!("step `{}` has neither `request:` nor `follow:`", raw.name),
                    Some("add `request: GET /api/` or `follow: {rel: ..., type: ...}`".into()),
                ));
            }
        };
        let select = match raw.select {
            None => None,
            Some(s) => {
                if !matches!(action, Action::Follow(_)) {
                    return Err(self.error(
                        &span.key("select"),
                        "select:",
                        "`select:` picks the item whose link `follow:` takes; this step has no `follow:`".into(),
                        None,
                    ));
                }
                let select = span.key("select");
                Some(Select {
                    items: s.items,
                    filters: self.matchers(&select.key("where"), s.filters.0, defined, namespaces)?,
                    order_by: s.order_by.map(|o| self.query(&select.key("order_by"), &o, namespaces)).transpose()?,
                    descending: s.descending,
                    from: from(&select, &s.from)?,
                })
            }
        };
        let auth = match raw.auth.as_deref() {
            None => None,
            Some("basic") => Some(Auth::Basic),
            Some("oauth2") if raw.body.is_none() => Some(Auth::OAuth2),
            Some("oauth2") => {
                return Err(self.error(
                    &span.key("body"),
                    "body",
                    "a step with `auth: oauth2` sends the password grant as its body".to_owned(),
                    Some("remove `body:`; the run's --user and password make the form".into()),
                ));
            }
            Some(other) => {
                return Err(self.error(
                    &span.key("auth"),
                    other,
                    format!("`auth: {other}` is not known"),
                    Some("write `auth: basic` (EM's logon) or `auth: oauth2` (VBR's token, password grant)".into()),
                ));
            }
        };
        let mut captures = Vec::new();
        for (name, c) in raw.capture.0 {
            captures.push((name.clone(), self.capture(&span.key("capture").key(&name), &name, c, namespaces)?));
        }
        let expect = span.key("expect");
        let headers_of: Vec<String> = raw.expect.headers.0.iter().map(|(k, _)| k.clone()).collect();
        let body_of: Vec<String> = raw.expect.body.0.iter().map(|(k, _)| k.clone()).collect();
        let captures_of: Vec<String> = captures.iter().map(|(k, _)| k.clone()).collect();
        let expect = Expect {
            status: raw.expect.status.map(|s| s.0).unwrap_or_default(),
            root: raw.expect.root.as_deref().map(|r| self.template(&expect.key("root"), r, defined)).transpose()?,
            headers: raw
                .expect
                .headers
                .0
                .into_iter()
                .map(|(k, m)| {
                    let m = self.matcher(&expect.key("headers").key(&k), m, defined)?;
                    Ok((k, m))
                })
                .collect::<Result<_, ScenarioError>>()?,
            body: self.matchers(&expect.key("body"), raw.expect.body.0, defined, namespaces)?,
            link_contract: raw.expect.link_contract.unwrap_or(true),
        };
        let poll = match raw.poll {
            None => None,
            Some(p) => {
                let span = &span.key("poll");
                let (at_interval, at_timeout) = (span.key("interval"), span.key("timeout"));
                let interval = self.duration(&at_interval, p.interval.as_deref().unwrap_or("1s"), defined)?;
                let timeout = self.duration(&at_timeout, p.timeout.as_deref().unwrap_or("10m"), defined)?;
                let step = &raw.name;
                self.check_later(
                    &at_interval,
                    &interval,
                    ValueKind::Duration,
                    format!("the poll interval of step `{step}`"),
                );
                self.check_later(
                    &at_timeout,
                    &timeout,
                    ValueKind::Duration,
                    format!("the poll timeout of step `{step}`"),
                );
                if p.until.0.is_empty() {
                    return Err(self.error(
                        span,
                        "until",
                        "`poll:` needs `until:` conditions".into(),
                        Some("for example `until: {State: Finished}`".into()),
                    ));
                }
                Some(Poll {
                    until: self.matchers(&span.key("until"), p.until.0, defined, namespaces)?,
                    interval,
                    timeout,
                    max_attempts: p.max_attempts,
                })
            }
        };
        // Captures of this step are usable in its own `session:`.
        let mut here: Vec<String> = defined.to_vec();
        here.extend(captures.iter().map(|(n, _)| n.clone()));
        let headers = self.templates(&span.key("headers"), raw.headers.0, defined)?;
        for (name, value) in &headers {
            self.check_later(
                &span.key("headers").key(name),
                value,
                ValueKind::HeaderValue,
                format!("the header `{name}` of step `{}`", raw.name),
            );
        }
        Ok(Step {
            name: raw.name,
            line: self.at(span).line,
            at: self.step_at(span, &headers_of, &body_of, &captures_of),
            action,
            select,
            headers,
            body: raw.body.as_deref().map(|b| self.template(&span.key("body"), b, defined)).transpose()?,
            auth,
            session: raw.session.as_deref().map(|s| self.template(&span.key("session"), s, &here)).transpose()?,
            captures,
            expect,
            poll,
            latency: raw
                .server
                .latency
                .as_deref()
                .map(|l| self.literal_duration(&span.key("server").key("latency"), l))
                .transpose()?,
            fault: raw
                .server
                .fault
                .as_deref()
                .map(|f| self.fault(&span.key("server").key("fault"), f, &[]))
                .transpose()?,
        })
    }

    fn duration(&self, span: &Here, text: &str, defined: &[String]) -> Result<Tpl, ScenarioError> {
        let tpl = self.template(span, text, defined)?;
        if tpl.vars().next().is_none() && parse_duration(text).is_none() {
            return Err(self.error(
                span,
                text,
                format!("`{text}` is not a duration"),
                Some("write `500ms`, `1s`, `2m` or `1h`".into()),
            ));
        }
        Ok(tpl)
    }

    fn query(&self, span: &Here, text: &str, namespaces: &HashMap<String, String>) -> Result<Query, ScenarioError> {
        // A field path (`State`, `Result/Success`) never holds a call, an axis or a predicate:
        // anything that does (`count(//Ref)`, `following-sibling::*`) is XPath.
        let xpath = text.starts_with('/')
            || text.starts_with('(')
            || (!text.starts_with('$') && (text.contains('(') || text.contains("::") || text.contains('[')));
        if xpath {
            XPath::parse(text, namespaces).map(Query::XPath).map_err(|e| {
                self.error(
                    span,
                    text,
                    format!("XPath `{text}` does not parse: {} (at character {})", e.message, e.offset + 1),
                    Some(xpath_hint(text)),
                )
            })
        } else if text.starts_with('$') {
            JsonPath::parse(text).map(Query::JsonPath).map_err(|e| {
                self.error(
                    span,
                    text,
                    format!("JSON path `{text}` does not parse: {} (at character {})", e.message, e.offset + 1),
                    jsonpath_hint(text),
                )
            })
        } else {
            let segments: Vec<String> = text.split('/').map(|s| s.trim().trim_start_matches('@').to_owned()).collect();
            if segments.iter().any(String::is_empty) {
                return Err(self.error(span, text, format!("`{text}` is not a field path"), Some("write names separated by `/` (`Result/Success`), an XPath starting with `/`, or a JSON path starting with `$`".into())));
            }
            Ok(Query::Field(segments))
        }
    }

    fn matchers(
        &self,
        span: &Here,
        entries: Vec<(String, RawMatcher)>,
        defined: &[String],
        namespaces: &HashMap<String, String>,
    ) -> Result<Vec<(Query, Matcher)>, ScenarioError> {
        entries
            .into_iter()
            .map(|(k, m)| Ok((self.query(&span.key(&k), &k, namespaces)?, self.matcher(&span.key(&k), m, defined)?)))
            .collect()
    }

    fn matcher(&self, span: &Here, raw: RawMatcher, defined: &[String]) -> Result<Matcher, ScenarioError> {
        Ok(match raw {
            RawMatcher::Equals(v) => Matcher::Equals(self.template(span, &v, defined)?),
            RawMatcher::Matches(re) => {
                let tpl = self.template(span, &re, defined)?;
                let sample: HashMap<String, String> = tpl.vars().map(|v| (v.to_owned(), "x".to_owned())).collect();
                if let Err(e) =
                    tpl.render(&sample).map(|s| regex::Regex::new(&s)).and_then(|r| r.map_err(|e| e.to_string()))
                {
                    return Err(self.error(
                        span,
                        &re,
                        format!("regex `{re}` does not compile: {}", first_line(&e)),
                        None,
                    ));
                }
                Matcher::Matches(tpl)
            }
            RawMatcher::OneOf(vs) => {
                Matcher::OneOf(vs.iter().map(|v| self.template(span, v, defined)).collect::<Result<_, _>>()?)
            }
            RawMatcher::Exists(b) => Matcher::Exists(b),
            RawMatcher::Not(m) => Matcher::Not(Box::new(self.matcher(span, *m, defined)?)),
        })
    }

    fn capture(
        &self,
        span: &Here,
        name: &str,
        raw: RawCapture,
        namespaces: &HashMap<String, String>,
    ) -> Result<Capture, ScenarioError> {
        let sources = [
            raw.header.is_some(),
            raw.field.is_some(),
            raw.xpath.is_some(),
            raw.jsonpath.is_some(),
            raw.body == Some(true),
        ];
        if sources.iter().filter(|s| **s).count() != 1 {
            return Err(self.error(
                span,
                &format!("{name}:"),
                format!("capture `{name}` needs exactly one of `header`, `field`, `xpath`, `jsonpath` or `body: true`"),
                Some("add `regex:` to take part of it".into()),
            ));
        }
        let source = if let Some(h) = raw.header {
            CaptureSource::Header(h)
        } else if let Some(f) = raw.field {
            CaptureSource::Body(self.query(span, &f, namespaces)?)
        } else if let Some(x) = raw.xpath {
            // Whatever follows `xpath:` is XPath, `Links/Link/@Href` and `count(//Ref)` too.
            let q = XPath::parse(&x, namespaces).map(Query::XPath).map_err(|e| {
                self.error(
                    span,
                    &x,
                    format!("XPath `{x}` does not parse: {} (at character {})", e.message, e.offset + 1),
                    Some(xpath_hint(&x)),
                )
            })?;
            CaptureSource::Body(q)
        } else if let Some(j) = raw.jsonpath {
            let q = self.query(span, &j, namespaces)?;
            if !matches!(q, Query::JsonPath(_)) {
                return Err(self.error(span, &j, format!("`jsonpath: {j}` must start with `$`"), None));
            }
            CaptureSource::Body(q)
        } else {
            if raw.regex.is_none() {
                return Err(self.error(
                    span,
                    &format!("{name}:"),
                    format!("capture `{name}` takes the whole body; add `regex:` to say which part"),
                    None,
                ));
            }
            CaptureSource::BodyText
        };
        let regex = match raw.regex {
            None => None,
            Some(r) => Some(regex::Regex::new(&r).map_err(|e| {
                self.error(span, &r, format!("regex `{r}` does not compile: {}", first_line(&e.to_string())), None)
            })?),
        };
        Ok(Capture { source, regex })
    }
}

fn first_line(s: &str) -> String {
    s.lines().last().unwrap_or(s).trim().to_owned()
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
    }
}

/// What a JSON path that does not parse was probably meant to say.
fn jsonpath_hint(text: &str) -> Option<String> {
    let function = ["length(", "count(", "match(", "search(", "value("].into_iter().find(|f| text.contains(f))?;
    let name = function.trim_end_matches('(');
    let list = text.split(&format!(".{function}")).next().filter(|l| *l != text && l.len() > 1).unwrap_or("$.Refs");
    Some(format!(
        "RFC 9535's functions stand only inside a filter (`$.Refs[?{name}(@.Links) > 0]`), not after a path; to check that `{list}` has 3 items: `{list}[2]: {{exists: true}}` and `{list}[3]: {{exists: false}}`"
    ))
}

fn xpath_hint(text: &str) -> String {
    if text.contains("::") {
        "axes (`child::`) are not supported; write `/`, `//` and `@`".to_owned()
    } else {
        "for example `/Task/State`, `//Link[@Rel='Restore']/@Href`, `count(//Ref)`".to_owned()
    }
}

// ---------------------------------------------------------------- raw YAML

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Option<String>,
    api: Option<String>,
    description: Option<String>,
    #[serde(default)]
    vars: Ordered<Scalar>,
    #[serde(default)]
    namespaces: Ordered<String>,
    #[serde(default)]
    headers: Ordered<Scalar>,
    #[serde(default)]
    steps: Vec<RawStep>,
    #[serde(default)]
    finally: Vec<RawStep>,
    #[serde(default)]
    server: RawServer,
    json_keys: Option<String>,
    #[serde(default)]
    pinned: Vec<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    running_polls: Option<u32>,
    latency: Option<String>,
    #[serde(default)]
    faults: Vec<String>,
    poll_min_interval: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStepServer {
    latency: Option<String>,
    fault: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    name: String,
    request: Option<String>,
    follow: Option<RawFollow>,
    select: Option<RawSelect>,
    #[serde(default)]
    headers: Ordered<Scalar>,
    body: Option<String>,
    auth: Option<String>,
    session: Option<String>,
    #[serde(default)]
    capture: Ordered<RawCapture>,
    #[serde(default)]
    expect: RawExpect,
    poll: Option<RawPoll>,
    #[serde(default)]
    server: RawStepServer,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFollow {
    rel: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    name: Option<String>,
    from: Option<String>,
    method: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSelect {
    items: String,
    #[serde(default, rename = "where")]
    filters: Ordered<RawMatcher>,
    order_by: Option<String>,
    #[serde(default)]
    descending: bool,
    from: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCapture {
    header: Option<String>,
    field: Option<String>,
    xpath: Option<String>,
    jsonpath: Option<String>,
    body: Option<bool>,
    regex: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    status: Option<Statuses>,
    root: Option<String>,
    #[serde(default)]
    headers: Ordered<RawMatcher>,
    #[serde(default)]
    body: Ordered<RawMatcher>,
    link_contract: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPoll {
    until: Ordered<RawMatcher>,
    interval: Option<String>,
    timeout: Option<String>,
    max_attempts: Option<u32>,
}

/// `status: 200` or `status: [200, 204]`.
struct Statuses(Vec<u16>);

impl<'de> Deserialize<'de> for Statuses {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        fn check<E: de::Error>(n: u64) -> Result<u16, E> {
            u16::try_from(n)
                .ok()
                .filter(|s| (100..=599).contains(s))
                .ok_or_else(|| E::custom(format!("`{n}` is not an HTTP status")))
        }
        impl<'de> Visitor<'de> for V {
            type Value = Statuses;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a status (`200`) or a list of them (`[200, 204]`)")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Statuses, E> {
                Ok(Statuses(vec![check(n)?]))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Statuses, E> {
                self.visit_u64(u64::try_from(n).map_err(|_| E::custom(format!("`{n}` is not an HTTP status")))?)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Statuses, A::Error> {
                let mut out = Vec::new();
                while let Some(n) = seq.next_element::<u64>()? {
                    out.push(check(n)?);
                }
                Ok(Statuses(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// A value, or `{matches: re}`, `{one_of: [..]}`, `{exists: bool}`, `{not: ...}`.
enum RawMatcher {
    Equals(String),
    Matches(String),
    OneOf(Vec<String>),
    Exists(bool),
    Not(Box<RawMatcher>),
}

const MATCHER_KEYS: [&str; 5] = ["equals", "matches", "one_of", "exists", "not"];

impl<'de> Deserialize<'de> for RawMatcher {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawMatcher;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value, or one of `{matches: regex}`, `{one_of: [...]}`, `{exists: true}`, `{not: ...}`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawMatcher, E> {
                Ok(RawMatcher::Equals(v.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawMatcher, E> {
                Ok(RawMatcher::Equals(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawMatcher, E> {
                Ok(RawMatcher::Equals(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawMatcher, E> {
                Ok(RawMatcher::Equals(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawMatcher, E> {
                Ok(RawMatcher::Equals(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawMatcher, A::Error> {
                let Some(key) = map.next_key::<String>()? else {
                    return Err(de::Error::custom("an empty matcher; write a value or `{matches: ...}`"));
                };
                let m = match key.as_str() {
                    "equals" => RawMatcher::Equals(map.next_value::<Scalar>()?.0),
                    "matches" => RawMatcher::Matches(map.next_value()?),
                    "one_of" => RawMatcher::OneOf(map.next_value::<Vec<Scalar>>()?.into_iter().map(|s| s.0).collect()),
                    "exists" => RawMatcher::Exists(map.next_value()?),
                    "not" => RawMatcher::Not(Box::new(map.next_value()?)),
                    other => {
                        let hint = did_you_mean(other, MATCHER_KEYS)
                            .map(|k| format!("; did you mean `{k}`?"))
                            .unwrap_or_default();
                        return Err(de::Error::custom(format!(
                            "unknown matcher `{other}`, expected one of `equals`, `matches`, `one_of`, `exists`, `not`{hint}"
                        )));
                    }
                };
                if map.next_key::<String>()?.is_some() {
                    return Err(de::Error::custom("a matcher has one key; write two entries to check two things"));
                }
                Ok(m)
            }
        }
        d.deserialize_any(V)
    }
}
