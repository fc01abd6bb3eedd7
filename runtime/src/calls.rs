//! Guest-side state that generated stubs keep between calls: errors from
//! asynchronous calls waiting to be reported, buffer registries
//! (`buf_registry`) and per-object metadata (`declare_metadata`).
//!
//! The semantics of deferred errors (also in the book's wire chapter): an
//! `async` call returns its `success` value at once; if the API server later
//! reports that it failed, the error is kept for the thread that made the
//! call and returned by that thread's next call to the API (forwarded or
//! not), in place of that call's own result, and then forgotten. Only the
//! first error is kept: later ones of the same burst are usually its
//! consequences. An error never vanishes silently, and never surfaces on
//! another thread.

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::hash::Hash;

/// The first error of an asynchronous call not yet returned to its thread.
#[derive(Debug, Default)]
pub struct DeferredError<E> {
    pending: Option<DeferredFailure<E>>,
}

/// Which call failed, for the log line the guest writes when it reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeferredFailure<E> {
    pub error: E,
    pub function: u32,
    pub call: u64,
}

impl<E> DeferredError<E> {
    pub fn new() -> DeferredError<E> {
        DeferredError { pending: None }
    }

    /// Records a failed asynchronous call; keeps the first one only.
    pub fn record(&mut self, failure: DeferredFailure<E>) {
        if self.pending.is_none() {
            self.pending = Some(failure);
        }
    }

    /// The error the next call must return instead of its own, if any.
    pub fn take(&mut self) -> Option<DeferredFailure<E>> {
        self.pending.take()
    }

    pub fn is_pending(&self) -> bool {
        self.pending.is_some()
    }
}

/// A `buf_registry`: buffers registered under a key (a stream, a queue) by
/// asynchronous calls, read back by the call that synchronizes that key.
#[derive(Debug)]
pub struct BufRegistry<K> {
    by_key: HashMap<K, Vec<(usize, usize)>>,
}

impl<K> Default for BufRegistry<K> {
    fn default() -> Self {
        BufRegistry { by_key: HashMap::new() }
    }
}

impl<K: Eq + Hash> BufRegistry<K> {
    pub fn new() -> BufRegistry<K> {
        BufRegistry::default()
    }

    /// `register_buf(r, key, buf, size)`: `buf` (an address in the guest) of `size` elements.
    pub fn register(&mut self, key: K, buf: usize, size: usize) {
        self.by_key.entry(key).or_default().push((buf, size));
    }

    /// `get_bufs(r, key)`: the buffers registered under `key`, oldest first.
    pub fn bufs(&self, key: &K) -> Vec<usize> {
        self.by_key.get(key).map(|v| v.iter().map(|(b, _)| *b).collect()).unwrap_or_default()
    }

    /// `get_n_bufs(r, key)`.
    pub fn len(&self, key: &K) -> usize {
        self.by_key.get(key).map_or(0, Vec::len)
    }

    /// `get_buf_size(r, key, i)`; `None` past the end (an index the spec
    /// computed wrongly must not read another buffer's size).
    pub fn size(&self, key: &K, index: usize) -> Option<usize> {
        self.by_key.get(key)?.get(index).map(|(_, s)| *s)
    }

    /// After the synchronizing call copied the buffers back (`deallocate`).
    pub fn release(&mut self, key: &K) -> Vec<(usize, usize)> {
        self.by_key.remove(key).unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

/// Per-object metadata (`metadata(key)`), created on first use.
#[derive(Debug)]
pub struct MetadataStore<K, T> {
    by_key: HashMap<K, T>,
}

impl<K, T> Default for MetadataStore<K, T> {
    fn default() -> Self {
        MetadataStore { by_key: HashMap::new() }
    }
}

impl<K: Eq + Hash, T: Default> MetadataStore<K, T> {
    pub fn new() -> MetadataStore<K, T> {
        MetadataStore::default()
    }

    /// The record for `key`, created with `T::default()` on first use.
    pub fn get(&mut self, key: K) -> &mut T {
        self.by_key.entry(key).or_default()
    }

    /// Drops the record when its object is deallocated (so a new object at
    /// the same key starts fresh).
    pub fn forget(&mut self, key: &K) -> Option<T> {
        self.by_key.remove(key)
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_deferred_error_surfaces_once() {
        let mut deferred = DeferredError::new();
        assert_eq!(deferred.take(), None);
        deferred.record(DeferredFailure { error: -5, function: 3, call: 10 });
        deferred.record(DeferredFailure { error: -36, function: 4, call: 11 });
        assert!(deferred.is_pending());
        assert_eq!(deferred.take(), Some(DeferredFailure { error: -5, function: 3, call: 10 }));
        assert_eq!(deferred.take(), None, "reported once, then forgotten");
    }

    #[test]
    fn registries_keep_buffers_per_key_in_order() {
        let mut r = BufRegistry::new();
        r.register("stream1", 0x1000, 64);
        r.register("stream2", 0x9000, 8);
        r.register("stream1", 0x2000, 128);
        assert_eq!(r.bufs(&"stream1"), [0x1000, 0x2000]);
        assert_eq!(r.len(&"stream1"), 2);
        assert_eq!(r.size(&"stream1", 1), Some(128));
        assert_eq!(r.size(&"stream1", 2), None);
        assert_eq!(r.len(&"nothing"), 0);
        assert_eq!(r.release(&"stream1"), [(0x1000, 64), (0x2000, 128)]);
        assert_eq!(r.len(&"stream1"), 0);
        assert!(!r.is_empty());
    }

    #[test]
    fn metadata_is_created_on_first_use_and_forgotten_with_its_object() {
        #[derive(Default, Debug, PartialEq)]
        struct KernelInfo {
            argc: i32,
        }
        let mut store: MetadataStore<u64, KernelInfo> = MetadataStore::new();
        assert_eq!(store.get(7).argc, 0);
        store.get(7).argc = 3;
        assert_eq!(store.get(7).argc, 3);
        assert_eq!(store.forget(&7), Some(KernelInfo { argc: 3 }));
        assert_eq!(store.get(7).argc, 0);
        assert_eq!(store.len(), 1);
    }
}
