//! Which handles one guest process's calls in flight have in hand, so that
//! a release never frees an object under a call that translated its handle.
//!
//! A call on the API server translates each handle id to the vendor's
//! object, and hands the object to the vendor until its vendor call
//! returns. A process has a channel per thread, each served by a thread of
//! the server's own, so another channel's release of that object could
//! free it in between, or while the vendor runs the call, and the vendor
//! was handed freed memory (a guest that sends no fences, as a hostile one
//! need not, does it on purpose). So each channel *publishes* the handles
//! its call has translated, in slots of its own ([`InHand`]), from the
//! translation (made under the handle table's lock) to the end of the
//! call; a release looks there after it has made its handle releasing
//! (also under that lock, so no call translates the handle after the
//! look), and finds every call that could still use the object.
//!
//! A release that finds its handle in hand *waits* ([`Holdings::wait`]):
//! its vendor call is made by whichever thread finds it free first
//! ([`Holdings::settle`]): the call that ends the last use, or the release
//! itself if that happened meanwhile. Nothing blocks: a call that never
//! ends (a `clFinish` on a queue gated by a user event nobody sets) holds
//! back only the releases of its own objects. A waiting release keeps the
//! other handles it names in hand until it is made.
//!
//! The cost on the common path is a store per translated handle, a store
//! per handle and one fence at the end of the call, and one load; the
//! locks are taken only by releases that find their handle in hand and by
//! the calls that end while such a release waits. Publishing and looking
//! pair up as hazard pointers do: a call clears its slots and then looks
//! for waiting releases, a release registers and then looks at the slots,
//! each with a full fence in between, so one of them always sees the
//! other.

#![forbid(unsafe_code)]

use std::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use smallvec::SmallVec;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Handle ids one call publishes without a lock; more go in a list.
const SLOTS: usize = 16;

/// One channel's handles in hand: written by its serving thread only,
/// read by releases on any thread of the process.
#[derive(Debug, Default)]
pub(super) struct InHand {
    slots: [AtomicU64; SLOTS],
    more: Mutex<Vec<u64>>,
}

impl InHand {
    #[cold]
    fn overflow(&self, id: u64) {
        lock(&self.more).push(id);
    }

    #[cold]
    fn clear_overflow(&self) {
        lock(&self.more).clear();
    }

    fn holds(&self, id: u64) -> bool {
        self.slots.iter().any(|s| s.load(Ordering::SeqCst) == id) || lock(&self.more).contains(&id)
    }
}

/// The handles one call has in hand on its channel.
#[derive(Debug)]
pub(super) struct Hand<'a> {
    hand: &'a InHand,
    n: usize,
}

impl<'a> Hand<'a> {
    pub(super) fn new(hand: &'a InHand) -> Hand<'a> {
        Hand { hand, n: 0 }
    }

    /// Publishes handle `id` (not 0), which the call translated under the
    /// handle table's lock, which is still held.
    #[inline(always)]
    pub(super) fn publish(&mut self, id: u64) {
        match self.hand.slots.get(self.n) {
            Some(slot) => slot.store(id, Ordering::Relaxed),
            None => self.hand.overflow(id),
        }
        self.n += 1;
    }

    /// Whether the call has published anything.
    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Ends the call's uses (keeping none): then look for releases that
    /// waited for them ([`Holdings::after_call`]).
    #[inline(always)]
    pub(super) fn clear(&mut self) {
        for slot in &self.hand.slots[..self.n.min(SLOTS)] {
            slot.store(0, Ordering::Relaxed);
        }
        if self.n > SLOTS {
            self.hand.clear_overflow();
        }
        self.n = 0;
    }

    /// The published ids but `except`, taken off the slots (for a release
    /// that waits: it keeps them in hand itself).
    pub(super) fn take_all_but(&mut self, except: u64) -> SmallVec<[u64; 4]> {
        let mut ids: SmallVec<[u64; 4]> = self.hand.slots[..self.n.min(SLOTS)].iter().map(|s| s.load(Ordering::Relaxed)).collect();
        if self.n > SLOTS {
            ids.extend(lock(&self.hand.more).iter().copied());
        }
        ids.retain(|id| *id != except);
        ids
    }
}

/// A release that waits for calls that have its handle in hand.
#[derive(Debug)]
struct Waiting<R> {
    id: u64,
    /// The other handles it names, in hand until it is made.
    holds: SmallVec<[u64; 4]>,
    /// `None` once a thread is making it.
    release: Option<R>,
}

/// One guest process's channels' handles in hand, and its releases that
/// wait for them (`R`: what it takes to make one).
#[derive(Debug)]
pub(super) struct Holdings<R> {
    channels: Mutex<Vec<Arc<InHand>>>,
    waiting: Mutex<Vec<Waiting<R>>>,
    /// How many releases wait: what a call ending looks at.
    pending: AtomicUsize,
}

impl<R> Default for Holdings<R> {
    fn default() -> Self {
        Holdings { channels: Mutex::default(), waiting: Mutex::default(), pending: AtomicUsize::new(0) }
    }
}

impl<R> Holdings<R> {
    /// A new channel's slots.
    pub(super) fn join(&self) -> Arc<InHand> {
        let hand = Arc::new(InHand::default());
        lock(&self.channels).push(Arc::clone(&hand));
        hand
    }

    /// A channel closes (its calls have ended).
    pub(super) fn leave(&self, hand: &Arc<InHand>) {
        lock(&self.channels).retain(|h| !Arc::ptr_eq(h, hand));
    }

    /// Whether a call in flight, or a waiting release, has handle `id` in
    /// hand. Meaningful once `id` is releasing: no call can take it since.
    pub(super) fn in_use(&self, id: u64) -> bool {
        let waiting = lock(&self.waiting);
        self.used(id, &waiting)
    }

    fn used(&self, id: u64, waiting: &[Waiting<R>]) -> bool {
        waiting.iter().any(|w| w.holds.contains(&id)) || lock(&self.channels).iter().any(|h| h.holds(id))
    }

    /// Registers the release of `id` (releasing, and found in use), which
    /// keeps `holds` in hand; then [`settle`](Self::settle), as the use
    /// may have ended already.
    pub(super) fn wait(&self, id: u64, holds: SmallVec<[u64; 4]>, release: R) {
        lock(&self.waiting).push(Waiting { id, holds, release: Some(release) });
        self.pending.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    /// After a call has cleared its hand: whether releases wait, which
    /// it must [`settle`](Self::settle).
    #[inline]
    pub(super) fn after_call(&self) -> bool {
        fence(Ordering::SeqCst);
        self.pending.load(Ordering::Relaxed) != 0
    }

    /// Makes, with `make`, each waiting release whose handle nobody has in
    /// hand any more, until none is left.
    pub(super) fn settle(&self, mut make: impl FnMut(R)) {
        loop {
            let claimed = {
                let mut waiting = lock(&self.waiting);
                let free = (0..waiting.len()).find(|&i| waiting[i].release.is_some() && !self.used(waiting[i].id, &waiting));
                free.and_then(|i| waiting[i].release.take().map(|r| (waiting[i].id, r)))
            };
            let Some((id, release)) = claimed else { return };
            // its holds stay in hand while it is made
            make(release);
            lock(&self.waiting).retain(|w| w.id != id || w.release.is_some());
            self.pending.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// How many releases wait.
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_release_of_a_handle_in_hand_is_made_when_the_last_call_ends() {
        let holdings: Holdings<&str> = Holdings::default();
        let (a, b) = (holdings.join(), holdings.join());
        let mut made = Vec::new();
        let (mut on_a, mut on_b) = (Hand::new(&a), Hand::new(&b));
        on_a.publish(7);
        on_b.publish(7);
        on_b.publish(9);
        assert!(holdings.in_use(7) && holdings.in_use(9) && !holdings.in_use(8));
        // a release of 7 that names 9 too
        holdings.wait(7, SmallVec::from_slice(&[9]), "release 7");
        holdings.settle(|r| made.push(r));
        assert!(made.is_empty(), "two calls have it in hand");
        on_a.clear();
        assert!(holdings.after_call());
        holdings.settle(|r| made.push(r));
        assert!(made.is_empty(), "one call still has it");
        // the other call ends: 9 stays in hand, the waiting release's
        on_b.clear();
        assert!(holdings.in_use(9));
        // a release of 9 waits for the release of 7, which is made first
        holdings.wait(9, SmallVec::new(), "release 9");
        assert!(holdings.after_call());
        holdings.settle(|r| made.push(r));
        assert_eq!(made, ["release 7", "release 9"]);
        assert!(!holdings.after_call() && !holdings.in_use(9) && holdings.waiting() == 0);
    }

    #[test]
    fn a_release_whose_handle_came_free_meanwhile_is_made_by_its_own_settle() {
        let holdings: Holdings<u32> = Holdings::default();
        let a = holdings.join();
        let mut on_a = Hand::new(&a);
        on_a.publish(5);
        assert!(holdings.in_use(5));
        on_a.clear();
        // the call ended between the look and the wait, and found nothing waiting
        holdings.wait(5, SmallVec::new(), 1);
        let mut made = Vec::new();
        holdings.settle(|r| made.push(r));
        assert_eq!(made, [1]);
    }

    #[test]
    fn many_handles_and_closed_channels() {
        let holdings: Holdings<u32> = Holdings::default();
        let a = holdings.join();
        let mut on_a = Hand::new(&a);
        for id in 1..=SLOTS as u64 + 5 {
            on_a.publish(id);
        }
        assert!(holdings.in_use(1) && holdings.in_use(SLOTS as u64 + 5));
        assert_eq!(on_a.take_all_but(3).len(), SLOTS + 4);
        on_a.clear();
        assert!(on_a.is_empty() && !holdings.in_use(SLOTS as u64 + 5) && !holdings.in_use(1));
        on_a.publish(4);
        holdings.leave(&a);
        assert!(!holdings.in_use(4), "a closed channel holds nothing");
    }

    /// Threads publish and clear a handle while another releases it: the
    /// release is made exactly once, and never while a call has it.
    #[test]
    fn a_release_is_never_made_under_a_call_and_always_made() {
        for round in 0..300u64 {
            let id = round + 1;
            let holdings: Arc<Holdings<u64>> = Arc::default();
            // the handle table's lock, and whether the handle is releasing
            let table = Arc::new(Mutex::new(false));
            let in_call = Arc::new(AtomicUsize::new(0));
            let made = Arc::new(AtomicUsize::new(0));
            let make = {
                let (in_call, made) = (in_call.clone(), made.clone());
                move |_| {
                    assert_eq!(in_call.load(Ordering::SeqCst), 0, "made under a call");
                    made.fetch_add(1, Ordering::SeqCst);
                }
            };
            let users: Vec<_> = (0..3)
                .map(|_| {
                    let (holdings, table, in_call, make) = (holdings.clone(), table.clone(), in_call.clone(), make.clone());
                    std::thread::spawn(move || {
                        let hand = holdings.join();
                        for _ in 0..50 {
                            let mut h = Hand::new(&hand);
                            {
                                let releasing = lock(&table);
                                if *releasing {
                                    break;
                                }
                                h.publish(id);
                                in_call.fetch_add(1, Ordering::SeqCst);
                            }
                            std::hint::spin_loop();
                            in_call.fetch_sub(1, Ordering::SeqCst);
                            h.clear();
                            if holdings.after_call() {
                                holdings.settle(make.clone());
                            }
                        }
                    })
                })
                .collect();
            std::thread::yield_now();
            *lock(&table) = true;
            if holdings.in_use(id) {
                holdings.wait(id, SmallVec::new(), round);
                holdings.settle(make.clone());
            } else {
                make(round);
            }
            users.into_iter().for_each(|u| u.join().unwrap());
            assert_eq!(made.load(Ordering::SeqCst), 1, "round {round}");
        }
    }
}
