//! The one module with unsafe code: the shared mapping and the fork guard.
//!
//! Everything else in the runtime reaches shared memory through the safe,
//! bounds-checked API here, so the invariants below are the whole story.
//!
//! # Invariants
//!
//! 1. A [`SharedMapping`] owns exactly one `mmap` of `len` bytes, made from a
//!    file descriptor that the server sealed against shrinking
//!    (`F_SEAL_SHRINK`), so the pages behind it cannot disappear while it is
//!    mapped (no `SIGBUS` from a peer truncating the file).
//! 2. Every access checks `offset + size <= len` with overflow-checked
//!    arithmetic before forming a pointer.
//! 3. Rust references into the mapping are only ever to atomics
//!    (`&AtomicU32`, `&AtomicU64`), at offsets aligned for them. Bulk bytes
//!    are only copied in or out with `ptr::copy_nonoverlapping`, never
//!    borrowed as `&[u8]`: the peer may write them at any moment (it is
//!    untrusted), and a copy of racing bytes yields garbage that the
//!    bounds-checked decoder rejects, never undefined behaviour in our own
//!    data structures. Our own indices are kept in private memory and only
//!    published to the mapping.
//! 4. The mapping is `MADV_DONTFORK`: a forked child does not have it. Every
//!    operation first checks [`ForkEpoch`], so the child gets an error
//!    instead of touching an unmapped address, and `Drop` in the child does
//!    not `munmap` a range that may since hold something else.

#![allow(unsafe_code)]

use std::io;
use std::os::fd::BorrowedFd;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::OnceLock;

use rustix::mm::{Advice, MapFlags, ProtFlags};

/// A read-write `MAP_SHARED` mapping of a sealed memfd.
#[derive(Debug)]
pub(crate) struct SharedMapping {
    base: NonNull<u8>,
    len: usize,
    epoch: ForkEpoch,
}

// SAFETY: the mapping is plain memory; all access goes through `&self`
// methods that use atomics or copies (invariant 3), which are sound from any
// thread. The raw pointer is the only reason these are not derived.
unsafe impl Send for SharedMapping {}
// SAFETY: as above.
unsafe impl Sync for SharedMapping {}

impl SharedMapping {
    /// Maps `len` bytes of `fd` read-write and shared, and marks the range
    /// `MADV_DONTFORK`. The caller has checked that the file is at least
    /// `len` bytes long and sealed against shrinking (invariant 1).
    pub(crate) fn map(fd: BorrowedFd<'_>, len: usize) -> io::Result<SharedMapping> {
        if len == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty mapping"));
        }
        // SAFETY: a null hint lets the kernel choose a fresh range, so no
        // existing memory is replaced; the result is checked below.
        let addr = unsafe { rustix::mm::mmap(ptr::null_mut(), len, ProtFlags::READ | ProtFlags::WRITE, MapFlags::SHARED, fd, 0) }?;
        let base = NonNull::new(addr.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        let mapping = SharedMapping { base, len, epoch: ForkEpoch::current() };
        // SAFETY: the range is exactly the mapping made above.
        unsafe { rustix::mm::madvise(addr, len, Advice::LinuxDontFork) }?;
        Ok(mapping)
    }

    /// Whether this process created the mapping (and so still has it).
    pub(crate) fn is_ours(&self) -> bool {
        self.epoch == ForkEpoch::current()
    }

    /// `base + offset` if `offset..offset + size` lies inside the mapping.
    fn at(&self, offset: usize, size: usize) -> Option<*mut u8> {
        let end = offset.checked_add(size)?;
        if end > self.len {
            return None;
        }
        // SAFETY: offset <= len, so the result stays inside (or one past)
        // the mapping's allocation.
        Some(unsafe { self.base.as_ptr().add(offset) })
    }

    /// The atomic `u64` at `offset`.
    ///
    /// # Panics
    ///
    /// If `offset` is not 8-aligned or out of bounds: offsets come from the
    /// fixed layout, so that is a bug, not something a peer can cause.
    pub(crate) fn atomic_u64(&self, offset: usize) -> &AtomicU64 {
        assert!(offset.is_multiple_of(8), "misaligned atomic at {offset}");
        let p = self.at(offset, 8).expect("atomic outside the mapping");
        // SAFETY: in bounds, 8-aligned (the base is page-aligned), valid for
        // the lifetime of `&self` (the mapping outlives the borrow), and
        // only accessed atomically by both sides (invariant 3).
        unsafe { AtomicU64::from_ptr(p.cast::<u64>()) }
    }

    /// The atomic `u32` at `offset` (same rules as [`Self::atomic_u64`]).
    pub(crate) fn atomic_u32(&self, offset: usize) -> &AtomicU32 {
        assert!(offset.is_multiple_of(4), "misaligned atomic at {offset}");
        let p = self.at(offset, 4).expect("atomic outside the mapping");
        // SAFETY: as for atomic_u64, with 4-byte alignment.
        unsafe { AtomicU32::from_ptr(p.cast::<u32>()) }
    }

    /// Copies `src` into the mapping at `offset`; `None` if it does not fit.
    pub(crate) fn copy_in(&self, offset: usize, src: &[u8]) -> Option<()> {
        let dst = self.at(offset, src.len())?;
        // SAFETY: `dst..dst + src.len()` is inside the mapping (checked by
        // `at`), `src` is private memory so the ranges cannot overlap, and
        // no Rust reference to these bytes exists (invariant 3).
        unsafe { ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) };
        Some(())
    }

    /// Copies bytes at `offset` out of the mapping into `dst`; `None` if
    /// the range is outside it.
    pub(crate) fn copy_out(&self, offset: usize, dst: &mut [u8]) -> Option<()> {
        let src = self.at(offset, dst.len())?;
        // SAFETY: as for copy_in, in the other direction.
        unsafe { ptr::copy_nonoverlapping(src, dst.as_mut_ptr(), dst.len()) };
        Some(())
    }

    /// A raw pointer to `len` bytes at `offset`, for handing a zero-copy
    /// buffer to a vendor function. Getting it is safe; using it is the
    /// (generated, unsafe) FFI code's business, under invariant 3.
    pub(crate) fn raw(&self, offset: usize, len: usize) -> Option<NonNull<u8>> {
        self.at(offset, len).and_then(NonNull::new)
    }
}

impl Drop for SharedMapping {
    fn drop(&mut self) {
        // In a forked child the range is not mapped (MADV_DONTFORK) and may
        // have been reused since: leave it alone (invariant 4).
        if self.is_ours() {
            // SAFETY: the range is exactly our mapping, and no reference into
            // it outlives `self` (atomics are borrowed from `&self`).
            let _ = unsafe { rustix::mm::munmap(self.base.as_ptr().cast(), self.len) };
        }
    }
}

/// Identifies the process (in its fork lineage) without a system call.
///
/// One private page per process is marked `MADV_WIPEONFORK` and holds the
/// process's epoch number; in a forked child the kernel hands back that page
/// zeroed, so the child sees 0, picks a new epoch, and every channel created
/// by its parent (which recorded the old epoch) refuses to work. Checking is
/// one load. Where the kernel lacks `MADV_WIPEONFORK` (before 4.14) the
/// epoch falls back to the process id, at one `getpid` per check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ForkEpoch(u32);

/// The next epoch to hand out. Ordinary memory: a child inherits the
/// parent's counter, so its epoch is always larger than any its parent used.
static NEXT_EPOCH: AtomicU32 = AtomicU32::new(1);
/// Address of the wipe-on-fork page, or 0 where the kernel has none.
static GUARD_PAGE: OnceLock<usize> = OnceLock::new();

impl ForkEpoch {
    pub(crate) fn current() -> ForkEpoch {
        let page = *GUARD_PAGE.get_or_init(map_guard_page);
        if page == 0 {
            return ForkEpoch(rustix::process::getpid().as_raw_nonzero().get() as u32 | 0x8000_0000);
        }
        // SAFETY: the page is mapped once per process and never unmapped; a
        // forked child keeps the mapping (zeroed), so the address stays
        // valid for the process's life. It is 4-aligned (page-aligned) and
        // only accessed atomically.
        let cell = unsafe { AtomicU32::from_ptr(page as *mut u32) };
        match cell.load(Ordering::Acquire) {
            0 => {
                let fresh = NEXT_EPOCH.fetch_add(1, Ordering::Relaxed);
                match cell.compare_exchange(0, fresh, Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => ForkEpoch(fresh),
                    Err(other) => ForkEpoch(other),
                }
            }
            epoch => ForkEpoch(epoch),
        }
    }
}

fn map_guard_page() -> usize {
    const PAGE: usize = 4096;
    // SAFETY: a fresh anonymous private mapping at a kernel-chosen address
    // replaces nothing.
    let Ok(addr) = (unsafe { rustix::mm::mmap_anonymous(ptr::null_mut(), PAGE, ProtFlags::READ | ProtFlags::WRITE, MapFlags::PRIVATE) })
    else {
        return 0;
    };
    // SAFETY: the range is exactly the page mapped above.
    if unsafe { rustix::mm::madvise(addr, PAGE, Advice::LinuxWipeOnFork) }.is_err() {
        // SAFETY: the page mapped above, never shared with anyone.
        let _ = unsafe { rustix::mm::munmap(addr, PAGE) };
        return 0;
    }
    addr as usize
}
