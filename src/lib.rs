//! emtape: record-and-replay contract testing for the Veeam Backup Enterprise Manager REST API.
#![forbid(unsafe_code)]

pub mod cassette;
pub mod cli;
pub mod clientcheck;
pub mod clock;
pub mod codec;
pub mod commands;
pub mod crawl;
pub mod diagnostic;
pub mod diff;
pub mod em;
pub mod har;
pub mod http;
pub mod lint;
pub mod matrix;
pub mod mock;
pub mod model;
pub mod openapi;
mod parallel;
pub mod query;
pub mod record;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod vbr;
pub mod xml;
pub mod yamlish;

pub use clientcheck::{MockServer, MockServerConfig};

/// A table keyed by what the recordings hold (paths, header lists), hashed with foldhash, not
/// SipHash: a large estate's start hashes a million keys several times over (SipHash was 5% of
/// the catalog's and 4% of the index's share, perf). Its keys come from the recordings; a
/// client's request only looks one up.
pub(crate) type RecordedMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
