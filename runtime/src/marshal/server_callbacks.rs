//! Callbacks, API server side.
//!
//! When a guest passes a callback, the vendor library gets the generated
//! trampoline for that callback type instead, and, as its userdata, a
//! registration id of the server's (never the guest's pointers, which the
//! server does not have). When the library calls the trampoline, on any
//! thread, the server finds the registration, builds a callback message
//! and sends it over the guest process's callback route (a channel the
//! guest opened for this, served by a listener thread in the guest), then
//! waits for the reply and hands the callback's result back to the library.
//!
//! Registrations are kept per guest process and forgotten when the process's
//! route closes: a vendor that calls a callback later gets a log line and a
//! zero result, never a dangling pointer.
//!
//! A callback type whose calls carry no userdata cannot name its
//! registration, so the server finds the process another way: a callback
//! the library makes during a call, on the thread serving it (a comparator,
//! a visitor), goes to that call's process, to its latest registration of
//! the type; one made on a thread of the library's own goes to the latest
//! registration only when a single process has registered the type, and is
//! refused otherwise (a log line and a zero result), because sending one
//! tenant's callback data to another is worse than not calling back.
//!
//! A registration whose callback is `lifetime(once)` (an event's completion,
//! a build notification) has an id of its own and ends with its first call,
//! on both sides; if the call that made it fails or is refused, the library
//! will never call it, so the server forgets it and tells the guest to
//! (a `CallbackRelease` message on the route).
//!
//! A registration whose callback is `lifetime(coupled(obj))` (a context's
//! notify, coupled to the context the call returns) has an id of its own
//! too, and may be called any number of times. When its call succeeds, it
//! is tied to the handle id of its object; when a successful call
//! deallocates that handle, the server forgets it and sends the guest the
//! same release message, and when the process departs it goes with the
//! process's objects. A call that fails (or returns no object to couple
//! to) releases it as it does a `once` one.

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use smallvec::SmallVec;

use super::callbacks::{is_buffer, message_scalar_len, userdata_param, Ends};
use super::eval::{eval, select, Env, EvalError, Host, V};
use super::native;
use super::walk::{byte_len, stride};
use crate::plan::{Kind, LibraryFn, Plan};
use crate::transport::unix::UnixTransport;
use crate::transport::{Transport, TransportError};
use crate::wire::{Header, Kind as MsgKind, Layout, Message, Slot, Writer};

/// A guest process's callback route: where callback messages go, and the
/// callers waiting for their replies.
pub(super) struct Route {
    writer: Mutex<UnixTransport>,
    pending: Mutex<HashMap<u64, mpsc::Sender<Vec<u8>>>>,
    next: AtomicU64,
}

impl Route {
    pub(super) fn new(writer: UnixTransport) -> Route {
        Route { writer: Mutex::new(writer), pending: Mutex::default(), next: AtomicU64::new(1) }
    }

    /// Hands a reply to the caller waiting for it; false if none waits.
    pub(super) fn deliver(&self, call_id: u64, reply: Vec<u8>) -> bool {
        match lock(&self.pending).remove(&call_id) {
            Some(waiter) => waiter.send(reply).is_ok(),
            None => false,
        }
    }

    /// Sends a message on the route (the welcome of its handshake).
    pub(super) fn send(&self, message: &[u8]) -> Result<(), TransportError> {
        lock(&self.writer).send(message)
    }

    fn next_id(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends callback message `call_id` and waits for its reply; an error
    /// when the route closed first.
    fn call(&self, call_id: u64, message: &[u8]) -> Result<Vec<u8>, TransportError> {
        let (tx, rx) = mpsc::channel();
        lock(&self.pending).insert(call_id, tx);
        if let Err(e) = lock(&self.writer).send(message) {
            lock(&self.pending).remove(&call_id);
            return Err(e);
        }
        // a channel's thread waiting here counts its call as handled: the
        // callback's own calls are fenced behind it
        super::fences::calling_back(|| rx.recv()).map_err(|_| TransportError::Closed)
    }

    /// Wakes every waiting caller with an error (the route closed).
    pub(super) fn close(&self) {
        lock(&self.pending).clear();
    }
}

#[derive(Clone, Copy)]
struct Registration {
    process: u64,
    guest_id: u64,
    callback: u32,
    ends: Ends,
}

/// The callbacks guests registered, by the id the vendor library holds.
#[derive(Default)]
pub(super) struct Registrations {
    by_guest: HashMap<(u64, u64, u32), u64>,
    by_id: HashMap<u64, Registration>,
    /// Each process's latest registration of each callback type.
    latest: HashMap<(u32, u64), u64>,
    /// The `coupled` registrations tied to each process's handle id.
    coupled: HashMap<(u64, u64), SmallVec<[u64; 1]>>,
    routes: HashMap<u64, Arc<Route>>,
    next: u64,
}

impl Registrations {
    /// The server's id for guest registration `guest_id` of `process`.
    pub(super) fn register(&mut self, process: u64, guest_id: u64, callback: u32) -> u64 {
        let id = *self.by_guest.entry((process, guest_id, callback)).or_insert_with(|| {
            self.next += 1;
            self.next
        });
        self.by_id.insert(id, Registration { process, guest_id, callback, ends: Ends::WithProcess });
        self.latest.insert((callback, process), id);
        id
    }

    /// A new id for guest registration `guest_id` of `process`, which ends
    /// before the process does: after its first call (`once`), or with its
    /// object (`coupled`, see [`Registrations::couple`]). Never shared,
    /// never anyone's latest: the library tells it apart by the userdata it
    /// hands back.
    pub(super) fn register_own(&mut self, process: u64, guest_id: u64, callback: u32, ends: Ends) -> u64 {
        self.next += 1;
        self.by_id.insert(self.next, Registration { process, guest_id, callback, ends });
        self.next
    }

    /// Ties `coupled` registration `id` to `process`'s handle `handle`,
    /// whose deallocation ends it.
    pub(super) fn couple(&mut self, process: u64, handle: u64, id: u64) {
        if self.by_id.contains_key(&id) {
            self.coupled.entry((process, handle)).or_default().push(id);
        }
    }

    /// The registration the library called back with `id`; one that ends
    /// after one call is taken out.
    fn take(&mut self, id: u64) -> Option<Registration> {
        let registration = *self.by_id.get(&id)?;
        if registration.ends == Ends::AfterOneCall {
            self.by_id.remove(&id);
        }
        Some(registration)
    }

    /// Forgets registrations the library will no longer call (the call
    /// that made them failed, or their object was deallocated); returns
    /// each one's route and guest id, for the release message (none for
    /// one that already ran).
    fn release(&mut self, ids: &[u64]) -> Vec<(Arc<Route>, u64)> {
        let mut released = Vec::new();
        for id in ids {
            let Some(r) = self.by_id.remove(id) else { continue };
            if let Some(route) = self.routes.get(&r.process) {
                released.push((Arc::clone(route), r.guest_id));
            }
        }
        released
    }

    /// Takes out the registrations coupled to `process`'s handle `handle`,
    /// which was deallocated; returns their ids.
    fn uncouple(&mut self, process: u64, handle: u64) -> SmallVec<[u64; 1]> {
        self.coupled.remove(&(process, handle)).unwrap_or_default()
    }

    /// Forgets the registrations coupled to `process`'s handle `handle`
    /// without telling the guest (the process has gone).
    pub(super) fn forget_coupled(&mut self, process: u64, handle: u64) {
        for id in self.uncouple(process, handle) {
            self.by_id.remove(&id);
        }
    }

    /// The registration a callback of type `callback` without userdata
    /// goes to: the latest of process `caller` (the process whose call the
    /// library is serving on this thread), or, on a thread of the
    /// library's own, the latest of the only process that registered it.
    fn latest_for(&self, callback: u32, caller: Option<u64>) -> Result<u64, String> {
        if let Some(process) = caller {
            return self.latest.get(&(callback, process)).copied().ok_or_else(|| "the calling process registered none".to_string());
        }
        let mut of_type = self.latest.iter().filter(|((c, _), _)| *c == callback).map(|(_, id)| *id);
        match (of_type.next(), of_type.next()) {
            (Some(id), None) => Ok(id),
            (None, _) => Err("no process registered one".to_string()),
            (Some(_), Some(_)) => {
                Err("it carries no userdata and came from a thread of the library's own, so the server cannot tell which of the \
                 guest processes that registered one it is for"
                    .to_string())
            }
        }
    }

    /// How many registrations process `process` holds.
    pub(super) fn count(&self, process: u64) -> usize {
        self.by_id.values().filter(|r| r.process == process).count()
    }

    pub(super) fn add_route(&mut self, process: u64, route: Arc<Route>) {
        if let Some(old) = self.routes.insert(process, route) {
            old.close();
        }
    }

    /// Forgets a process whose route closed, and its registrations.
    pub(super) fn remove_process(&mut self, process: u64, route: &Arc<Route>) {
        if self.routes.get(&process).is_some_and(|r| Arc::ptr_eq(r, route)) {
            self.routes.remove(&process);
            self.by_guest.retain(|(p, _, _), _| *p != process);
            self.by_id.retain(|_, r| r.process != process);
            self.latest.retain(|(_, p), _| *p != process);
            self.coupled.retain(|(p, _), _| *p != process);
        }
        route.close();
    }

    pub(super) fn has_route(&self, process: u64) -> bool {
        self.routes.contains_key(&process)
    }
}

/// Forgets the `once` and `coupled` registrations of a call that failed or
/// was refused, here and in their guests.
pub(super) fn release_unfired(registrations: &Mutex<Registrations>, ids: &[u64], log: &dyn Fn(std::fmt::Arguments<'_>)) {
    let released = lock(registrations).release(ids);
    send_releases(released, log);
}

/// Forgets the registrations coupled to handle `handle` of process
/// `process`, which a successful call deallocated, here and in the guest.
pub(super) fn release_coupled(registrations: &Mutex<Registrations>, process: u64, handle: u64, log: &dyn Fn(std::fmt::Arguments<'_>)) {
    let released = {
        let mut registrations = lock(registrations);
        if registrations.coupled.is_empty() {
            return;
        }
        let ids = registrations.uncouple(process, handle);
        registrations.release(&ids)
    };
    send_releases(released, log);
}

/// Tells each guest to forget a registration (`CallbackRelease`).
fn send_releases(released: Vec<(Arc<Route>, u64)>, log: &dyn Fn(std::fmt::Arguments<'_>)) {
    for (route, guest_id) in released {
        let header = Header::new(MsgKind::CallbackRelease);
        let mut w = Writer::new(header, Layout::of(&[Slot::U64]).1);
        w.u64(guest_id);
        if let Err(e) = w.finish().map_err(|e| e.to_string()).and_then(|m| route.send(&m).map_err(|e| e.to_string())) {
            log(format_args!("a callback registration's release was not sent: {e}"));
        }
    }
}

thread_local! {
    /// The guest process whose call this thread is making into the library.
    static CALLER: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` (a call into the vendor library) on behalf of guest process
/// `process`: a callback without userdata the library makes meanwhile, on
/// this thread, belongs to that process.
pub(super) fn calling_for<R>(process: u64, f: impl FnOnce() -> R) -> R {
    let outer = CALLER.with(|c| c.replace(Some(process)));
    let result = f();
    CALLER.with(|c| c.set(outer));
    result
}

pub(super) fn caller() -> Option<u64> {
    CALLER.with(std::cell::Cell::get)
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a callback's size expressions read: the vendor's arguments, which
/// the spec says how to size (trusted as the vendor's own contract is).
struct VendorArgs;

impl Host for VendorArgs {
    fn read(&self, addr: u64, dst: &mut [u8]) -> Result<(), EvalError> {
        if addr == 0 {
            return Err(EvalError::Null);
        }
        native::read_vendor(addr, dst);
        Ok(())
    }

    fn write(&mut self, _addr: u64, _src: &[u8]) -> Result<(), EvalError> {
        Err(EvalError::Unavailable("writing in a callback's description"))
    }

    fn metadata(&mut self, _key: u64) -> Result<u64, EvalError> {
        Err(EvalError::Unavailable("metadata in a callback's description"))
    }

    fn library(&mut self, _function: LibraryFn, _args: &[V]) -> Result<V, EvalError> {
        Err(EvalError::Unavailable("library functions in a callback's description"))
    }
}

/// The server's part of a callback: what it needs of the shared state.
pub(super) trait CallbackHost {
    fn plan(&self) -> &Plan;
    fn registrations(&self) -> &Mutex<Registrations>;
    /// Guest process `process`'s id for a vendor object of handle kind `kind`.
    fn handle_id(&self, process: u64, object: u64, kind: u32) -> Result<u64, String>;
    fn log(&self, message: std::fmt::Arguments<'_>);
}

/// Runs callback `callback` for the vendor library, which called its
/// trampoline with raw arguments `args`; returns the raw result (0 when the
/// guest cannot be reached).
pub(super) fn run(host: &dyn CallbackHost, callback: u32, args: &[u64]) -> u64 {
    match forward(host, callback, args) {
        Ok(raw) => raw,
        Err(e) => {
            let name = host.plan().callbacks.get(callback as usize).map_or("?", |c| c.name.as_str());
            host.log(format_args!("callback {name} not delivered: {e}"));
            0
        }
    }
}

fn forward(host: &dyn CallbackHost, index: u32, args: &[u64]) -> Result<u64, String> {
    let plan = host.plan();
    let callback = plan.callbacks.get(index as usize).ok_or("no such callback in the plan")?;
    let values: Vec<V> = callback.params.iter().zip(args).map(|(p, raw)| V::from_raw(*raw, &p.ty)).collect();
    let (route, guest_id, process) = {
        let mut registrations = lock(host.registrations());
        let id = match userdata_param(callback) {
            Some(u) => args.get(u).copied().unwrap_or(0),
            None => registrations.latest_for(index, caller())?,
        };
        let registration =
            registrations.take(id).ok_or("its registration is gone (the guest process left, or it was to be called once)")?;
        if registration.callback != index {
            return Err(format!("the library called it with the userdata of callback {}", registration.callback));
        }
        let route = registrations.routes.get(&registration.process).ok_or("the guest process has no callback route")?;
        (Arc::clone(route), registration.guest_id, registration.process)
    };
    let mut host_memory = VendorArgs;
    let mut words = Vec::with_capacity(values.len());
    let mut buffers = Vec::new();
    for (i, (p, v)) in callback.params.iter().zip(&values).enumerate() {
        let env = Env { this: Some((*v, None)), ..Env::new(&values, &[]) };
        let leaf = select(plan, &p.value, &env, &mut host_memory).map_err(|e| e.to_string())?;
        let word = match &leaf.kind {
            Kind::Handle { kind } => host.handle_id(process, v.as_u64(), *kind)?,
            Kind::Userdata { .. } => 0,
            Kind::Buffer { size, .. } => {
                if v.as_u64() != 0 {
                    let count = eval(plan, size, &env, &mut host_memory).map_err(|e| e.to_string())?.as_int();
                    let len = byte_len(count, stride(plan, &leaf.ty), u32::MAX as u64).ok_or("a callback buffer over the limit")?;
                    let mut bytes = vec![0u8; len as usize];
                    native::read_vendor(v.as_u64(), &mut bytes);
                    buffers.push((i, bytes));
                }
                0
            }
            _ => v.to_raw(&p.ty),
        };
        words.push(word);
    }
    let call_id = route.next_id();
    let header = Header { function: index, call_id, ..Header::new(MsgKind::Callback) };
    let mut w = Writer::new(header, message_scalar_len(callback));
    w.u64(guest_id);
    for (i, p) in callback.params.iter().enumerate() {
        if is_buffer(&p.value) {
            match buffers.iter().find(|(j, _)| *j == i) {
                Some((_, bytes)) => _ = w.buffer(bytes),
                None => _ = w.null(),
            }
        } else {
            w.u64(words[i]);
        }
    }
    let message = w.finish().map_err(|e| e.to_string())?;
    let reply = route.call(call_id, &message).map_err(|e| e.to_string())?;
    let message = Message::decode(&reply).map_err(|e| e.to_string())?;
    message.expect(MsgKind::CallbackReply).map_err(|e| e.to_string())?;
    let mut scalars = message.scalars();
    scalars.u64().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A route whose guest end stays open (leaked) for the test.
    fn route() -> Arc<Route> {
        let (a, b) = UnixTransport::pair().unwrap();
        std::mem::forget(b);
        Arc::new(Route::new(a))
    }

    #[test]
    fn a_registration_is_reused_for_the_same_guest_callback() {
        let mut r = Registrations::default();
        let a = r.register(7, 1, 0);
        assert_eq!(r.register(7, 1, 0), a);
        assert_ne!(r.register(7, 2, 0), a, "another guest registration");
        assert_ne!(r.register(8, 1, 0), a, "another process");
        let latest = r.register(8, 1, 0);
        assert_eq!(r.latest.get(&(0, 8)), Some(&latest));
    }

    #[test]
    fn a_callback_without_userdata_goes_to_its_callers_process_or_to_the_only_one() {
        let mut r = Registrations::default();
        let a = r.register(7, 1, 0);
        assert_eq!(r.latest_for(0, None), Ok(a), "only one process registered the type");
        assert_eq!(r.latest_for(0, Some(7)), Ok(a));
        let b = r.register(8, 1, 0);
        assert_eq!(r.latest_for(0, Some(7)), Ok(a), "process 7's call gets its own, not the latest of all");
        assert_eq!(r.latest_for(0, Some(8)), Ok(b));
        assert!(r.latest_for(0, None).is_err(), "from a library thread, with two processes: refused");
        assert!(r.latest_for(0, Some(9)).is_err(), "a process that registered none");
        assert!(r.latest_for(1, None).is_err(), "a type nobody registered");
        assert_eq!(calling_for(7, caller), Some(7));
        assert_eq!(caller(), None, "set only during the call");
    }

    #[test]
    fn a_once_registration_is_its_own_and_ends_with_its_first_call() {
        let mut r = Registrations::default();
        r.add_route(7, route());
        let lasting = r.register(7, 1, 0);
        let (a, b) = (r.register_own(7, 1, 0, Ends::AfterOneCall), r.register_own(7, 1, 0, Ends::AfterOneCall));
        assert!(a != b && a != lasting && b != lasting);
        assert_eq!(r.latest.get(&(0, 7)), Some(&lasting), "a once registration is nobody's latest");
        assert_eq!(r.take(a).map(|g| g.guest_id), Some(1));
        assert!(r.take(a).is_none(), "called a second time");
        assert!(r.take(lasting).is_some() && r.take(lasting).is_some());
        assert_eq!(r.count(7), 2);
    }

    #[test]
    fn an_unfired_once_registration_is_released_to_its_guest() {
        let mut r = Registrations::default();
        r.add_route(7, route());
        let (fired, unfired) = (r.register_own(7, 11, 0, Ends::AfterOneCall), r.register_own(7, 12, 0, Ends::AfterOneCall));
        r.take(fired);
        let released: Vec<u64> = r.release(&[fired, unfired]).into_iter().map(|(_, g)| g).collect();
        assert_eq!(released, [12], "only the one still registered");
        assert_eq!(r.count(7), 0);
    }

    #[test]
    fn a_process_that_leaves_takes_its_registrations_along() {
        let mut r = Registrations::default();
        let (mine, theirs) = (route(), route());
        r.add_route(7, Arc::clone(&mine));
        r.add_route(8, Arc::clone(&theirs));
        let gone = r.register(7, 1, 0);
        let kept = r.register(8, 1, 1);
        r.remove_process(7, &mine);
        assert!(!r.by_id.contains_key(&gone));
        assert!(r.by_id.contains_key(&kept));
        assert!(!r.has_route(7) && r.has_route(8));
        assert_eq!(r.latest.get(&(0, 7)), None, "the latest registration of callback 0 left with its process");
    }

    #[test]
    fn a_stale_route_does_not_remove_its_successor() {
        let mut r = Registrations::default();
        let (old, new) = (route(), route());
        r.add_route(7, Arc::clone(&old));
        r.add_route(7, Arc::clone(&new));
        r.remove_process(7, &old);
        assert!(r.has_route(7));
    }

    #[test]
    fn a_coupled_registration_lasts_until_its_object_is_deallocated() {
        let mut r = Registrations::default();
        r.add_route(7, route());
        r.add_route(8, route());
        // two contexts of process 7 created with the same function and userdata
        let (a, b) = (r.register_own(7, 11, 0, Ends::WithObject), r.register_own(7, 12, 0, Ends::WithObject));
        let theirs = r.register_own(8, 11, 0, Ends::WithObject);
        assert!(a != b && a != theirs);
        r.couple(7, 0x100, a);
        r.couple(7, 0x200, b);
        r.couple(8, 0x100, theirs);
        assert!(r.take(a).is_some() && r.take(a).is_some(), "called any number of times");
        assert_eq!(r.latest.get(&(0, 7)), None, "nobody's latest");
        let ids = r.uncouple(7, 0x100);
        let released: Vec<u64> = r.release(&ids).into_iter().map(|(_, g)| g).collect();
        assert_eq!(released, [11], "the deallocated object's registration, released to its guest");
        assert!(r.take(a).is_none());
        assert!(r.uncouple(7, 0x100).is_empty(), "released once");
        assert!(r.take(b).is_some(), "the other object's stays");
        assert!(r.take(theirs).is_some(), "another process's object of the same id stays");
        assert_eq!((r.count(7), r.count(8)), (1, 1));
        r.forget_coupled(7, 0x200);
        assert_eq!(r.count(7), 0, "a departed process's object takes its registration along");
        assert!(r.coupled.len() == 1 && r.coupled.contains_key(&(8, 0x100)));
    }

    #[test]
    fn a_coupled_registration_whose_call_failed_is_released_like_a_once_one() {
        let mut r = Registrations::default();
        r.add_route(7, route());
        let id = r.register_own(7, 11, 0, Ends::WithObject);
        let released: Vec<u64> = r.release(&[id]).into_iter().map(|(_, g)| g).collect();
        assert_eq!(released, [11]);
        r.couple(7, 0x100, id);
        assert!(r.coupled.is_empty(), "a released registration is never coupled");
        assert_eq!(r.count(7), 0);
    }

    #[test]
    fn a_process_that_leaves_takes_its_couplings_along() {
        let mut r = Registrations::default();
        let mine = route();
        r.add_route(7, Arc::clone(&mine));
        let id = r.register_own(7, 11, 0, Ends::WithObject);
        r.couple(7, 0x100, id);
        r.remove_process(7, &mine);
        assert!(r.coupled.is_empty() && r.by_id.is_empty());
    }

    #[test]
    fn waiting_callers_wake_when_the_route_closes() {
        let route = route();
        let waiter = {
            let route = Arc::clone(&route);
            std::thread::spawn(move || route.call(route.next_id(), b"message"))
        };
        while lock(&route.pending).is_empty() {
            std::thread::yield_now();
        }
        route.close();
        assert!(matches!(waiter.join().unwrap(), Err(TransportError::Closed)));
    }
}
