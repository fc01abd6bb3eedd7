//! Calls in flight that are bringing back kept buffers, so that a call
//! that finds a buffer taken by another waits until its bytes are in place.

use super::*;

/// Registered buffers (by guest address) that synchronous calls in flight
/// free (`deallocate`), so bring back. The server gives a kept buffer to the
/// first call that claims it; another thread's call that claims it too gets
/// nothing back (a callback bringing back its event's read while another
/// thread's `clFinish` took it). That call waits here until the one that
/// got the bytes has written them into the application's memory, so that
/// whichever call returns first, the data is in place.
#[derive(Debug, Default)]
pub(super) struct Bringing {
    calls: Mutex<HashMap<u64, u32>>,
    done: Condvar,
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
