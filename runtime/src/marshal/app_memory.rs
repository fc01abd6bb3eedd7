//! The guest's access to the application's memory: the only unsafe code on
//! the guest side.
//!
//! The guest library reads and writes exactly the bytes the spec says a
//! call uses, at addresses the application passed to that call, as the
//! vendor library itself would: the application's promise to the real
//! library (this pointer is valid for this many bytes) is the promise these
//! accesses rely on. A null address is refused here; any other bad address
//! faults in the application, as it would natively.

#![allow(unsafe_code)]

use super::eval::EvalError;

/// Copies `dst.len()` bytes at `addr` into `dst`.
pub fn read(addr: u64, dst: &mut [u8]) -> Result<(), EvalError> {
    if dst.is_empty() {
        return Ok(());
    }
    if addr == 0 {
        return Err(EvalError::Null);
    }
    // SAFETY: the application passed `addr` for a call whose spec makes
    // `dst.len()` bytes there readable (see the module comment); `dst` is a
    // distinct Rust buffer, so the ranges do not overlap.
    unsafe { std::ptr::copy_nonoverlapping(addr as usize as *const u8, dst.as_mut_ptr(), dst.len()) };
    Ok(())
}

/// Copies `src` to `addr`.
pub fn write(addr: u64, src: &[u8]) -> Result<(), EvalError> {
    if src.is_empty() {
        return Ok(());
    }
    if addr == 0 {
        return Err(EvalError::Null);
    }
    // SAFETY: as for `read`: the spec makes these bytes an out buffer the
    // application handed to this call (or guest-owned metadata).
    unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), addr as usize as *mut u8, src.len()) };
    Ok(())
}

/// The generated function that calls an application's callback with the C
/// signature of plan callback `callback`.
///
/// # Safety
/// `function` must be a function pointer of that callback's type, and
/// `args` must hold one raw word per parameter.
pub type Invoke = unsafe fn(callback: u32, function: usize, args: &[u64]) -> u64;

/// Runs the application's callback `function` (of plan callback `callback`).
pub fn invoke(invoker: Invoke, callback: u32, function: usize, args: &[u64]) -> u64 {
    // SAFETY: `function` is a pointer the application passed to the library
    // as a callback of type `callback` (the guest registered it with that
    // type, and the registration id it looked up says so), `invoker` was
    // generated from the same plan, and the guest built one word per
    // parameter. Calling it is what the vendor library would do.
    unsafe { invoker(callback, function, args) }
}

/// Copies `len` application bytes at `addr` into the zero-copy region at
/// `region` (a pointer the transport checked for `len` bytes).
pub fn copy_to_region(addr: u64, region: std::ptr::NonNull<u8>, len: usize) -> Result<(), EvalError> {
    if len == 0 {
        return Ok(());
    }
    if addr == 0 {
        return Err(EvalError::Null);
    }
    // SAFETY: the source is the application's buffer for this call (see the
    // module comment); the destination is `len` bytes of the shared mapping,
    // which `SharedRegion::region_ptr` checked. The server only reads the
    // block after the message naming it arrives, and no Rust reference to
    // the mapping exists, so a racing peer cannot cause undefined behaviour
    // here, only wrong bytes in its own call.
    unsafe { std::ptr::copy_nonoverlapping(addr as usize as *const u8, region.as_ptr(), len) };
    Ok(())
}

/// Copies `len` bytes of the zero-copy region at `region` into the
/// application's out buffer at `addr`.
pub fn copy_from_region(region: std::ptr::NonNull<u8>, addr: u64, len: usize) -> Result<(), EvalError> {
    if len == 0 {
        return Ok(());
    }
    if addr == 0 {
        return Err(EvalError::Null);
    }
    // SAFETY: as for `copy_to_region`, the other way round: the destination
    // is the application's out buffer of this call.
    unsafe { std::ptr::copy_nonoverlapping(region.as_ptr(), addr as usize as *mut u8, len) };
    Ok(())
}
