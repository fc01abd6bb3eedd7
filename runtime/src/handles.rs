//! Per-guest handle tables: the guest never sees the API server's object
//! pointers, only opaque ids, and every id it sends back is checked here.
//!
//! An id is `generation << 32 | slot + 1`: slot numbers are reused, but a
//! removed handle's generation is bumped, so a stale id (kept by the guest
//! after a release) never reaches the object that took its slot. Each entry
//! also carries the kind of object (one per handle type of the spec), so a
//! `cl_mem` id sent where a `cl_kernel` is expected is refused instead of
//! being handed to the vendor library as the wrong type. Id 0 is NULL.
//!
//! A handle that a call is deallocating is *releasing* from before the
//! vendor call until the call's outcome is known: other calls of the same
//! process get the invalid-handle error for it. Until the vendor's release
//! starts, its object still has that id: a callback or a result naming the
//! object meanwhile (while the release waits for another call that uses
//! the object, see `marshal::server::in_use`) gets the releasing id, which
//! the release ends, not a fresh one that nothing would count or end. From
//! the moment the vendor's release starts (`release_starts`), the object
//! no longer counts as having an id: the vendor may hand the freed address
//! to another object (of this process or another) as soon as it has freed
//! it, before the call returns; were the old id still its, another thread
//! could reach that new object through it, or the new object could be
//! given the old id, which the release then ends.
//!
//! A handle is *owned* when a call of the process created its object (a
//! value described `allocate`): only owned handles end with `deallocate`
//! and are released when the process leaves. Objects the process was only
//! handed (OpenCL's root devices, CUDA's primary contexts) belong to the
//! library: releasing one is the library's business (OpenCL makes it a
//! no-op), and its handle stays.
//!
//! A table belongs to one guest process (the API server keeps one per
//! process, see `marshal::tenants`), so one guest can never name another's
//! objects: the same id is another object, or none, in another table.

#![forbid(unsafe_code)]

use std::collections::HashMap;

/// An opaque handle as the guest sees it.
pub type HandleId = u64;

/// Which handle type of the spec an object is (its index among the spec's handle types).
pub type HandleKind = u32;

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HandleError {
    /// Never issued by this table: forged or corrupted.
    #[error("handle {0:#x} was never issued to this guest")]
    Unknown(HandleId),
    /// Issued once, since released.
    #[error("handle {0:#x} was released")]
    Stale(HandleId),
    /// Issued for another type of object.
    #[error("handle {id:#x} is a handle of kind {actual}, not {expected}")]
    WrongKind { id: HandleId, expected: HandleKind, actual: HandleKind },
    /// The table holds as many handles as ids can name.
    #[error("too many live handles")]
    Full,
    /// A call is releasing it (see `begin_release`).
    #[error("handle {0:#x} is being released by another call")]
    Releasing(HandleId),
    /// Replay could not give an object the id it had (see `insert_as`).
    #[error("handle {0:#x} cannot be rebound: its slot or its object is taken")]
    Rebound(HandleId),
}

#[derive(Debug)]
struct Slot {
    generation: u32,
    /// The server-side object and its kind while the handle is live.
    live: Option<(usize, HandleKind)>,
    /// When the live handle was issued (the table's count of issues).
    issued: u64,
    /// A call is deallocating the live handle's object.
    releasing: bool,
    /// A call of the process created the live handle's object.
    owned: bool,
}

/// Maps opaque ids to server-side object addresses for one guest.
#[derive(Debug, Default)]
pub struct HandleTable {
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// The id already issued for an object, so that an API returning the
    /// same object twice (`clGetContextInfo` returning a device) gives the
    /// guest the same id, as the real library would give the same pointer.
    by_object: HashMap<(usize, HandleKind), HandleId>,
    /// Handles issued so far: their order, for releasing newest first.
    issues: u64,
    /// Live handles that are releasing (not in `by_object`).
    releasing: usize,
    /// The objects of releasing handles whose vendor release has not
    /// started, and their ids (see the module's documentation).
    releasing_objects: HashMap<(usize, HandleKind), HandleId>,
}

fn split(id: HandleId) -> (u32, u32) {
    ((id >> 32) as u32, id as u32)
}

impl HandleTable {
    pub fn new() -> HandleTable {
        HandleTable::default()
    }

    /// Number of live handles, releasing ones included.
    pub fn len(&self) -> usize {
        self.by_object.len() + self.releasing
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The id for `object` of `kind`, issuing one if it has none. A null
    /// object is id 0.
    pub fn insert(&mut self, object: usize, kind: HandleKind) -> Result<HandleId, HandleError> {
        if object == 0 {
            return Ok(0);
        }
        if let Some(&id) = self.by_object.get(&(object, kind)) {
            return Ok(id);
        }
        if let Some(&id) = self.releasing_objects.get(&(object, kind)) {
            return Ok(id);
        }
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                let slot = u32::try_from(self.slots.len()).ok().filter(|s| *s < u32::MAX).ok_or(HandleError::Full)?;
                self.slots.push(Slot { generation: 1, live: None, issued: 0, releasing: false, owned: false });
                slot
            }
        };
        self.issues += 1;
        let entry = &mut self.slots[slot as usize];
        entry.live = Some((object, kind));
        entry.issued = self.issues;
        entry.owned = false;
        let id = (u64::from(entry.generation) << 32) | u64::from(slot + 1);
        self.by_object.insert((object, kind), id);
        Ok(id)
    }

    /// Whether `id` is a live handle (of any kind, releasing included).
    pub fn is_live(&self, id: HandleId) -> bool {
        let (generation, slot) = split(id);
        let entry = slot.checked_sub(1).and_then(|s| self.slots.get(s as usize));
        entry.is_some_and(|e| e.live.is_some() && e.generation == generation)
    }

    /// The object behind `id`, which must be a live handle of `kind`. Id 0 is NULL.
    pub fn get(&self, id: HandleId, kind: HandleKind) -> Result<usize, HandleError> {
        if id == 0 {
            return Ok(0);
        }
        let (generation, slot) = split(id);
        let entry = slot.checked_sub(1).and_then(|s| self.slots.get(s as usize)).ok_or(HandleError::Unknown(id))?;
        match entry.live {
            // a generation the slot has not reached, or reached but not issued yet
            _ if generation > entry.generation || generation == 0 => Err(HandleError::Unknown(id)),
            None if generation == entry.generation => Err(HandleError::Unknown(id)),
            Some(_) if generation == entry.generation && entry.releasing => Err(HandleError::Releasing(id)),
            Some((object, actual)) if generation == entry.generation => {
                if actual == kind {
                    Ok(object)
                } else {
                    Err(HandleError::WrongKind { id, expected: kind, actual })
                }
            }
            _ => Err(HandleError::Stale(id)),
        }
    }

    /// Binds `object` to a given `id`: a fresh server replaying a recorded
    /// call gives the re-created object the id the guest already holds.
    /// Fails when the id's slot is live, or the object already has an id
    /// (replay of another log, or a vendor returning an old object).
    pub fn insert_as(&mut self, object: usize, kind: HandleKind, id: HandleId) -> Result<(), HandleError> {
        let (generation, slot) = split(id);
        if object == 0 || id == 0 || slot == 0 || generation == 0 || slot == u32::MAX {
            return Err(HandleError::Unknown(id));
        }
        if self.by_object.contains_key(&(object, kind)) || self.releasing_objects.contains_key(&(object, kind)) {
            return Err(HandleError::Rebound(id));
        }
        let index = slot - 1;
        while self.slots.len() <= index as usize {
            // slots skipped on the way are free for later objects
            self.free.push(self.slots.len() as u32);
            self.slots.push(Slot { generation: 1, live: None, issued: 0, releasing: false, owned: false });
        }
        let entry = &mut self.slots[index as usize];
        if entry.live.is_some() {
            return Err(HandleError::Rebound(id));
        }
        self.issues += 1;
        entry.generation = generation;
        entry.live = Some((object, kind));
        entry.issued = self.issues;
        entry.owned = false;
        self.free.retain(|s| *s != index);
        self.by_object.insert((object, kind), id);
        Ok(())
    }

    /// The live entry of `id` (any kind), releasing or not.
    fn live_slot(&self, id: HandleId) -> Option<usize> {
        let (generation, slot) = split(id);
        let index = slot.checked_sub(1)? as usize;
        let entry = self.slots.get(index)?;
        (entry.generation == generation && entry.live.is_some()).then_some(index)
    }

    /// Marks live handle `id` owned: a call of the process created its object.
    pub fn own(&mut self, id: HandleId) {
        if let Some(index) = self.live_slot(id) {
            self.slots[index].owned = true;
        }
    }

    /// Whether `id` is a live handle the process owns.
    pub fn is_owned(&self, id: HandleId) -> bool {
        self.live_slot(id).is_some_and(|index| self.slots[index].owned)
    }

    /// Starts releasing `id`, a live handle of `kind`, before the call that
    /// deallocates its object: from now on `get` refuses it; the object
    /// keeps the id until the vendor's release starts (`release_starts`),
    /// after which an object the vendor creates at the same address gets a
    /// new one. The call's outcome then ends it (`finish_release`) or makes
    /// it live again (`abort_release`).
    pub fn begin_release(&mut self, id: HandleId, kind: HandleKind) -> Result<usize, HandleError> {
        let object = self.get(id, kind)?;
        if id == 0 {
            return Ok(0);
        }
        let (_, slot) = split(id);
        self.slots[slot as usize - 1].releasing = true;
        self.releasing += 1;
        self.by_object.remove(&(object, kind));
        self.releasing_objects.insert((object, kind), id);
        Ok(object)
    }

    /// The vendor's release of releasing handle `id`'s object starts: the
    /// vendor may free the object and reuse its address from now on, so
    /// the object no longer has an id.
    pub fn release_starts(&mut self, id: HandleId) {
        if let Some(index) = self.releasing_slot(id) {
            if let Some(key) = self.slots[index].live {
                if self.releasing_objects.get(&key) == Some(&id) {
                    self.releasing_objects.remove(&key);
                }
            }
        }
    }

    /// The entry of a releasing handle, if `id` is one.
    fn releasing_slot(&self, id: HandleId) -> Option<usize> {
        self.live_slot(id).filter(|index| self.slots[*index].releasing)
    }

    /// Ends a releasing handle: the call deallocated its object.
    pub fn finish_release(&mut self, id: HandleId) {
        self.release_starts(id);
        if let Some(index) = self.releasing_slot(id) {
            let entry = &mut self.slots[index];
            entry.releasing = false;
            entry.live = None;
            self.releasing -= 1;
            self.retire(index);
        }
    }

    /// Makes a releasing handle live again: the call failed, so its object
    /// still exists (and cannot have been given to another object).
    pub fn abort_release(&mut self, id: HandleId) {
        self.release_starts(id);
        if let Some(index) = self.releasing_slot(id) {
            let entry = &mut self.slots[index];
            entry.releasing = false;
            self.releasing -= 1;
            if let Some((object, kind)) = entry.live {
                self.by_object.entry((object, kind)).or_insert(id);
            }
        }
    }

    /// Frees a slot whose handle ended; a slot whose generation would wrap
    /// is retired rather than reused.
    fn retire(&mut self, index: usize) {
        let entry = &mut self.slots[index];
        if entry.generation < u32::MAX {
            entry.generation += 1;
            self.free.push(index as u32);
        }
    }

    /// Every live handle the process owns, the most recently issued first:
    /// objects are usually created after the objects they depend on (a
    /// kernel after its program, a buffer after its context), so this order
    /// releases dependents before what they depend on.
    pub fn owned_newest_first(&self) -> Vec<(HandleId, usize, HandleKind)> {
        let mut live: Vec<(u64, HandleId, usize, HandleKind)> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.owned && !s.releasing)
            .filter_map(|(i, s)| s.live.map(|(object, kind)| (s.issued, (u64::from(s.generation) << 32) | (i as u64 + 1), object, kind)))
            .collect();
        live.sort_unstable_by_key(|(issued, ..)| std::cmp::Reverse(*issued));
        live.into_iter().map(|(_, id, object, kind)| (id, object, kind)).collect()
    }

    /// Releases `id` (after the API released the object) and returns the object.
    pub fn remove(&mut self, id: HandleId, kind: HandleKind) -> Result<usize, HandleError> {
        let object = self.get(id, kind)?;
        if id == 0 {
            return Ok(0);
        }
        let (_, slot) = split(id);
        let index = slot as usize - 1;
        self.slots[index].live = None;
        self.retire(index);
        self.by_object.remove(&(object, kind));
        Ok(object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MEM: HandleKind = 0;
    const KERNEL: HandleKind = 1;

    #[test]
    fn owned_handles_come_newest_first() {
        let mut table = HandleTable::new();
        let a = table.insert(0x1000, MEM).unwrap();
        let b = table.insert(0x2000, KERNEL).unwrap();
        let c = table.insert(0x3000, MEM).unwrap();
        let handed = table.insert(0x5000, MEM).unwrap();
        table.remove(b, KERNEL).unwrap();
        // d takes b's slot, but was issued last
        let d = table.insert(0x4000, KERNEL).unwrap();
        for id in [a, b, c, d] {
            table.own(id);
        }
        assert!(!table.is_owned(handed) && !table.is_owned(b) && table.is_owned(d));
        assert_eq!(table.owned_newest_first(), [(d, 0x4000, KERNEL), (c, 0x3000, MEM), (a, 0x1000, MEM)]);
    }

    #[test]
    fn ids_are_checked_for_kind_liveness_and_origin() {
        let mut table = HandleTable::new();
        let a = table.insert(0x1000, MEM).unwrap();
        assert_eq!(table.get(a, MEM), Ok(0x1000));
        assert_eq!(table.get(a, KERNEL), Err(HandleError::WrongKind { id: a, expected: KERNEL, actual: MEM }));
        assert_eq!(table.insert(0x1000, MEM), Ok(a), "the same object keeps its id");
        assert_eq!(table.remove(a, MEM), Ok(0x1000));
        assert_eq!(table.get(a, MEM), Err(HandleError::Stale(a)));
        let b = table.insert(0x2000, MEM).unwrap();
        assert_ne!(a, b, "a reused slot gets a new generation");
        assert_eq!(table.get(a, MEM), Err(HandleError::Stale(a)));
        assert_eq!(table.get(b, MEM), Ok(0x2000));
        for forged in [1u64, u64::MAX, (7 << 32) | 1, b + (1 << 32), 12345] {
            assert!(matches!(table.get(forged, MEM), Err(HandleError::Unknown(_))), "{forged:#x}");
            assert!(!table.is_live(forged), "{forged:#x}");
        }
        assert!(table.is_live(b) && !table.is_live(a) && !table.is_live(0));
        assert_eq!(table.get(0, MEM), Ok(0));
        assert_eq!(table.insert(0, MEM), Ok(0));
    }

    #[test]
    fn a_replayed_object_gets_the_id_the_guest_holds() {
        let mut table = HandleTable::new();
        let id = (3u64 << 32) | 5;
        table.insert_as(0x1000, MEM, id).unwrap();
        assert_eq!(table.get(id, MEM), Ok(0x1000));
        assert_eq!(table.insert(0x1000, MEM), Ok(id), "the object keeps its rebound id");
        assert_eq!(table.insert_as(0x2000, MEM, id), Err(HandleError::Rebound(id)), "a live slot");
        assert_eq!(table.insert_as(0x1000, MEM, (1 << 32) | 9), Err(HandleError::Rebound((1 << 32) | 9)), "an object with an id");
        // the slots skipped on the way are handed out later, never the rebound one
        let others: Vec<_> = (0..5).map(|i| table.insert(0x3000 + i, MEM).unwrap()).collect();
        assert!(others.iter().all(|o| split(*o).1 != 5), "{others:?}");
        assert_eq!(table.remove(id, MEM), Ok(0x1000));
        assert_eq!(table.get(id, MEM), Err(HandleError::Stale(id)));
    }

    #[test]
    fn a_releasing_handle_is_refused_and_its_address_can_be_reused() {
        let mut table = HandleTable::new();
        let a = table.insert(0x1000, MEM).unwrap();
        table.own(a);
        assert_eq!(table.begin_release(a, MEM), Ok(0x1000));
        assert_eq!(table.get(a, MEM), Err(HandleError::Releasing(a)), "another thread's call");
        assert_eq!(table.begin_release(a, MEM), Err(HandleError::Releasing(a)), "released twice at once");
        assert_eq!(table.len(), 1);
        assert!(table.owned_newest_first().is_empty(), "its call releases it, not the departure");
        // the vendor's release starts; it frees the object and hands the
        // address to a new object
        table.release_starts(a);
        let b = table.insert(0x1000, MEM).unwrap();
        assert_ne!(a, b);
        assert!(!table.is_owned(b), "a new object is owned only when its call says so");
        table.finish_release(a);
        assert_eq!(table.get(a, MEM), Err(HandleError::Stale(a)));
        assert_eq!(table.get(b, MEM), Ok(0x1000), "the new object keeps its id");
        assert_eq!(table.insert(0x1000, MEM), Ok(b));
        assert_eq!(table.len(), 1);
        table.finish_release(a);
        assert_eq!(table.get(b, MEM), Ok(0x1000), "finishing twice does nothing");
    }

    #[test]
    fn a_releasing_object_keeps_its_id_until_the_vendor_release_starts() {
        let mut table = HandleTable::new();
        let a = table.insert(0x1000, MEM).unwrap();
        table.own(a);
        table.begin_release(a, MEM).unwrap();
        // a callback naming the object while its release waits for a use
        assert_eq!(table.insert(0x1000, MEM), Ok(a), "the releasing id, not a fresh one");
        assert_eq!(table.get(a, MEM), Err(HandleError::Releasing(a)), "still refused to calls");
        assert_eq!(table.len(), 1);
        assert_eq!(table.insert_as(0x1000, MEM, (2 << 32) | 5), Err(HandleError::Rebound((2 << 32) | 5)));
        table.release_starts(a);
        let b = table.insert(0x1000, MEM).unwrap();
        assert_ne!(a, b, "once the vendor may have freed it, the address is a new object's");
        table.finish_release(a);
        assert_eq!(table.get(b, MEM), Ok(0x1000));
        // a release that fails after it started: the object has its id again
        table.begin_release(b, MEM).unwrap();
        table.release_starts(b);
        table.abort_release(b);
        assert_eq!(table.insert(0x1000, MEM), Ok(b));
        // one that fails before it started (refused)
        table.begin_release(b, MEM).unwrap();
        table.abort_release(b);
        assert_eq!(table.insert(0x1000, MEM), Ok(b));
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn a_failed_release_makes_the_handle_live_again() {
        let mut table = HandleTable::new();
        let a = table.insert(0x1000, MEM).unwrap();
        table.own(a);
        table.begin_release(a, MEM).unwrap();
        table.abort_release(a);
        assert_eq!(table.get(a, MEM), Ok(0x1000));
        assert_eq!(table.insert(0x1000, MEM), Ok(a), "the object has its id again");
        assert_eq!(table.owned_newest_first(), [(a, 0x1000, MEM)]);
        table.abort_release(a);
        assert_eq!(table.len(), 1);
        assert_eq!(table.begin_release(a, KERNEL), Err(HandleError::WrongKind { id: a, expected: KERNEL, actual: MEM }));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(usize, HandleKind),
        Get(usize, HandleKind),
        Remove(usize, HandleKind),
        /// A call releasing handle i: the vendor frees its object and, if
        /// the flag says so, hands the address to a new object at once;
        /// the call then succeeds, or fails (and frees nothing).
        Release(usize, HandleKind, bool, bool),
        Forge(u64, HandleKind),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (1usize..20, 0u32..3).prop_map(|(o, k)| Op::Insert(o, k)),
            (0usize..40, 0u32..3).prop_map(|(i, k)| Op::Get(i, k)),
            (0usize..40, 0u32..3).prop_map(|(i, k)| Op::Remove(i, k)),
            (0usize..40, 0u32..3, any::<bool>(), any::<bool>()).prop_map(|(i, k, reuse, ok)| Op::Release(i, k, reuse, ok)),
            (any::<u64>(), 0u32..3).prop_map(|(id, k)| Op::Forge(id, k)),
        ]
    }

    proptest! {
        /// Against a model: an issued id resolves to its object while live and
        /// of the right kind, and to an error otherwise; no id ever resolves to
        /// an object it was not issued for.
        #[test]
        fn behaves_like_the_model(ops in proptest::collection::vec(op(), 1..200)) {
            let mut table = HandleTable::new();
            let mut issued: Vec<(HandleId, usize, HandleKind, bool)> = Vec::new();
            for op in ops {
                match op {
                    Op::Insert(object, kind) => {
                        let id = table.insert(object, kind).unwrap();
                        if let Some(e) = issued.iter().find(|e| e.3 && e.1 == object && e.2 == kind) {
                            prop_assert_eq!(e.0, id);
                        } else {
                            prop_assert!(issued.iter().all(|e| e.0 != id), "ids are never reissued");
                            issued.push((id, object, kind, true));
                        }
                    }
                    Op::Get(i, kind) | Op::Remove(i, kind) if i < issued.len() => {
                        let (id, object, actual, live) = issued[i];
                        let expected = if !live { Err(HandleError::Stale(id)) } else if actual != kind {
                            Err(HandleError::WrongKind { id, expected: kind, actual })
                        } else { Ok(object) };
                        if let Op::Remove(..) = op {
                            prop_assert_eq!(table.remove(id, kind), expected);
                            if expected.is_ok() { issued[i].3 = false; }
                        } else {
                            prop_assert_eq!(table.get(id, kind), expected);
                        }
                    }
                    Op::Release(i, kind, reuse, ok) if i < issued.len() => {
                        let (id, object, actual, live) = issued[i];
                        let begun = table.begin_release(id, kind);
                        if !live || actual != kind {
                            prop_assert!(begun.is_err());
                            continue;
                        }
                        prop_assert_eq!(begun, Ok(object));
                        prop_assert_eq!(table.get(id, kind), Err(HandleError::Releasing(id)));
                        // until the vendor's release starts, the object keeps its id
                        prop_assert_eq!(table.insert(object, kind), Ok(id));
                        table.release_starts(id);
                        if ok {
                            let reused = if reuse { Some(table.insert(object, kind).unwrap()) } else { None };
                            table.finish_release(id);
                            issued[i].3 = false;
                            if let Some(new) = reused {
                                prop_assert!(issued.iter().all(|e| e.0 != new), "a reused address gets a new id");
                                issued.push((new, object, kind, true));
                                prop_assert_eq!(table.get(new, kind), Ok(object));
                            }
                        } else {
                            table.abort_release(id);
                            prop_assert_eq!(table.get(id, kind), Ok(object));
                        }
                    }
                    Op::Forge(id, kind) => {
                        if let Ok(object) = table.get(id, kind) {
                            prop_assert!(id == 0 || issued.iter().any(|e| e.0 == id && e.1 == object && e.2 == kind && e.3));
                        }
                    }
                    _ => {}
                }
            }
            prop_assert_eq!(table.len(), issued.iter().filter(|e| e.3).count());
        }
    }
}
