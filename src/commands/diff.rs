//! `emtape diff`: what changed in the API between two recordings.

use std::io::Write as _;

use super::{Exit, Failure};
use crate::cli::{DiffArgs, DiffFormat, FailOn};
use crate::diff::{self, Ignore, Severity};
use crate::report::{self, Style};

pub(super) fn diff(args: DiffArgs) -> Result<Exit, Failure> {
    let ignore: Vec<Ignore> = args.ignore.iter().map(|p| Ignore::new(p)).collect();
    let report = diff::diff_files(&args.old, &args.new, &ignore).map_err(|e| Failure::bad_input(e.to_string()))?;
    let threshold = match args.fail_on {
        FailOn::Breaking => Some(Severity::Breaking),
        FailOn::Additive => Some(Severity::Additive),
        FailOn::Any => Some(Severity::Cosmetic),
        FailOn::Coverage => Some(Severity::Coverage),
        FailOn::Never => None,
    };
    for i in ignore.iter().filter(|i| i.hits() == 0) {
        eprintln!(
            "warning: --ignore {} matched nothing (a body path like /Task/Result or //Result, `header Location`, or exchanges like 'GET /api/logonSessions/*')",
            i.pattern()
        );
    }
    let text = match args.format {
        DiffFormat::Text => report::diff::text(&report, Style::for_stdout()),
        DiffFormat::Json => report::diff::json(&report),
        DiffFormat::Markdown => report::diff::markdown(&report),
    };
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
    if let Some(path) = &args.junit {
        std::fs::write(path, report::diff::junit(&report, threshold))
            .map_err(|e| Failure::bad_input(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(match threshold {
        Some(t) if report.fails(t) => Exit::Failed,
        _ => Exit::Success,
    })
}
