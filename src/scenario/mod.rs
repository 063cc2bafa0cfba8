//! Scenarios: what a flow SAYS. A YAML file names the requests to make (by path, or by
//! following a link of an earlier response), what to pick from lists, what to capture, what to
//! expect, and when to poll. Running one is [`crate::runner`]'s job.
//!
//! ```yaml
//! name: vm-restore
//! vars: {vm: ubuntu88, accept: application/xml}
//! headers: {Accept: "{{accept}}"}
//! steps:
//! - name: log on
//!   request: POST /api/sessionMngr/?v=latest
//!   auth: basic
//!   expect: {status: 201}
//!   capture: {token: {header: X-RestSvcSessionId}}
//!   session: "{{token}}"
//! - name: list restore points
//!   follow: {rel: Down, type: VmRestorePointReferenceList}
//! finally:
//! - name: log out
//!   follow: {rel: Delete, from: log on}
//! ```

mod fault;
mod load;
mod template;

use std::collections::HashMap;
use std::time::Duration;

pub use crate::query::{Found, JsonPath, XPath, XPathValue, json_string};
pub use fault::{Fault, FaultError, FaultKind, FaultScope};
pub use load::ScenarioError;
pub use template::Tpl;

/// The scenario shipped in `scenarios/vm-restore.yaml`, built in.
pub const VM_RESTORE: (&str, &str) = ("scenarios/vm-restore.yaml", include_str!("../../scenarios/vm-restore.yaml"));

/// A whole scenario file.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub description: Option<String>,
    /// The file it came from, for messages.
    pub file: String,
    /// Variables with their defaults, in file order.
    pub vars: Vec<(String, String)>,
    pub namespaces: HashMap<String, String>,
    /// Headers sent with every request.
    pub headers: Vec<(String, Tpl)>,
    pub steps: Vec<Step>,
    /// Steps that run at the end whatever happened before (log out).
    pub finally: Vec<Step>,
    /// How `emtape serve --scenario` plays the server (ignored by `emtape run`).
    pub server: ServerPlan,
    /// How field names meet JSON keys.
    pub json_keys: JsonKeys,
    /// Which API it drives: the session header and how `auth:` logs on follow.
    pub api: crate::vbr::Api,
    /// Variables a checked client must keep to (`pinned: [vm]`); the others' values are the
    /// client's to choose where the scenario selects (which VM, which point).
    pub pinned: Vec<String>,
    /// Values made of variables, checked by [`Scenario::check_values`] before anything runs.
    pub checks: Vec<ValueCheck>,
}

/// How the field names a scenario writes (`VmDisplayName`, `Result/Success`, `root: Task`) meet
/// the keys of a JSON body: exactly (the default), or whatever their case, as a client robust to
/// EM 13's camelCase JSON (`vmDisplayName`) reads them. XML and JSONPath are always exact.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum JsonKeys {
    #[default]
    Exact,
    AnyCase,
}

/// A value made of variables (`interval: "{{poll_interval}}"`) that must be a duration, a URL
/// or a header value: known only once `--var` has spoken, and checked then, before the first
/// request, so that a run never stops half-way (a restore started) on a value it could have
/// refused at the start.
#[derive(Clone, Debug)]
pub struct ValueCheck {
    pub kind: ValueKind,
    pub tpl: Tpl,
    /// What the value is, for messages: "the poll interval of step `wait`".
    pub what: String,
    pub line: usize,
    pub column: usize,
    pub source_line: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    Duration,
    /// A path (joined to the target) or an absolute http(s) URL.
    Url,
    HeaderValue,
}

/// How a mock checking clients shapes the run.
#[derive(Clone, Debug, Default)]
pub struct ServerPlan {
    /// How many times the Task answers Running before Finished.
    pub running_polls: Option<u32>,
    /// Added before every answer.
    pub latency: Option<Duration>,
    /// Faults to inject: `NAME` or `NAME@step name`.
    pub faults: Vec<Fault>,
    /// Polls closer together than this are too fast.
    pub poll_min_interval: Option<Duration>,
}

/// Variables every scenario has without declaring them.
pub const BUILTIN_VARS: [&str; 2] = ["base_url", "user"];

/// A place in the scenario file (line and column from 1), as the YAML parser gives it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct At {
    pub line: usize,
    pub column: usize,
}

/// Where the parts of a step are in its file, so that a failed check names the line that asked
/// for it. The lists run parallel to the step's own (`headers` to `expect.headers`, ...).
#[derive(Clone, Debug, Default)]
pub struct StepAt {
    pub step: At,
    /// Its `request:` or `follow:`.
    pub request: At,
    pub status: Option<At>,
    pub root: Option<At>,
    /// `follow: {type: ...}`: the link contract.
    pub link_type: Option<At>,
    pub select: Option<At>,
    pub headers: Vec<At>,
    pub body: Vec<At>,
    pub captures: Vec<At>,
    pub poll: Option<At>,
}

/// One step: a request, how it is chosen, and what must hold of its response.
#[derive(Clone, Debug)]
pub struct Step {
    pub name: String,
    /// Line of the step in its file.
    pub line: usize,
    /// Where its parts are.
    pub at: StepAt,
    pub action: Action,
    pub select: Option<Select>,
    pub headers: Vec<(String, Tpl)>,
    pub body: Option<Tpl>,
    /// Log on with the run's credentials: EM's `Authorization: Basic`, or VBR's OAuth2
    /// password grant.
    pub auth: Option<Auth>,
    /// From this step on, send this as the session token (EM: `X-RestSvcSessionId`; VBR:
    /// `Authorization: Bearer`).
    pub session: Option<Tpl>,
    pub captures: Vec<(String, Capture)>,
    pub expect: Expect,
    pub poll: Option<Poll>,
    /// Extra latency when a mock checking clients answers this step.
    pub latency: Option<Duration>,
    /// A fault to inject at this step when a mock checks clients.
    pub fault: Option<Fault>,
}

/// How a step logs on with the run's credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Basic` (EM's `POST /api/sessionMngr/`).
    Basic,
    /// A form `grant_type=password&username=…&password=…` (VBR's `POST /api/oauth2/token`).
    OAuth2,
}

/// How the step's URL is found.
#[derive(Clone, Debug)]
pub enum Action {
    /// `request: METHOD URL`: a path (joined to the target) or an absolute URL.
    Request { method: String, url: Tpl },
    /// `follow:` a link of an earlier response.
    Follow(Follow),
}

#[derive(Clone, Debug)]
pub struct Follow {
    pub rel: Tpl,
    pub kind: Option<Tpl>,
    pub name: Option<Tpl>,
    /// The step whose response holds the link; the previous step when `None`.
    pub from: Option<String>,
    /// `None`: the method EM uses for links of this Rel (see [`method_for_rel`]).
    pub method: Option<String>,
}

pub use crate::em::links::method_for_rel;

/// Picks one item of a list (the newest restore point of a VM, say) as the place links are
/// followed from.
#[derive(Clone, Debug)]
pub struct Select {
    /// Element name (XML) or array key, singular or plural (JSON): `Ref` finds `<Ref>` and `"Refs": [...]`.
    pub items: String,
    pub filters: Vec<(Query, Matcher)>,
    pub order_by: Option<Query>,
    pub descending: bool,
    pub from: Option<String>,
}

/// A way to point into a response body.
#[derive(Clone, Debug)]
pub enum Query {
    /// `State`, `Result/Success`: a name path that reads the same in XML (attribute or child
    /// element, the first segment searched at any depth) and JSON (keys).
    Field(Vec<String>),
    /// Starts with `/`: XPath over XML bodies.
    XPath(XPath),
    /// Starts with `$`: JSONPath over JSON bodies.
    JsonPath(JsonPath),
}

impl Query {
    pub fn describe(&self) -> String {
        match self {
            Query::Field(f) => f.join("/"),
            Query::XPath(x) => x.source().to_owned(),
            Query::JsonPath(j) => j.source().to_owned(),
        }
    }
}

/// What a value must be.
#[derive(Clone, Debug)]
pub enum Matcher {
    Equals(Tpl),
    /// A regular expression; variables in it are matched literally.
    Matches(Tpl),
    OneOf(Vec<Tpl>),
    Exists(bool),
    Not(Box<Matcher>),
}

#[derive(Clone, Debug)]
pub struct Capture {
    pub source: CaptureSource,
    /// Applied to the captured text; group 1 (or the whole match) is kept.
    pub regex: Option<regex::Regex>,
}

#[derive(Clone, Debug)]
pub enum CaptureSource {
    Header(String),
    Body(Query),
    /// The whole body text (with `regex`).
    BodyText,
}

#[derive(Clone, Debug, Default)]
pub struct Expect {
    /// Accepted statuses; empty means any 2xx.
    pub status: Vec<u16>,
    /// Root element (XML) or `Type` (JSON) of the body.
    pub root: Option<Tpl>,
    pub headers: Vec<(String, Matcher)>,
    pub body: Vec<(Query, Matcher)>,
    /// Check that the body is what the followed link's `Type` promises.
    pub link_contract: bool,
}

#[derive(Clone, Debug)]
pub struct Poll {
    pub until: Vec<(Query, Matcher)>,
    pub interval: Tpl,
    pub timeout: Tpl,
    pub max_attempts: Option<u32>,
}

impl Scenario {
    /// Reads and checks a scenario file. The built-in one answers to its name
    /// (`scenarios/vm-restore.yaml`, or `vm-restore`) wherever emtape runs, unless a file of
    /// that name is there: an installed emtape (the Python wheel) has no checkout beside it.
    pub fn load(path: &std::path::Path) -> Result<Scenario, ScenarioError> {
        let builtin = [VM_RESTORE.0, "vm-restore"].iter().any(|n| path == std::path::Path::new(n));
        if builtin && !path.exists() {
            return Scenario::parse(&format!("built-in {}", VM_RESTORE.0), VM_RESTORE.1);
        }
        load::load_file(path)
    }

    /// Parses scenario text; `file` names it in messages.
    pub fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
        load::parse(file, text)
    }

    /// Checks every value made only of the run's variables `vars` (the defaults with `--var`
    /// applied), naming the first that is not what its place needs: the variable, its value and
    /// where it is used. Values that need a capture are checked when they are made.
    pub fn check_values(&self, vars: &HashMap<String, String>) -> Result<(), ScenarioError> {
        for check in &self.checks {
            let Ok(value) = check.tpl.render(vars) else { continue };
            let (wanted, hint) = match check.kind {
                ValueKind::Duration if parse_duration(&value).is_none() => {
                    ("a duration", "write `500ms`, `1s`, `2m` or `1h`")
                }
                ValueKind::Url
                    if !(value.starts_with('/') || value.starts_with("http://") || value.starts_with("https://"))
                        || value.contains(char::is_whitespace) =>
                {
                    ("a URL", "a request goes to a path (`/api/...`) or an absolute http(s) URL")
                }
                ValueKind::HeaderValue if value.chars().any(|c| c.is_control() && c != '\t') => {
                    ("a header value", "a header value is one line of text")
                }
                _ => continue,
            };
            let set: Vec<String> = check
                .tpl
                .vars()
                .filter_map(|v| vars.get(v).map(|value| format!("`{v}` is `{}`", value.escape_debug())))
                .collect();
            let diagnostic = crate::diagnostic::Diagnostic {
                message: format!("{} is `{}`, not {wanted}", check.what, value.escape_debug()),
                file: self.file.clone(),
                line: check.line,
                column: check.column,
                source_line: Some(check.source_line.clone()),
                hint: Some(format!("{} (its default under `vars:`, or --var); {hint}", set.join(", "))),
            };
            return Err(ScenarioError::Invalid(Box::new(diagnostic)));
        }
        Ok(())
    }
}

/// Parses `250ms`, `1s`, `1.5s`, `2m`, `1h`, `0`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (n, unit) = s.split_at(split);
    let n: f64 = n.parse().ok()?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// A scenario file of any YAML-ish text is a scenario or an error naming where.
        #[test]
        fn any_text_is_a_scenario_or_an_error_without_a_panic(text in "([a-z_]{1,8}: ?[-{}\\[\\]a-z0-9 /?=\"]{0,20}\n {0,4}-? ?){0,12}") {
            let _ = Scenario::parse("prop.yaml", &text);
        }
    }

    /// `request: GTE /api/` was sent as a GTE request; a method typo is refused where it stands.
    #[test]
    fn a_mistyped_method_is_refused_with_its_place_and_a_hint() {
        let e =
            Scenario::parse("t.yaml", "name: t\nsteps:\n- name: a\n  request: GTE /api/\n").unwrap_err().to_string();
        assert!(e.contains("`GTE` is not an HTTP method") && e.contains("t.yaml:4:") && e.contains("`GET`"), "{e}");
        let e = Scenario::parse("t.yaml", "name: t\nsteps:\n- name: a\n  follow: {rel: Down, method: PSOT}\n");
        assert!(e.unwrap_err().to_string().contains("`PSOT` is not an HTTP method"));
        assert!(Scenario::parse("t.yaml", "name: t\nsteps:\n- name: a\n  request: delete /api/x\n").is_ok());
    }

    /// The caret was found by searching the step's text for the value, so it landed on the
    /// step's name when the name held the same text; now it is where the parser puts the value.
    #[test]
    fn an_error_points_at_its_value_even_when_earlier_text_is_the_same() {
        let e = Scenario::parse("t.yaml", "name: t\nsteps:\n- name: GTE\n  request: GTE /api/\n").unwrap_err();
        assert!(e.to_string().contains("t.yaml:4:12"), "{e}");
        let text = "name: t\nsteps:\n- name: wait 5 parsecs\n  request: GET /api/\n  poll: {until: {State: Finished}, interval: 5 parsecs}\n";
        let e = Scenario::parse("t.yaml", text).unwrap_err().to_string();
        assert!(e.contains("`5 parsecs` is not a duration") && e.contains("t.yaml:5:46"), "{e}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_duration("5 parsecs"), None);
        assert_eq!(parse_duration("s"), None);
    }
}
