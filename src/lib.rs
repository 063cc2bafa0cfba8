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
