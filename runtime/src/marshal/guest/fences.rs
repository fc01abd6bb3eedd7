//! Fences between a process's channels, guest side: what a channel tells
//! the API server before a call so that the call runs after the calls the
//! process's other threads sent before it.
//!
//! Each channel has a number (its place in the process's registry,
//! counted from one) and publishes how many call messages it has sent, up to and
//! including its last asynchronous one. A synchronous call needs no
//! publishing: its thread waits for its reply, so the server has run it
//! before anything the thread does next. Before a call, a channel looks
//! whether another channel published since it last looked, and names each
//! one that did, with its count, in a fence message. The server runs the
//! call once every named channel has handled that many calls (book:
//! Architecture, Invariants).
//!
//! A thread that alone makes calls must pay (almost) nothing: a
//! process-wide total of asynchronous calls sent tells a channel, by one
//! load and one comparison, that nobody else published; the registry is
//! read only when the total moved under someone else's hand.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The process's channels and what each has published.
#[derive(Debug, Default)]
pub(super) struct Fences {
    /// Asynchronous calls published by all channels, ever: a change
    /// detector, compared with what a channel's own publishing left it at.
    total: AtomicU64,
    registry: Arc<Mutex<Registry>>,
}

#[derive(Debug, Default)]
struct Registry {
    /// The process the numbers belong to: a forked child starts afresh
    /// (its parent's channels are not its own, and the server knows the
    /// child by another process number).
    pid: u32,
    /// Numbers given so far: the next is one more. Never reused while the
    /// process lives (the server refuses a number it has seen).
    given: u64,
    /// The channels another may have to name, ascending by number, with
    /// their published counts: the open ones, and closed ones whose calls
    /// may not all have run (a thread that sent asynchronous calls and
    /// exited without learning that they ran, joined by the next caller).
    /// A channel leaves once all its calls have run (see [`View::leave`]),
    /// so threads that come and go do not make every look longer.
    channels: Vec<(u64, Arc<AtomicU64>)>,
}

impl Registry {
    fn lock(registry: &Mutex<Registry>) -> std::sync::MutexGuard<'_, Registry> {
        registry.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One channel's side of the fences.
#[derive(Debug)]
pub(super) struct View {
    number: u64,
    published: Arc<AtomicU64>,
    registry: Arc<Mutex<Registry>>,
    pid: u32,
    /// Call messages this channel sent.
    sent: u64,
    /// Of those, the ones known to have run: every message sent before the
    /// last reply the channel received (a channel's messages run in order).
    settled: u64,
    /// The total as this channel last knew it; `u64::MAX` before its
    /// first look (a new thread's first call follows whatever its parent
    /// sent).
    expected: u64,
    /// Each other channel's count as this channel last named it,
    /// ascending by number; only channels still in the registry.
    named: Vec<(u64, u64)>,
    /// `named`'s next contents, built during a look (kept for its room).
    scratch: Vec<(u64, u64)>,
}

impl Fences {
    /// A new channel's number and view.
    pub(super) fn join(&self) -> View {
        let mut registry = Registry::lock(&self.registry);
        let pid = std::process::id();
        if registry.pid != pid {
            *registry = Registry { pid, given: 0, channels: Vec::new() };
        }
        registry.given += 1;
        let number = registry.given;
        let published = Arc::new(AtomicU64::new(0));
        registry.channels.push((number, Arc::clone(&published)));
        View {
            number,
            published,
            registry: Arc::clone(&self.registry),
            pid,
            sent: 0,
            settled: 0,
            expected: u64::MAX,
            named: Vec::new(),
            scratch: Vec::new(),
        }
    }
}

/// `CAVA_FENCES=0` sends none: a guest that does not order its threads'
/// calls, as an older or a hostile one, for tests of what the API server
/// must survive (see `cava-cli/tests/opencl.rs`).
fn fences_on() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("CAVA_FENCES").map_or(true, |v| v != "0"))
}

impl View {
    /// The channel's number, for its hello.
    pub(super) fn number(&self) -> u64 {
        self.number
    }

    /// What the next call must wait for: (channel, count) of each other
    /// channel that published since this one last looked; empty (and no
    /// allocation) when none did.
    pub(super) fn waits(&mut self, fences: &Fences) -> Vec<(u64, u64)> {
        // acquire: a total that counts another channel's call comes with
        // that channel's published count (stored before the total moved)
        let total = fences.total.load(Ordering::Acquire);
        if total == self.expected || !fences_on() {
            return Vec::new();
        }
        let registry = Registry::lock(&fences.registry);
        let mut waits = Vec::new();
        // both lists ascend by number: one pass, which also drops what this
        // view named of channels that have left
        let mut old = self.named.iter().peekable();
        self.scratch.clear();
        for (number, published) in &registry.channels {
            if *number == self.number {
                continue;
            }
            while old.next_if(|(n, _)| n < number).is_some() {}
            let before = old.next_if(|(n, _)| n == number).map_or(0, |(_, c)| *c);
            let count = published.load(Ordering::Acquire);
            if count > before {
                waits.push((*number, count));
            }
            self.scratch.push((*number, count.max(before)));
        }
        std::mem::swap(&mut self.named, &mut self.scratch);
        // a channel that published after the total was read is found by
        // the next look: the total will have moved again
        self.expected = total;
        waits
    }

    /// After a call message went out whole: publishes it if it was
    /// asynchronous.
    pub(super) fn sent(&mut self, fences: &Fences, is_async: bool) {
        self.sent += 1;
        if is_async {
            // the count before the total: whoever sees the total moved
            // finds the count too
            self.published.store(self.sent, Ordering::Release);
            fences.total.fetch_add(1, Ordering::AcqRel);
            self.expected = self.expected.wrapping_add(1);
        }
    }

    /// A reply came: every call message sent before it has run.
    pub(super) fn replied(&mut self) {
        self.settled = self.sent;
    }

    /// Whether every call message this channel sent is known to have run.
    pub(super) fn settled(&self) -> bool {
        self.settled == self.sent
    }

    /// The channel closes and all its calls have run (`settled`, or the
    /// server closed the channel after handling all of them): nobody needs
    /// to name it any more, so it leaves the registry. A channel closed
    /// otherwise stays, as before.
    pub(super) fn leave(&self) {
        let mut registry = Registry::lock(&self.registry);
        if registry.pid != self.pid {
            return;
        }
        if let Ok(at) = registry.channels.binary_search_by_key(&self.number, |(n, _)| *n) {
            registry.channels.remove(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_channel_names_nobody_and_looks_only_once() {
        let fences = Fences::default();
        let mut a = fences.join();
        assert_eq!(a.number(), 1);
        assert!(a.waits(&fences).is_empty());
        for i in 0..100 {
            a.sent(&fences, i % 2 == 0);
            assert!(a.waits(&fences).is_empty());
            assert_eq!(a.expected, fences.total.load(Ordering::Relaxed), "its own calls keep it on the fast path");
        }
    }

    #[test]
    fn another_channels_asynchronous_calls_are_named_once_with_their_count() {
        let fences = Fences::default();
        let mut a = fences.join();
        let mut b = fences.join();
        assert_eq!(b.number(), 2);
        assert!(a.waits(&fences).is_empty());
        b.sent(&fences, false);
        assert!(a.waits(&fences).is_empty(), "a synchronous call has run before its thread goes on");
        b.sent(&fences, true);
        b.sent(&fences, true);
        b.sent(&fences, false);
        assert_eq!(a.waits(&fences), vec![(2, 3)], "every call sent up to the last asynchronous one");
        assert!(a.waits(&fences).is_empty(), "named once");
        a.sent(&fences, true);
        assert_eq!(b.waits(&fences), vec![(1, 1)]);
        assert!(a.waits(&fences).is_empty(), "its own call is nobody else's");
    }

    #[test]
    fn a_new_channel_names_what_the_others_sent_before_it() {
        let fences = Fences::default();
        let mut a = fences.join();
        a.sent(&fences, true);
        let mut b = fences.join();
        assert_eq!(b.waits(&fences), vec![(1, 1)]);
        // a channel that closed still counts: its calls may not have run
        drop(a);
        let mut c = fences.join();
        assert_eq!(c.waits(&fences), vec![(1, 1)]);
    }

    #[test]
    fn a_channel_whose_calls_all_ran_leaves_and_nobody_names_it_again() {
        let fences = Fences::default();
        let mut a = fences.join();
        let mut b = fences.join();
        a.sent(&fences, true);
        assert!(!a.settled(), "its asynchronous call may still be queued");
        assert_eq!(b.waits(&fences), vec![(1, 1)]);
        a.sent(&fences, false);
        a.replied();
        assert!(a.settled(), "the reply to its later call says the first ran too");
        a.leave();
        let mut c = fences.join();
        assert_eq!(c.number(), 3, "numbers are never given again");
        assert!(c.waits(&fences).is_empty(), "its calls have run: nothing to wait for");
        c.sent(&fences, true);
        assert_eq!(b.waits(&fences), vec![(3, 1)]);
        assert_eq!(b.named, vec![(3, 1)], "what it named of the channel that left is forgotten");
    }

    #[test]
    fn threads_that_come_and_go_leave_the_registry_as_short_as_they_found_it() {
        let fences = Fences::default();
        let mut main = fences.join();
        for round in 0..1000u64 {
            let mut worker = fences.join();
            worker.sent(&fences, true);
            assert_eq!(main.waits(&fences), vec![(round + 2, 1)], "each worker's call is named");
            // its thread exits after the server handled its call (a reply, or the goodbye's close)
            worker.replied();
            worker.leave();
        }
        let registry = Registry::lock(&fences.registry);
        assert_eq!(registry.channels.len(), 1, "only the main thread's channel is left");
        assert_eq!(registry.given, 1001);
        drop(registry);
        assert!(main.waits(&fences).is_empty());
        assert!(main.named.len() <= 1, "each look forgets the channels that left since the one before");
    }

    #[test]
    fn a_channel_that_left_calls_behind_stays_until_they_ran() {
        let fences = Fences::default();
        let a = {
            let mut a = fences.join();
            a.sent(&fences, true);
            a
        };
        // closed without learning that its call ran: it does not leave
        assert!(!a.settled());
        drop(a);
        let mut b = fences.join();
        assert_eq!(b.waits(&fences), vec![(1, 1)]);
    }

    #[test]
    fn a_call_counts_for_others_once_its_publication_is_complete() {
        let fences = Fences::default();
        let mut a = fences.join();
        let mut b = fences.join();
        assert!(a.waits(&fences).is_empty());
        // b has stored its count but not yet moved the total: its call has
        // not returned, so nothing ordered after it runs yet
        b.sent += 1;
        b.published.store(b.sent, Ordering::Release);
        assert!(a.waits(&fences).is_empty());
        fences.total.fetch_add(1, Ordering::AcqRel);
        assert_eq!(a.waits(&fences), vec![(2, 1)]);
    }

    #[test]
    fn threads_that_hand_over_see_each_others_calls() {
        let fences = Arc::new(Fences::default());
        let rounds = 2000;
        let (to_b, from_a) = std::sync::mpsc::channel::<()>();
        let (to_a, from_b) = std::sync::mpsc::channel::<()>();
        let f = Arc::clone(&fences);
        let mut view = fences.join();
        let a = std::thread::spawn(move || {
            for _ in 0..rounds {
                view.sent(&f, true);
                to_b.send(()).unwrap();
                from_b.recv().unwrap();
            }
        });
        let mut view = fences.join();
        let mut missed = 0;
        for round in 1..=rounds {
            from_a.recv().unwrap();
            if view.waits(&fences) != vec![(1, round)] {
                missed += 1;
            }
            to_a.send(()).unwrap();
        }
        a.join().unwrap();
        assert_eq!(missed, 0);
    }
}
