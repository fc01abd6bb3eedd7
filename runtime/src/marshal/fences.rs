//! Fences between a guest process's channels, server side: how many call
//! messages each channel has handled, and waiting for counts a fence
//! names (the guest's half is `guest/fences.rs`).
//!
//! A channel's thread counts each call message once it has handled it,
//! whatever the outcome (run, refused, failed), before its reply goes
//! out; a fence names counts the guest published, so a count always
//! comes unless the guest lied or its channel broke. A waiting thread
//! therefore waits in slices and gives up, so that a hostile or broken
//! guest holds one of its own threads for a bounded time and nothing of
//! any other process (numbers are per process: another process's channels
//! are in another tenant's `Fences`).

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long a fence waits for a named channel that handles nothing more
/// (by default; `CAVA_FENCE_PATIENCE_MS` sets it). A legitimate wait ends
/// as soon as the other channel's asynchronous calls have run, which are
/// enqueues: a second without any progress is already far out.
pub(crate) const FENCE_PATIENCE: Duration = Duration::from_secs(10);

/// How often a waiting thread looks whether its process is still there.
const SLICE: Duration = Duration::from_millis(50);

/// A process's call channels, by number.
#[derive(Debug, Default)]
pub(crate) struct Fences {
    channels: Mutex<HashMap<u64, Arc<Handled>>>,
    /// Threads waiting on a fence: a channel wakes them only when there
    /// are some, so that counting a call costs no lock.
    waiters: AtomicUsize,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct Handled {
    calls: AtomicU64,
    /// The channel's thread has left: it handles nothing more, and every
    /// message the guest sent on it was handled (or never will be: the
    /// guest broke the channel), so no fence waits for it.
    closed: AtomicBool,
}

/// A channel's count, held by its thread; closing it when dropped.
#[derive(Debug)]
pub(crate) struct Counter {
    number: u64,
    handled: Arc<Handled>,
}

/// Why a fence was not met.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Unmet {
    #[error("channel {channel} handled {handled} calls and no more for {patience:?}; the fence waited for {count}")]
    Stalled { channel: u64, count: u64, handled: u64, patience: Duration },
    #[error("the fence names this channel's own call {count}, which comes after it (it handled {handled})")]
    Own { count: u64, handled: u64 },
    #[error("the guest process left while its fence waited")]
    Gone,
}

impl Fences {
    /// Channel `number` opens (its hello): its counter, or `None` when the
    /// number is 0 (a connection without calls) or already had a channel
    /// (numbers are never reused while the process lives).
    pub(crate) fn open(&self, number: u64) -> Option<Counter> {
        if number == 0 {
            return None;
        }
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if channels.contains_key(&number) {
            return None;
        }
        let handled = Arc::new(Handled::default());
        channels.insert(number, Arc::clone(&handled));
        Some(Counter { number, handled })
    }

    /// The channel of `counter` has handled one more call message.
    pub(crate) fn handled(&self, counter: &Counter) {
        // sequentially consistent, with the waiter count below and a
        // waiter's increment and read: either this thread sees the waiter
        // and wakes it, or the waiter sees the new count
        counter.handled.calls.fetch_add(1, Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) > 0 {
            self.wake();
        }
    }

    fn wake(&self) {
        // under the lock: a waiter between its look and its sleep holds it
        let _channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        self.changed.notify_all();
    }

    /// Waits until each `(channel, count)` of `waits` has handled `count`
    /// call messages, or closed; a number no channel of the process has is
    /// met at once (nothing will ever be handled under it: a channel the
    /// guest opened with a server it left, whose calls that server ran,
    /// or a lie). `me` is the waiting channel; `gone` says whether its
    /// process has left. Gives up when a channel it waits for handles
    /// nothing more for `patience`.
    pub(crate) fn wait(
        &self,
        me: Option<&Counter>,
        waits: &[(u64, u64)],
        patience: Duration,
        gone: impl Fn() -> bool,
    ) -> Result<(), Unmet> {
        if let Some(me) = me {
            let handled = me.handled.calls.load(Ordering::SeqCst);
            if let Some(&(_, count)) = waits.iter().find(|(n, c)| *n == me.number && *c > handled) {
                // its own calls up to this fence are handled: any more are behind it
                return Err(Unmet::Own { count, handled });
            }
        }
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&self.waiters);
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        let mut progress = (u64::MAX, 0);
        let mut since = Instant::now();
        loop {
            let unmet = waits.iter().find_map(|&(number, count)| {
                let handled = channels.get(&number)?;
                let calls = handled.calls.load(Ordering::SeqCst);
                (calls < count && !handled.closed.load(Ordering::SeqCst)).then_some((number, count, calls))
            });
            let Some((channel, count, handled)) = unmet else { return Ok(()) };
            if (channel, handled) != progress {
                progress = (channel, handled);
                since = Instant::now();
            } else if since.elapsed() >= patience {
                return Err(Unmet::Stalled { channel, count, handled, patience });
            }
            if gone() {
                return Err(Unmet::Gone);
            }
            let slice = SLICE.min(patience.saturating_sub(since.elapsed())).max(Duration::from_millis(1));
            channels = self.changed.wait_timeout(channels, slice).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    /// Closes the channel of `counter` (its thread left).
    fn close(&self, counter: &Counter) {
        counter.handled.closed.store(true, Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) > 0 {
            self.wake();
        }
    }
}

/// A channel's counter together with its process's fences, so that the
/// channel closes however its thread leaves.
#[derive(Debug)]
pub(crate) struct Open<'f> {
    pub(crate) fences: &'f Fences,
    pub(crate) counter: Counter,
}

impl Open<'_> {
    pub(crate) fn handled(&self) {
        self.fences.handled(&self.counter);
    }
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.fences.close(&self.counter);
    }
}

struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// How long fences wait without progress: `CAVA_FENCE_PATIENCE_MS`, or
/// [`FENCE_PATIENCE`].
pub(crate) fn patience() -> Duration {
    std::env::var("CAVA_FENCE_PATIENCE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map_or(FENCE_PATIENCE, Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn never() -> bool {
        false
    }

    #[test]
    fn numbers_are_opened_once_and_zero_never() {
        let fences = Fences::default();
        assert!(fences.open(0).is_none());
        let one = fences.open(1).unwrap();
        assert!(fences.open(1).is_none(), "taken");
        drop(one);
        assert!(fences.open(1).is_none(), "never reused");
    }

    #[test]
    fn a_met_fence_and_an_unknown_channel_wait_for_nothing() {
        let fences = Fences::default();
        let a = fences.open(1).unwrap();
        fences.handled(&a);
        fences.handled(&a);
        let start = Instant::now();
        assert_eq!(fences.wait(None, &[(1, 2), (7, 100)], Duration::from_secs(5), never), Ok(()));
        assert!(start.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn a_fence_waits_for_the_other_channels_calls() {
        let fences = Arc::new(Fences::default());
        let b = fences.open(2).unwrap();
        let f = Arc::clone(&fences);
        let other = std::thread::spawn(move || {
            for _ in 0..3 {
                std::thread::sleep(Duration::from_millis(20));
                f.handled(&b);
            }
            b
        });
        let start = Instant::now();
        assert_eq!(fences.wait(None, &[(2, 3)], Duration::from_secs(5), never), Ok(()));
        assert!(start.elapsed() >= Duration::from_millis(55), "it waited for the third call");
        let b = other.join().unwrap();
        assert_eq!(b.handled.calls.load(Ordering::SeqCst), 3);
        assert_eq!(fences.waiters.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_closed_channel_meets_every_fence() {
        let fences = Arc::new(Fences::default());
        let f = Arc::clone(&fences);
        let open = Open { fences: &fences, counter: fences.open(3).unwrap() };
        let waiter = std::thread::spawn(move || f.wait(None, &[(3, 1000)], Duration::from_secs(5), never));
        std::thread::sleep(Duration::from_millis(30));
        open.handled();
        drop(open);
        assert_eq!(waiter.join().unwrap(), Ok(()));
    }

    #[test]
    fn a_count_that_never_comes_gives_up_after_the_patience() {
        let fences = Fences::default();
        let b = fences.open(2).unwrap();
        fences.handled(&b);
        let start = Instant::now();
        let patience = Duration::from_millis(200);
        assert_eq!(fences.wait(None, &[(2, 5)], patience, never), Err(Unmet::Stalled { channel: 2, count: 5, handled: 1, patience }));
        let waited = start.elapsed();
        assert!(waited >= patience && waited < patience * 5, "{waited:?}");
    }

    #[test]
    fn progress_keeps_a_fence_waiting_past_the_patience() {
        let fences = Arc::new(Fences::default());
        let b = fences.open(2).unwrap();
        let f = Arc::clone(&fences);
        let other = std::thread::spawn(move || {
            for _ in 0..10 {
                std::thread::sleep(Duration::from_millis(40));
                f.handled(&b);
            }
        });
        assert_eq!(fences.wait(None, &[(2, 10)], Duration::from_millis(150), never), Ok(()));
        other.join().unwrap();
    }

    #[test]
    fn a_departed_process_and_its_own_future_end_the_wait() {
        let fences = Fences::default();
        let me = fences.open(1).unwrap();
        let _b = fences.open(2).unwrap();
        let start = Instant::now();
        assert_eq!(fences.wait(Some(&me), &[(2, 1)], Duration::from_secs(5), || true), Err(Unmet::Gone));
        assert!(start.elapsed() < Duration::from_secs(1));
        fences.handled(&me);
        assert_eq!(fences.wait(Some(&me), &[(1, 1)], Duration::from_secs(5), never), Ok(()), "its past is met");
        assert_eq!(fences.wait(Some(&me), &[(1, 2)], Duration::from_secs(5), never), Err(Unmet::Own { count: 2, handled: 1 }));
    }
}
