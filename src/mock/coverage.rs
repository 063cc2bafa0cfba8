//! Coverage: what the clients exercised of what the cassettes serve, by resource type, link
//! (Rel and Type), action, query type, representation and status, with counts and a share.

use std::collections::BTreeMap;

use serde::Serialize;

/// What was exercised of the surface.
#[derive(Clone, Debug, Serialize)]
pub struct Coverage {
    /// Requests answered.
    pub requests: usize,
    pub dimensions: Vec<Dimension>,
}

/// One way of looking at the surface: its items, how many each serves and how often each was used.
#[derive(Clone, Debug, Serialize)]
pub struct Dimension {
    /// `resource types`, `links followed`, `actions`, `query types`, `representations`, `statuses`.
    pub name: &'static str,
    /// Items served.
    pub served: usize,
    /// Of those, items used at least once.
    pub used: usize,
    /// `used` of `served`, in percent.
    pub percent: f64,
    pub items: Vec<Item>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Item {
    pub name: String,
    /// Resources (or links, exchanges) the cassettes serve of it; 0 for something used that
    /// the cassettes do not serve (a status only the mock answers, say).
    pub served: usize,
    /// Requests that used it.
    pub used: usize,
}

/// Requests counted so far, by what they were.
#[derive(Default)]
pub(crate) struct Exercised {
    pub requests: usize,
    pub types: BTreeMap<String, usize>,
    pub links: BTreeMap<String, usize>,
    pub actions: BTreeMap<String, usize>,
    pub query_types: BTreeMap<String, usize>,
    pub reprs: BTreeMap<String, usize>,
    pub statuses: BTreeMap<String, usize>,
}

/// A dimension from what is served and what was used.
pub(crate) fn dimension(
    name: &'static str,
    served: &BTreeMap<String, usize>,
    used: &BTreeMap<String, usize>,
) -> Dimension {
    let mut items: Vec<Item> = served
        .iter()
        .map(|(n, s)| Item { name: n.clone(), served: *s, used: used.get(n).copied().unwrap_or(0) })
        .collect();
    items.extend(used.iter().filter(|(n, _)| !served.contains_key(*n)).map(|(n, u)| Item {
        name: n.clone(),
        served: 0,
        used: *u,
    }));
    let covered = items.iter().filter(|i| i.served > 0 && i.used > 0).count();
    let percent = if served.is_empty() { 0.0 } else { (covered as f64 * 1000.0 / served.len() as f64).round() / 10.0 };
    Dimension { name, served: served.len(), used: covered, percent, items }
}

impl Coverage {
    /// The share of the served surface used, all dimensions together, in percent.
    pub fn share(&self) -> f64 {
        let served: usize = self.dimensions.iter().map(|d| d.served).sum();
        let used: usize = self.dimensions.iter().map(|d| d.used).sum();
        if served == 0 { 0.0 } else { (used as f64 * 1000.0 / served as f64).round() / 10.0 }
    }

    /// The terminal lines: per dimension its share, what was used most, what was not.
    pub fn text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = format!("coverage of what the cassettes serve ({} requests):\n", self.requests);
        for d in &self.dimensions {
            let mut used: Vec<&Item> = d.items.iter().filter(|i| i.used > 0).collect();
            used.sort_by(|a, b| b.used.cmp(&a.used).then_with(|| a.name.cmp(&b.name)));
            let shown: Vec<String> = used.iter().take(6).map(|i| format!("{} {}", i.name, i.used)).collect();
            let more = if used.len() > 6 { format!(", {} more", used.len() - 6) } else { String::new() };
            let unused = d.items.iter().filter(|i| i.served > 0 && i.used == 0).count();
            let _ = writeln!(
                out,
                "  {:<16} {:>3} of {:<3} ({:>5.1}%)  {}{more}{}",
                d.name,
                d.used,
                d.served,
                d.percent,
                if shown.is_empty() { "none used".to_owned() } else { shown.join(", ") },
                if unused > 0 { format!("; {unused} not used") } else { String::new() }
            );
        }
        out
    }
}
