//! Building a message: scalars in spec order into the fixed scalar area,
//! buffer bytes appended to the data area after it.

#![forbid(unsafe_code)]

use super::error::WriteError;
use super::header::{Header, HEADER_LEN};
use super::layout::{align_up, Slot};
use super::reader::BufferRef;
use super::{BufferKind, HandleId, DATA_ALIGN};

/// Appends one message's fields in the order the spec gives them.
///
/// The scalar area's length is fixed up front (it is a constant of the
/// function, computed by [`Layout`](super::Layout)), so buffer bytes can be
/// appended right away without moving them later. Scalar pushes past the end
/// of the area are a bug in the generated code; the first one is remembered
/// and reported by [`Writer::finish`] instead of panicking in the middle of a
/// call.
#[derive(Debug)]
pub struct Writer {
    buf: Vec<u8>,
    header: Header,
    scalar_len: u32,
    /// Next free byte of the scalar area (not yet aligned).
    cursor: u64,
    error: Option<WriteError>,
}

impl Writer {
    /// A writer for a message with `header` (its lengths are filled in by
    /// `finish`) and a scalar area of `scalar_len` bytes.
    pub fn new(header: Header, scalar_len: u32) -> Writer {
        Writer::reuse(Vec::new(), header, scalar_len)
    }

    /// Like [`Writer::new`], writing into `buf` (cleared first) to reuse its
    /// allocation across calls.
    pub fn reuse(mut buf: Vec<u8>, header: Header, scalar_len: u32) -> Writer {
        buf.clear();
        buf.resize(HEADER_LEN + scalar_len as usize, 0);
        Writer { buf, header, scalar_len, cursor: 0, error: None }
    }

    /// Empties the message again (header and scalar area as `reuse` left
    /// them), keeping the allocation: for an encoder that gave up half-way.
    pub fn restart(&mut self) {
        self.buf.clear();
        self.buf.resize(HEADER_LEN + self.scalar_len as usize, 0);
        self.cursor = 0;
        self.error = None;
    }

    /// Makes room for `additional` more data bytes, so that one large buffer
    /// is appended without reallocating.
    pub fn reserve(&mut self, additional: usize) -> &mut Self {
        self.buf.reserve(additional + DATA_ALIGN as usize);
        self
    }

    /// Offset in the scalar area where the next scalar of alignment 1 would go.
    pub fn scalar_position(&self) -> u64 {
        self.cursor
    }

    /// Claims the next slot and returns its position in `buf`, or records the
    /// overflow.
    fn slot(&mut self, slot: Slot) -> Option<usize> {
        let offset = align_up(self.cursor, slot.align().into())?;
        let end = offset + u64::from(slot.size());
        if end > u64::from(self.scalar_len) {
            self.error.get_or_insert(WriteError::ScalarAreaFull { offset, size: slot.size().into(), scalar_len: self.scalar_len.into() });
            return None;
        }
        self.cursor = end;
        Some(HEADER_LEN + offset as usize)
    }

    fn put(&mut self, slot: Slot, bytes: &[u8]) -> &mut Self {
        if let Some(at) = self.slot(slot) {
            self.buf[at..at + bytes.len()].copy_from_slice(bytes);
        }
        self
    }

    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.put(Slot::U8, &[v])
    }
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.put(Slot::U16, &v.to_le_bytes())
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.put(Slot::U32, &v.to_le_bytes())
    }
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.put(Slot::U64, &v.to_le_bytes())
    }
    pub fn u128(&mut self, v: u128) -> &mut Self {
        self.put(Slot::U128, &v.to_le_bytes())
    }
    pub fn i8(&mut self, v: i8) -> &mut Self {
        self.put(Slot::U8, &v.to_le_bytes())
    }
    pub fn i16(&mut self, v: i16) -> &mut Self {
        self.put(Slot::U16, &v.to_le_bytes())
    }
    pub fn i32(&mut self, v: i32) -> &mut Self {
        self.put(Slot::U32, &v.to_le_bytes())
    }
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.put(Slot::U64, &v.to_le_bytes())
    }
    pub fn f32(&mut self, v: f32) -> &mut Self {
        self.put(Slot::U32, &v.to_le_bytes())
    }
    pub fn f64(&mut self, v: f64) -> &mut Self {
        self.put(Slot::U64, &v.to_le_bytes())
    }
    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.put(Slot::U8, &[u8::from(v)])
    }
    pub fn handle(&mut self, v: HandleId) -> &mut Self {
        self.u64(v.0)
    }

    fn descriptor(&mut self, kind: BufferKind, offset: u64, len: u64) -> &mut Self {
        self.put(Slot::Buffer, &raw_descriptor(kind, offset, len, 0))
    }

    /// An in buffer whose bytes travel inside the message, 16-byte aligned in
    /// the data area.
    pub fn buffer(&mut self, bytes: &[u8]) -> &mut Self {
        let offset = self.data(bytes);
        self.descriptor(BufferKind::Inline, offset, bytes.len() as u64)
    }

    /// Appends `bytes` to the data area, 16-byte aligned, and returns their
    /// offset from the data area's start (what an inline descriptor holds).
    pub fn data(&mut self, bytes: &[u8]) -> u64 {
        let data_start = HEADER_LEN + self.scalar_len as usize;
        let used = (self.buf.len() - data_start) as u64;
        let offset = align_up(used, DATA_ALIGN.into()).unwrap_or(used);
        self.buf.resize(data_start + offset as usize, 0);
        self.buf.extend_from_slice(bytes);
        offset
    }

    /// The message's length so far: header, scalar area and data.
    pub fn message_len(&self) -> usize {
        self.buf.len()
    }

    /// Appends `len` bytes to the data area, 16-byte aligned, written by
    /// `fill` in place (no staging copy), and returns their offset.
    pub fn data_with<E>(&mut self, len: usize, fill: impl FnOnce(&mut [u8]) -> Result<(), E>) -> Result<u64, E> {
        let data_start = HEADER_LEN + self.scalar_len as usize;
        let used = (self.buf.len() - data_start) as u64;
        let offset = align_up(used, DATA_ALIGN.into()).unwrap_or(used);
        let start = data_start + offset as usize;
        self.buf.resize(start + len, 0);
        if let Err(e) = fill(&mut self.buf[start..]) {
            self.buf.truncate(data_start + used as usize);
            return Err(e);
        }
        Ok(offset)
    }

    /// Puts an already encoded descriptor ([`encode_descriptor`]) in the
    /// next buffer slot.
    pub fn descriptor_slot(&mut self, descriptor: [u8; 32]) -> &mut Self {
        self.put(Slot::Buffer, &descriptor)
    }

    /// A string, as an inline buffer of its UTF-8 bytes (no terminating zero).
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.buffer(s.as_bytes())
    }

    /// A null pointer, distinct from an empty buffer.
    pub fn null(&mut self) -> &mut Self {
        self.descriptor(BufferKind::Null, 0, 0)
    }

    /// A buffer that already lies in the shared zero-copy region, at `offset`
    /// from the region's start.
    pub fn shared(&mut self, offset: u64, len: u64) -> &mut Self {
        self.descriptor(BufferKind::Shared, offset, len)
    }

    /// An out buffer of `len` bytes: nothing is sent, the reply carries it.
    pub fn out(&mut self, len: u64) -> &mut Self {
        self.descriptor(BufferKind::Out, 0, len)
    }

    /// The finished message, or the first error.
    pub fn finish(mut self) -> Result<Vec<u8>, WriteError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let payload = self.buf.len() - HEADER_LEN;
        let payload_len = u32::try_from(payload).map_err(|_| WriteError::TooLarge { len: payload as u64, max: u32::MAX.into() })?;
        self.header.payload_len = payload_len;
        self.header.scalar_len = self.scalar_len;
        self.buf[..HEADER_LEN].copy_from_slice(&self.header.encode());
        Ok(self.buf)
    }
}

fn raw_descriptor(kind: BufferKind, offset: u64, len: u64, key: u64) -> [u8; 32] {
    let mut d = [0u8; 32];
    d[0..4].copy_from_slice(&(kind as u32).to_le_bytes());
    d[8..16].copy_from_slice(&offset.to_le_bytes());
    d[16..24].copy_from_slice(&len.to_le_bytes());
    d[24..32].copy_from_slice(&key.to_le_bytes());
    d
}

/// A buffer descriptor as it is written to the wire: for
/// [`Writer::descriptor_slot`], or for descriptors that live in the data
/// area (buffers nested in other buffers). `Inline` descriptors point at
/// `inline_offset` in the data area (the buffer's bytes are appended
/// separately with [`Writer::data`]); `key` is the guest's address of a
/// buffer the server keeps between calls, 0 otherwise.
pub fn encode_descriptor(buffer: &BufferRef<'_>, inline_offset: u64, key: u64) -> [u8; 32] {
    match buffer {
        BufferRef::Null => raw_descriptor(BufferKind::Null, 0, 0, key),
        BufferRef::Inline(bytes) => raw_descriptor(BufferKind::Inline, inline_offset, bytes.len() as u64, key),
        BufferRef::Shared { offset, len } => raw_descriptor(BufferKind::Shared, *offset, *len, key),
        BufferRef::Out { len } => raw_descriptor(BufferKind::Out, 0, *len, key),
        BufferRef::Process { offset, len } => raw_descriptor(BufferKind::Process, *offset, *len, key),
        BufferRef::Staged { index, len } => raw_descriptor(BufferKind::Staged, u64::from(*index), *len, key),
        BufferRef::StagedOut { len } => raw_descriptor(BufferKind::StagedOut, 0, *len, key),
    }
}

/// An inline descriptor for `len` bytes at `offset` of the data area.
pub fn inline_descriptor(offset: u64, len: u64, key: u64) -> [u8; 32] {
    raw_descriptor(BufferKind::Inline, offset, len, key)
}
