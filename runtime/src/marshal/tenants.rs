//! The API server's guest processes (tenants), each with state of its own.
//!
//! Every connection a guest process opens (a call channel, its callback
//! route, its zero-copy region's socket) starts with a hello that carries
//! the process's number. The first connection with a number binds it to
//! the process id at the other end of its socket (`SO_PEERCRED`) and
//! creates the process's state: its handle table, per-object metadata,
//! kept buffers and their registry records, its zero-copy region. Later
//! connections with that number from that process id share the state; a
//! connection with that number from another process id is refused, as is
//! one whose peer's process id is unknown. A guest therefore names only
//! its own objects and buffers: the same handle id, metadata key or kept
//! buffer key means something else, or nothing, in another process.
//!
//! A process's state lives as long as the process: a program whose threads
//! come and go (each thread's channel closes when the thread exits) keeps
//! its objects between them. The server watches the process through a
//! pidfd; once the process has exited and its last connection has closed,
//! the state is dropped. Where the process cannot be watched (no pidfd),
//! the state goes when its last connection closes.

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use rustix::event::{PollFd, PollFlags};
use rustix::process::{Pid, PidfdFlags};

use super::fences::Fences;
use super::in_hand::Holdings;
use super::kept_registries::KeptRegistries;
use super::keyed_blocks::KeyedBlocks;
use super::log;
use super::object_steps::ObjectSteps;
use crate::handles::HandleTable;
use crate::transport::shm::ProcessRegion;

/// What belongs to one guest process.
#[derive(Debug)]
pub(super) struct Tenant {
    /// The server's name, for the log.
    name: &'static str,
    pub(super) process: u64,
    pub(super) pid: u32,
    pub(super) handles: Mutex<HandleTable>,
    pub(super) metadata: Mutex<KeyedBlocks>,
    /// Held while one call's statements run: each reads and writes the
    /// metadata in several steps (`metadata(mem)->retains =
    /// metadata(mem)->retains + 1`), and two threads' calls running theirs
    /// at once lost updates (two concurrent retains counted one).
    pub(super) statements: Mutex<()>,
    /// The objects whose retains and releases are under way, one call at
    /// a time per object from its conditions to its statements (see
    /// `object_steps`).
    pub(super) steps: ObjectSteps,
    /// Buffers kept between calls (manual, static and coupled lifetimes),
    /// by the guest's address.
    pub(super) retained: Mutex<HashMap<u64, Retained>>,
    /// Which registry holds each kept buffer (see `kept_registries`).
    pub(super) kept_registries: Mutex<KeptRegistries>,
    /// How many calls each of the process's channels has handled, for the
    /// fences that keep calls ordered across them (see `fences`).
    pub(super) fences: Fences,
    /// The process's zero-copy region, while its socket is open.
    pub(super) region: Mutex<Option<Arc<ProcessRegion>>>,
    /// Objects the process let go of that the server releases only when
    /// the process leaves (see `departure::release_at_departure`).
    pub(super) held: Mutex<Vec<super::server::Held>>,
    /// The handles each of its channels' calls has in hand, and the
    /// releases that wait for them (see `in_hand`).
    pub(super) holdings: Holdings<super::server::DeferredRelease>,
    /// Run when the process has gone, before its state is dropped: brings
    /// back its pending reads, releases the vendor objects it still holds
    /// (the spec's `release_at_exit`) and frees the reads' kept buffers.
    on_departure: Option<fn(&Tenant)>,
}

#[derive(Debug)]
pub(super) struct Retained {
    pub(super) bytes: Box<[u8]>,
    /// The handle whose release frees it (`lifetime(coupled)`).
    pub(super) coupled: Option<u64>,
    /// Which call's buffer this is (see [`Retained::serial`]).
    pub(super) serial: u64,
    /// Calls in flight that hand it to the vendor (from their decoding to
    /// the end of the call): another thread's call of the process may not
    /// free it under them, between their decoding and their vendor call
    /// (see [`Retained::may_free`]).
    pub(super) pins: u32,
}

impl Retained {
    pub(super) fn new(bytes: Box<[u8]>, coupled: Option<u64>) -> Retained {
        Retained { bytes, coupled, serial: Retained::serial(), pins: 0 }
    }

    /// A call that hands it to the vendor again (a read into memory another
    /// read kept) takes it over: a new mark, and its pin.
    pub(super) fn take_over(&mut self) {
        self.serial = Retained::serial();
        self.pins += 1;
    }

    /// Whether a call that found it bearing `serial`, and pins it `own`
    /// times itself, may free it now.
    pub(super) fn may_free(&self, serial: u64, own: u32) -> bool {
        self.serial == serial && self.pins <= own
    }

    /// A new owner's mark. A call that frees a kept buffer (`deallocate`)
    /// notes the mark of the one it found when it was decoded, and frees
    /// it only if it still bears that mark: another thread's call of the
    /// process may meanwhile have made a buffer at the same key, or taken
    /// over the one there (a read into the same memory), and the vendor
    /// writes into that one after this call returns. Freeing it under the
    /// vendor corrupted the server's heap.
    pub(super) fn serial() -> u64 {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }
}

/// Takes out of `retained` the kept buffers coupled to object `id` (which
/// was released) that no call in flight has in hand ([`Retained::pins`]),
/// by key; and how many coupled ones stay because one has.
pub(super) fn take_coupled(retained: &mut HashMap<u64, Retained>, id: u64) -> (Vec<(u64, Retained)>, usize) {
    let keys: Vec<u64> = retained.iter().filter(|(_, r)| r.coupled == Some(id)).map(|(key, _)| *key).collect();
    let mut freed = Vec::new();
    let mut pinned = 0;
    for key in keys {
        match retained.get(&key) {
            Some(r) if r.pins > 0 => pinned += 1,
            _ => freed.extend(retained.remove(&key).map(|r| (key, r))),
        }
    }
    (freed, pinned)
}

impl Tenant {
    pub(super) fn new(name: &'static str, process: u64, pid: u32) -> Tenant {
        Tenant {
            name,
            process,
            pid,
            handles: Mutex::default(),
            metadata: Mutex::default(),
            statements: Mutex::default(),
            steps: ObjectSteps::default(),
            retained: Mutex::default(),
            kept_registries: Mutex::default(),
            fences: Fences::default(),
            region: Mutex::default(),
            held: Mutex::default(),
            holdings: Holdings::default(),
            on_departure: None,
        }
    }

    /// Runs `depart` on the state when the process has gone.
    pub(super) fn on_departure(mut self, depart: fn(&Tenant)) -> Tenant {
        self.on_departure = Some(depart);
        self
    }
}

impl Drop for Tenant {
    /// The process has gone. The departure (`server/departure.rs`) settles
    /// what its pending commands wait for (`abandon_at_exit`), brings
    /// back the reads it left pending, releases its objects of the handle
    /// types the spec says how to release (`release_at_exit`), and frees
    /// the buffers those reads were kept in; its table, metadata and
    /// registry records go with it. The buffers it kept that nothing
    /// brought back may still be in the vendor's hands (a read's
    /// destination whose queue could not be finished, a coupled object's
    /// memory, a static string, an object the spec gives no release for),
    /// so they are never freed.
    fn drop(&mut self) {
        if let Some(depart) = self.on_departure.take() {
            depart(self);
        }
        let objects = self.handles.get_mut().map_or(0, |h| h.len());
        // metadata of objects already released: a call that ends a handle
        // drops its block, so any here grew the server for nothing
        let stale = match (self.handles.get_mut(), self.metadata.get_mut()) {
            (Ok(handles), Ok(metadata)) => metadata.keys().filter(|key| !handles.is_live(*key)).count(),
            _ => 0,
        };
        let retained = self.retained.get_mut().map(std::mem::take).unwrap_or_default();
        let bytes: usize = retained.values().map(|r| r.bytes.len()).sum();
        let buffers = retained.len();
        for (_, r) in retained {
            // the vendor may still write into it: leaked, never reused
            Box::leak(r.bytes);
        }
        if objects > 0 || buffers > 0 || stale > 0 {
            log(
                self.name,
                format_args!(
                    "guest process {} left {objects} live objects and {buffers} kept buffers ({bytes} bytes): \
                     the objects stay with the vendor library and the buffers stay allocated until the server exits; \
                     {stale} blocks of metadata of released objects",
                    self.pid
                ),
            );
        }
    }
}

/// Why a connection was not let in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(super) enum Refused {
    #[error("the guest's process id is unknown (are the guest and the server in one pid namespace?)")]
    UnknownPid,
    /// (The reply says no more: the owner's process id is not the claimant's business.)
    #[error("the process number belongs to another process")]
    Taken { process: u64, owner: u32, pid: u32 },
}

/// Whether a tenant's process is known to live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Life {
    /// Watched through a pidfd: the state stays until the process exits.
    Watched,
    /// Exited, or cannot be watched: the state goes with its last connection.
    Gone,
}

#[derive(Debug)]
struct Entry<T> {
    pid: u32,
    state: Arc<T>,
    /// Open connections.
    connections: usize,
    life: Life,
}

type Map<T> = Mutex<HashMap<u64, Entry<T>>>;

/// Every guest process the server knows, by its number.
#[derive(Debug)]
pub(super) struct Tenants<T> {
    map: Arc<Map<T>>,
}

impl<T> Default for Tenants<T> {
    fn default() -> Self {
        Tenants { map: Arc::default() }
    }
}

/// A connection's hold on its process's state; the connection leaves when
/// it is dropped.
#[derive(Debug)]
pub(super) struct Lease<T: Send + Sync + 'static> {
    map: Arc<Map<T>>,
    process: u64,
    state: Arc<T>,
}

impl<T: Send + Sync + 'static> Lease<T> {
    pub(super) fn state(&self) -> &Arc<T> {
        &self.state
    }
}

impl<T: Send + Sync + 'static> Drop for Lease<T> {
    fn drop(&mut self) {
        let mut map = lock(&self.map);
        if let Some(entry) = map.get_mut(&self.process).filter(|e| Arc::ptr_eq(&e.state, &self.state)) {
            entry.connections = entry.connections.saturating_sub(1);
            if entry.connections == 0 && entry.life == Life::Gone {
                map.remove(&self.process);
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<T: Send + Sync + 'static> Tenants<T> {
    /// Lets in a connection of process number `process` whose socket's peer
    /// is process id `pid`, creating the process's state with `make` on its
    /// first connection.
    pub(super) fn claim(&self, process: u64, pid: u32, make: impl FnOnce() -> T) -> Result<Lease<T>, Refused> {
        if pid == 0 {
            return Err(Refused::UnknownPid);
        }
        let mut map = lock(&self.map);
        let state = match map.get_mut(&process) {
            Some(entry) if entry.pid != pid => return Err(Refused::Taken { process, owner: entry.pid, pid }),
            Some(entry) => {
                entry.connections += 1;
                Arc::clone(&entry.state)
            }
            None => {
                let state = Arc::new(make());
                let life = self.watch(process, pid, &state).unwrap_or(Life::Gone);
                map.insert(process, Entry { pid, state: Arc::clone(&state), connections: 1, life });
                state
            }
        };
        Ok(Lease { map: Arc::clone(&self.map), process, state })
    }

    /// The state of process `process`, bound to process id `pid`, for a
    /// replay before the process reconnects: created if need be, and kept
    /// while the process lives. `None` when the process has exited, or
    /// its number is bound to another process id.
    pub(super) fn prebind(&self, process: u64, pid: u32, make: impl FnOnce() -> T) -> Option<Arc<T>> {
        if pid == 0 {
            return None;
        }
        let mut map = lock(&self.map);
        if let Some(entry) = map.get(&process) {
            return (entry.pid == pid).then(|| Arc::clone(&entry.state));
        }
        let state = Arc::new(make());
        // a process that cannot be watched keeps the replayed state until
        // a connection of its has come and gone
        let life = self.watch(process, pid, &state)?;
        map.insert(process, Entry { pid, state: Arc::clone(&state), connections: 0, life });
        Some(state)
    }

    /// The state of process `process`, if it is known.
    pub(super) fn get(&self, process: u64) -> Option<Arc<T>> {
        lock(&self.map).get(&process).map(|e| Arc::clone(&e.state))
    }

    /// Starts watching process `pid`: `Some(Watched)` with a watcher
    /// thread, `Some(Gone)` when it cannot be watched, `None` when it has
    /// exited already.
    fn watch(&self, process: u64, pid: u32, state: &Arc<T>) -> Option<Life> {
        let Some(raw) = Pid::from_raw(pid as i32) else { return Some(Life::Gone) };
        let pidfd = match rustix::process::pidfd_open(raw, PidfdFlags::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::SRCH) => return None,
            Err(_) => return Some(Life::Gone),
        };
        let map: Weak<Map<T>> = Arc::downgrade(&self.map);
        let state = Arc::downgrade(state);
        let spawned = std::thread::Builder::new().name("cava-tenant".into()).spawn(move || {
            // readable once the process has exited
            let mut fds = [PollFd::new(&pidfd, PollFlags::IN)];
            while rustix::event::poll(&mut fds, None).is_err() {}
            let (Some(map), Some(state)) = (map.upgrade(), state.upgrade()) else { return };
            let mut map = lock(&map);
            if let Some(entry) = map.get_mut(&process).filter(|e| Arc::ptr_eq(&e.state, &state)) {
                entry.life = Life::Gone;
                if entry.connections == 0 {
                    map.remove(&process);
                }
            }
        });
        Some(if spawned.is_ok() { Life::Watched } else { Life::Gone })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn me() -> u32 {
        std::process::id()
    }

    fn eventually(what: &str, mut f: impl FnMut() -> bool) {
        let start = Instant::now();
        while !f() {
            assert!(start.elapsed() < Duration::from_secs(10), "{what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn a_released_object_s_coupled_buffers_go_unless_a_call_has_them_in_hand() {
        let mut retained = HashMap::new();
        retained.insert(1, Retained::new(vec![1; 8].into_boxed_slice(), Some(7)));
        retained.insert(2, Retained::new(vec![2; 8].into_boxed_slice(), Some(7)));
        retained.insert(3, Retained::new(vec![3; 8].into_boxed_slice(), Some(8)));
        retained.insert(4, Retained::new(vec![4; 8].into_boxed_slice(), None));
        // a call in flight took buffer 2 over and hands it to the vendor
        retained.get_mut(&2).unwrap().take_over();
        let (freed, pinned) = take_coupled(&mut retained, 7);
        assert_eq!(freed.iter().map(|(key, _)| *key).collect::<Vec<_>>(), [1]);
        assert_eq!(pinned, 1);
        let mut left: Vec<u64> = retained.keys().copied().collect();
        left.sort_unstable();
        assert_eq!(left, [2, 3, 4], "the pinned one, another object's, and one coupled to none stay");
    }

    #[test]
    fn a_process_number_is_bound_to_the_first_process_id_that_uses_it() {
        let tenants = Tenants::<u32>::default();
        let a = tenants.claim(7, me(), || 1).unwrap();
        let b = tenants.claim(7, me(), || 2).unwrap();
        assert!(Arc::ptr_eq(a.state(), b.state()), "one process's connections share its state");
        assert_eq!(tenants.claim(7, me() + 1, || 3).unwrap_err(), Refused::Taken { process: 7, owner: me(), pid: me() + 1 });
        let other = tenants.claim(8, me(), || 4).unwrap();
        assert_eq!(**other.state(), 4, "another number is another process, with state of its own");
        assert_eq!(tenants.claim(9, 0, || 5).unwrap_err(), Refused::UnknownPid);
        assert!(tenants.get(9).is_none());
    }

    #[test]
    fn a_live_process_keeps_its_state_between_connections() {
        let tenants = Tenants::<u32>::default();
        let first = tenants.claim(7, me(), || 1).unwrap();
        let state = Arc::clone(first.state());
        drop(first);
        // this process lives on: a thread's channel closed, another opens later
        let again = tenants.claim(7, me(), || 2).unwrap();
        assert!(Arc::ptr_eq(&state, again.state()));
    }

    #[test]
    fn the_state_goes_once_the_process_has_exited_and_its_last_connection_closed() {
        let tenants = Tenants::<u32>::default();
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let lease = tenants.claim(7, child.id(), || 1).unwrap();
        let second = tenants.claim(7, child.id(), || 2).unwrap();
        drop(second);
        assert!(tenants.get(7).is_some(), "a connection is still open");
        child.kill().unwrap();
        child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert!(tenants.get(7).is_some(), "its last connection is still open (a forked child may hold it)");
        drop(lease);
        assert!(tenants.get(7).is_none(), "exited and unconnected");
        // a state whose process exits while nothing is connected goes too
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        drop(tenants.claim(8, child.id(), || 1).unwrap());
        assert!(tenants.get(8).is_some());
        child.kill().unwrap();
        child.wait().unwrap();
        eventually("the watcher drops the state of an exited process", || tenants.get(8).is_none());
        // and the number may then be bound afresh
        drop(tenants.claim(8, me(), || 2).unwrap());
    }

    #[test]
    fn a_replayed_state_waits_for_its_live_process_only() {
        let tenants = Tenants::<u32>::default();
        let state = tenants.prebind(7, me(), || 1).unwrap();
        assert!(Arc::ptr_eq(&state, &tenants.prebind(7, me(), || 2).unwrap()));
        assert!(tenants.prebind(7, me() + 1, || 3).is_none(), "bound to another process id");
        assert!(Arc::ptr_eq(&state, tenants.claim(7, me(), || 4).unwrap().state()), "the process finds its replayed state");
        assert!(tenants.claim(7, me() + 1, || 5).is_err());
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        assert!(tenants.prebind(9, gone, || 6).is_none(), "an exited process gets nothing replayed");
        assert!(tenants.get(9).is_none());
    }
}
