//! `zerocopy_alloc` and `zerocopy_free`, guest side: the process region and
//! its allocator.
//!
//! The first `zerocopy_alloc` of a process opens one more connection to the
//! API server (selector `Z`, then the usual hello with the process's
//! number), over which the server sends the process region (see
//! [`ProcessRegion`]). The application gets pointers into it; a buffer that
//! lies wholly inside it is sent as a process-region descriptor, whatever
//! the transport of the channel that sends it, and the vendor library reads
//! and writes it in place.
//!
//! The allocator's bookkeeping is private to the guest (the server never
//! allocates), behind one lock, so any thread may allocate and free. A full
//! region fails the allocation (NULL to the application) rather than
//! reusing anything. A forked child does not have its parent's mapping
//! (`MADV_DONTFORK`): its first `zerocopy_alloc` gets a region of its own,
//! and its parent's pointers are never taken for region buffers.

#![forbid(unsafe_code)]

use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags};

use crate::transport::shm::{ProcessRegion, RegionAllocator};
use crate::transport::SharedRegion;

/// One process's region and what of it is allocated.
#[derive(Debug)]
struct Zone {
    region: ProcessRegion,
    allocator: RegionAllocator,
    /// Kept open: the server holds the region while it is.
    socket: UnixStream,
    /// The API server that made the region is gone (restarted, or replaced
    /// by a migration): its successor does not know the region, so buffers
    /// in it are copied like any other from now on.
    orphaned: bool,
}

static ZONE: Mutex<Option<Zone>> = Mutex::new(None);
/// Whether this process (or its parent) ever had a zone: spares buffers of
/// programs that never call `zerocopy_alloc` the lock.
static EVER: AtomicBool = AtomicBool::new(false);

fn zone() -> std::sync::MutexGuard<'static, Option<Zone>> {
    ZONE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Allocates `len` bytes in the process region, opening it on first use
/// with `open` (which connects with selector `Z` and shakes hands). The
/// address, or why there is none.
pub(super) fn alloc(len: u64, open: impl FnOnce() -> Result<UnixStream, String>) -> Result<u64, String> {
    let mut slot = zone();
    if slot.as_ref().is_some_and(|z| !z.region.is_ours()) {
        // a forked child: the parent's region is not mapped here
        *slot = None;
    }
    if slot.is_none() {
        let socket = open()?;
        let region = ProcessRegion::receive(&socket, Duration::from_secs(30)).map_err(|e| e.to_string())?;
        let allocator = RegionAllocator::new(SharedRegion::region_len(&region));
        *slot = Some(Zone { region, allocator, socket, orphaned: false });
        EVER.store(true, Ordering::Release);
    }
    let zone = slot.as_mut().expect("opened above");
    let base = zone.region.base().ok_or("the zero-copy region has no address")?.as_ptr() as u64;
    match zone.allocator.alloc(len) {
        Some(block) => Ok(base + block.offset()),
        None => Err(format!(
            "the zero-copy region is full ({} of {} bytes in use; {len} more asked for)",
            zone.allocator.live_bytes(),
            SharedRegion::region_len(&zone.region)
        )),
    }
}

/// The region could not be set up for this process (refused, or a server
/// without one): [`try_alloc`] does not ask again.
static UNAVAILABLE: AtomicBool = AtomicBool::new(false);

/// [`alloc`] for memory the runtime wants for its own ends, where the
/// region is an optimisation: `None` when full, and from then on at once
/// when the region cannot be set up, so a caller that falls back to copying
/// does not pay a connection attempt per call.
pub(super) fn try_alloc(len: u64, open: impl FnOnce() -> Result<UnixStream, String>) -> Option<u64> {
    if UNAVAILABLE.load(Ordering::Relaxed) {
        return None;
    }
    let result = alloc(len, open);
    if result.is_err() && zone().is_none() {
        UNAVAILABLE.store(true, Ordering::Relaxed);
    }
    result.ok()
}

/// Frees what [`alloc`] returned at `addr`. `Err` for an address it did not
/// return (or already freed), which is then left alone.
pub(super) fn free(addr: u64) -> Result<(), String> {
    if addr == 0 {
        return Ok(());
    }
    let mut slot = zone();
    let Some(zone) = slot.as_mut().filter(|z| z.region.is_ours()) else {
        return Err(format!("zerocopy_free({addr:#x}): this process has no zero-copy region"));
    };
    match zone.region.offset_of(addr, 0) {
        Some(offset) if zone.allocator.free_at(offset) => Ok(()),
        _ => Err(format!("zerocopy_free({addr:#x}): not an address zerocopy_alloc returned, or freed already")),
    }
}

/// The offset in this process's region of `len` bytes at `addr`, if they
/// lie wholly inside it: such a buffer travels as a descriptor, uncopied.
pub(super) fn offset_of(addr: u64, len: u64) -> Option<u64> {
    if !EVER.load(Ordering::Acquire) || addr == 0 {
        return None;
    }
    zone().as_ref().filter(|z| !z.orphaned)?.region.offset_of(addr, len)
}

/// Called when a channel is opened (after the server may have changed):
/// if the server that made the region has hung up its socket, the region
/// is orphaned. Its memory stays the application's; it is just copied.
pub(super) fn check_server() {
    if !EVER.load(Ordering::Acquire) {
        return;
    }
    if let Some(zone) = zone().as_mut().filter(|z| !z.orphaned && z.region.is_ours()) {
        let mut fds = [PollFd::new(&zone.socket, PollFlags::RDHUP)];
        let zero = rustix::event::Timespec { tv_sec: 0, tv_nsec: 0 };
        if matches!(rustix::event::poll(&mut fds, Some(&zero)), Ok(n) if n > 0) {
            zone.orphaned = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A guest zone served by a region made in this process.
    fn serve() -> Result<UnixStream, String> {
        let (a, b) = UnixStream::pair().map_err(|e| e.to_string())?;
        std::thread::spawn(move || {
            let _region = ProcessRegion::serve(&b, 1 << 20).unwrap();
            // hold the server's end until the guest hangs up
            let _ = std::io::Read::read(&mut &b, &mut [0u8; 1]);
        });
        Ok(a)
    }

    // One test: the zone is process-wide state.
    #[test]
    fn allocations_lie_in_the_region_are_found_and_are_refused_when_it_is_full() {
        assert_eq!(offset_of(0x1000, 1), None, "no zone yet");
        assert!(free(0x1000).is_err());
        let a = alloc(1000, serve).unwrap();
        let b = alloc(5000, || Err("opened once only".into())).unwrap();
        assert_ne!(a, b);
        let (oa, ob) = (offset_of(a, 1000).unwrap(), offset_of(b, 5000).unwrap());
        assert!(oa + 1000 <= ob || ob + 5000 <= oa, "blocks overlap");
        assert_eq!(offset_of(b + 10, 100).unwrap() - offset_of(b, 0).unwrap(), 10);
        assert_eq!(offset_of(a, 1 << 21), None, "runs past the region");
        assert_eq!(offset_of(1, 8), None);
        let full = alloc(1 << 20, || Err("unused".into())).unwrap_err();
        assert!(full.contains("full"), "{full}");
        assert!(free(a + 64).is_err(), "not a block's start");
        free(a).unwrap();
        assert!(free(a).is_err(), "freed twice");
        free(b).unwrap();
        free(0).unwrap();
        // everything free again: the whole region in one block
        let all = alloc(1 << 20, || Err("unused".into())).unwrap();
        free(all).unwrap();
        // the server goes away: the memory stays usable, but is no longer sent as region buffers
        let p = alloc(100, || Err("unused".into())).unwrap();
        assert!(offset_of(p, 100).is_some());
        zone().as_ref().unwrap().socket.shutdown(std::net::Shutdown::Read).unwrap();
        check_server();
        assert_eq!(offset_of(p, 100), None, "an orphaned region is not sent by offset");
        free(p).unwrap();
        zone().as_mut().unwrap().orphaned = false;
        // many threads at once
        let threads: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    for n in 1..200u64 {
                        let p = alloc(n * 16, || Err("unused".into())).unwrap();
                        assert!(offset_of(p, n * 16).is_some());
                        free(p).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }
}
