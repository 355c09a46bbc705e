//! Where the cache reads the time: the monotonic clock for intervals, the
//! wall clock for expiry.
//!
//! `CLOCK_MONOTONIC` (`Instant`) stands still while a machine is suspended
//! or a VM is paused, so a token's age judged by it alone would stay young
//! through a two-hour suspend. The wall clock counts that time, but can be
//! stepped back (by an administrator or NTP). A token's age is therefore the
//! larger of the two clocks' elapsed times: a suspend ages it, and a wall
//! clock stepped back never makes it younger than the monotonic clock says.
#![forbid(unsafe_code)]

use std::time::{Duration, Instant, SystemTime};

/// Where the cache reads the time. Tests substitute their own.
pub trait Clock: Send + Sync {
    /// The monotonic clock.
    fn now(&self) -> Instant;

    /// The wall clock (by default the system's).
    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// The system's clocks.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// One reading of both clocks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reading {
    mono: Instant,
    wall: SystemTime,
}

impl Reading {
    pub(crate) fn of(clock: &dyn Clock) -> Reading {
        Reading {
            mono: clock.now(),
            wall: clock.wall(),
        }
    }

    pub(crate) fn mono(&self) -> Instant {
        self.mono
    }

    pub(crate) fn wall(&self) -> SystemTime {
        self.wall
    }

    /// The time from `self` to `later`: the larger of what the two clocks
    /// say, each counted as zero if it went backwards.
    pub(crate) fn elapsed_until(&self, later: &Reading) -> Duration {
        let mono = later.mono.saturating_duration_since(self.mono);
        let wall = later.wall.duration_since(self.wall).unwrap_or_default();
        mono.max(wall)
    }
}
