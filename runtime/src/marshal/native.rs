//! The API server's access to the vendor library: loading it, finding its
//! functions, and calling them through the generated dispatcher. The only
//! unsafe code on the server side.

#![allow(unsafe_code)]

/// The generated dispatcher: calls function `id` of the plan at address
/// `address` with raw argument words, returning the raw result.
///
/// # Safety
/// `address` must be the vendor library's function named by plan function
/// `id`, and `args` must hold one word per parameter.
pub type Dispatch = unsafe fn(id: u32, address: usize, args: &[u64]) -> u64;

/// The vendor library, loaded with `dlopen`.
#[derive(Debug)]
pub struct VendorLibrary {
    library: libloading::Library,
}

impl VendorLibrary {
    pub fn open(path: &str) -> Result<VendorLibrary, String> {
        // SAFETY: loading runs the library's initializers; the operator chose
        // this library as the implementation of the API the server serves.
        let library = unsafe { libloading::Library::new(path) }.map_err(|e| format!("cannot load {path}: {e}"))?;
        Ok(VendorLibrary { library })
    }

    /// The address of function `name`, if the library exports it.
    pub fn address(&self, name: &str) -> Option<usize> {
        // SAFETY: the symbol is only turned into an address here; it is
        // called through `call` with the signature the spec gives it.
        let symbol = unsafe { self.library.get::<unsafe extern "C" fn()>(name.as_bytes()) }.ok()?;
        Some(*symbol as usize)
    }
}

/// Runs one call of the vendor library.
pub fn call(dispatch: Dispatch, id: u32, address: usize, args: &[u64]) -> u64 {
    // SAFETY: `address` came from `VendorLibrary::address` for the name of
    // plan function `id` (see `server::Shared::new`), the dispatcher was
    // generated from the same plan, and the server built `args` from that
    // plan's parameters.
    unsafe { dispatch(id, address, args) }
}

/// Copies `dst.len()` bytes of the vendor library's memory at `addr`: a
/// buffer a vendor function returned (such as a status string it owns),
/// sized by the spec's expression for that result.
pub fn read_vendor(addr: u64, dst: &mut [u8]) {
    if addr == 0 || dst.is_empty() {
        return;
    }
    // SAFETY: `addr` is a pointer the vendor library just returned, and the
    // spec (trusted, written by the operator) says how many bytes there are
    // readable; the library's own contract with its callers is the same.
    unsafe { std::ptr::copy_nonoverlapping(addr as usize as *const u8, dst.as_mut_ptr(), dst.len()) };
}
