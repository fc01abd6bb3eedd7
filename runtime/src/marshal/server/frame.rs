//! One call's memory as the spec's expressions see it: the message's data
//! area, the call's shadow buffers, and the guest process's metadata, kept
//! buffers and zero-copy region, each read through its own bounds checks.

use super::*;

pub(super) type Refusal = (ErrorCode, String);

pub(super) fn malformed(e: impl std::fmt::Display) -> Refusal {
    (ErrorCode::Malformed, e.to_string())
}

pub(super) fn handle_error(e: HandleError) -> Refusal {
    (ErrorCode::InvalidHandle, e.to_string())
}

/// Where an out buffer's bytes are after the call.
#[derive(Clone, Copy)]
pub(super) enum Place {
    Shadow(usize),
    Retained(u64),
    /// In the zero-copy region, where the guest reads it itself.
    Shared,
    /// A kept buffer that never came to be (see `Decoder::buffer`).
    Missing,
    /// A shadow too large for the reply: staged for the guest to fetch.
    Staged(usize),
}

pub(super) struct OutEntry<'p> {
    pub(super) place: Place,
    pub(super) len: u64,
    /// Elements to translate back (handles inside the buffer).
    pub(super) walk: Option<(&'p Ty, u64, &'p Value)>,
    /// Positions of nested pointers, blanked before the bytes go back.
    pub(super) pointers: Vec<u64>,
}

/// One call's memory: the message's data area (read-only) and shadow
/// buffers, plus the guest process's state for kept buffers and metadata.
pub(super) struct Frame<'a> {
    pub(super) shared: &'a Shared,
    /// The guest process of the channel: its handles, kept buffers,
    /// metadata and process region.
    pub(super) tenant: &'a Tenant,
    pub(super) message: Message<'a>,
    /// The channel's zero-copy region, if its transport has one.
    pub(super) region: Option<&'a dyn SharedRegion>,
    /// Inline for the usual few: the list itself is not worth a heap allocation a call.
    pub(super) shadows: SmallVec<[Vec<u8>; 4]>,
    /// Sizing a buffer the vendor library returned: its memory may be read.
    pub(super) vendor_reads: bool,
    /// Handle ids this call issued, in order (for the record log).
    pub(super) issued: Vec<u64>,
    /// Replaying: the ids the recorded call issued, to give again.
    pub(super) rebind: Option<VecDeque<u64>>,
    /// A buffer of the call is in the zero-copy region (not recordable).
    pub(super) used_region: bool,
    /// The kept buffers this call uses, `(address, key)`: what its
    /// `register_buf` statements can register.
    pub(super) kept: SmallVec<[(u64, u64); 2]>,
    /// Keys (and marks, see `Retained::serial`) of the kept buffers this
    /// call created: a call that fails gave the vendor nothing to hold, and
    /// runs no `register_buf` that a later call could free them through,
    /// so they go with it.
    pub(super) created: SmallVec<[(u64, u64); 2]>,
    /// The kept buffers this call pinned (address, key; see
    /// `Retained::pins`), let go when it ends.
    pinned: SmallVec<[(u64, u64); 2]>,
    /// That region, found on the first buffer that names it; held for the
    /// call, so it stays mapped while the vendor uses it.
    pub(super) process_region: Option<Arc<ProcessRegion>>,
}

impl Frame<'_> {
    /// Notes a pin `retain` took on the kept buffer at `key` (see
    /// `Retained::pins`), to be let go when the call ends.
    pub(super) fn pinned(&mut self, addr: u64, key: u64) {
        self.pinned.push((addr, key));
    }

    /// Takes over the kept buffer at `key` for this call, which hands it
    /// to the vendor again (a read into memory another read kept): a new
    /// mark and a pin (see `Retained`); its address, 0 when there is none.
    pub(super) fn take_over(&mut self, key: u64) -> u64 {
        let addr = match lock(&self.tenant.retained).get_mut(&key) {
            Some(r) => {
                r.take_over();
                r.bytes.as_ptr() as u64
            }
            None => return 0,
        };
        self.pinned(addr, key);
        addr
    }

    /// How many times this call pinned the kept buffer at `key`.
    pub(super) fn pins_of(&self, key: u64) -> u32 {
        self.pinned.iter().filter(|(_, k)| *k == key).count() as u32
    }
}

impl Drop for Frame<'_> {
    /// The call is over: the kept buffers it pinned may be freed by others.
    fn drop(&mut self) {
        if self.pinned.is_empty() {
            return;
        }
        let mut retained = lock(&self.tenant.retained);
        for (addr, key) in &self.pinned {
            if let Some(r) = retained.get_mut(key) {
                if r.bytes.as_ptr() as u64 == *addr {
                    r.pins = r.pins.saturating_sub(1);
                }
            }
        }
    }
}

impl<'a> Frame<'a> {
    /// A call's frame before anything of the call is decoded.
    pub(super) fn new(
        shared: &'a Shared,
        tenant: &'a Tenant,
        message: Message<'a>,
        region: Option<&'a dyn SharedRegion>,
        rebind: Option<VecDeque<u64>>,
    ) -> Frame<'a> {
        Frame {
            shared,
            tenant,
            message,
            region,
            shadows: SmallVec::new(),
            vendor_reads: false,
            issued: Vec::new(),
            rebind,
            used_region: false,
            kept: SmallVec::new(),
            created: SmallVec::new(),
            pinned: SmallVec::new(),
            process_region: None,
        }
    }

    /// The process region of the channel's guest process.
    pub(super) fn process_region(&mut self) -> Result<&ProcessRegion, Refusal> {
        if self.process_region.is_none() {
            let found = lock(&self.tenant.region).clone();
            self.process_region =
                Some(found.ok_or_else(|| malformed("a process-region buffer from a guest process without a zero-copy region"))?);
        }
        Ok(self.process_region.as_deref().expect("found above"))
    }

    /// The guest's id for a vendor object, issued (or, replaying, rebound)
    /// and noted for the record log.
    /// The id for an object the vendor returned; `owned` when the value is
    /// described `allocate` (the call created the object: see `handles`).
    pub(super) fn issue(&mut self, object: u64, kind: u32, owned: bool) -> Result<u64, Refusal> {
        if object == 0 {
            return Ok(0);
        }
        let mut handles = lock(&self.tenant.handles);
        let id = match self.rebind.as_mut().and_then(VecDeque::pop_front) {
            Some(recorded) => match handles.insert_as(object as usize, kind, recorded) {
                Ok(()) => recorded,
                // the object already has an id (a device returned again): keep it
                Err(HandleError::Rebound(_)) => {
                    let id = handles.insert(object as usize, kind).map_err(handle_error)?;
                    if id != recorded {
                        // its id's slot holds another object: the guest's id would be wrong
                        self.shared.log(format_args!("replay could not give object id {recorded:#x} back (it is {id:#x} now)"));
                    }
                    id
                }
                Err(e) => return Err(handle_error(e)),
            },
            None => handles.insert(object as usize, kind).map_err(handle_error)?,
        };
        if owned {
            handles.own(id);
        }
        self.issued.push(id);
        Ok(id)
    }
}

/// Reads `metadata(key)->field` (plus `delta`) where it usually is, in
/// the object's block, found once; `Err(address)` when it is elsewhere,
/// for the host's own `read`. No message, shadow or kept buffer overlaps a
/// block, so this is what `read` finds there too.
pub(super) fn read_in_metadata(shared: &Shared, tenant: &Tenant, key: u64, field: u64, delta: i128, dst: &mut [u8]) -> Result<(), u64> {
    let mut blocks = lock(&tenant.metadata);
    let base = blocks.get_or_create(key, shared.plan.metadata_size());
    let addr = (i128::from(base.wrapping_add(field)) + delta) as u64;
    if blocks.read_in(base, addr, dst) {
        Ok(())
    } else {
        Err(addr)
    }
}

/// Copies `dst.len()` bytes at address `addr` into `dst` if they all lie
/// in `bytes`; whether they did.
pub(super) fn copy_from(bytes: &[u8], addr: u64, dst: &mut [u8]) -> bool {
    let n = dst.len();
    match find(bytes.as_ptr(), bytes.len(), addr, n) {
        Some(off) => {
            dst.copy_from_slice(&bytes[off..off + n]);
            true
        }
        None => false,
    }
}

pub(super) fn find(base: *const u8, len: usize, addr: u64, n: usize) -> Option<usize> {
    let start = base as u64;
    let off = addr.checked_sub(start)?;
    let end = off.checked_add(n as u64)?;
    (end <= len as u64).then_some(off as usize)
}

impl Host for Frame<'_> {
    fn read(&self, addr: u64, dst: &mut [u8]) -> Result<(), EvalError> {
        let n = dst.len();
        if copy_from(self.message.data_bytes(), addr, dst) || self.shadows.iter().any(|s| copy_from(s, addr, dst)) {
            return Ok(());
        }
        // metadata before kept buffers: conditions read it on every call,
        // and it is found by one lookup where kept buffers are scanned
        if lock(&self.tenant.metadata).read(addr, dst) {
            return Ok(());
        }
        for r in lock(&self.tenant.retained).values() {
            if let Some(off) = find(r.bytes.as_ptr(), r.bytes.len(), addr, n) {
                dst.copy_from_slice(&r.bytes[off..off + n]);
                return Ok(());
            }
        }
        let process_region = self.process_region.as_deref().map(|r| r as &dyn SharedRegion);
        for region in [self.region, process_region].into_iter().flatten() {
            // a shared buffer's bytes, read through the region's checks
            if let Ok(base) = region.region_ptr(0, region.region_len()) {
                if let Some(off) = find(base.as_ptr(), region.region_len() as usize, addr, n) {
                    return region.read_region(off as u64, dst).map_err(|_| EvalError::OutOfBounds { addr, len: n as u64 });
                }
            }
        }
        if addr == 0 {
            return Err(EvalError::Null);
        }
        if self.vendor_reads {
            native::read_vendor(addr, dst);
            return Ok(());
        }
        Err(EvalError::OutOfBounds { addr, len: n as u64 })
    }

    fn write(&mut self, addr: u64, src: &[u8]) -> Result<(), EvalError> {
        // the spec only assigns to metadata
        if lock(&self.tenant.metadata).write(addr, src) {
            return Ok(());
        }
        Err(EvalError::OutOfBounds { addr, len: src.len() as u64 })
    }

    fn metadata(&mut self, key: u64) -> Result<u64, EvalError> {
        Ok(lock(&self.tenant.metadata).get_or_create(key, self.shared.plan.metadata_size()))
    }

    fn read_metadata(&mut self, key: u64, field: u64, delta: i128, dst: &mut [u8]) -> Result<(), EvalError> {
        match read_in_metadata(self.shared, self.tenant, key, field, delta, dst) {
            Ok(()) => Ok(()),
            Err(0) => Err(EvalError::Null),
            Err(addr) => self.read(addr, dst),
        }
    }

    fn library(&mut self, function: LibraryFn, args: &[V]) -> Result<V, EvalError> {
        match function {
            // registries live in the guest, which names their buffers by
            // key; the server notes which registry holds each buffer it
            // keeps, so that a guest can free one only through it
            LibraryFn::RegisterBuf => {
                let arg = |i: usize| args.get(i).map_or(0, |v| v.as_u64());
                let (registry, key, addr) = (arg(0) as u32, arg(1), arg(2));
                // the call's own kept buffer (a scan of every kept buffer
                // would cost each read in proportion to the reads pending)
                let kept = self.kept.iter().find(|(a, _)| *a == addr && addr != 0).map(|(_, k)| *k);
                if let Some(buffer) = kept {
                    lock(&self.tenant.kept_registries).register(registry, key, buffer);
                }
                Ok(V::Int(0))
            }
            // what the server itself registered under another key (the
            // reads a marker's completion implies): nothing the guest names
            LibraryFn::RegisterBufsOf => {
                let arg = |i: usize| args.get(i).map_or(0, |v| v.as_u64());
                if arg(1) != 0 {
                    lock(&self.tenant.kept_registries).register_all(arg(0) as u32, arg(1), arg(2) as u32, arg(3));
                }
                Ok(V::Int(0))
            }
            _ => Err(EvalError::Unavailable("a buffer registry")),
        }
    }
}

/// An address no buffer has: what a non-null out buffer's pointer is
/// before its shadow exists. Conditions such as `this != 0` see it as
/// non-null, as the guest did; reading through it fails.
pub(super) const PENDING: u64 = u64::MAX - 0xfff;

/// The value expressions see for a buffer before it is prepared.
pub fn provisional(descriptor: BufferRef<'_>) -> V {
    match descriptor {
        BufferRef::Null => V::Ptr(0),
        BufferRef::Inline(bytes) => V::Ptr(bytes.as_ptr() as u64),
        _ => V::Ptr(PENDING),
    }
}
