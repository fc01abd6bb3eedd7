//! The API server's own copy of the guest's buffer registries, for the
//! buffers it keeps.
//!
//! A kept buffer (`lifetime(manual)`) can be in the vendor's hands after
//! the call that made it returns: an asynchronous read writes into it until
//! its queue runs. The guest frees it by naming it, with `deallocate`, in a
//! call whose buffers come from a registry (`get_bufs(pending_reads,
//! queue)`), a call that first runs what the buffer is waiting for. Which
//! buffers a call may free is therefore the server's business, not the
//! guest's word: a guest naming another queue's pending buffer would have
//! the server free memory the vendor is still writing. The server records
//! every `register_buf` it runs itself, and frees a kept buffer through a
//! registry only when that registry holds it under the key the call names.

#![forbid(unsafe_code)]

use std::collections::HashMap;

#[derive(Debug, Default)]
pub(super) struct KeptRegistries {
    /// (registry, key) to the kept buffers registered there, by the
    /// guest's key of each buffer.
    entries: HashMap<(u32, u64), Vec<u64>>,
}

impl KeptRegistries {
    /// Records kept buffer `buffer` under `key` of `registry`.
    pub(super) fn register(&mut self, registry: u32, key: u64, buffer: u64) {
        let list = self.entries.entry((registry, key)).or_default();
        if !list.contains(&buffer) {
            list.push(buffer);
        }
    }

    /// Records every kept buffer under `from_key` of `from` under `key` of
    /// `registry` too (`register_bufs_of`).
    pub(super) fn register_all(&mut self, registry: u32, key: u64, from: u32, from_key: u64) {
        let Some(buffers) = self.entries.get(&(from, from_key)).cloned() else { return };
        for buffer in buffers {
            self.register(registry, key, buffer);
        }
    }

    /// Whether `key` of `registry` holds kept buffer `buffer`.
    pub(super) fn holds(&self, registry: u32, key: u64, buffer: u64) -> bool {
        self.entries.get(&(registry, key)).is_some_and(|list| list.contains(&buffer))
    }

    /// Every registry entry that holds kept buffers: (registry, key, the
    /// buffers' keys). What a departed process left pending.
    pub(super) fn entries(&self) -> impl Iterator<Item = (u32, u64, &[u64])> + '_ {
        self.entries.iter().map(|(&(registry, key), buffers)| (registry, key, buffers.as_slice()))
    }

    /// Forgets kept buffer `buffer` everywhere (it was freed).
    pub(super) fn forget(&mut self, buffer: u64) {
        self.entries.retain(|_, list| {
            list.retain(|b| *b != buffer);
            !list.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_is_held_only_where_it_was_registered_until_it_is_forgotten() {
        let mut r = KeptRegistries::default();
        r.register(0, 7, 0x1000);
        r.register(0, 7, 0x1000);
        r.register(1, 9, 0x1000);
        r.register(0, 8, 0x2000);
        assert!(r.holds(0, 7, 0x1000));
        assert!(r.holds(1, 9, 0x1000), "a buffer may be under two registries");
        assert!(!r.holds(0, 8, 0x1000), "another queue's key does not hold it");
        assert!(!r.holds(1, 7, 0x1000), "another registry does not hold it");
        r.forget(0x1000);
        assert!(!r.holds(0, 7, 0x1000) && !r.holds(1, 9, 0x1000));
        assert!(r.holds(0, 8, 0x2000));
        assert_eq!(r.entries.len(), 1, "empty entries go");
    }

    #[test]
    fn a_key_can_take_every_buffer_another_holds_now() {
        let mut r = KeptRegistries::default();
        r.register(0, 7, 0x1000);
        r.register(0, 7, 0x2000);
        r.register_all(1, 9, 0, 7);
        r.register(0, 7, 0x3000);
        assert!(r.holds(1, 9, 0x1000) && r.holds(1, 9, 0x2000));
        assert!(!r.holds(1, 9, 0x3000), "registered later: not taken");
        r.register_all(1, 10, 0, 8);
        assert!(!r.entries.contains_key(&(1, 10)), "nothing under the other key: no entry");
        r.forget(0x1000);
        assert!(!r.holds(1, 9, 0x1000) && r.holds(1, 9, 0x2000));
    }
}
