//! What `replace_server` code may ask of the runtime beyond its arguments:
//! a hold on the calling process's zero-copy region, and the address of
//! another vendor function.
//!
//! A vendor object can keep a pointer into the process region past the call
//! that gave it (OpenCL's `CL_MEM_USE_HOST_PTR`: the buffer's storage *is*
//! the region block). The region is unmapped once the guest process's
//! socket closes and the last call using it ends, which may be before the
//! vendor frees the object (commands still queued when the process left).
//! A [`ProcessMemoryHold`] keeps the region mapped: the spec hands it to the
//! vendor's destructor callback for the object, which drops it.

#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::sync::Arc;

use super::frame::find;
use super::SERVER;
use crate::transport::shm::ProcessRegion;
use crate::transport::SharedRegion;

thread_local! {
    /// The process region the call this thread is making into the vendor
    /// library named (through a process-region buffer), if any.
    static CALL_REGION: RefCell<Option<Arc<ProcessRegion>>> = const { RefCell::new(None) };
}

/// Runs `f` (a vendor call) with `region` as the call's process region for
/// [`hold_process_memory`]. Free when the call named none (most calls).
pub(super) fn with_call_region<R>(region: Option<&Arc<ProcessRegion>>, f: impl FnOnce() -> R) -> R {
    let Some(region) = region else { return f() };
    let outer = CALL_REGION.with(|r| r.replace(Some(Arc::clone(region))));
    let result = f();
    CALL_REGION.with(|r| *r.borrow_mut() = outer);
    result
}

/// Keeps a guest process's zero-copy region mapped in the API server while
/// it lives, whatever the guest does meanwhile.
#[derive(Debug)]
pub struct ProcessMemoryHold {
    _region: Arc<ProcessRegion>,
}

/// For `replace_server` code: a hold on the calling process's zero-copy
/// region if `len` bytes at `addr` lie wholly inside it, else `None` (the
/// call named no process-region buffer, or `addr` is elsewhere: a buffer
/// the server copied, which lives only as long as the call).
pub fn hold_process_memory(addr: usize, len: usize) -> Option<ProcessMemoryHold> {
    CALL_REGION.with(|r| {
        let region = r.borrow().clone()?;
        let base = region.region_ptr(0, region.region_len()).ok()?;
        find(base.as_ptr(), region.region_len() as usize, addr as u64, len)?;
        Some(ProcessMemoryHold { _region: region })
    })
}

/// For `replace_server` code: the vendor library's function `name` (for a
/// call that needs another function of the library than its own, such as a
/// destructor callback's registration), or `None`.
pub fn vendor_address(name: &str) -> Option<usize> {
    SERVER.get()?.vendor_address(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    #[test]
    fn a_hold_is_given_only_for_memory_inside_the_calls_region() {
        let (a, b) = UnixStream::pair().unwrap();
        let region = Arc::new(ProcessRegion::serve(&a, 1 << 20).unwrap());
        drop(b);
        let base = region.region_ptr(0, 1 << 20).unwrap().as_ptr() as usize;
        assert!(hold_process_memory(base, 16).is_none(), "no call region outside a call");
        with_call_region(Some(&region), || {
            assert!(hold_process_memory(base, 1 << 20).is_some());
            assert!(hold_process_memory(base + 4096, 4096).is_some());
            assert!(hold_process_memory(base + 4096, 1 << 20).is_none(), "runs past the end");
            assert!(hold_process_memory(base.wrapping_sub(64), 128).is_none(), "starts before it");
            assert!(hold_process_memory(usize::MAX - 8, 64).is_none(), "wraps");
            let hold = hold_process_memory(base, 64).unwrap();
            assert_eq!(Arc::strong_count(&region), 3, "the call's and the hold's");
            drop(hold);
        });
        assert!(hold_process_memory(base, 16).is_none(), "the call's region is gone after it");
        assert_eq!(Arc::strong_count(&region), 1);
        with_call_region(None, || assert!(hold_process_memory(base, 16).is_none()));
    }
}
