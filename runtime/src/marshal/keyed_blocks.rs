//! Byte blocks found both by key and by address: the API server's
//! per-object metadata. Expressions reach a metadata field through its
//! address (`metadata(kernel)->argc`), so a read must find the block that
//! holds an address without scanning every object's.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub(super) struct KeyedBlocks {
    /// Each key's block, by its start address. Ordered, not hashed: the
    /// guest names the keys, and `metadata(kernel)` runs on every launch
    /// (one SipHash cost more than the comparisons of a lookup).
    by_key: BTreeMap<u64, u64>,
    /// The blocks, by start address: a read (every `metadata(x)->field` in
    /// a condition, on every call) is one ordered lookup, no hashing.
    by_addr: BTreeMap<u64, Box<[u8]>>,
}

impl KeyedBlocks {
    /// The address of `key`'s block, created zeroed with `size` bytes.
    pub(super) fn get_or_create(&mut self, key: u64, size: usize) -> u64 {
        if let Some(&addr) = self.by_key.get(&key) {
            return addr;
        }
        let block = vec![0u8; size.max(1)].into_boxed_slice();
        let addr = block.as_ptr() as u64;
        self.by_key.insert(key, addr);
        self.by_addr.insert(addr, block);
        addr
    }

    /// The block holding `addr..addr + n`, and the offset of `addr` in it.
    fn locate(&mut self, addr: u64, n: usize) -> Option<(&mut [u8], usize)> {
        let (&start, block) = self.by_addr.range_mut(..=addr).next_back()?;
        let off = addr - start;
        let end = off.checked_add(n as u64)?;
        (end <= block.len() as u64).then_some((&mut block[..], off as usize))
    }

    /// Reads `addr..addr + dst.len()` if it lies in the block that starts
    /// at `start` (an address `get_or_create` gave): one exact lookup.
    pub(super) fn read_in(&self, start: u64, addr: u64, dst: &mut [u8]) -> bool {
        let Some(block) = self.by_addr.get(&start) else { return false };
        let Some(off) = addr.checked_sub(start) else { return false };
        match off.checked_add(dst.len() as u64) {
            Some(end) if end <= block.len() as u64 => {
                dst.copy_from_slice(&block[off as usize..end as usize]);
                true
            }
            _ => false,
        }
    }

    pub(super) fn read(&mut self, addr: u64, dst: &mut [u8]) -> bool {
        match self.locate(addr, dst.len()) {
            Some((block, off)) => {
                dst.copy_from_slice(&block[off..off + dst.len()]);
                true
            }
            None => false,
        }
    }

    pub(super) fn write(&mut self, addr: u64, src: &[u8]) -> bool {
        match self.locate(addr, src.len()) {
            Some((block, off)) => {
                block[off..off + src.len()].copy_from_slice(src);
                true
            }
            None => false,
        }
    }

    /// The keys that have a block.
    pub(super) fn keys(&self) -> impl Iterator<Item = u64> + '_ {
        self.by_key.keys().copied()
    }

    /// Forgets `key`'s block (its object was released).
    pub(super) fn remove(&mut self, key: u64) {
        if let Some(addr) = self.by_key.remove(&key) {
            self.by_addr.remove(&addr);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_found_by_any_address_inside_them_and_nowhere_else() {
        let mut blocks = KeyedBlocks::default();
        let a = blocks.get_or_create(7, 16);
        let b = blocks.get_or_create(8, 4);
        assert_eq!(blocks.get_or_create(7, 16), a, "one block per key");
        assert!(blocks.write(a + 4, &[1, 2, 3, 4]));
        let mut four = [0u8; 4];
        assert!(blocks.read(a + 4, &mut four));
        assert_eq!(four, [1, 2, 3, 4]);
        assert!(!blocks.read(a + 14, &mut four), "past the end of the block");
        assert!(blocks.read(b, &mut four));
        assert!(blocks.read_in(a, a + 4, &mut four) && four == [1, 2, 3, 4]);
        assert!(!blocks.read_in(a, a + 14, &mut four), "past the end of the block");
        assert!(!blocks.read_in(a, a - 1, &mut four), "before the block");
        assert!(!blocks.read_in(b, a + 4, &mut four), "in another block than the one named");
        blocks.remove(7);
        assert!(!blocks.read(a + 4, &mut four), "a removed block is gone");
        assert!(!blocks.read_in(a, a + 4, &mut four), "a removed block is gone");
        assert!(blocks.read(b, &mut four));
    }
}
