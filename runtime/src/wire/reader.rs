//! The one bounds-checked decoder. Every read is checked against what is
//! actually there; nothing panics, nothing allocates (buffers are borrowed
//! from the message), so a hostile length can neither crash nor exhaust
//! memory.

#![forbid(unsafe_code)]

use super::error::WireError;
use super::header::{Header, Kind, HEADER_LEN};
use super::layout::{align_up, Slot, BUFFER_DESCRIPTOR_LEN};
use super::{BufferKind, HandleId};

/// Where a buffer argument's bytes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BufferRef<'a> {
    /// A null pointer.
    Null,
    /// Bytes inside this message.
    Inline(&'a [u8]),
    /// Bytes in the shared zero-copy region: the transport that owns the
    /// region checks `offset` and `len` against it before anyone touches it.
    Shared { offset: u64, len: u64 },
    /// Room for an out buffer of `len` bytes. `len` is the peer's word: the
    /// server checks it against its own limit before allocating.
    Out { len: u64 },
    /// Bytes in the guest process's own zero-copy region (memory the
    /// application allocated with `zerocopy_alloc`): the server checks
    /// `offset` and `len` against that process's region.
    Process { offset: u64, len: u64 },
    /// Bytes the guest uploaded before the call with [`Stage`](super::Stage)
    /// messages (a buffer too large for one message), under `index` in the
    /// channel's staging area; in a reply, an out buffer the server holds
    /// staged for the guest to [`Fetch`](super::Fetch). The server checks
    /// that the staged bytes are complete and `len` long.
    Staged { index: u32, len: u64 },
    /// Room for an out buffer too large for the reply: the server allocates
    /// it (within its staging limit) and the reply names it as
    /// [`BufferRef::Staged`].
    StagedOut { len: u64 },
}

impl BufferRef<'_> {
    /// A short name, for error messages.
    pub fn name(&self) -> &'static str {
        match self {
            BufferRef::Null => "null buffer",
            BufferRef::Inline(_) => "inline buffer",
            BufferRef::Shared { .. } => "shared buffer",
            BufferRef::Out { .. } => "out buffer",
            BufferRef::Process { .. } => "process-region buffer",
            BufferRef::Staged { .. } => "staged buffer",
            BufferRef::StagedOut { .. } => "staged out buffer",
        }
    }
}

/// A validated message: header checked, lengths consistent. Fields are read
/// on demand, in order with [`Message::scalars`] or at known offsets with
/// the `*_at` methods (what a router uses).
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    header: Header,
    scalars: &'a [u8],
    data: &'a [u8],
}

impl<'a> Message<'a> {
    /// Checks the header and that exactly `payload_len` bytes follow it.
    pub fn decode(bytes: &'a [u8]) -> Result<Message<'a>, WireError> {
        let header = Header::decode(bytes)?;
        let payload = bytes.get(HEADER_LEN..).unwrap_or_default();
        if payload.len() as u64 != u64::from(header.payload_len) {
            return Err(WireError::LengthMismatch { declared: header.payload_len.into(), actual: payload.len() as u64 });
        }
        // Header::decode checked scalar_len <= payload_len.
        let (scalars, data) = payload.split_at(header.scalar_len as usize);
        Ok(Message { header, scalars, data })
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    pub fn kind(&self) -> Kind {
        self.header.kind
    }

    /// Fails unless the message is of `kind`.
    pub fn expect(&self, kind: Kind) -> Result<(), WireError> {
        if self.header.kind == kind {
            Ok(())
        } else {
            Err(WireError::UnexpectedKind { expected: kind, found: self.header.kind })
        }
    }

    /// The scalar area.
    pub fn scalar_bytes(&self) -> &'a [u8] {
        self.scalars
    }

    /// The data area (buffer bytes).
    pub fn data_bytes(&self) -> &'a [u8] {
        self.data
    }

    /// A cursor over the scalar area, reading in spec order.
    pub fn scalars(&self) -> Scalars<'a> {
        Scalars { message: *self, pos: 0 }
    }

    fn fixed<const N: usize>(&self, offset: u64) -> Result<[u8; N], WireError> {
        let out_of_bounds = || WireError::ScalarOutOfBounds { offset, size: N as u64, scalar_len: self.scalars.len() as u64 };
        let start = usize::try_from(offset).map_err(|_| out_of_bounds())?;
        let end = start.checked_add(N).ok_or_else(out_of_bounds)?;
        let bytes = self.scalars.get(start..end).ok_or_else(out_of_bounds)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    pub fn u8_at(&self, offset: u32) -> Result<u8, WireError> {
        self.fixed::<1>(offset.into()).map(|b| b[0])
    }
    pub fn u16_at(&self, offset: u32) -> Result<u16, WireError> {
        self.fixed(offset.into()).map(u16::from_le_bytes)
    }
    pub fn u32_at(&self, offset: u32) -> Result<u32, WireError> {
        self.fixed(offset.into()).map(u32::from_le_bytes)
    }
    pub fn u64_at(&self, offset: u32) -> Result<u64, WireError> {
        self.fixed(offset.into()).map(u64::from_le_bytes)
    }
    pub fn u128_at(&self, offset: u32) -> Result<u128, WireError> {
        self.fixed(offset.into()).map(u128::from_le_bytes)
    }

    /// The buffer whose descriptor is at `offset` in the scalar area.
    pub fn buffer_at(&self, offset: u32) -> Result<BufferRef<'a>, WireError> {
        self.buffer_from(offset.into())
    }

    /// The buffer whose descriptor lies in the data area at `offset` (a
    /// buffer nested inside another buffer's bytes).
    pub fn nested_buffer(&self, offset: u64) -> Result<BufferRef<'a>, WireError> {
        let d = self.nested_descriptor(offset)?;
        // reserved bytes are reported at their place in the data area
        self.descriptor(d, HEADER_LEN as u64 + self.scalars.len() as u64 + offset)
    }

    /// The key of the nested descriptor at `offset` in the data area.
    pub fn nested_key(&self, offset: u64) -> Result<u64, WireError> {
        Ok(descriptor_key(&self.nested_descriptor(offset)?))
    }

    /// The key of the buffer descriptor at `offset` in the scalar area: the
    /// guest's address of a buffer the server keeps between calls
    /// (lifetimes other than the call's), 0 otherwise.
    pub fn buffer_key_at(&self, offset: u32) -> Result<u64, WireError> {
        let d: [u8; DESCRIPTOR] = self.fixed(offset.into())?;
        Ok(descriptor_key(&d))
    }

    fn nested_descriptor(&self, offset: u64) -> Result<[u8; DESCRIPTOR], WireError> {
        let out_of_bounds = WireError::BufferOutOfBounds { offset, len: DESCRIPTOR as u64, data_len: self.data.len() as u64 };
        let start = usize::try_from(offset).map_err(|_| out_of_bounds.clone())?;
        let bytes = start.checked_add(DESCRIPTOR).and_then(|end| self.data.get(start..end)).ok_or(out_of_bounds)?;
        let mut d = [0u8; DESCRIPTOR];
        d.copy_from_slice(bytes);
        Ok(d)
    }

    fn buffer_from(&self, offset: u64) -> Result<BufferRef<'a>, WireError> {
        let d: [u8; DESCRIPTOR] = self.fixed(offset)?;
        self.descriptor(d, HEADER_LEN as u64 + offset)
    }

    /// Decodes a descriptor found at message offset `at`.
    fn descriptor(&self, d: [u8; DESCRIPTOR], at: u64) -> Result<BufferRef<'a>, WireError> {
        let word = |at: usize| u64::from_le_bytes([d[at], d[at + 1], d[at + 2], d[at + 3], d[at + 4], d[at + 5], d[at + 6], d[at + 7]]);
        let kind = u32::from_le_bytes([d[0], d[1], d[2], d[3]]);
        if d[4..8] != [0; 4] {
            return Err(WireError::ReservedNotZero { offset: at + 4 });
        }
        let (start, len) = (word(8), word(16));
        match BufferKind::from_u32(kind) {
            None => Err(WireError::UnknownBufferKind(kind)),
            Some(BufferKind::Null) if start == 0 && len == 0 => Ok(BufferRef::Null),
            Some(BufferKind::Null) => Err(WireError::MalformedNull { offset: start, len }),
            Some(BufferKind::Shared) => Ok(BufferRef::Shared { offset: start, len }),
            Some(BufferKind::Process) => Ok(BufferRef::Process { offset: start, len }),
            Some(BufferKind::Out) if start == 0 => Ok(BufferRef::Out { len }),
            Some(BufferKind::Out) => Err(WireError::ReservedNotZero { offset: at + 8 }),
            Some(BufferKind::Staged) => {
                let index = u32::try_from(start).map_err(|_| WireError::BadStagingIndex(start))?;
                Ok(BufferRef::Staged { index, len })
            }
            Some(BufferKind::StagedOut) if start == 0 => Ok(BufferRef::StagedOut { len }),
            Some(BufferKind::StagedOut) => Err(WireError::ReservedNotZero { offset: at + 8 }),
            Some(BufferKind::Inline) => {
                let end = start.checked_add(len).ok_or(WireError::LengthOverflow { offset: start, len })?;
                let out_of_bounds = WireError::BufferOutOfBounds { offset: start, len, data_len: self.data.len() as u64 };
                if end > self.data.len() as u64 {
                    return Err(out_of_bounds);
                }
                // Both fit in usize: they are at most data.len().
                Ok(BufferRef::Inline(&self.data[start as usize..end as usize]))
            }
        }
    }
}

/// Reads the scalar area in spec order, applying the same alignment rule as
/// the [`Writer`](super::Writer) and [`Layout`](super::Layout).
#[derive(Clone, Copy, Debug)]
pub struct Scalars<'a> {
    message: Message<'a>,
    pos: u64,
}

impl<'a> Scalars<'a> {
    fn next<const N: usize>(&mut self, slot: Slot) -> Result<[u8; N], WireError> {
        let at = self.claim(slot)?;
        self.message.fixed(at)
    }

    /// Aligns the cursor for `slot`, checks the slot fits and moves past it.
    fn claim(&mut self, slot: Slot) -> Result<u64, WireError> {
        let scalar_len = self.message.scalars.len() as u64;
        let at = align_up(self.pos, slot.align().into())
            .filter(|at| at + u64::from(slot.size()) <= scalar_len)
            .ok_or(WireError::ScalarOutOfBounds { offset: self.pos, size: slot.size().into(), scalar_len })?;
        self.pos = at + u64::from(slot.size());
        Ok(at)
    }

    pub fn u8(&mut self) -> Result<u8, WireError> {
        self.next::<1>(Slot::U8).map(|b| b[0])
    }
    pub fn u16(&mut self) -> Result<u16, WireError> {
        self.next(Slot::U16).map(u16::from_le_bytes)
    }
    pub fn u32(&mut self) -> Result<u32, WireError> {
        self.next(Slot::U32).map(u32::from_le_bytes)
    }
    pub fn u64(&mut self) -> Result<u64, WireError> {
        self.next(Slot::U64).map(u64::from_le_bytes)
    }
    pub fn u128(&mut self) -> Result<u128, WireError> {
        self.next(Slot::U128).map(u128::from_le_bytes)
    }
    pub fn i8(&mut self) -> Result<i8, WireError> {
        self.next(Slot::U8).map(i8::from_le_bytes)
    }
    pub fn i16(&mut self) -> Result<i16, WireError> {
        self.next(Slot::U16).map(i16::from_le_bytes)
    }
    pub fn i32(&mut self) -> Result<i32, WireError> {
        self.next(Slot::U32).map(i32::from_le_bytes)
    }
    pub fn i64(&mut self) -> Result<i64, WireError> {
        self.next(Slot::U64).map(i64::from_le_bytes)
    }
    pub fn f32(&mut self) -> Result<f32, WireError> {
        self.next(Slot::U32).map(f32::from_le_bytes)
    }
    pub fn f64(&mut self) -> Result<f64, WireError> {
        self.next(Slot::U64).map(f64::from_le_bytes)
    }
    pub fn bool(&mut self) -> Result<bool, WireError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(WireError::BadBool(b)),
        }
    }
    pub fn handle(&mut self) -> Result<HandleId, WireError> {
        self.u64().map(HandleId)
    }

    /// The next buffer descriptor, resolved.
    pub fn buffer(&mut self) -> Result<BufferRef<'a>, WireError> {
        let at = self.claim(Slot::Buffer)?;
        self.message.buffer_from(at)
    }

    /// The next buffer, which must be inline or null.
    pub fn bytes(&mut self) -> Result<Option<&'a [u8]>, WireError> {
        match self.buffer()? {
            BufferRef::Null => Ok(None),
            BufferRef::Inline(bytes) => Ok(Some(bytes)),
            other => Err(WireError::UnexpectedBuffer { expected: "inline buffer", found: other.name() }),
        }
    }

    /// The next buffer as a UTF-8 string (must be inline).
    pub fn str(&mut self) -> Result<&'a str, WireError> {
        match self.buffer()? {
            BufferRef::Inline(bytes) => std::str::from_utf8(bytes).map_err(|_| WireError::BadUtf8),
            other => Err(WireError::UnexpectedBuffer { expected: "inline buffer", found: other.name() }),
        }
    }

    /// Fails if anything but padding is left: a longer scalar area than the
    /// spec says means the peer disagrees about the function's arguments.
    pub fn finish(self) -> Result<(), WireError> {
        let scalar_len = self.message.scalars.len() as u64;
        let padded = align_up(self.pos, super::SCALAR_AREA_ALIGN.into()).unwrap_or(u64::MAX);
        if scalar_len > padded {
            return Err(WireError::TrailingScalars { unread: scalar_len - self.pos });
        }
        Ok(())
    }
}

const DESCRIPTOR: usize = BUFFER_DESCRIPTOR_LEN as usize;

fn descriptor_key(d: &[u8; DESCRIPTOR]) -> u64 {
    let mut k = [0u8; 8];
    k.copy_from_slice(&d[24..32]);
    u64::from_le_bytes(k)
}
