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

/// A folder of a unit test's own under the system's temporary folder, made empty, and removed
/// when the test lets it go, whether it passed or not (the integration tests' `temp_dir`
/// sweeps the folders of earlier runs instead; its home is out of the library's reach).
#[cfg(test)]
pub(crate) struct Scratch(std::path::PathBuf);

#[cfg(test)]
impl Scratch {
    pub(crate) fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("emtape-unit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a test's folder");
        Scratch(dir)
    }
}

#[cfg(test)]
impl std::ops::Deref for Scratch {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

#[cfg(test)]
impl AsRef<std::path::Path> for Scratch {
    fn as_ref(&self) -> &std::path::Path {
        &self.0
    }
}

#[cfg(test)]
impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
