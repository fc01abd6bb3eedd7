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
//!
//! While a channel's thread waits for a callback the vendor makes from
//! inside the call it is serving, that call counts as handled: the
//! callback runs on another guest thread, whose calls are fenced behind
//! the calls the channel published, the one that called back included,
//! and would otherwise wait for a call that waits for them (an
//! asynchronous release whose destructor callback calls the API).

#![forbid(unsafe_code)]

use std::cell::RefCell;
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
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    channels: Mutex<HashMap<u64, Arc<Handled>>>,
    /// Threads waiting on a fence: a channel wakes them only when there
    /// are some, so that counting a call costs no lock.
    waiters: AtomicUsize,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct Handled {
    calls: AtomicU64,
    /// 1 while the channel's thread waits for a callback from inside the
    /// call it serves (see the module's documentation).
    lent: AtomicU64,
    /// The channel's thread has left: it handles nothing more, and every
    /// message the guest sent on it was handled (or never will be: the
    /// guest broke the channel), so no fence waits for it.
    closed: AtomicBool,
}

impl Handled {
    fn count(&self) -> u64 {
        self.calls.load(Ordering::SeqCst) + self.lent.load(Ordering::SeqCst)
    }
}

/// A channel's count, held by its thread; closing the channel when
/// dropped, however the thread leaves.
#[derive(Debug)]
pub(crate) struct Counter {
    number: u64,
    handled: Arc<Handled>,
    shared: Arc<Shared>,
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
        let mut channels = self.shared.channels.lock().unwrap_or_else(|e| e.into_inner());
        if channels.contains_key(&number) {
            return None;
        }
        let handled = Arc::new(Handled::default());
        channels.insert(number, Arc::clone(&handled));
        Some(Counter { number, handled, shared: Arc::clone(&self.shared) })
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
        let shared = &self.shared;
        if let Some(me) = me {
            let handled = me.handled.calls.load(Ordering::SeqCst);
            if let Some(&(_, count)) = waits.iter().find(|(n, c)| *n == me.number && *c > handled) {
                // its own calls up to this fence are handled: any more are behind it
                return Err(Unmet::Own { count, handled });
            }
        }
        shared.waiters.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&shared.waiters);
        let mut channels = shared.channels.lock().unwrap_or_else(|e| e.into_inner());
        let mut progress = (u64::MAX, 0);
        let mut since = Instant::now();
        loop {
            let unmet = waits.iter().find_map(|&(number, count)| {
                let handled = channels.get(&number)?;
                let calls = handled.count();
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
            channels = shared.changed.wait_timeout(channels, slice).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}

impl Shared {
    /// Wakes the waiters, if any.
    fn changed(&self) {
        // sequentially consistent, as the counts' updates before it and a
        // waiter's increment and reads: either this thread sees the waiter
        // and wakes it, or the waiter sees the new count
        if self.waiters.load(Ordering::SeqCst) > 0 {
            // under the lock: a waiter between its look and its sleep holds it
            let _channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
            self.changed.notify_all();
        }
    }
}

impl Counter {
    /// The channel has handled one more call message.
    pub(crate) fn handled(&self) {
        self.handled.calls.fetch_add(1, Ordering::SeqCst);
        self.shared.changed();
    }

    /// Marks this thread as the channel's, for [`calling_back`], while it
    /// serves the channel (its whole life).
    pub(crate) fn serve_here(&self) -> Serving {
        SERVING.with(|s| *s.borrow_mut() = Some((Arc::clone(&self.handled), Arc::clone(&self.shared))));
        Serving(())
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        self.handled.closed.store(true, Ordering::SeqCst);
        self.shared.changed();
    }
}

thread_local! {
    /// The channel this thread serves, if it is a channel's thread.
    static SERVING: RefCell<Option<(Arc<Handled>, Arc<Shared>)>> = const { RefCell::new(None) };
}

/// This thread serves a channel until it is dropped.
#[derive(Debug)]
pub(crate) struct Serving(());

impl Drop for Serving {
    fn drop(&mut self) {
        SERVING.with(|s| s.borrow_mut().take());
    }
}

/// Runs `f`, a wait for the guest's answer to a callback: on a channel's
/// thread, the call it serves counts as handled meanwhile.
pub(crate) fn calling_back<R>(f: impl FnOnce() -> R) -> R {
    let serving = SERVING.with(|s| s.borrow().clone());
    let Some((handled, shared)) = serving else { return f() };
    handled.lent.fetch_add(1, Ordering::SeqCst);
    shared.changed();
    let result = f();
    handled.lent.fetch_sub(1, Ordering::SeqCst);
    result
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
        a.handled();
        a.handled();
        let start = Instant::now();
        assert_eq!(fences.wait(None, &[(1, 2), (7, 100)], Duration::from_secs(5), never), Ok(()));
        assert!(start.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn a_fence_waits_for_the_other_channels_calls() {
        let fences = Arc::new(Fences::default());
        let b = fences.open(2).unwrap();
        let other = std::thread::spawn(move || {
            for _ in 0..3 {
                std::thread::sleep(Duration::from_millis(20));
                b.handled();
            }
            b
        });
        let start = Instant::now();
        assert_eq!(fences.wait(None, &[(2, 3)], Duration::from_secs(5), never), Ok(()));
        assert!(start.elapsed() >= Duration::from_millis(55), "it waited for the third call");
        let b = other.join().unwrap();
        assert_eq!(b.handled.calls.load(Ordering::SeqCst), 3);
        assert_eq!(fences.shared.waiters.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_closed_channel_meets_every_fence() {
        let fences = Arc::new(Fences::default());
        let f = Arc::clone(&fences);
        let open = fences.open(3).unwrap();
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
        b.handled();
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
        let other = std::thread::spawn(move || {
            for _ in 0..10 {
                std::thread::sleep(Duration::from_millis(40));
                b.handled();
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
        me.handled();
        assert_eq!(fences.wait(Some(&me), &[(1, 1)], Duration::from_secs(5), never), Ok(()), "its past is met");
        assert_eq!(fences.wait(Some(&me), &[(1, 2)], Duration::from_secs(5), never), Err(Unmet::Own { count: 2, handled: 1 }));
    }

    #[test]
    fn a_call_waiting_for_a_callback_counts_as_handled_meanwhile() {
        let fences = Arc::new(Fences::default());
        let x = fences.open(1).unwrap();
        let short = Duration::from_millis(100);
        let f = Arc::clone(&fences);
        let served = std::thread::spawn(move || {
            let _serving = x.serve_here();
            // the callback's own channel, fenced behind x's call 1, which is the one calling back
            let fenced = |f: Arc<Fences>| std::thread::spawn(move || f.wait(None, &[(1, 1)], short, never)).join().unwrap();
            let before = fenced(Arc::clone(&f));
            let during = calling_back(|| fenced(Arc::clone(&f)));
            let after = fenced(Arc::clone(&f));
            x.handled();
            (before, during, after, fenced(f))
        });
        let (before, during, after, handled) = served.join().unwrap();
        assert!(matches!(before, Err(Unmet::Stalled { .. })), "{before:?}");
        assert_eq!(during, Ok(()));
        assert!(matches!(after, Err(Unmet::Stalled { .. })), "{after:?}");
        assert_eq!(handled, Ok(()));
        // a thread that serves no channel lends nothing
        assert_eq!(calling_back(|| 7), 7);
    }
}
