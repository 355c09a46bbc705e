//! Where the cache reads the time.
#![forbid(unsafe_code)]

use std::time::Instant;

/// Where the cache reads the time. Monotonic; tests substitute their own.
pub trait Clock: Send + Sync {
    fn now(&self) -> Instant;
}

/// The monotonic system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}
