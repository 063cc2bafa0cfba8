//! Time, asked of one place: the system's clocks, or one a test moves by hand. The I/O-free
//! cores (the mock's sessions and model, the client checker) read the time only through a
//! [`Clock`].

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Where a core reads the time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Monotonic time, for ages and deadlines.
    fn now(&self) -> Instant;
    /// Wall-clock time in seconds since 1970, for the times written into bodies.
    fn unix_seconds(&self) -> u64;
}

/// The system's clocks.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn unix_seconds(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
    }
}

/// A clock that stands still until [`ManualClock::advance`] moves it; its wall time starts at
/// the system's.
#[derive(Debug)]
pub struct ManualClock {
    start: Instant,
    start_unix: u64,
    offset: Mutex<Duration>,
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock {
            start: Instant::now(),
            start_unix: SystemClock.unix_seconds(),
            offset: Mutex::new(Duration::ZERO),
        }
    }
}

impl ManualClock {
    pub fn advance(&self, by: Duration) {
        *self.offset.lock().unwrap_or_else(|e| e.into_inner()) += by;
    }

    fn offset(&self) -> Duration {
        *self.offset.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.start + self.offset()
    }

    fn unix_seconds(&self) -> u64 {
        self.start_unix + self.offset().as_secs()
    }
}
