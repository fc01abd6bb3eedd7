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

/// Asks the vendor's resolver, a function `void *F(const char *name)` (the
/// spec's `resolver`), for the function `name`.
pub fn resolve(resolver: usize, name: &str) -> Option<usize> {
    let name = std::ffi::CString::new(name).ok()?;
    // SAFETY: `resolver` came from `VendorLibrary::address` for the spec's
    // `resolver`, which the checker made sure is declared
    // `void *F(const char *)`; the name is a C string that outlives the call.
    let address = unsafe {
        let resolver: unsafe extern "C" fn(*const std::ffi::c_char) -> *mut std::ffi::c_void = std::mem::transmute(resolver);
        resolver(name.as_ptr())
    } as usize;
    (address != 0).then_some(address)
}

/// Runs one call of the vendor library.
pub fn call(dispatch: Dispatch, id: u32, address: usize, args: &[u64]) -> u64 {
    // SAFETY: `address` came from `VendorLibrary::address` for the name of
    // plan function `id` (see `server::Shared::new`), the dispatcher was
    // generated from the same plan, and the server built `args` from that
    // plan's parameters.
    unsafe { dispatch(id, address, args) }
}

/// Takes the bytes of a struct the generated dispatcher returned by value
/// in a `Box` (`size` and `align` are the plan's layout of the struct,
/// which the generated code asserts is the Rust type's) and frees the box.
pub fn take_boxed(addr: u64, size: u64, align: u64) -> Vec<u8> {
    let mut bytes = vec![0u8; size as usize];
    if addr == 0 || size == 0 {
        return bytes;
    }
    let Ok(layout) = std::alloc::Layout::from_size_align(size as usize, align.max(1) as usize) else { return bytes };
    // SAFETY: the dispatcher returned `Box::into_raw(Box::new(value))` for
    // a function whose result is this struct (see `server::handle_call`);
    // a `Box<T>` is allocated with `Layout::new::<T>()`, which is `layout`
    // because the generated types assert size and alignment. The box is
    // read once and freed once, here.
    unsafe {
        std::ptr::copy_nonoverlapping(addr as usize as *const u8, bytes.as_mut_ptr(), bytes.len());
        std::alloc::dealloc(addr as usize as *mut u8, layout);
    }
    bytes
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
