//! The API server's staging area: buffers too large for one message.
//!
//! A guest uploads a large in buffer before its call, in chunks
//! ([`crate::wire::Stage`]), which the server appends here under an index
//! the guest chose; the call's descriptor then names the index
//! ([`crate::wire::BufferRef::Staged`]) and the call takes the bytes. A
//! large out buffer is allocated by the server, written by the vendor, and
//! kept here after the call until the guest has fetched it in chunks
//! ([`crate::wire::Fetch`]).
//!
//! Everything here is the guest's word, so everything is bounded: the
//! bytes held at once (declared totals of uploads and kept out buffers)
//! never exceed the channel's limit; memory grows only as chunks arrive
//! (at most twice what was sent, never more than the declared total),
//! unless a spare (below) already holds it;
//! chunks must come in order, within the declared total, and the entries
//! belong to one call (the call id of the messages): a message for
//! another call forgets them. An error costs the entry it names, and the
//! guest gets an error reply.
//!
//! The buffers of finished transfers are kept as *spares* for the next
//! ones (at most [`MAX_SPARES`], dropped after [`SPARE_CALLS`] calls that
//! stage nothing): a fresh allocation of hundreds of megabytes costs a page
//! fault per page, and zeroing it, more than copying the bytes. Spares
//! count against the same limit: entries (each the larger of its declared
//! total and its buffer's capacity), the bytes the running call took, and
//! the spares together never exceed it, and spares go first when room is
//! needed. A reused buffer is not cleared: bytes the vendor does not write
//! in a staged result are those of an earlier transfer on the same channel
//! (the same guest process), never another's.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;

/// Room a message keeps for everything but its large buffers: a buffer
/// that would fill a call's message or a reply past the limit less this is
/// staged.
pub const HEADROOM: u64 = 64 << 10;

/// The default for [`Staging`]'s limit: 16 GiB held per channel at once.
pub const DEFAULT_MAX_STAGED: u64 = 16 << 30;

/// Most entries one call may stage (each a buffer argument).
pub const MAX_ENTRIES: usize = 64;

/// Most spare buffers a channel keeps for its next staged transfers.
pub const MAX_SPARES: usize = 2;

/// Calls in a row that stage nothing after which a channel's spares go.
pub const SPARE_CALLS: u32 = 16;

/// What went wrong with a staging message or a staged descriptor.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StageError {
    #[error("a staged chunk is empty")]
    EmptyChunk,
    #[error("a staged buffer of 0 bytes")]
    Empty,
    #[error("staging {total} more bytes would hold {held} + {total}, over this channel's limit of {max} bytes")]
    OverLimit { held: u64, total: u64, max: u64 },
    #[error("a call stages more than {MAX_ENTRIES} buffers")]
    TooManyEntries,
    #[error("staged chunk at offset {offset} of entry {index}, where {expected} was expected (chunks come in order)")]
    OutOfOrder { index: u32, offset: u64, expected: u64 },
    #[error("staged chunk of {len} bytes at offset {offset} goes past the declared {total} bytes")]
    PastEnd { offset: u64, len: u64, total: u64 },
    #[error("entry {index} was declared with {declared} bytes, now {total}")]
    TotalChanged { index: u32, declared: u64, total: u64 },
    #[error("no staged buffer {index} for call {call}")]
    Missing { index: u32, call: u64 },
    #[error("staged buffer {index} has {received} of its {total} bytes: the upload is incomplete")]
    Incomplete { index: u32, received: u64, total: u64 },
    #[error("staged buffer {index} holds {total} bytes where the call names {len}")]
    LengthMismatch { index: u32, total: u64, len: u64 },
    #[error("staged entry {index} is not an upload")]
    NotUpload { index: u32 },
    #[error("staged entry {index} is not a result to fetch")]
    NotResult { index: u32 },
    #[error("the staged chunk cannot be read: {0}")]
    Source(String),
    #[error("cannot hold {0} more staged bytes: out of memory")]
    OutOfMemory(u64),
}

#[derive(Debug)]
struct Entry {
    /// An upload: its `received` bytes, then perhaps stale bytes of the
    /// spare it reuses (overwritten as chunks arrive, never read); a
    /// result: exactly `total` bytes.
    bytes: Vec<u8>,
    /// Declared length (uploads) or length (results).
    total: u64,
    /// An upload: bytes received so far.
    received: u64,
    /// A result waiting to be fetched: how much of it the guest has.
    fetched: Option<u64>,
}

impl Entry {
    /// What the entry counts against the limit.
    fn charge(&self) -> u64 {
        self.total.max(self.bytes.capacity() as u64)
    }
}

/// One channel's staging area.
#[derive(Debug)]
pub struct Staging {
    max: u64,
    call: u64,
    entries: BTreeMap<u32, Entry>,
    /// Buffers of finished transfers, for the next ones (see the module's
    /// documentation).
    spare: Vec<Vec<u8>>,
    /// Calls in a row that staged nothing while there were spares.
    idle: u32,
}

impl Staging {
    /// An empty area that holds at most `max` bytes at once.
    pub fn new(max: u64) -> Staging {
        Staging { max, call: 0, entries: BTreeMap::new(), spare: Vec::new(), idle: 0 }
    }

    /// The limit.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// Bytes held or promised (each entry's declared total, or its
    /// buffer's capacity when that is larger), spares aside.
    pub fn held(&self) -> u64 {
        self.entries.values().map(Entry::charge).sum()
    }

    /// Bytes that may still be staged (spares would go to make room).
    pub fn room(&self) -> u64 {
        self.max.saturating_sub(self.held())
    }

    /// Capacity of the spare buffers kept for the next transfers.
    pub fn spare_bytes(&self) -> u64 {
        self.spare.iter().map(|b| b.capacity() as u64).sum()
    }

    /// A buffer for an entry of `total` bytes, beside what is held and
    /// `pending` bytes the running call took: the smallest spare that holds
    /// `total` and fits, else an empty one (the caller grows it). The other
    /// spares stay while they fit beside it.
    fn buffer_for(&mut self, total: u64, pending: u64) -> Result<Vec<u8>, StageError> {
        let held = self.held().saturating_add(pending);
        let room = self.max.saturating_sub(held);
        if total > room {
            return Err(StageError::OverLimit { held, total, max: self.max });
        }
        let fits = |b: &Vec<u8>| (total..=room).contains(&(b.capacity() as u64));
        let pick = (0..self.spare.len()).filter(|&i| fits(&self.spare[i])).min_by_key(|&i| self.spare[i].capacity());
        let bytes = pick.map_or_else(Vec::new, |i| self.spare.swap_remove(i));
        self.trim(room - total.max(bytes.capacity() as u64));
        self.idle = 0;
        Ok(bytes)
    }

    /// Keeps the largest spares that fit in `room` bytes, at most
    /// [`MAX_SPARES`].
    fn trim(&mut self, mut room: u64) {
        if self.spare.is_empty() {
            return;
        }
        self.spare.sort_unstable_by_key(|b| std::cmp::Reverse(b.capacity()));
        self.spare.retain(|b| {
            let fit = b.capacity() as u64 <= room;
            if fit {
                room -= b.capacity() as u64;
            }
            fit
        });
        self.spare.truncate(MAX_SPARES);
    }

    /// Keeps the buffer of a finished transfer (an upload the call took,
    /// or a result fetched to the end) as a spare, if it fits beside what
    /// is held; the running call must hold no other staged bytes.
    pub fn recycle(&mut self, bytes: Vec<u8>) {
        if bytes.capacity() == 0 {
            return;
        }
        self.spare.push(bytes);
        self.trim(self.room());
    }

    /// Whether anything is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Makes the area `call`'s: what another call left goes.
    fn switch(&mut self, call: u64) {
        if call != self.call {
            if !self.entries.is_empty() {
                self.entries.clear();
            }
            self.call = call;
        }
    }

    /// Appends `chunk` at `offset` of upload `index` of call `call`,
    /// declared `total` bytes long; returns the bytes received so far. An
    /// error forgets the entry.
    pub fn stage(&mut self, call: u64, index: u32, offset: u64, total: u64, chunk: &[u8]) -> Result<u64, StageError> {
        self.stage_with(call, index, offset, total, chunk.len() as u64, |dst| {
            dst.copy_from_slice(chunk);
            Ok::<(), std::convert::Infallible>(())
        })
    }

    /// Like [`Staging::stage`], for a chunk of `len` bytes that `fill`
    /// writes in place (from the zero-copy region); a `fill` error is
    /// reported as [`StageError::Source`].
    pub fn stage_with<E: std::fmt::Display>(
        &mut self,
        call: u64,
        index: u32,
        offset: u64,
        total: u64,
        len: u64,
        fill: impl FnOnce(&mut [u8]) -> Result<(), E>,
    ) -> Result<u64, StageError> {
        self.switch(call);
        let result = self.append(index, offset, total, len, fill);
        if result.is_err() {
            self.entries.remove(&index);
        }
        result
    }

    fn append<E: std::fmt::Display>(
        &mut self,
        index: u32,
        offset: u64,
        total: u64,
        len: u64,
        fill: impl FnOnce(&mut [u8]) -> Result<(), E>,
    ) -> Result<u64, StageError> {
        if len == 0 {
            return Err(StageError::EmptyChunk);
        }
        if !self.entries.contains_key(&index) {
            if offset != 0 {
                return Err(StageError::OutOfOrder { index, offset, expected: 0 });
            }
            if total == 0 {
                return Err(StageError::Empty);
            }
            if self.entries.len() >= MAX_ENTRIES {
                return Err(StageError::TooManyEntries);
            }
            // (a spare keeps its stale bytes: `fill` overwrites them)
            let bytes = self.buffer_for(total, 0)?;
            self.entries.insert(index, Entry { bytes, total, received: 0, fetched: None });
        }
        let entry = self.entries.get_mut(&index).expect("inserted above");
        if entry.fetched.is_some() {
            return Err(StageError::NotUpload { index });
        }
        if entry.total != total {
            return Err(StageError::TotalChanged { index, declared: entry.total, total });
        }
        let have = entry.received;
        if offset != have {
            return Err(StageError::OutOfOrder { index, offset, expected: have });
        }
        let end = offset.checked_add(len).filter(|end| *end <= total).ok_or(StageError::PastEnd { offset, len, total })?;
        if end > entry.bytes.capacity() as u64 {
            // grows as bytes arrive, geometrically (few copies), never past
            // the declared total nor to more than twice what was sent
            let want = end.max((entry.bytes.capacity() as u64).saturating_mul(2).min(total));
            let more = (want - entry.bytes.len() as u64) as usize;
            entry.bytes.try_reserve_exact(more).map_err(|_| StageError::OutOfMemory(more as u64))?;
        }
        if end > entry.bytes.len() as u64 {
            // within the capacity reserved above; a reused buffer's stale
            // bytes are overwritten by `fill` without being zeroed first
            entry.bytes.resize(end as usize, 0);
        }
        fill(&mut entry.bytes[offset as usize..end as usize]).map_err(|e| StageError::Source(e.to_string()))?;
        entry.received = end;
        Ok(end)
    }

    /// Takes upload `index` of call `call`, which must be complete and
    /// `len` bytes long. The entry goes either way.
    pub fn take_upload(&mut self, call: u64, index: u32, len: u64) -> Result<Vec<u8>, StageError> {
        if call != self.call {
            return Err(StageError::Missing { index, call });
        }
        let entry = self.entries.remove(&index).ok_or(StageError::Missing { index, call })?;
        if entry.fetched.is_some() {
            return Err(StageError::NotUpload { index });
        }
        if entry.total != len {
            return Err(StageError::LengthMismatch { index, total: entry.total, len });
        }
        if entry.received != entry.total {
            return Err(StageError::Incomplete { index, received: entry.received, total: entry.total });
        }
        let mut bytes = entry.bytes;
        // (a reused buffer may hold stale bytes past the upload)
        bytes.truncate(len as usize);
        Ok(bytes)
    }

    /// Call `call` begins: results of earlier calls the guest did not
    /// fetch are forgotten, its uploads stay for it to take.
    #[inline]
    pub fn begin_call(&mut self, call: u64) {
        self.switch(call);
        // (most calls stage nothing: no walk of an empty map)
        if !self.entries.is_empty() {
            self.entries.retain(|_, e| e.fetched.is_none());
        }
        if !self.spare.is_empty() {
            // spares outlive only a few calls that stage nothing (a result
            // the call allocates counts as staging: see `buffer_for`)
            if self.entries.is_empty() {
                self.idle += 1;
                if self.idle > SPARE_CALLS {
                    self.spare.clear();
                }
            } else {
                self.idle = 0;
            }
        }
    }

    /// The call has run: uploads it did not take go.
    #[inline]
    pub fn end_call(&mut self) {
        if !self.entries.is_empty() {
            self.entries.retain(|_, e| e.fetched.is_some());
        }
    }

    /// A buffer of `len` bytes for a result (a staged out buffer), if the
    /// limit allows it beside what is held and `pending` more bytes the
    /// call took; `pending` must count each buffer the call took by its
    /// capacity. A fresh buffer is zeroed; a reused spare holds what an
    /// earlier transfer of the channel left (see the module's
    /// documentation).
    pub fn allocate(&mut self, len: u64, pending: u64) -> Result<Vec<u8>, StageError> {
        if len == 0 {
            return Err(StageError::Empty);
        }
        let mut bytes = self.buffer_for(len, pending)?;
        if len > bytes.capacity() as u64 {
            let more = (len - bytes.len() as u64) as usize;
            bytes.try_reserve_exact(more).map_err(|_| StageError::OutOfMemory(len))?;
        }
        if len > bytes.len() as u64 {
            bytes.resize(len as usize, 0);
        } else {
            bytes.truncate(len as usize);
        }
        Ok(bytes)
    }

    /// Keeps a result of call `call` for the guest to fetch; its index.
    pub fn keep_result(&mut self, call: u64, bytes: Vec<u8>) -> u32 {
        self.switch(call);
        let index = (0..).find(|i| !self.entries.contains_key(i)).unwrap_or(u32::MAX);
        self.entries.insert(index, Entry { total: bytes.len() as u64, received: 0, bytes, fetched: Some(0) });
        index
    }

    /// Hands `len` bytes at `offset` of result `index` of call `call` to
    /// `send`; chunks come in order, and the last one frees the result. An
    /// error forgets the entry.
    pub fn fetch<R>(&mut self, call: u64, index: u32, offset: u64, len: u64, send: impl FnOnce(&[u8]) -> R) -> Result<R, StageError> {
        if call != self.call {
            return Err(StageError::Missing { index, call });
        }
        let entry = self.entries.get_mut(&index).ok_or(StageError::Missing { index, call })?;
        let checked = match entry.fetched {
            None => Err(StageError::NotResult { index }),
            Some(_) if len == 0 => Err(StageError::EmptyChunk),
            Some(done) if offset != done => Err(StageError::OutOfOrder { index, offset, expected: done }),
            Some(_) => {
                offset.checked_add(len).filter(|end| *end <= entry.total).ok_or(StageError::PastEnd { offset, len, total: entry.total })
            }
        };
        let end = match checked {
            Ok(end) => end,
            Err(e) => {
                self.entries.remove(&index);
                return Err(e);
            }
        };
        // both within the entry's length, which is a usize
        let result = send(&entry.bytes[offset as usize..end as usize]);
        entry.fetched = Some(end);
        if end == entry.total {
            if let Some(done) = self.entries.remove(&index) {
                self.recycle(done.bytes);
            }
        }
        Ok(result)
    }

    /// Forgets everything (the channel closes).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.spare.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_in_order_make_the_buffer() {
        let mut s = Staging::new(1 << 20);
        assert_eq!(s.stage(7, 0, 0, 10, &[1, 2, 3, 4]), Ok(4));
        assert_eq!(s.stage(7, 0, 4, 10, &[5, 6, 7, 8, 9, 10]), Ok(10));
        assert_eq!(s.stage(7, 1, 0, 3, &[9, 9, 9]), Ok(3));
        s.begin_call(7);
        assert_eq!(s.take_upload(7, 0, 10).unwrap(), (1..=10).collect::<Vec<u8>>());
        assert_eq!(s.take_upload(7, 0, 10), Err(StageError::Missing { index: 0, call: 7 }));
        s.end_call();
        assert!(s.is_empty(), "an upload the call did not take goes with the call");
    }

    #[test]
    fn the_limit_counts_declared_totals_and_memory_follows_the_bytes() {
        let mut s = Staging::new(100);
        assert_eq!(s.stage(1, 0, 0, 60, &[0; 10]), Ok(10));
        assert!(s.entries[&0].bytes.capacity() <= 20, "no allocation on the guest's word alone");
        assert_eq!(s.stage(1, 1, 0, 41, &[0; 1]), Err(StageError::OverLimit { held: 60, total: 41, max: 100 }));
        assert_eq!(s.stage(1, 1, 0, 40, &[0; 1]), Ok(1));
        assert_eq!(s.room(), 0);
        assert_eq!(s.stage(1, 2, 0, u64::MAX, &[0; 1]), Err(StageError::OverLimit { held: 100, total: u64::MAX, max: 100 }));
        assert_eq!(s.allocate(1, 0), Err(StageError::OverLimit { held: 100, total: 1, max: 100 }));
        let mut big = Staging::new(u64::MAX);
        assert_eq!(big.stage(1, 0, 0, u64::MAX, &[0; 1]), Ok(1), "a huge declared total allocates nothing up front");
        assert!(big.entries[&0].bytes.capacity() <= 2);
    }

    #[test]
    fn hostile_offsets_and_lengths_are_refused_and_cost_the_entry() {
        let mut s = Staging::new(1 << 20);
        assert_eq!(s.stage(1, 0, 5, 10, &[0; 5]), Err(StageError::OutOfOrder { index: 0, offset: 5, expected: 0 }));
        assert_eq!(s.stage(1, 0, 0, 10, &[0; 11]), Err(StageError::PastEnd { offset: 0, len: 11, total: 10 }));
        assert!(s.is_empty());
        s.stage(1, 0, 0, 10, &[0; 4]).unwrap();
        assert_eq!(s.stage(1, 0, 2, 10, &[0; 2]), Err(StageError::OutOfOrder { index: 0, offset: 2, expected: 4 }));
        assert!(s.is_empty(), "an out-of-order chunk forgets the entry");
        s.stage(1, 0, 0, 10, &[0; 4]).unwrap();
        assert_eq!(s.stage(1, 0, 4, 11, &[0; 2]), Err(StageError::TotalChanged { index: 0, declared: 10, total: 11 }));
        s.stage(1, 0, 0, 10, &[0; 4]).unwrap();
        assert_eq!(s.stage(1, 0, 4, 10, &[0; 7]), Err(StageError::PastEnd { offset: 4, len: 7, total: 10 }));
        assert_eq!(s.stage(1, 0, u64::MAX, 10, &[0; 7]), Err(StageError::OutOfOrder { index: 0, offset: u64::MAX, expected: 0 }));
        assert_eq!(s.stage(1, 0, 0, 0, &[0; 1]), Err(StageError::Empty));
        assert_eq!(s.stage(1, 0, 0, 10, &[]), Err(StageError::EmptyChunk));
        for i in 0..MAX_ENTRIES as u32 {
            s.stage(2, i, 0, 1, &[0]).unwrap();
        }
        assert_eq!(s.stage(2, 999, 0, 1, &[0]), Err(StageError::TooManyEntries));
    }

    #[test]
    fn an_incomplete_or_mislabelled_upload_is_refused() {
        let mut s = Staging::new(1 << 20);
        s.stage(3, 0, 0, 10, &[0; 4]).unwrap();
        assert_eq!(s.take_upload(3, 0, 10), Err(StageError::Incomplete { index: 0, received: 4, total: 10 }));
        s.stage(3, 0, 0, 4, &[0; 4]).unwrap();
        assert_eq!(s.take_upload(3, 0, 5), Err(StageError::LengthMismatch { index: 0, total: 4, len: 5 }));
        s.stage(3, 0, 0, 4, &[0; 4]).unwrap();
        assert_eq!(s.take_upload(4, 0, 4), Err(StageError::Missing { index: 0, call: 4 }));
        // a message of another call forgets what this one staged
        s.stage(5, 1, 0, 4, &[0; 4]).unwrap();
        assert_eq!(s.take_upload(5, 0, 4), Err(StageError::Missing { index: 0, call: 5 }));
    }

    #[test]
    fn results_are_fetched_in_order_and_freed_by_the_last_chunk() {
        let mut s = Staging::new(100);
        let mut bytes = s.allocate(10, 0).unwrap();
        bytes.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
        let index = s.keep_result(9, bytes);
        assert_eq!(s.room(), 90);
        assert_eq!(s.fetch(9, index, 0, 4, <[u8]>::to_vec), Ok(vec![0, 1, 2, 3]));
        assert_eq!(s.fetch(9, index, 4, 6, <[u8]>::to_vec), Ok(vec![4, 5, 6, 7, 8, 9]));
        assert!(s.is_empty(), "the last chunk frees the result");
        assert_eq!(s.fetch(9, index, 10, 1, <[u8]>::to_vec), Err(StageError::Missing { index, call: 9 }));

        let index = s.keep_result(9, vec![0; 10]);
        assert_eq!(s.fetch(9, index, 8, 4, <[u8]>::to_vec), Err(StageError::OutOfOrder { index, offset: 8, expected: 0 }));
        let index = s.keep_result(9, vec![0; 10]);
        assert_eq!(s.fetch(9, index, 0, 11, <[u8]>::to_vec), Err(StageError::PastEnd { offset: 0, len: 11, total: 10 }));
        let index = s.keep_result(9, vec![0; 10]);
        assert_eq!(s.fetch(9, index, 0, u64::MAX, <[u8]>::to_vec), Err(StageError::PastEnd { offset: 0, len: u64::MAX, total: 10 }));
        let index = s.keep_result(9, vec![0; 10]);
        assert_eq!(s.fetch(8, index, 0, 1, <[u8]>::to_vec), Err(StageError::Missing { index, call: 8 }));
        assert_eq!(s.stage(9, index, 0, 10, &[0]), Err(StageError::NotUpload { index }));
        // the next call forgets results nobody fetched
        let index = s.keep_result(9, vec![0; 10]);
        s.begin_call(10);
        assert_eq!(s.fetch(10, index, 0, 1, <[u8]>::to_vec), Err(StageError::Missing { index, call: 10 }));
        assert!(s.is_empty());
    }

    #[test]
    fn finished_transfers_leave_spares_that_the_next_ones_reuse() {
        let mut s = Staging::new(100);
        s.stage(1, 0, 0, 40, &[7; 40]).unwrap();
        s.begin_call(1);
        let upload = s.take_upload(1, 0, 40).unwrap();
        let at = upload.as_ptr();
        s.end_call();
        s.recycle(upload);
        assert_eq!((s.held(), s.spare_bytes()), (0, 40));
        // the next upload of that size fills the same buffer, stale bytes overwritten
        s.stage(2, 0, 0, 30, &[1; 10]).unwrap();
        assert_eq!(s.spare_bytes(), 0);
        assert_eq!(s.held(), 40, "a reused buffer counts by its capacity");
        s.stage(2, 0, 10, 30, &[2; 20]).unwrap();
        s.begin_call(2);
        let upload = s.take_upload(2, 0, 30).unwrap();
        assert_eq!(upload.as_ptr(), at);
        assert_eq!(upload, [[1; 10].as_slice(), &[2; 20]].concat());
        s.end_call();
        s.recycle(upload);
        // a result reuses it too, and its last fetch gives it back
        let result = s.allocate(35, 0).unwrap();
        assert_eq!((result.as_ptr(), result.len()), (at, 35));
        let index = s.keep_result(3, result);
        s.fetch(3, index, 0, 35, |_| ()).unwrap();
        assert_eq!((s.held(), s.spare_bytes()), (0, 40));
        // too small for a larger transfer: a fresh buffer, the spare stays beside it
        assert_eq!(s.stage(4, 0, 0, 50, &[0; 1]), Ok(1));
        assert_eq!(s.spare_bytes(), 40);
        s.clear();
        assert_eq!(s.spare_bytes(), 0);
    }

    #[test]
    fn spares_never_hold_the_limit_against_a_transfer() {
        let mut s = Staging::new(100);
        s.recycle(Vec::with_capacity(60));
        s.recycle(Vec::with_capacity(30));
        assert_eq!(s.spare_bytes(), 90);
        // 80 bytes fit only once the spares go
        assert_eq!(s.stage(1, 0, 0, 80, &[0; 1]), Ok(1));
        assert!(s.held() + s.spare_bytes() <= 100);
        assert_eq!(s.stage(1, 1, 0, 21, &[0; 1]), Err(StageError::OverLimit { held: 80, total: 21, max: 100 }));
        // a spare larger than the room is not recycled
        s.recycle(Vec::with_capacity(21));
        assert_eq!(s.spare_bytes(), 0);
        s.recycle(Vec::with_capacity(20));
        assert_eq!(s.spare_bytes(), 20);
        // nor kept past the room a result takes, counting what the call took
        let mut s = Staging::new(100);
        s.recycle(Vec::with_capacity(50));
        assert_eq!(s.allocate(60, 0).map(|b| b.len()), Ok(60));
        assert_eq!(s.spare_bytes(), 0);
        s.recycle(Vec::with_capacity(50));
        assert_eq!(s.allocate(30, 30).map(|b| (b.len(), b.capacity())), Ok((30, 50)), "the spare fits beside what the call holds");
        assert_eq!(s.allocate(71, 30), Err(StageError::OverLimit { held: 30, total: 71, max: 100 }));
        // at most MAX_SPARES, the largest
        let mut s = Staging::new(1000);
        for n in [10, 40, 20, 30] {
            s.recycle(Vec::with_capacity(n));
        }
        assert_eq!(s.spare_bytes(), 70);
    }

    #[test]
    fn spares_go_after_calls_that_stage_nothing() {
        let mut s = Staging::new(100);
        s.recycle(Vec::with_capacity(50));
        for call in 1..=SPARE_CALLS as u64 {
            s.begin_call(call);
            s.end_call();
        }
        assert_eq!(s.spare_bytes(), 50, "a few calls without staging keep them");
        let result = s.allocate(50, 0).unwrap();
        s.recycle(result);
        for call in 100..100 + SPARE_CALLS as u64 {
            s.begin_call(call);
        }
        assert_eq!(s.spare_bytes(), 50, "a call that stages starts the count again");
        s.begin_call(200);
        assert_eq!(s.spare_bytes(), 0);
    }
}
