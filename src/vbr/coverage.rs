//! What the requests to a VBR mock exercised: of the operations on tape (method and path
//! shape, ids as `{id}`), and of those an OpenAPI document defines when one was given; each
//! with how often and with which statuses.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

/// One operation and its use.
#[derive(Clone, Debug, Serialize)]
pub struct Use {
    /// `GET /api/v1/restorePoints/{id}`.
    pub operation: String,
    pub count: u64,
    pub statuses: Vec<u16>,
}

/// A surface and its share used.
#[derive(Clone, Debug, Serialize)]
pub struct Share {
    pub total: usize,
    pub used: usize,
    pub operations: Vec<Use>,
}

impl Share {
    fn of(surface: &BTreeSet<String>, used: &BTreeMap<String, (u64, BTreeSet<u16>)>) -> Share {
        let operations: Vec<Use> = surface
            .iter()
            .map(|op| {
                let (count, statuses) = used.get(op).cloned().unwrap_or_default();
                Use { operation: op.clone(), count, statuses: statuses.into_iter().collect() }
            })
            .collect();
        let used = operations.iter().filter(|u| u.count > 0).count();
        Share { total: surface.len(), used, operations }
    }

    pub fn percent(&self) -> f64 {
        if self.total == 0 { 0.0 } else { (1000.0 * self.used as f64 / self.total as f64).round() / 10.0 }
    }
}

/// The coverage of a VBR mock.
#[derive(Clone, Debug, Serialize)]
pub struct Coverage {
    pub revisions: Vec<String>,
    /// Of the operations the cassettes record.
    pub recorded: Share,
    /// Of the operations the `--spec` document defines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub documented: Option<Share>,
    /// Requests to operations neither names.
    pub elsewhere: Vec<Use>,
}

impl Coverage {
    pub fn new(
        revisions: Vec<String>,
        recorded: &BTreeSet<String>,
        documented: Option<&BTreeSet<String>>,
        used: &BTreeMap<String, (u64, BTreeSet<u16>)>,
        used_documented: &BTreeMap<String, (u64, BTreeSet<u16>)>,
    ) -> Coverage {
        let elsewhere = used
            .iter()
            .filter(|(op, _)| !recorded.contains(*op))
            .map(|(op, (count, statuses))| Use {
                operation: op.clone(),
                count: *count,
                statuses: statuses.iter().copied().collect(),
            })
            .collect();
        Coverage {
            revisions,
            recorded: Share::of(recorded, used),
            documented: documented.map(|d| Share::of(d, used_documented)),
            elsewhere,
        }
    }

    /// For the terminal.
    pub fn text(&self) -> String {
        let mut out = format!("emtape: VBR REST coverage ({})\n", self.revisions.join(", "));
        let share = |out: &mut String, name: &str, s: &Share, list: bool| {
            let _ = writeln!(out, "  {name:<22} {} of {} used ({}%)", s.used, s.total, s.percent());
            if list {
                for u in &s.operations {
                    let statuses = u.statuses.iter().map(u16::to_string).collect::<Vec<_>>().join(", ");
                    let shown =
                        if u.count > 0 { format!("used    {:>4}x {statuses}", u.count) } else { "unused".to_owned() };
                    let _ = writeln!(out, "    {shown:<20} {}", u.operation);
                }
            }
        };
        share(&mut out, "operations on tape", &self.recorded, true);
        if let Some(d) = &self.documented {
            share(&mut out, "operations documented", d, false);
        }
        for u in &self.elsewhere {
            let _ = writeln!(out, "    {:<20} {}", format!("elsewhere {:>3}x", u.count), u.operation);
        }
        out
    }
}
