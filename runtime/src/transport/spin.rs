//! How long a receiver polls before it blocks, adapted to how the peer
//! behaves. Shared by both transports.

#![forbid(unsafe_code)]

use std::time::Duration;

/// How long one side currently polls before blocking. It halves each time
/// polling fails and doubles back (up to the configured maximum) each time
/// it succeeds: a busy channel polls and answers without a wake-up, an idle
/// one (or one whose peer is not getting a core, on a loaded machine) blocks
/// quickly and is woken through the scheduler. Every so often a side polls
/// for the full time anyway, so that two sides that have both fallen back
/// to blocking find out when polling would pay again.
#[derive(Debug)]
pub(crate) struct SpinBudget {
    current: Duration,
    waits: u32,
}

/// One wait in this many polls for the full time.
const PROBE_EVERY: u32 = 32;

/// The least a side polls, however often polling has failed.
const MIN_SPIN: Duration = Duration::from_micros(2);

impl SpinBudget {
    pub(crate) fn new() -> SpinBudget {
        SpinBudget { current: Duration::MAX, waits: 0 }
    }

    pub(crate) fn get(&mut self, max: Duration) -> Duration {
        self.waits = self.waits.wrapping_add(1);
        if self.waits.is_multiple_of(PROBE_EVERY) {
            max
        } else {
            self.current.min(max)
        }
    }

    pub(crate) fn succeeded(&mut self, max: Duration) {
        self.current = self.current.saturating_mul(2).min(max);
    }

    pub(crate) fn failed(&mut self, max: Duration) {
        self.current = (self.current.min(max) / 2).max(MIN_SPIN);
    }
}
