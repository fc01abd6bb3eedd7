//! The guest's allocator for the zero-copy region.
//!
//! AvA's shared-memory channel used a bump pointer that wrapped around and
//! could overwrite buffers still in flight. Here a block stays allocated
//! until its owner frees it (after the reply that used it has arrived), and
//! the allocator simply fails when no free extent is large enough; the
//! caller then sends the buffer inline instead. The bookkeeping lives in the
//! guest's private memory, never in the shared mapping, so the peer cannot
//! corrupt it.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;

/// Blocks start on a cache line and are a whole number of lines long.
pub const GRANULE: u64 = 64;

/// A block of the zero-copy region, owned until passed back to `free`.
/// Deliberately not `Clone`: one block, one free.
#[derive(Debug, PartialEq, Eq)]
pub struct RegionBlock {
    offset: u64,
    len: u64,
}

impl RegionBlock {
    /// Offset from the start of the region (what a shared buffer descriptor
    /// carries).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Usable length (the request rounded up to [`GRANULE`]).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Always false: blocks are at least one granule long.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// First-fit allocator over free extents, coalescing on free. Used by the
/// guest for each channel's region and for its process region.
#[derive(Debug)]
pub struct RegionAllocator {
    /// offset -> length of each free extent; extents never touch.
    free: BTreeMap<u64, u64>,
    /// offset -> length of each live block.
    live: BTreeMap<u64, u64>,
}

impl RegionAllocator {
    pub fn new(size: u64) -> RegionAllocator {
        let size = size / GRANULE * GRANULE;
        let mut free = BTreeMap::new();
        if size > 0 {
            free.insert(0, size);
        }
        RegionAllocator { free, live: BTreeMap::new() }
    }

    /// A block of at least `len` bytes, or `None` if no free extent is that
    /// large.
    pub fn alloc(&mut self, len: u64) -> Option<RegionBlock> {
        let need = len.max(1).checked_add(GRANULE - 1)? / GRANULE * GRANULE;
        let (&offset, &extent) = self.free.iter().find(|(_, l)| **l >= need)?;
        self.free.remove(&offset);
        if extent > need {
            self.free.insert(offset + need, extent - need);
        }
        self.live.insert(offset, need);
        Some(RegionBlock { offset, len: need })
    }

    /// Returns a block. `false` if the block is not live here (it came from
    /// another channel).
    pub fn free(&mut self, block: RegionBlock) -> bool {
        if self.live.get(&block.offset) != Some(&block.len) {
            return false;
        }
        self.live.remove(&block.offset);
        let (mut offset, mut len) = (block.offset, block.len);
        if let Some((&prev, &prev_len)) = self.free.range(..offset).next_back() {
            if prev + prev_len == offset {
                self.free.remove(&prev);
                offset = prev;
                len += prev_len;
            }
        }
        if let Some(next_len) = self.free.remove(&(offset + len)) {
            len += next_len;
        }
        self.free.insert(offset, len);
        true
    }

    /// Returns the live block that starts at `offset` (what `zerocopy_free`
    /// gets: a pointer, not a block). `false` if no live block starts there.
    pub fn free_at(&mut self, offset: u64) -> bool {
        match self.live.get(&offset) {
            Some(&len) => self.free(RegionBlock { offset, len }),
            None => false,
        }
    }

    /// Bytes currently allocated.
    pub fn live_bytes(&self) -> u64 {
        self.live.values().sum()
    }

    #[cfg(test)]
    fn check(&self, size: u64) {
        let mut all: Vec<(u64, u64, bool)> =
            self.free.iter().map(|(o, l)| (*o, *l, false)).chain(self.live.iter().map(|(o, l)| (*o, *l, true))).collect();
        all.sort();
        let mut end = 0;
        for w in all.windows(2) {
            assert!(w[0].0 + w[0].1 <= w[1].0, "overlap: {w:?}");
            assert!(w[0].2 || w[1].2 || w[0].0 + w[0].1 < w[1].0, "free extents not coalesced: {w:?}");
        }
        for (o, l, _) in &all {
            end = end.max(o + l);
        }
        assert!(end <= size);
        assert_eq!(all.iter().map(|a| a.1).sum::<u64>(), size / GRANULE * GRANULE, "bytes lost");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn blocks_are_rounded_and_refused_when_full() {
        let mut a = RegionAllocator::new(4 * GRANULE);
        let b1 = a.alloc(1).unwrap();
        assert_eq!((b1.offset(), b1.len()), (0, GRANULE));
        let b2 = a.alloc(2 * GRANULE + 1).unwrap();
        assert_eq!((b2.offset(), b2.len()), (GRANULE, 3 * GRANULE));
        assert!(a.alloc(1).is_none(), "full: nothing live may be handed out again");
        assert!(a.free(b1));
        assert!(a.alloc(GRANULE + 1).is_none(), "one free granule is not enough");
        assert!(a.free(b2));
        assert_eq!(a.alloc(4 * GRANULE).unwrap().offset(), 0, "frees coalesce");
        assert!(a.alloc(u64::MAX).is_none());
    }

    #[test]
    fn blocks_are_freed_by_their_start_only() {
        let mut a = RegionAllocator::new(4 * GRANULE);
        let b = a.alloc(2 * GRANULE).unwrap();
        assert!(!a.free_at(b.offset() + GRANULE), "not the start of a block");
        assert!(!a.free_at(u64::MAX));
        assert!(a.free_at(b.offset()));
        assert!(!a.free_at(b.offset()), "freed twice");
        assert_eq!(a.live_bytes(), 0);
    }

    #[test]
    fn a_foreign_block_is_refused() {
        let mut a = RegionAllocator::new(4 * GRANULE);
        assert!(!a.free(RegionBlock { offset: 0, len: GRANULE }));
        let _held = a.alloc(GRANULE).unwrap();
        assert!(!a.free(RegionBlock { offset: 0, len: 2 * GRANULE }));
    }

    proptest! {
        #[test]
        fn live_blocks_never_overlap(ops in proptest::collection::vec((any::<bool>(), 1u64..5000, any::<usize>()), 1..200)) {
            let size = 64 * 1024;
            let mut a = RegionAllocator::new(size);
            let mut held: Vec<RegionBlock> = Vec::new();
            for (alloc, len, pick) in ops {
                if alloc || held.is_empty() {
                    if let Some(b) = a.alloc(len) {
                        prop_assert!(b.len() >= len);
                        for h in &held {
                            prop_assert!(b.offset() + b.len() <= h.offset() || h.offset() + h.len() <= b.offset());
                        }
                        held.push(b);
                    }
                } else {
                    let b = held.swap_remove(pick % held.len());
                    prop_assert!(a.free(b));
                }
                a.check(size);
            }
            prop_assert_eq!(a.live_bytes(), held.iter().map(|b| b.len()).sum::<u64>());
        }
    }
}
