//! Drift seen live (`record --compare CASSETTE`): each exchange the recorder writes is compared,
//! as it is written, with the cassette's answer to the same request, by `diff`'s rules (pairing
//! by meaning, volatile values as data, severities). What a client's path meets on a new EM
//! release shows while the client runs.

use std::sync::Mutex;

use crate::cassette::{Cassette, Exchange, LoadedCassette};
use crate::diff::{self, DiffReport, ExchangeDiff, Severity};

/// The cassette compared against, and the drift found so far.
pub struct LiveCompare {
    reference: LoadedCassette,
    found: Mutex<Found>,
}

#[derive(Default)]
struct Found {
    exchanges: Vec<ExchangeDiff>,
    /// Requests compared (those the cassette also holds).
    compared: usize,
}

impl LiveCompare {
    pub fn new(reference: LoadedCassette) -> LiveCompare {
        LiveCompare { reference, found: Mutex::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Found> {
        self.found.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Compares a recorded (redacted) exchange with the cassette's answer to the same request:
    /// its drift (coverage when the cassette never asked it), or `None` when it answers alike.
    /// An exchange whose body repeats an earlier one's is not compared again.
    pub fn observe(&self, exchange: &Exchange) -> Option<ExchangeDiff> {
        if exchange.response.body_same_as.is_some() {
            return None;
        }
        let live = alone("live", self.reference.cassette.meta.clone(), exchange.clone(), 0);
        let key = diff::request_key(&live.cassette, 0);
        let reference = &self.reference.cassette;
        let asked: Vec<usize> =
            (0..reference.exchanges.len()).filter(|i| diff::request_key(reference, *i) == key).collect();
        // A request recorded several times (a Task polled Running, Running, Finished) is
        // compared with the recorded answer nearest to the live one.
        let report = if asked.len() < 2 {
            diff::diff_loaded(&self.reference, &live, &[]).ok()?
        } else {
            let reports = asked.iter().filter_map(|&i| {
                let mut recorded = reference.exchanges[i].clone();
                recorded.response.body = reference.response_body(i).clone();
                recorded.response.body_same_as = None;
                let line = self.reference.lines.get(i).copied().unwrap_or(0);
                let one = alone(&self.reference.name, reference.meta.clone(), recorded, line);
                diff::diff_loaded(&one, &live, &[]).ok()
            });
            reports.min_by_key(|r| r.summary.breaking * 1000 + r.summary.additive)?
        };
        // Of the whole cassette, only this request is in question: what only the cassette holds
        // is not this exchange's business.
        let mine: Vec<ExchangeDiff> = report
            .exchanges
            .into_iter()
            .filter(|e| e.new.is_some())
            .map(|mut e| {
                e.new = Some(format!("live exchange {}", exchange.seq));
                e
            })
            .collect();
        let mut found = self.lock();
        if mine.iter().any(|e| e.old.is_some()) {
            found.compared += 1;
        }
        let drifted: Vec<ExchangeDiff> = mine.into_iter().filter(|e| !e.drifts.is_empty()).collect();
        let first = drifted.first().cloned();
        found.exchanges.extend(drifted);
        first
    }

    /// Everything found, as a `diff` report from the cassette to the live server.
    pub fn report(&self, live: &str) -> DiffReport {
        let found = self.lock();
        diff::report_of(self.reference.name.clone(), live.to_owned(), found.exchanges.clone(), found.compared)
    }
}

/// A cassette of one exchange.
fn alone(name: &str, meta: crate::cassette::Meta, exchange: Exchange, line: usize) -> LoadedCassette {
    LoadedCassette {
        name: name.to_owned(),
        cassette: Cassette { meta, exchanges: vec![exchange] },
        lines: vec![line],
        warnings: Vec::new(),
        bodies: vec![[None, None]],
        pack: None,
    }
}

/// One line for the terminal: what drifted on a request, by severity.
pub fn line(e: &ExchangeDiff) -> String {
    let count = |s: Severity| e.drifts.iter().filter(|d| d.severity == s).count();
    let mut parts = Vec::new();
    for (s, word) in [
        (Severity::Breaking, "breaking"),
        (Severity::Additive, "additive"),
        (Severity::Cosmetic, "cosmetic"),
        (Severity::Coverage, "not in the cassette"),
    ] {
        match count(s) {
            0 => {}
            _ if s == Severity::Coverage => parts.push(word.to_owned()),
            n => parts.push(format!("{n} {word}")),
        }
    }
    let first: Vec<String> = e
        .drifts
        .iter()
        .filter(|d| d.severity != Severity::Coverage)
        .take(3)
        .map(|d| {
            let what = match (&d.old, &d.new) {
                (Some(o), Some(n)) => format!("{o} -> {n}"),
                (Some(o), None) => o.clone(),
                (None, Some(n)) => n.clone(),
                (None, None) => d.path.clone(),
            };
            format!("{} {what}", d.kind.describe())
        })
        .collect();
    let detail = if first.is_empty() { String::new() } else { format!(": {}", first.join("; ")) };
    format!("{} ({}){detail}", e.key, parts.join(", "))
}
