//! A single-producer, single-consumer byte ring in shared memory, shaped
//! like a WarpDrive queue: the data path is plain loads, stores and copies;
//! a side that finds nothing to do spins briefly, then sleeps on a futex
//! doorbell that the other side rings only when someone is asleep (and,
//! for a producer asleep on a full ring, only once a quarter of the ring is
//! free again, so that a consumer slower than its producer is not woken
//! for every message).
//!
//! Each side keeps its own index in private memory and only *publishes* it
//! to the mapping; the other side's index is read, validated (never more
//! than `capacity` apart from ours) and cached. A peer that writes nonsense
//! into the indices gets [`TransportError::Protocol`], never an
//! out-of-bounds copy. The ring positions are the allocator: the producer
//! can only write bytes the consumer has released, so nothing in flight is
//! ever overwritten.
//!
//! Messages travel as a u32 little-endian length and the bytes, streamed:
//! a message larger than the ring goes through in pieces while the consumer
//! drains it.

#![forbid(unsafe_code)]

use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rustix::thread::futex;

use super::mem::SharedMapping;
use crate::transport::spin::SpinBudget;
use crate::transport::TransportError;

/// Control words of one ring, relative to its base. The producer's line and
/// the consumer's line are 128 bytes apart, so neither side's writes evict
/// the other's (adjacent-line prefetch pairs 64-byte lines).
const HEAD: usize = 0; // u64, written by the producer
const DATA_SEQ: usize = 8; // u32 futex word, bumped by the producer
const PRODUCER_WAITING: usize = 12; // u32, room (bytes) a producer asleep on a full ring waits for
const TAIL: usize = 128; // u64, written by the consumer
const SPACE_SEQ: usize = 136; // u32 futex word, bumped by the consumer
const CONSUMER_WAITING: usize = 140; // u32, set by a consumer asleep on an empty ring
/// Bytes of control words before the ring's data.
pub(crate) const RING_HEADER: usize = 256;

/// The longest a sleeper waits before checking that its peer is alive.
const LIVENESS_SLICE: Duration = Duration::from_millis(20);
const PREFIX: usize = 4;
/// Polls of pure spinning (a few microseconds) before the spin loop starts
/// yielding the core between polls.
const PURE_SPINS: u32 = 2048;

/// Where one ring lives in the mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RingPlace {
    /// Offset of the control words; data follows at `base + RING_HEADER`.
    pub base: usize,
    /// Data bytes, a power of two.
    pub capacity: usize,
}

/// How to wait when the ring is empty (or full).
pub(crate) struct Wait<'a> {
    /// Poll at most this long before sleeping (each side adapts within it).
    pub spin: Duration,
    /// Give up at this instant (`None`: wait as long as the peer lives).
    pub deadline: Option<Instant>,
    /// Fails when the peer is gone; called after each sleep.
    pub alive: &'a dyn Fn() -> Result<(), TransportError>,
}

/// What a side waits for: `ready` says whether a value of the peer's index
/// lets it go on; `announce` (non-zero) is what it stores in its waiting
/// word while asleep, for the peer to decide whether to ring.
struct Until<'r> {
    ready: &'r dyn Fn(u64) -> bool,
    announce: u32,
}

/// Waits until `value` is ready; `None` when the deadline passed.
fn wait_until(
    value: &AtomicU64,
    until: Until<'_>,
    seq: &AtomicU32,
    waiting: &AtomicU32,
    budget: &mut SpinBudget,
    wait: &Wait<'_>,
) -> Result<Option<u64>, TransportError> {
    let spin = budget.get(wait.spin);
    let start = Instant::now();
    let mut spins = 0u32;
    loop {
        let v = value.load(Ordering::Acquire);
        if (until.ready)(v) {
            budget.succeeded(wait.spin);
            return Ok(Some(v));
        }
        spins = spins.wrapping_add(1);
        if spins < PURE_SPINS {
            std::hint::spin_loop();
        } else {
            // The peer is slower than a busy round trip: from here on give
            // the core away on each turn, so that a peer waiting for this
            // core (two cores, other work) runs now rather than after our
            // spin budget.
            std::thread::yield_now();
        }
        // reading the clock is a vDSO call, not a system call, but not free
        if spins.is_multiple_of(64) && start.elapsed() >= spin {
            break;
        }
    }
    budget.failed(wait.spin);
    loop {
        // Eventcount: read the sequence, announce the sleep, re-check, then
        // sleep only if the sequence has not moved. The producer's publish
        // does store-index, fence, load-waiting; ours is store-waiting,
        // fence, load-index: one of us sees the other.
        let seq_now = seq.load(Ordering::Acquire);
        waiting.store(until.announce, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        let v = value.load(Ordering::Acquire);
        if (until.ready)(v) {
            waiting.store(0, Ordering::Relaxed);
            return Ok(Some(v));
        }
        let slice = match wait.deadline {
            None => LIVENESS_SLICE,
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => left.min(LIVENESS_SLICE),
                _ => {
                    waiting.store(0, Ordering::Relaxed);
                    return Ok(None);
                }
            },
        };
        let timeout = futex::Timespec { tv_sec: slice.as_secs() as i64, tv_nsec: i64::from(slice.subsec_nanos()) };
        // EAGAIN (the sequence moved), ETIMEDOUT and EINTR all mean "look again"
        let _ = futex::wait(seq, futex::Flags::empty(), seq_now, Some(&timeout));
        waiting.store(0, Ordering::Relaxed);
        if let Err(gone) = (wait.alive)() {
            // the peer may have published its last message and left (a
            // thread's asynchronous calls, then the thread's exit): what it
            // published is still due
            let v = value.load(Ordering::Acquire);
            return if (until.ready)(v) { Ok(Some(v)) } else { Err(gone) };
        }
    }
}

/// Publishes `new` in `value` and rings the doorbell if the other side sleeps.
fn publish(value: &AtomicU64, new: u64, seq: &AtomicU32, waiting: &AtomicU32) {
    value.store(new, Ordering::Release);
    fence(Ordering::SeqCst);
    if waiting.load(Ordering::Relaxed) != 0 {
        ring_doorbell(seq);
    }
}

fn ring_doorbell(seq: &AtomicU32) {
    seq.fetch_add(1, Ordering::Release);
    // not PRIVATE: the futex word is in a mapping shared with another process
    let _ = futex::wake(seq, futex::Flags::empty(), 1);
}

/// The writing side of a ring.
#[derive(Debug)]
pub(crate) struct Producer {
    place: RingPlace,
    /// Our index: bytes ever written. Private; the mapping only gets copies.
    head: u64,
    /// The last consumer index we read (and validated).
    tail_seen: u64,
    published: u64,
    budget: SpinBudget,
}

impl Producer {
    pub(crate) fn new(place: RingPlace) -> Producer {
        Producer { place, head: 0, tail_seen: 0, published: 0, budget: SpinBudget::new() }
    }

    fn cap(&self) -> u64 {
        self.place.capacity as u64
    }

    /// Reads the consumer's index and checks it is within a ring of ours.
    fn refresh(&mut self, mem: &SharedMapping) -> Result<(), TransportError> {
        let tail = mem.atomic_u64(self.place.base + TAIL).load(Ordering::Acquire);
        if self.head.wrapping_sub(tail) > self.cap() {
            return Err(TransportError::Protocol("consumer index out of range"));
        }
        self.tail_seen = tail;
        Ok(())
    }

    fn publish(&mut self, mem: &SharedMapping) {
        let b = self.place.base;
        publish(mem.atomic_u64(b + HEAD), self.head, mem.atomic_u32(b + DATA_SEQ), mem.atomic_u32(b + CONSUMER_WAITING));
        self.published = self.head;
    }

    /// Writes one framed message (length prefix, then `message`).
    pub(crate) fn send(&mut self, mem: &SharedMapping, message: &[u8], wait: &Wait<'_>) -> Result<(), TransportError> {
        let len = u32::try_from(message.len()).map_err(|_| TransportError::TooLarge { len: message.len() as u64, max: u32::MAX.into() })?;
        let frame = (PREFIX + message.len()) as u64;
        if frame <= (self.cap() / 4).max(1) && frame <= self.cap() - (self.head - self.tail_seen) {
            // the usual small call, with room for it known: written whole
            // and published once, without `write`'s steps and waits
            self.copy_in(mem, &len.to_le_bytes());
            self.head += PREFIX as u64;
            self.copy_in(mem, message);
            self.head += message.len() as u64;
            self.publish(mem);
            return Ok(());
        }
        self.write(mem, &len.to_le_bytes(), wait)?;
        self.write(mem, message, wait)?;
        self.publish(mem);
        Ok(())
    }

    fn write(&mut self, mem: &SharedMapping, mut bytes: &[u8], wait: &Wait<'_>) -> Result<(), TransportError> {
        let cap = self.cap();
        // publish large messages in quarter-ring steps, so the consumer
        // copies out while we copy in
        let step = (cap / 4).max(1);
        while !bytes.is_empty() {
            let mut free = cap - (self.head - self.tail_seen);
            if free == 0 {
                self.refresh(mem)?;
                free = cap - (self.head - self.tail_seen);
            }
            if free == 0 {
                self.publish(mem);
                let b = self.place.base;
                // Wait for a quarter of the ring, not for the next message
                // the consumer takes: waking for every message turned a
                // full ring into a futex ping-pong, two system calls and
                // two context switches per queued call.
                let want = (cap / 4).clamp(1, u64::from(u32::MAX));
                let head = self.head;
                let room = move |tail: u64| head.wrapping_sub(tail) > cap || cap - (head - tail) >= want;
                let moved = wait_until(
                    mem.atomic_u64(b + TAIL),
                    Until { ready: &room, announce: want as u32 },
                    mem.atomic_u32(b + SPACE_SEQ),
                    mem.atomic_u32(b + PRODUCER_WAITING),
                    &mut self.budget,
                    wait,
                )?;
                if moved.is_none() {
                    return Err(TransportError::Stalled);
                }
                self.refresh(mem)?;
                continue;
            }
            let n = free.min(bytes.len() as u64) as usize;
            self.copy_in(mem, &bytes[..n]);
            self.head += n as u64;
            bytes = &bytes[n..];
            if self.head - self.published >= step {
                self.publish(mem);
            }
        }
        Ok(())
    }

    /// Copies `bytes` (at most the free space) to the ring at `head`,
    /// wrapping at the end.
    fn copy_in(&self, mem: &SharedMapping, bytes: &[u8]) {
        let data = self.place.base + RING_HEADER;
        let at = (self.head % self.cap()) as usize;
        let first = bytes.len().min(self.place.capacity - at);
        // in bounds by construction: at < capacity, first <= capacity - at
        mem.copy_in(data + at, &bytes[..first]).expect("ring write inside the mapping");
        if first < bytes.len() {
            mem.copy_in(data, &bytes[first..]).expect("ring write inside the mapping");
        }
    }

    #[cfg(test)]
    pub(crate) fn scribble_head(&self, mem: &SharedMapping, value: u64) {
        mem.atomic_u64(self.place.base + HEAD).store(value, Ordering::Release);
    }

    #[cfg(test)]
    pub(crate) fn send_raw(&mut self, mem: &SharedMapping, bytes: &[u8], wait: &Wait<'_>) -> Result<(), TransportError> {
        self.write(mem, bytes, wait)?;
        self.publish(mem);
        Ok(())
    }

    /// Wakes a consumer asleep on this ring (used when closing, so it
    /// notices at once).
    pub(crate) fn wake_peer(&self, mem: &SharedMapping) {
        ring_doorbell(mem.atomic_u32(self.place.base + DATA_SEQ));
    }
}

/// The reading side of a ring.
#[derive(Debug)]
pub(crate) struct Consumer {
    place: RingPlace,
    /// Our index: bytes ever consumed. Private.
    tail: u64,
    /// The last producer index we read (and validated).
    head_seen: u64,
    published: u64,
    budget: SpinBudget,
}

/// How a wait for more bytes ended.
enum Fill {
    Ready,
    Expired,
}

impl Consumer {
    pub(crate) fn new(place: RingPlace) -> Consumer {
        Consumer { place, tail: 0, head_seen: 0, published: 0, budget: SpinBudget::new() }
    }

    fn cap(&self) -> u64 {
        self.place.capacity as u64
    }

    fn refresh(&mut self, mem: &SharedMapping) -> Result<(), TransportError> {
        let head = mem.atomic_u64(self.place.base + HEAD).load(Ordering::Acquire);
        if head.wrapping_sub(self.tail) > self.cap() {
            return Err(TransportError::Protocol("producer index out of range"));
        }
        self.head_seen = head;
        Ok(())
    }

    fn publish(&mut self, mem: &SharedMapping) {
        if self.published != self.tail {
            let b = self.place.base;
            mem.atomic_u64(b + TAIL).store(self.tail, Ordering::Release);
            fence(Ordering::SeqCst);
            // a sleeping producer said how much room it waits for
            let want = mem.atomic_u32(b + PRODUCER_WAITING).load(Ordering::Relaxed);
            if want != 0 {
                let in_ring = mem.atomic_u64(b + HEAD).load(Ordering::Acquire).wrapping_sub(self.tail);
                // a head out of range is the producer's own problem: wake it to find out
                if in_ring > self.cap() || self.cap() - in_ring >= u64::from(want) {
                    ring_doorbell(mem.atomic_u32(b + SPACE_SEQ));
                }
            }
            self.published = self.tail;
        }
    }

    /// Makes at least one byte available, waiting if needed.
    fn fill(&mut self, mem: &SharedMapping, wait: &Wait<'_>) -> Result<Fill, TransportError> {
        if self.head_seen != self.tail {
            return Ok(Fill::Ready);
        }
        self.refresh(mem)?;
        if self.head_seen != self.tail {
            return Ok(Fill::Ready);
        }
        // let a producer blocked on a full ring go on before we sleep
        self.publish(mem);
        let b = self.place.base;
        let seen = self.head_seen;
        let moved = wait_until(
            mem.atomic_u64(b + HEAD),
            Until { ready: &move |head| head != seen, announce: 1 },
            mem.atomic_u32(b + DATA_SEQ),
            mem.atomic_u32(b + CONSUMER_WAITING),
            &mut self.budget,
            wait,
        )?;
        match moved {
            None => Ok(Fill::Expired),
            Some(_) => {
                self.refresh(mem)?;
                Ok(Fill::Ready)
            }
        }
    }

    /// Copies up to `dst.len()` available bytes out; returns how many.
    fn take(&mut self, mem: &SharedMapping, dst: &mut [u8]) -> usize {
        let n = ((self.head_seen - self.tail) as usize).min(dst.len());
        let data = self.place.base + RING_HEADER;
        let at = (self.tail % self.cap()) as usize;
        let first = n.min(self.place.capacity - at);
        mem.copy_out(data + at, &mut dst[..first]).expect("ring read inside the mapping");
        if first < n {
            mem.copy_out(data, &mut dst[first..n]).expect("ring read inside the mapping");
        }
        self.tail += n as u64;
        if self.tail - self.published >= (self.cap() / 4).max(1) {
            self.publish(mem);
        }
        n
    }

    /// Receives one message into `buf`. A deadline that passes before the
    /// message starts is `TimedOut`; one that passes in the middle is
    /// `Stalled` (the caller closes the channel).
    pub(crate) fn recv(&mut self, mem: &SharedMapping, buf: &mut Vec<u8>, max: usize, wait: &Wait<'_>) -> Result<(), TransportError> {
        let mut prefix = [0u8; PREFIX];
        let mut got = 0;
        if self.head_seen - self.tail >= PREFIX as u64 {
            // a queued message: when it is all in the ring already (the
            // usual small call behind others), it is taken in one copy
            got = self.take(mem, &mut prefix);
            let len = u32::from_le_bytes(prefix) as usize;
            if len <= max && self.head_seen - self.tail >= len as u64 {
                buf.truncate(len);
                buf.resize(len, 0);
                self.take(mem, buf);
                self.after_message(mem);
                return Ok(());
            }
        }
        while got < PREFIX {
            if let Fill::Expired = self.fill(mem, wait)? {
                return Err(if got == 0 { TransportError::TimedOut(Duration::ZERO) } else { TransportError::Stalled });
            }
            got += self.take(mem, &mut prefix[got..]);
        }
        let len = u32::from_le_bytes(prefix) as usize;
        if len > max {
            return Err(TransportError::FrameTooLarge { len: len as u64, max: max as u64 });
        }
        // reuse the caller's allocation; grow only as bytes arrive, so a
        // lying length costs memory in proportion to what was really sent
        buf.truncate(len);
        let mut got = 0;
        while got < len {
            if let Fill::Expired = self.fill(mem, wait)? {
                return Err(TransportError::Stalled);
            }
            let available = (self.head_seen - self.tail) as usize;
            let want = (len - got).min(available);
            if buf.len() < got + want {
                buf.resize((got + want).max(got.saturating_mul(2)).min(len), 0);
            }
            got += self.take(mem, &mut buf[got..got + want]);
        }
        self.after_message(mem);
        Ok(())
    }

    /// A producer waiting for room hears of it now. Otherwise the tail is
    /// published every quarter of the ring (`take`) and before this side
    /// sleeps (`fill`): publishing it after every message cost a fence, and
    /// a cache line the producer then fetched again, per message of a
    /// stream of small calls.
    fn after_message(&mut self, mem: &SharedMapping) {
        if mem.atomic_u32(self.place.base + PRODUCER_WAITING).load(Ordering::Relaxed) != 0 {
            self.publish(mem);
        }
    }

    /// Wakes a producer asleep on this ring (used when closing).
    pub(crate) fn wake_peer(&self, mem: &SharedMapping) {
        ring_doorbell(mem.atomic_u32(self.place.base + SPACE_SEQ));
    }
}
