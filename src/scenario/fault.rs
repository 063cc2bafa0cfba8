//! The faults a mock checking clients can inject: what a scenario's `server: {faults}`, a step's
//! `server: {fault}` or `--fault` SAYS, parsed once (`NAME[@STEP][:SCOPE]`) into a [`Fault`].

use std::fmt;
use std::str::FromStr;

use crate::diagnostic::did_you_mean;

/// What a fault does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// The Task finishes with `Result Success="false"`.
    TaskFailed,
    /// The session's token stops working (a 401).
    SessionExpired,
    Http500,
    Http503,
    /// The connection closes without an answer.
    DropConnection,
}

impl FaultKind {
    pub const ALL: [FaultKind; 5] = [
        FaultKind::TaskFailed,
        FaultKind::SessionExpired,
        FaultKind::Http500,
        FaultKind::Http503,
        FaultKind::DropConnection,
    ];

    /// The name a user writes.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::TaskFailed => "task-failed",
            FaultKind::SessionExpired => "session-expired",
            FaultKind::Http500 => "http-500",
            FaultKind::Http503 => "http-503",
            FaultKind::DropConnection => "drop-connection",
        }
    }

    /// Whether it answers in place of the step, so that a client must recover: log on again, or
    /// send the request again. A failed Task is an answer to report, not to recover from.
    pub fn interrupts(self) -> bool {
        self != FaultKind::TaskFailed
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which client sessions a fault hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultScope {
    /// The first session that reaches the step (the default): the others, a recovering
    /// client's next logon among them, see the server behave.
    Once,
    /// Session N (from 1) only.
    Session(usize),
    /// Every session.
    Every,
}

/// A fault, where it is injected and whom it hits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub kind: FaultKind,
    /// The step named after `@`; without one, the step that carries it or the fault's usual one.
    pub step: Option<String>,
    pub scope: FaultScope,
}

/// A fault that does not parse: which part of it is wrong, why, and a hint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultError {
    /// The part of the text that is wrong (the name, or the scope).
    pub part: String,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for FaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        match &self.hint {
            Some(h) => write!(f, "; {h}"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for FaultError {}

impl FromStr for Fault {
    type Err = FaultError;

    fn from_str(text: &str) -> Result<Fault, FaultError> {
        let (spec, scope) = split_scope(text)?;
        let (name, step) = spec.split_once('@').map_or((spec, None), |(n, s)| (n, Some(s.to_owned())));
        let Some(kind) = FaultKind::ALL.into_iter().find(|k| k.name() == name) else {
            let names = FaultKind::ALL.map(FaultKind::name);
            let hint = match did_you_mean(name, names) {
                Some(f) => format!("did you mean `{f}`?"),
                None => format!("the faults are {}", names.join(", ")),
            };
            return Err(FaultError {
                part: name.to_owned(),
                message: format!("`{name}` is not a fault emtape can inject"),
                hint: Some(hint),
            });
        };
        Ok(Fault { kind, step, scope })
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.name())?;
        if let Some(step) = &self.step {
            write!(f, "@{step}")?;
        }
        match self.scope {
            FaultScope::Once => Ok(()),
            FaultScope::Session(n) => write!(f, ":session={n}"),
            FaultScope::Every => f.write_str(":every"),
        }
    }
}

/// Splits `NAME[@STEP][:once|:session=N|:every]` into the fault (with its step) and its scope.
fn split_scope(text: &str) -> Result<(&str, FaultScope), FaultError> {
    let Some((rest, scope)) = text.rsplit_once(':') else { return Ok((text, FaultScope::Once)) };
    let parsed = match scope {
        "once" => Some(FaultScope::Once),
        "every" => Some(FaultScope::Every),
        s => s.strip_prefix("session=").and_then(|n| n.parse().ok()).filter(|n| *n > 0).map(FaultScope::Session),
    };
    match parsed {
        Some(scope) => Ok((rest, scope)),
        // A colon inside a step's name (`@step: one`) is not a scope; a word after it is.
        None if scope.is_empty() || scope.contains(char::is_whitespace) => Ok((text, FaultScope::Once)),
        None => Err(FaultError {
            part: scope.to_owned(),
            message: format!("`{scope}` in fault `{text}` is not a scope"),
            hint: Some("write :once, :every or :session=N".to_owned()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_reads_its_name_step_and_scope_and_writes_them_back() {
        for text in
            ["http-500", "task-failed@wait for the restore task", "session-expired:every", "http-503@log on:session=2"]
        {
            let fault: Fault = text.parse().unwrap();
            assert_eq!(fault.to_string(), text);
        }
        let fault: Fault = "drop-connection@step: one".parse().unwrap();
        assert_eq!((fault.step.as_deref(), fault.scope), (Some("step: one"), FaultScope::Once));
    }

    #[test]
    fn a_mistyped_name_or_scope_is_named_with_a_hint() {
        let e = "http-50O".parse::<Fault>().unwrap_err();
        assert_eq!(e.to_string(), "`http-50O` is not a fault emtape can inject; did you mean `http-500`?");
        let e = "task-failed:sesion=2".parse::<Fault>().unwrap_err();
        assert_eq!(
            (e.part.as_str(), e.to_string().as_str()),
            (
                "sesion=2",
                "`sesion=2` in fault `task-failed:sesion=2` is not a scope; write :once, :every or :session=N"
            )
        );
    }
}
