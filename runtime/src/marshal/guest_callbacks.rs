//! Callbacks, guest side.
//!
//! The application's function pointer and its userdata never leave the
//! guest: a call that passes a callback sends a registration id instead
//! (one per distinct callback type, function and userdata), and the
//! userdata argument travels as 0. Before the first such call the guest
//! process opens its callback route: a channel of its own to the server,
//! read by a listener thread. Each callback message is run on a worker
//! thread (a new one only when every worker is busy, so a callback that
//! calls the API, which may call back again, never waits for itself),
//! which calls the application's function with its userdata and replies
//! with the result.
//!
//! A callback therefore runs on a guest thread of the library's, not on the
//! thread that made the call, as it would with a vendor library that calls
//! back from threads of its own.
//!
//! A registration that ends before the process does (`lifetime(once)`,
//! `lifetime(coupled(obj))`) has an id of its own each time; the guest
//! forgets it after its first call (`once`) or when the server's *callback
//! release* message names it (the call that made it failed, or the object
//! it is coupled to was deallocated).

#![forbid(unsafe_code)]

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Condvar, Mutex};

use super::app_memory::{self, Invoke};
use super::callbacks::{is_buffer, userdata_param, Ends, REPLY_SLOTS};
use super::log;
use crate::plan::Plan;
use crate::transport::unix::UnixTransport;
use crate::transport::{Transport, TransportError};
use crate::wire::{BufferRef, Header, Kind as MsgKind, Layout, Message, Writer};

/// A random number naming this process to the server (see
/// [`crate::wire::Hello::process`]); a forked child draws its own.
pub(super) fn process() -> u64 {
    static PROCESS: Mutex<Option<(u32, u64)>> = Mutex::new(None);
    let pid = std::process::id();
    let mut slot = PROCESS.lock().unwrap_or_else(|e| e.into_inner());
    match *slot {
        Some((p, n)) if p == pid => n,
        _ => {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u32(pid);
            let n = h.finish().max(1);
            *slot = Some((pid, n));
            n
        }
    }
}

/// The callbacks of one guest library, and its route.
#[derive(Debug, Default)]
pub(super) struct Callbacks {
    registered: Mutex<Registered>,
    /// The process whose route is open (a forked child opens its own).
    route_of: Mutex<Option<u32>>,
}

#[derive(Debug, Default)]
struct Registered {
    /// The registrations that last until the process leaves, one per
    /// callback type, function and userdata (registering again reuses it).
    ids: HashMap<(u32, u64, u64), u64>,
    /// Every live registration: its callback type, function and userdata,
    /// and when it ends.
    by_id: HashMap<u64, Registration>,
    last: u64,
}

#[derive(Clone, Copy, Debug)]
struct Registration {
    callback: u32,
    function: u64,
    userdata: u64,
    ends: Ends,
}

/// What a route needs of the library: where to connect, and how to call.
pub(super) struct RouteInfo {
    pub name: &'static str,
    pub plan: &'static Plan,
    pub invoke: Invoke,
    pub callbacks: &'static Callbacks,
}

impl Callbacks {
    /// The id for the application's callback `function` of plan callback
    /// `callback` with `userdata`. A registration that ends before the
    /// process gets an id of its own each time: two of them pending with
    /// the same function and userdata are two registrations, each called
    /// once (`once`) or each ended by its own object (`coupled`).
    pub(super) fn register(&self, callback: u32, function: u64, userdata: u64, ends: Ends) -> u64 {
        let mut r = self.registered.lock().unwrap_or_else(|e| e.into_inner());
        let registration = Registration { callback, function, userdata, ends };
        let shared = ends == Ends::WithProcess;
        if shared {
            if let Some(id) = r.ids.get(&(callback, function, userdata)) {
                return *id;
            }
        }
        r.last += 1;
        let id = r.last;
        if shared {
            r.ids.insert((callback, function, userdata), id);
        }
        r.by_id.insert(id, registration);
        id
    }

    /// The registration a callback message names; one that ends after its
    /// first call is taken out, so that a second call finds nothing.
    fn take(&self, id: u64) -> Option<Registration> {
        let mut r = self.registered.lock().unwrap_or_else(|e| e.into_inner());
        let registration = *r.by_id.get(&id)?;
        if registration.ends == Ends::AfterOneCall {
            r.by_id.remove(&id);
        }
        Some(registration)
    }

    /// Forgets a registration that the library will no longer call, as the
    /// API server says: the call that made it failed, or the object it is
    /// coupled to was deallocated. A registration that lasts as long as the
    /// process (shared by the application's calls) is never released.
    fn release(&self, id: u64) {
        let mut r = self.registered.lock().unwrap_or_else(|e| e.into_inner());
        if r.by_id.get(&id).is_some_and(|reg| reg.ends != Ends::WithProcess) {
            r.by_id.remove(&id);
        }
    }

    /// How many registrations the process holds.
    #[cfg(test)]
    fn live(&self) -> usize {
        self.registered.lock().unwrap_or_else(|e| e.into_inner()).by_id.len()
    }

    /// Opens this process's callback route unless it is open.
    /// `open` connects and shakes hands (selector `C`).
    pub(super) fn ensure_route(&self, info: RouteInfo, open: impl FnOnce() -> Result<UnixStream, String>) -> Result<(), String> {
        let pid = std::process::id();
        let mut route_of = self.route_of.lock().unwrap_or_else(|e| e.into_inner());
        if *route_of == Some(pid) {
            return Ok(());
        }
        let stream = open()?;
        let writer = stream.try_clone().map_err(|e| format!("cannot open the callback route: {e}"))?;
        let reader = UnixTransport::new(stream);
        let writer = Arc::new(Mutex::new(UnixTransport::new(writer)));
        std::thread::Builder::new()
            .name("cava-callbacks".into())
            .spawn(move || listen(info, reader, writer))
            .map_err(|e| format!("cannot start the callback listener: {e}"))?;
        *route_of = Some(pid);
        Ok(())
    }
}

/// One callback message, decoded.
struct Job {
    callback: u32,
    call_id: u64,
    registration: u64,
    words: Vec<u64>,
    /// Buffer arguments (by parameter), copied out of the message.
    buffers: Vec<(usize, Vec<u8>)>,
}

#[derive(Default)]
struct Pool {
    queue: Mutex<(VecDeque<Job>, usize)>,
    ready: Condvar,
}

fn listen(info: RouteInfo, mut reader: UnixTransport, writer: Arc<Mutex<UnixTransport>>) {
    let pool = Arc::new(Pool::default());
    let info = Arc::new(info);
    let mut buf = Vec::new();
    loop {
        match reader.recv(&mut buf, None) {
            Ok(()) => {}
            Err(e) => {
                if !matches!(e, TransportError::Closed) {
                    log(info.name, format_args!("the callback route failed: {e}"));
                }
                // the next call that registers a callback opens a new route
                *info.callbacks.route_of.lock().unwrap_or_else(|e| e.into_inner()) = None;
                return;
            }
        }
        if let Some(id) = released(&buf) {
            info.callbacks.release(id);
            continue;
        }
        let job = match decode(info.plan, &buf) {
            Ok(job) => job,
            Err(e) => {
                log(info.name, format_args!("a callback message was refused: {e}"));
                continue;
            }
        };
        let mut queue = pool.queue.lock().unwrap_or_else(|e| e.into_inner());
        queue.0.push_back(job);
        if queue.1 < queue.0.len() {
            // every waiting worker has a job already: one more
            let name = info.name;
            let (pool, info, writer) = (Arc::clone(&pool), Arc::clone(&info), Arc::clone(&writer));
            if let Err(e) = std::thread::Builder::new().name("cava-callback".into()).spawn(move || work(&pool, &info, &writer)) {
                log(name, format_args!("cannot start a callback worker: {e}"));
            }
        }
        drop(queue);
        pool.ready.notify_one();
    }
}

/// The registration a release message names (see [`super::callbacks`]);
/// `None` for any other message.
fn released(buf: &[u8]) -> Option<u64> {
    let message = Message::decode(buf).ok().filter(|m| m.kind() == MsgKind::CallbackRelease)?;
    let mut scalars = message.scalars();
    let id = scalars.u64().ok()?;
    scalars.finish().ok()?;
    Some(id)
}

fn decode(plan: &Plan, buf: &[u8]) -> Result<Job, String> {
    let message = Message::decode(buf).map_err(|e| e.to_string())?;
    message.expect(MsgKind::Callback).map_err(|e| e.to_string())?;
    let header = message.header();
    let callback = plan.callbacks.get(header.function as usize).ok_or("an unknown callback")?;
    let mut scalars = message.scalars();
    let registration = scalars.u64().map_err(|e| e.to_string())?;
    let mut words = Vec::with_capacity(callback.params.len());
    let mut buffers = Vec::new();
    for (i, p) in callback.params.iter().enumerate() {
        if is_buffer(&p.value) {
            match scalars.buffer().map_err(|e| e.to_string())? {
                BufferRef::Null => {}
                BufferRef::Inline(bytes) => buffers.push((i, bytes.to_vec())),
                other => return Err(format!("a callback argument came as {}", other.name())),
            }
            words.push(0);
        } else {
            words.push(scalars.u64().map_err(|e| e.to_string())?);
        }
    }
    scalars.finish().map_err(|e| e.to_string())?;
    Ok(Job { callback: header.function, call_id: header.call_id, registration, words, buffers })
}

fn work(pool: &Pool, info: &RouteInfo, writer: &Mutex<UnixTransport>) {
    loop {
        let job = {
            let mut queue = pool.queue.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(job) = queue.0.pop_front() {
                    break job;
                }
                queue.1 += 1;
                queue = pool.ready.wait(queue).unwrap_or_else(|e| e.into_inner());
                queue.1 -= 1;
            }
        };
        let result = run(info, job.callback, job.registration, job.words, &job.buffers);
        let header = Header { function: job.callback, call_id: job.call_id, ..Header::new(MsgKind::CallbackReply) };
        let mut w = Writer::new(header, Layout::of(&REPLY_SLOTS).1);
        w.u64(result);
        let sent = w.finish().map_err(|e| e.to_string()).and_then(|m| {
            let mut writer = writer.lock().unwrap_or_else(|e| e.into_inner());
            writer.send(&m).map_err(|e| e.to_string())
        });
        if let Err(e) = sent {
            log(info.name, format_args!("a callback's result was not sent: {e}"));
        }
    }
}

/// Calls the application's function for one callback; 0 when the
/// registration is unknown (logged).
fn run(info: &RouteInfo, callback: u32, registration: u64, mut words: Vec<u64>, buffers: &[(usize, Vec<u8>)]) -> u64 {
    let Some(Registration { callback: registered_as, function, userdata, .. }) = info.callbacks.take(registration) else {
        log(info.name, format_args!("a callback for registration {registration}, which this process never made or which ended"));
        return 0;
    };
    if registered_as != callback {
        log(info.name, format_args!("a callback of another type than registration {registration}"));
        return 0;
    }
    let Some(plan_callback) = info.plan.callbacks.get(callback as usize) else { return 0 };
    if let Some(u) = userdata_param(plan_callback) {
        words[u] = userdata;
    }
    for (i, bytes) in buffers {
        words[*i] = bytes.as_ptr() as u64;
    }
    app_memory::invoke(info.invoke, callback, function as usize, &words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lasting_registration_is_reused_and_stays_after_its_calls() {
        let c = Callbacks::default();
        let a = c.register(0, 0x1000, 7, Ends::WithProcess);
        assert_eq!(c.register(0, 0x1000, 7, Ends::WithProcess), a);
        assert_ne!(c.register(0, 0x1000, 8, Ends::WithProcess), a, "other userdata");
        assert!(c.take(a).is_some() && c.take(a).is_some());
        assert_eq!(c.live(), 2);
    }

    #[test]
    fn a_once_registration_is_its_own_and_ends_with_its_first_call() {
        let c = Callbacks::default();
        let lasting = c.register(0, 0x1000, 7, Ends::WithProcess);
        let first = c.register(0, 0x1000, 7, Ends::AfterOneCall);
        let second = c.register(0, 0x1000, 7, Ends::AfterOneCall);
        assert!(first != second && first != lasting && second != lasting);
        assert_eq!(c.take(first).map(|r| r.userdata), Some(7));
        assert!(c.take(first).is_none(), "called a second time");
        c.release(second);
        assert!(c.take(second).is_none(), "released before its call");
        c.release(lasting);
        assert!(c.take(lasting).is_some(), "a release never names a registration that lasts as long as the process");
        assert_eq!(c.live(), 1);
    }

    #[test]
    fn a_coupled_registration_is_its_own_stays_after_its_calls_and_ends_on_release() {
        let c = Callbacks::default();
        let lasting = c.register(0, 0x1000, 7, Ends::WithProcess);
        // two objects created with the same function and userdata
        let first = c.register(0, 0x1000, 7, Ends::WithObject);
        let second = c.register(0, 0x1000, 7, Ends::WithObject);
        assert!(first != second && first != lasting && second != lasting);
        assert!(c.take(first).is_some() && c.take(first).is_some(), "called any number of times");
        assert_eq!(c.live(), 3);
        c.release(first);
        assert!(c.take(first).is_none(), "its object was deallocated");
        assert_eq!(c.take(second).map(|r| r.userdata), Some(7), "the other object's stays");
        c.release(second);
        assert_eq!(c.live(), 1, "only the lasting one is left");
    }
}
