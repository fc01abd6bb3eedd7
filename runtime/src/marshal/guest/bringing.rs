//! Calls in flight that are bringing back kept buffers, so that a call
//! that finds a buffer taken by another waits until its bytes are in place.

use super::*;

/// Registered buffers (by guest address) that synchronous calls in flight
/// free (`deallocate`), so bring back. The server gives a kept buffer to the
/// first call that claims it; another thread's call that claims it too gets
/// nothing back (a callback bringing back its event's read while another
/// thread's `clFinish` took it; see [`taken_by_another`]). That call waits
/// here until the one that got the bytes has written them into the
/// application's memory, so that whichever call returns first, the data is
/// in place.
#[derive(Debug, Default)]
pub(super) struct Bringing {
    calls: Mutex<HashMap<u64, u32>>,
    done: Condvar,
}

/// Whether `reply`, the answer for an out buffer of `len` bytes that the
/// call frees (a kept buffer it brings back), says that another call in
/// flight took the buffer first, so that this call must wait for that one
/// ([`Bringing::await_gone`]) before it returns. The server answers that in
/// one of two ways, depending on when the other call took the buffer: with
/// no buffer (`Null`), when it was gone before the server read this call,
/// and with no bytes (an empty inline buffer), when both calls found it and
/// the other's reply moved it out first (both calls run the vendor's wait,
/// and whichever finishes first takes the bytes). A kept buffer that this
/// call got comes back whole, inline or staged.
pub(super) fn taken_by_another(reply: &BufferRef<'_>, len: u64) -> bool {
    len != 0
        && match reply {
            BufferRef::Null => true,
            BufferRef::Inline(bytes) => bytes.is_empty(),
            _ => false,
        }
}

/// How long a call waits for another to bring back a buffer both claimed
/// before it gives up (and logs): only a call stuck in its transport takes
/// that long.
pub(super) const BRINGING_WAIT: Duration = Duration::from_secs(30);

impl Bringing {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, u32>> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A call is about to claim `addrs`; ends when the guard drops.
    pub(super) fn start<'b>(&'b self, addrs: &[u64]) -> BringingGuard<'b> {
        let mut calls = self.lock();
        for a in addrs {
            *calls.entry(*a).or_default() += 1;
        }
        BringingGuard { bringing: self, addrs: addrs.to_vec() }
    }

    /// Waits until no call in flight is bringing back any of `addrs`;
    /// false when it waited too long.
    pub(super) fn await_gone(&self, addrs: &[u64]) -> bool {
        let calls = self.lock();
        let (_calls, timeout) = self
            .done
            .wait_timeout_while(calls, BRINGING_WAIT, |calls| addrs.iter().any(|a| calls.contains_key(a)))
            .unwrap_or_else(|e| e.into_inner());
        !timeout.timed_out()
    }
}

/// Ends a call's claim on its buffers (after their bytes are in place, or
/// when the call failed).
pub(super) struct BringingGuard<'b> {
    bringing: &'b Bringing,
    addrs: Vec<u64>,
}

impl Drop for BringingGuard<'_> {
    fn drop(&mut self) {
        let mut calls = self.bringing.lock();
        for a in &self.addrs {
            if let Some(n) = calls.get_mut(a) {
                *n -= 1;
                if *n == 0 {
                    calls.remove(a);
                }
            }
        }
        drop(calls);
        self.bringing.done.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[test]
    fn a_buffer_another_call_took_comes_back_as_nothing_or_as_no_bytes() {
        // gone before the server read this call
        assert!(taken_by_another(&BufferRef::Null, 4096));
        // found by both calls, moved out by the other's reply first: the
        // server answers no bytes (the async_reads section 10 race, where a
        // status query read CL_COMPLETE and returned before the other
        // thread's clFinish had copied the read)
        assert!(taken_by_another(&BufferRef::Inline(&[]), 4096));
        // this call's own bytes
        let bytes = [7u8; 16];
        assert!(!taken_by_another(&BufferRef::Inline(&bytes), 16));
        assert!(!taken_by_another(&BufferRef::Staged { index: 0, len: 4096 }, 4096));
        // an empty buffer has nothing to bring back
        assert!(!taken_by_another(&BufferRef::Null, 0));
        assert!(!taken_by_another(&BufferRef::Inline(&[]), 0));
    }

    /// The status query's side of the race: the call that found the
    /// buffer taken returns only after the one bringing it back has copied
    /// it and ended its claim.
    #[test]
    fn a_call_that_finds_a_buffer_taken_waits_until_the_other_has_copied_it() {
        let bringing = Arc::new(Bringing::default());
        let copied = Arc::new(AtomicBool::new(false));
        let (claimed_tx, claimed_rx) = std::sync::mpsc::channel();
        let other = {
            let (bringing, copied) = (Arc::clone(&bringing), Arc::clone(&copied));
            std::thread::spawn(move || {
                // another thread's clFinish: claims, gets the bytes, copies them slowly
                let guard = bringing.start(&[0x1000, 0x2000]);
                claimed_tx.send(()).unwrap();
                std::thread::sleep(Duration::from_millis(100));
                copied.store(true, Ordering::SeqCst);
                drop(guard);
            })
        };
        claimed_rx.recv().unwrap();
        // this call claimed 0x2000 too and got no bytes for it
        let own = bringing.start(&[0x2000]);
        assert!(taken_by_another(&BufferRef::Inline(&[]), 4096));
        drop(own);
        assert!(bringing.await_gone(&[0x2000]));
        assert!(copied.load(Ordering::SeqCst), "returned before the other call had copied the buffer");
        other.join().unwrap();
        // nothing in flight: no wait
        assert!(bringing.await_gone(&[0x1000, 0x2000]));
    }
}
