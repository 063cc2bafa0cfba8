//! What changed from release to release: each release's facts (versions, representations)
//! and, between neighbours, the named changes the diff finds in their recordings.

use serde::Serialize;

use super::{MatrixError, release_cassettes};
use crate::cassette::{self, LoadedCassette};
use crate::diff::{DriftKind, Severity};

/// A release as the changelog shows it.
#[derive(Debug, Serialize)]
pub struct ReleaseFacts {
    pub release: String,
    pub product_version: String,
    pub api_version: String,
    pub supported_versions: Vec<String>,
    pub representations: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A named change between two releases: `field added WcfPort`, where it shows.
#[derive(Debug, Serialize)]
pub struct Change {
    /// Breaking or additive.
    pub severity: Severity,
    pub change: String,
    /// The exchanges (requests) it shows in.
    pub seen_in: Vec<String>,
    /// The representations it shows in (`XML`, `JSON`).
    #[serde(skip)]
    pub representations: Vec<&'static str>,
}

/// From one release to the next: its changes, breaking first.
#[derive(Debug, Serialize)]
pub struct Step {
    pub from: String,
    pub to: String,
    pub breaking: usize,
    pub additive: usize,
    pub changes: Vec<Change>,
}

/// The releases in order, and a step between each and the next.
#[derive(Debug, Serialize)]
pub struct Changelog {
    pub releases: Vec<ReleaseFacts>,
    pub steps: Vec<Step>,
}

fn facts(release: &str, cassettes: &[LoadedCassette]) -> ReleaseFacts {
    let meta = cassettes.first().map(|c| c.cassette.meta.clone()).unwrap_or_default();
    let mut representations: Vec<String> = Vec::new();
    for c in cassettes {
        for i in 0..c.cassette.exchanges.len() {
            let r = c.cassette.exchanges[i].response_repr().name().to_owned();
            if !representations.contains(&r) {
                representations.push(r);
            }
        }
    }
    ReleaseFacts {
        release: release.to_owned(),
        product_version: meta.product_version.unwrap_or_default(),
        api_version: meta.api_version.unwrap_or_default(),
        supported_versions: meta.supported_versions,
        representations,
        note: cassette::release_note(release).map(str::to_owned),
    }
}

/// What one drift says, in words that are the same in XML and JSON (so that both collapse
/// into one change).
fn change_words(kind: DriftKind, path: &str, old: Option<&str>, new: Option<&str>) -> String {
    let name = |v: Option<&str>| v.unwrap_or("").split('=').next().unwrap_or("").to_owned();
    let value = |v: Option<&str>| v.unwrap_or("").to_owned();
    let version = path.contains("SupportedVersion");
    match kind {
        DriftKind::ElementAdded | DriftKind::AttributeAdded => format!("field added: {}", name(new)),
        DriftKind::ElementRemoved | DriftKind::AttributeRemoved => format!("field removed: {}", name(old)),
        DriftKind::ItemAdded if version => format!("supported version added: {}", value(new)),
        DriftKind::ItemRemoved if version => format!("supported version removed: {}", value(old)),
        _ => match (old, new) {
            (Some(o), Some(n)) => format!("{}: {o} -> {n}", kind.describe()),
            (Some(v), None) | (None, Some(v)) => format!("{}: {v}", kind.describe()),
            (None, None) => kind.describe().to_owned(),
        },
    }
}

/// The changelog of `releases`, in the order given.
pub fn changelog(releases: &[String]) -> Result<Changelog, MatrixError> {
    let loaded: Vec<(String, Vec<LoadedCassette>)> =
        releases.iter().map(|r| release_cassettes(r).map(|c| (r.clone(), c))).collect::<Result<_, _>>()?;
    let releases_facts = loaded.iter().map(|(r, c)| facts(r, c)).collect();
    let mut steps = Vec::new();
    for pair in loaded.windows(2) {
        let ((from, old), (to, new)) = (&pair[0], &pair[1]);
        let mut changes: Vec<Change> = Vec::new();
        let (mut breaking, mut additive) = (0, 0);
        // The cassettes of a release pair up by file name (the XML flow, the JSON flow).
        for o in old {
            let file = |c: &LoadedCassette| c.name.rsplit('/').next().unwrap_or_default().to_owned();
            let Some(n) = new.iter().find(|n| file(n) == file(o)) else { continue };
            let report = crate::diff::diff_loaded(o, n, &[])?;
            for e in &report.exchanges {
                let at = e.key.trim_end_matches(" (XML)").trim_end_matches(" (JSON)").to_owned();
                let repr = if e.key.ends_with(" (JSON)") { "JSON" } else { "XML" };
                for d in &e.drifts {
                    if !matches!(d.severity, Severity::Breaking | Severity::Additive) {
                        continue;
                    }
                    let severity = d.severity;
                    let words = change_words(d.kind, &d.path, d.old.as_deref(), d.new.as_deref());
                    match changes.iter_mut().find(|c| c.change == words && c.severity == severity) {
                        Some(c) => {
                            if !c.seen_in.contains(&at) {
                                c.seen_in.push(at.clone());
                            }
                            if !c.representations.contains(&repr) {
                                c.representations.push(repr);
                            }
                        }
                        None => {
                            if severity == Severity::Breaking {
                                breaking += 1;
                            } else {
                                additive += 1;
                            }
                            changes.push(Change {
                                severity,
                                change: words,
                                seen_in: vec![at.clone()],
                                representations: vec![repr],
                            });
                        }
                    }
                }
            }
        }
        // Breaking first.
        changes.sort_by(|a, b| a.severity.cmp(&b.severity).then_with(|| a.change.cmp(&b.change)));
        steps.push(Step { from: from.clone(), to: to.clone(), breaking, additive, changes });
    }
    Ok(Changelog { releases: releases_facts, steps })
}
