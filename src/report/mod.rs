//! Reports of a run, for people (terminal text, coloured when it helps) and for machines
//! (JUnit XML, JSON).

pub mod check;
pub mod diff;
pub mod html;
pub mod junit;
pub mod matrix;
mod text;

pub use junit::junit;
pub use text::{Style, text};

use crate::runner::result::RunReport;

/// The run as pretty-printed JSON.
pub fn json(report: &RunReport) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}")) + "\n"
}
