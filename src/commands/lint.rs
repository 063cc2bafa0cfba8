//! `emtape lint`: findings located by file and line, exit 1 when there are any.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::serve::{expand_dirs, load_cassettes};
use super::{Exit, Failure, plural};
use crate::cli::{LintArgs, LintFormat};
use crate::lint::{self, KINDS};

pub(super) fn lint(args: LintArgs) -> Result<Exit, Failure> {
    super::small_pages();
    for kind in &args.allow {
        if !KINDS.contains(&kind.as_str()) {
            let hint = crate::diagnostic::did_you_mean(kind, KINDS)
                .map_or_else(|| format!("the kinds are {}", KINDS.join(", ")), |k| format!("did you mean `{k}`?"));
            return Err(Failure::bad_input(format!("--allow {kind}: no such kind of finding; {hint}")));
        }
    }
    // The files named are linted as one set, as `serve` serves them; a folder named holds one
    // set per folder in it (a release's XML and JSON flows), so `lint cassettes/` lints each
    // release apart.
    let mut sets: std::collections::BTreeMap<Option<PathBuf>, Vec<PathBuf>> = Default::default();
    for arg in &args.cassettes {
        if arg.is_dir() {
            for p in expand_dirs(std::slice::from_ref(arg))? {
                sets.entry(Some(p.parent().map(Path::to_path_buf).unwrap_or_default())).or_default().push(p);
            }
        } else {
            sets.entry(None).or_default().push(arg.clone());
        }
    }
    let mut count = 0;
    let mut findings: Vec<lint::Finding> = Vec::new();
    for set in sets.values() {
        let cassettes = load_cassettes(set, true)?;
        count += cassettes.len();
        findings.extend(lint::lint(cassettes).into_iter().filter(|f| !args.allow.iter().any(|a| a == f.kind)));
    }
    let mut out = std::io::stdout().lock();
    match args.format {
        LintFormat::Json => {
            let _ = writeln!(out, "{}", serde_json::to_string_pretty(&findings).unwrap_or_default());
        }
        LintFormat::Text => {
            for f in &findings {
                let _ = writeln!(out, "{}:{}: {}: {}", f.file, f.line, f.kind, f.message);
                if let Some(h) = &f.hint {
                    let _ = writeln!(out, "  hint: {h}");
                }
            }
            let verdict = if findings.is_empty() { "clean" } else { "not clean" };
            let (linted, found) = (plural(count, "cassette"), plural(findings.len(), "finding"));
            let _ = writeln!(out, "{linted} linted: {found}, {verdict}");
        }
    }
    Ok(if findings.is_empty() { Exit::Success } else { Exit::Failed })
}
