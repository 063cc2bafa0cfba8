//! `emtape diff`: what changed in the API between two recordings.

use std::io::Write as _;

use super::{Exit, Failure};
use crate::cli::{DiffArgs, DiffFormat, FailOn};
use crate::diff::{self, Ignore, Severity};
use crate::report::{self, Style};

/// A `--severity` file: drift id to severity.
fn severities(path: &std::path::Path) -> Result<std::collections::BTreeMap<String, Severity>, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::bad_input(format!("cannot read {}: {e}", path.display())))?;
    let map: std::collections::BTreeMap<String, Severity> = serde_yaml::from_str(&text).map_err(|e| {
        Failure::bad_input(format!(
            "{}: write a map of drift id to breaking, additive, cosmetic or coverage ({e})",
            path.display()
        ))
    })?;
    let ids: Vec<String> = diff::DriftKind::ALL.iter().map(|k| k.id()).collect();
    for id in map.keys() {
        if !ids.contains(id) {
            let hint = crate::diagnostic::did_you_mean(id, ids.iter().map(String::as_str))
                .map_or_else(|| format!("the ids are {}", ids.join(", ")), |s| format!("did you mean `{s}`?"));
            return Err(Failure::bad_input(format!("{}: `{id}` is no kind of drift; {hint}", path.display())));
        }
    }
    Ok(map)
}

pub(super) fn diff(args: DiffArgs) -> Result<Exit, Failure> {
    super::small_pages();
    let ignore: Vec<Ignore> = args.ignore.iter().map(|p| Ignore::new(p)).collect();
    let mut report = diff::diff_files(&args.old, &args.new, &ignore).map_err(|e| Failure::bad_input(e.to_string()))?;
    if report.summary.exchanges == 0 && report.exchanges.is_empty() {
        // Nothing compared is no evidence of anything: never "no drift".
        return Err(Failure::bad_input(format!(
            "{} and {}: nothing to compare (no exchanges, or folders without cassettes)",
            args.old.display(),
            args.new.display()
        )));
    }
    if let Some(path) = &args.severity {
        report.reclassify(&severities(path)?);
    }
    if let Some(path) = &args.write_baseline {
        let yaml = serde_yaml::to_string(&report.baseline()).unwrap_or_default();
        let text = format!("# emtape diff baseline: drift accepted as of {} -> {}\n{yaml}", report.old, report.new);
        std::fs::write(path, text).map_err(|e| Failure::bad_input(format!("cannot write {}: {e}", path.display())))?;
        eprintln!("emtape: wrote {} accepted drifts to {}", report.drifts().count(), path.display());
    }
    if let Some(path) = &args.baseline {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::bad_input(format!("cannot read the baseline {}: {e}", path.display())))?;
        let entries: Vec<diff::Accepted> = serde_yaml::from_str(&text).map_err(|e| {
            Failure::bad_input(format!("{}: not a baseline written by --write-baseline: {e}", path.display()))
        })?;
        let (accepted, gone) = report.accept(&entries);
        eprintln!("emtape: baseline {}: {accepted} drifts accepted", path.display());
        for g in &gone {
            eprintln!(
                "  no longer occurs: {} {} {} ({})",
                g.kind,
                g.path,
                g.old.as_deref().or(g.new.as_deref()).unwrap_or(""),
                g.exchange
            );
        }
    }
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
    let failed = threshold.is_some_and(|t| report.fails(t));
    if let Some(path) = &args.html {
        std::fs::write(path, report::html::diff(&report, failed))
            .map_err(|e| Failure::bad_input(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(if failed { Exit::Failed } else { Exit::Success })
}
