//! The API server half: what a generated API server's `main` calls.
//!
//! One server serves any number of guest processes, each with state of its
//! own (its handle table, metadata and kept buffers: see
//! [`super::tenants`]); each guest thread's channel is served by a thread of
//! its own. Everything a guest sends is checked against the plan before the
//! vendor library sees it: handle ids through the handle table, buffer
//! lengths against the sizes the spec's expressions give on the server's
//! own copy of the arguments, nested pointers against the message. A bad
//! message gets an error reply and a log line; the server goes on.

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::collections::VecDeque;

use smallvec::SmallVec;
use std::io::Read;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

mod departure;

use super::callbacks::userdata_of;
use super::eval::{eval, load, select, Env, EvalError, Host, V};
use super::log;
use super::native::{self, Dispatch, VendorLibrary};
use super::record::{self, Entry, Owner, RecordLog};
use super::server_callbacks::{self, release_unfired, CallbackHost, Registrations, Route};
use super::tenants::{Lease, Refused, Retained, Tenant, Tenants};
use super::walk::{byte_len, needs_walk, pointee, stride};
use crate::handles::{HandleError, HandleKind};
use crate::plan::{call_slots, reply_slot, CallMode, ExprKind, Function, Kind, Leaf, LibraryFn, Lifetime, Plan, SlotShape, Ty, Value};
use crate::transport::shm::{ProcessRegion, ShmConfig, ShmTransport};
use crate::transport::unix::UnixTransport;
use crate::transport::{SharedRegion, Transport, TransportError};
use crate::wire::{
    check_contract, BufferRef, ErrorCode, ErrorReply, Header, Hello, Kind as MsgKind, Layout, Message, Slot, Welcome, Writer,
};

/// A generated API server: its plan, contract and dispatcher.
#[derive(Debug)]
pub struct ServerLibrary {
    pub name: &'static str,
    pub plan_json: &'static str,
    pub contract: u128,
    pub dispatch: Dispatch,
    /// The address of the generated trampoline of each plan callback.
    pub trampoline: fn(u32) -> usize,
}

/// The server of this process, for trampolines (which the vendor library
/// calls with nothing but the callback's own arguments).
static SERVER: OnceLock<Arc<Shared>> = OnceLock::new();

/// State shared by all channels; what belongs to one guest process is in
/// its [`Tenant`].
struct Shared {
    library: &'static ServerLibrary,
    plan: Plan,
    slots: Vec<Vec<SlotShape>>,
    /// Scalar-area offset of each slot, per function.
    offsets: Vec<Vec<u32>>,
    ret: Vec<SlotShape>,
    /// The vendor's function for each plan function; unset until its first
    /// call for one the library does not export, which the resolver finds.
    addresses: Vec<OnceLock<Option<usize>>>,
    /// The vendor's `resolver` function (the `api` block's), if any.
    resolver: Option<usize>,
    /// Each guest process's state, by its number.
    tenants: Tenants<Tenant>,
    /// Every process's callback registrations: the vendor library holds
    /// their ids, and a trampoline has nothing else to find them by.
    registrations: Mutex<Registrations>,
    /// Whether each function has an `obj_record` value (its successful
    /// calls go to the record log).
    recorded: Vec<bool>,
    recorder: Option<Mutex<RecordLog>>,
    /// The function that releases a departed process's objects of each
    /// handle type (`release_at_exit`).
    releasers: HashMap<HandleKind, u32>,
    _vendor: VendorLibrary,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("api", &self.plan.api.name).finish_non_exhaustive()
    }
}

impl Shared {
    fn new(library: &'static ServerLibrary, vendor_path: Option<&str>) -> Result<Shared, String> {
        let plan = Plan::from_json(library.plan_json).map_err(|e| format!("the embedded plan does not load: {e}"))?;
        let vendor = VendorLibrary::open(vendor_path.unwrap_or(&plan.api.library))?;
        let mut slots = Vec::new();
        let mut offsets = Vec::new();
        let mut ret = Vec::new();
        let mut addresses = Vec::new();
        let resolver = plan.api.resolver.as_deref().and_then(|name| {
            let address = vendor.address(name);
            if address.is_none() {
                log(library.name, format_args!("the resolver {name} is not in the vendor library"));
            }
            address
        });
        for f in &plan.functions {
            let shapes = call_slots(f)?;
            offsets.push(slot_offsets(&shapes));
            slots.push(shapes);
            ret.push(reply_slot(&plan, f)?);
            // the guest answers unsupported and in_guest functions itself;
            // a variant is served by the vendor function it describes
            let local = f.unsupported.is_some() || f.in_guest.is_some();
            let symbol = f.variant_of.as_deref().unwrap_or(&f.name);
            let address = OnceLock::new();
            match if local { None } else { vendor.address(symbol) } {
                Some(found) => _ = address.set(Some(found)),
                // asked at the first call, not here: resolving can run the
                // vendor's initialisation (an ICD loader loads its platforms)
                None if !local && resolver.is_some() => {}
                None => {
                    if !local {
                        log(library.name, format_args!("{symbol} is not in the vendor library; calls to {} will fail", f.name));
                    }
                    _ = address.set(None);
                }
            }
            addresses.push(address);
        }
        let recorded = plan.functions.iter().map(records).collect();
        let releasers = departure::releasers(&plan);
        Ok(Shared {
            library,
            plan,
            slots,
            offsets,
            ret,
            addresses,
            resolver,
            tenants: Tenants::default(),
            registrations: Mutex::default(),
            recorded,
            recorder: None,
            releasers,
            _vendor: vendor,
        })
    }

    fn log(&self, message: std::fmt::Arguments<'_>) {
        log(self.library.name, message);
    }

    /// The vendor's function for plan function `id`, if it has one.
    fn address(&self, id: usize) -> Option<usize> {
        *self.addresses[id].get_or_init(|| {
            let f = &self.plan.functions[id];
            let symbol = f.variant_of.as_deref().unwrap_or(&f.name);
            let found = self.resolver.and_then(|resolver| native::resolve(resolver, symbol));
            if found.is_none() {
                self.log(format_args!("{symbol} is neither in the vendor library nor found by its resolver; calls to {} fail", f.name));
            }
            found
        })
    }
}

impl Shared {
    /// Appends to the record log, if the server keeps one.
    fn record(&self, tenant: &Tenant, entry: Entry) {
        if let Some(recorder) = &self.recorder {
            if let Err(e) = lock(recorder).append(Owner { process: tenant.process, pid: tenant.pid }, &entry) {
                self.log(format_args!("cannot write the record log: {e}; migration will miss this call"));
            }
        }
    }
}

/// Whether a function has an `obj_record` value.
fn records(f: &Function) -> bool {
    fn any(value: &Value) -> bool {
        value.any_leaf(&|leaf| {
            leaf.obj_record
                || match &leaf.kind {
                    Kind::Buffer { element, .. } => any(element),
                    Kind::Struct { fields } => fields.iter().any(any),
                    _ => false,
                }
        })
    }
    f.params.iter().any(|p| any(&p.value)) || any(&f.return_value)
}

/// Replays a record log into this (fresh) server before it serves guests.
fn replay_log(shared: &Shared, bytes: &[u8]) {
    let (entries, truncated) = record::decode(bytes);
    if truncated {
        shared.log(format_args!("the record log ends in a cut-off entry; replaying what precedes it"));
    }
    let live = record::live(&entries);
    let mut channels: HashMap<Owner, ChannelState> = HashMap::new();
    let mut failed = 0;
    for (owner, issued, raw) in &live {
        // each process's records go into its own state, bound to its process
        // id: the process finds them when it reconnects
        let channel = match channels.entry(*owner) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let make = || Tenant::new(shared.library.name, owner.process, owner.pid).on_departure(departure::release_objects);
                let Some(tenant) = shared.tenants.prebind(owner.process, owner.pid, make) else {
                    failed += 1;
                    shared.log(format_args!(
                        "a recorded call of process {} is not replayed: the process has exited, or its number is another's",
                        owner.pid
                    ));
                    continue;
                };
                e.insert(ChannelState::new(tenant))
            }
        };
        let result = Message::decode(raw).map_err(malformed).and_then(|message| {
            let arrival = Arrival { raw, region: None, rebind: Some(issued.iter().copied().collect()) };
            handle_call(shared, channel, &message, u64::MAX, arrival)
        });
        if let Err((_, text)) = result {
            failed += 1;
            shared.log(format_args!("a recorded call failed to replay: {text}"));
        }
    }
    shared.log(format_args!("replayed {} recorded calls ({failed} failed)", live.len()));
}

impl CallbackHost for Shared {
    fn plan(&self) -> &Plan {
        &self.plan
    }

    fn registrations(&self) -> &Mutex<Registrations> {
        &self.registrations
    }

    fn handle_id(&self, process: u64, object: u64, kind: u32) -> Result<u64, String> {
        let tenant = self.tenants.get(process).ok_or("the guest process left")?;
        let id = lock(&tenant.handles).insert(object as usize, kind).map_err(|e| e.to_string());
        id
    }

    fn log(&self, message: std::fmt::Arguments<'_>) {
        Shared::log(self, message);
    }
}

/// What a generated trampoline calls: runs plan callback `callback` with
/// the raw words the vendor library passed, and returns the raw result.
pub fn callback(library: &'static ServerLibrary, callback: u32, args: &[u64]) -> u64 {
    match SERVER.get() {
        Some(shared) => server_callbacks::run(shared.as_ref(), callback, args),
        None => {
            log(library.name, format_args!("a callback arrived before the server started; it returns 0"));
            0
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs the server: `SERVER --socket PATH [--library PATH]`. Returns the
/// process exit code.
const USAGE: &str = "--socket PATH [--library PATH] [--record LOG] [--replay LOG]";

/// How a server runs (its command line).
#[derive(Clone, Debug, Default)]
pub struct ServeOptions {
    /// The vendor library to load instead of the spec's.
    pub vendor: Option<String>,
    /// Append the calls to replay (`obj_record`) to this log.
    pub record: Option<String>,
    /// Before serving, replay this log (written by another server's
    /// `record`): the guest's objects are re-created with the ids it holds.
    pub replay: Option<String>,
}

pub fn main(library: &'static ServerLibrary) -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut socket = None;
    let mut options = ServeOptions::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--socket" => socket = it.next().cloned(),
            "--library" => options.vendor = it.next().cloned(),
            "--record" => options.record = it.next().cloned(),
            "--replay" => options.replay = it.next().cloned(),
            "--help" | "-h" => {
                println!("usage: {} {USAGE}", library.name);
                return std::process::ExitCode::SUCCESS;
            }
            other => {
                log(library.name, format_args!("unknown argument `{other}` (usage: {USAGE})"));
                return std::process::ExitCode::from(2);
            }
        }
    }
    let Some(socket) = socket else {
        log(library.name, format_args!("--socket PATH is required"));
        return std::process::ExitCode::from(2);
    };
    match serve(library, &socket, &options) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            log(library.name, format_args!("{e}"));
            std::process::ExitCode::FAILURE
        }
    }
}

/// Listens on `socket` and serves every channel that connects, each on its
/// own thread, until the process is stopped.
pub fn serve(library: &'static ServerLibrary, socket: &str, options: &ServeOptions) -> Result<(), String> {
    let mut shared = Shared::new(library, options.vendor.as_deref())?;
    let replay = match &options.replay {
        Some(path) => Some(std::fs::read(path).map_err(|e| format!("cannot read the record log {path}: {e}"))?),
        None => None,
    };
    if let Some(path) = &options.record {
        let log = RecordLog::create(Path::new(path)).map_err(|e| format!("cannot create the record log {path}: {e}"))?;
        shared.recorder = Some(Mutex::new(log));
    }
    let shared = Arc::new(shared);
    if SERVER.set(Arc::clone(&shared)).is_err() {
        return Err("one process serves one API server".into());
    }
    if let Some(bytes) = replay {
        replay_log(&shared, &bytes);
    }
    let _ = std::fs::remove_file(socket);
    let listener = UnixListener::bind(socket).map_err(|e| format!("cannot listen on {socket}: {e}"))?;
    shared.log(format_args!("serving {} on {socket}", shared.plan.api.name));
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || serve_channel(&shared, stream));
            }
            Err(e) => shared.log(format_args!("accept failed: {e}")),
        }
    }
    Ok(())
}

fn serve_channel(shared: &Shared, mut stream: UnixStream) {
    let mut selector = [0u8; 1];
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    if stream.read_exact(&mut selector).is_err() {
        return;
    }
    let _ = stream.set_read_timeout(None);
    let peer = peer_pid(&stream);
    let transport: Result<Box<dyn Transport>, TransportError> = match &selector {
        b"U" => Ok(Box::new(UnixTransport::new(stream))),
        b"S" => ShmTransport::serve(stream, ShmConfig::default()).map(|t| Box::new(t) as Box<dyn Transport>),
        b"C" => {
            serve_route(shared, stream, peer);
            return;
        }
        b"Z" => {
            serve_process_region(shared, stream, peer);
            return;
        }
        other => {
            shared.log(format_args!("a guest asked for transport {:?}; closing", other[0] as char));
            return;
        }
    };
    let mut transport = match transport {
        Ok(t) => t,
        Err(e) => {
            shared.log(format_args!("channel setup failed: {e}"));
            return;
        }
    };
    if let Err(e) = serve_calls(shared, transport.as_mut(), peer) {
        if !matches!(e, TransportError::Closed) {
            shared.log(format_args!("channel closed: {e}"));
        }
    }
}

fn error_reply(code: ErrorCode, message: &str, to: Option<&Header>) -> Vec<u8> {
    ErrorReply { code, message }.encode(to)
}

/// Receives a channel's hello and answers it: the channel's hold on its
/// process's state when it may go on, `None` when it was refused.
fn handshake(
    shared: &Shared,
    transport: &mut dyn Transport,
    buf: &mut Vec<u8>,
    peer: u32,
) -> Result<Option<Lease<Tenant>>, TransportError> {
    let Some(hello) = receive_hello(shared, transport, buf)? else { return Ok(None) };
    match admit(shared, &hello, peer) {
        Ok(lease) => {
            transport.send(&welcome(shared, transport.max_message()))?;
            Ok(Some(lease))
        }
        Err(text) => {
            transport.send(&error_reply(ErrorCode::Denied, &text, None))?;
            Ok(None)
        }
    }
}

/// Lets a connection of the process its hello names in, if its socket's
/// peer is that process (see [`Tenants::claim`]); the refusal is logged.
fn admit(shared: &Shared, hello: &Hello, peer: u32) -> Result<Lease<Tenant>, String> {
    shared
        .tenants
        .claim(hello.process, peer, || Tenant::new(shared.library.name, hello.process, peer).on_departure(departure::release_objects))
        .map_err(|e| {
            match e {
                Refused::Taken { process, owner, pid } => {
                    shared.log(format_args!("refused a guest: process {pid} claimed process {owner}'s number {process:#x}"))
                }
                Refused::UnknownPid => shared.log(format_args!("refused a guest: {e}")),
            }
            e.to_string()
        })
}

/// The server's answer to an accepted hello.
fn welcome(shared: &Shared, max_message: usize) -> Vec<u8> {
    Welcome { contract: shared.library.contract, max_message: u32::try_from(max_message).unwrap_or(u32::MAX) }.encode()
}

/// Receives a channel's hello and checks it; a refused one is answered with
/// an error reply here and gives `None`.
fn receive_hello(shared: &Shared, transport: &mut dyn Transport, buf: &mut Vec<u8>) -> Result<Option<Hello>, TransportError> {
    transport.recv(buf, Some(Duration::from_secs(30)))?;
    let hello = match Message::decode(buf).and_then(|m| Hello::decode(&m)) {
        Ok(hello) => hello,
        Err(e) => {
            shared.log(format_args!("refused a guest: bad hello: {e}"));
            transport.send(&error_reply(ErrorCode::Malformed, &e.to_string(), None))?;
            return Ok(None);
        }
    };
    if let Err(e) = check_contract(shared.library.contract, hello.contract) {
        shared.log(format_args!("refused a guest: {e}"));
        transport.send(&error_reply(ErrorCode::ContractMismatch, &e.to_string(), None))?;
        return Ok(None);
    }
    Ok(Some(hello))
}

/// Serves a guest process's callback route: registers it for the process
/// its hello names, then hands each callback reply to the trampoline
/// waiting for it, until the guest closes the route.
fn serve_route(shared: &Shared, stream: UnixStream, peer: u32) {
    let writer = match stream.try_clone() {
        Ok(w) => w,
        Err(e) => {
            shared.log(format_args!("callback route setup failed: {e}"));
            return;
        }
    };
    let mut reader = UnixTransport::new(stream);
    let mut writer = UnixTransport::new(writer);
    let mut buf = Vec::new();
    let hello = match receive_hello(shared, &mut writer, &mut buf) {
        Ok(Some(hello)) => hello,
        Ok(None) => return,
        Err(e) => {
            shared.log(format_args!("callback route setup failed: {e}"));
            return;
        }
    };
    let _lease = match admit(shared, &hello, peer) {
        Ok(lease) => lease,
        Err(text) => {
            let _ = writer.send(&error_reply(ErrorCode::Denied, &text, None));
            return;
        }
    };
    // the hello came through the writer's descriptor; both read the same socket
    let welcome = welcome(shared, writer.max_message());
    let route = Arc::new(Route::new(writer));
    // registered before the guest hears back: its next call, which registers
    // a callback, must find the route
    lock(&shared.registrations).add_route(hello.process, Arc::clone(&route));
    if let Err(e) = route.send(&welcome) {
        shared.log(format_args!("callback route setup failed: {e}"));
        lock(&shared.registrations).remove_process(hello.process, &route);
        return;
    }
    loop {
        if let Err(e) = reader.recv(&mut buf, None) {
            if !matches!(e, TransportError::Closed) {
                shared.log(format_args!("callback route closed: {e}"));
            }
            break;
        }
        let delivered = match Message::decode(&buf) {
            Ok(m) if m.kind() == MsgKind::CallbackReply => route.deliver(m.header().call_id, buf.clone()),
            Ok(m) => {
                shared.log(format_args!("unexpected {:?} message on a callback route", m.kind()));
                true
            }
            Err(e) => {
                shared.log(format_args!("undecodable callback reply: {e}"));
                true
            }
        };
        if !delivered {
            shared.log(format_args!("a callback reply nobody waits for"));
        }
    }
    let left = {
        let mut registrations = lock(&shared.registrations);
        let left = registrations.count(hello.process);
        registrations.remove_process(hello.process, &route);
        left
    };
    if left > 0 {
        shared.log(format_args!("guest process {peer} left {left} callback registrations, now forgotten"));
    }
}

/// How large each guest process's zero-copy region is. Pages exist only
/// once touched, so this bounds the application's `zerocopy_alloc`s, not
/// the memory they cost.
pub const PROCESS_REGION_BYTES: u64 = 1 << 30;

/// Serves a guest process's request for its zero-copy region: checks the
/// hello, creates the region, registers it under the process (one region
/// per process), sends it, and forgets it when the guest closes the socket.
fn serve_process_region(shared: &Shared, stream: UnixStream, peer: u32) {
    let mut transport = match stream.try_clone() {
        Ok(s) => UnixTransport::new(s),
        Err(e) => {
            shared.log(format_args!("zero-copy region setup failed: {e}"));
            return;
        }
    };
    let mut buf = Vec::new();
    let hello = match receive_hello(shared, &mut transport, &mut buf) {
        Ok(Some(hello)) => hello,
        Ok(None) => return,
        Err(e) => {
            shared.log(format_args!("zero-copy region setup failed: {e}"));
            return;
        }
    };
    // the region belongs to the process's state, which only connections
    // from the process id that first used its number reach
    let Ok(lease) = admit(shared, &hello, peer) else { return };
    let tenant = lease.state();
    let region = {
        let mut slot = lock(&tenant.region);
        if slot.is_some() {
            // one per process: a second would let two allocators hand out the same bytes
            shared.log(format_args!("refused a second zero-copy region for one guest process"));
            return;
        }
        match ProcessRegion::serve(&stream, PROCESS_REGION_BYTES) {
            Ok(region) => Arc::clone(slot.insert(Arc::new(region))),
            Err(e) => {
                shared.log(format_args!("zero-copy region setup failed: {e}"));
                return;
            }
        }
    };
    // the guest sends nothing more: the socket closes when the process goes
    let mut byte = [0u8; 1];
    while matches!((&stream).read(&mut byte), Ok(n) if n > 0) {}
    let mut slot = lock(&tenant.region);
    if slot.as_ref().is_some_and(|r| Arc::ptr_eq(r, &region)) {
        *slot = None;
    }
}

/// The process id at the other end of a Unix socket; 0 when unknown.
fn peer_pid(stream: &UnixStream) -> u32 {
    rustix::net::sockopt::socket_peercred(stream).map_or(0, |c| c.pid.as_raw_nonzero().get() as u32)
}

fn serve_calls(shared: &Shared, transport: &mut dyn Transport, peer: u32) -> Result<(), TransportError> {
    let mut buf = Vec::new();
    let Some(lease) = handshake(shared, transport, &mut buf, peer)? else { return Ok(()) };
    let mut channel = ChannelState::new(Arc::clone(lease.state()));
    loop {
        if let Err(e) = transport.recv(&mut buf, None) {
            if let Some(code) = channel.deferred {
                shared.log(format_args!("a guest thread left with an unreported error of an asynchronous call ({code})"));
            }
            return Err(e);
        }
        let message = match Message::decode(&buf) {
            Ok(m) => m,
            Err(e) => {
                shared.log(format_args!("undecodable message: {e}"));
                transport.send(&error_reply(ErrorCode::Malformed, &e.to_string(), None))?;
                continue;
            }
        };
        match message.kind() {
            MsgKind::Call => {
                let header = *message.header();
                let arrival = Arrival { raw: &buf, region: transport.region(), rebind: None };
                match handle_call(shared, &mut channel, &message, transport.max_message() as u64, arrival) {
                    Ok(Some(reply)) => {
                        transport.send(&reply)?;
                        channel.reply_buf = reply;
                    }
                    Ok(None) => {}
                    Err((code, text)) => {
                        let name = shared.plan.functions.get(header.function as usize).map_or("?", |f| f.name.as_str());
                        shared.log(format_args!("call {} ({name}) refused: {text}", header.call_id));
                        if !header.flags.contains(crate::wire::Flags::ASYNC) {
                            transport.send(&error_reply(code, &text, Some(&header)))?;
                        } else if code == ErrorCode::InvalidHandle {
                            channel.deferred.get_or_insert(shared.plan.api.invalid_handle);
                        } else {
                            channel.deferred.get_or_insert(shared.plan.api.failure);
                        }
                    }
                }
            }
            MsgKind::Goodbye => return Ok(()),
            other => {
                shared.log(format_args!("unexpected {other:?} message"));
                transport.send(&error_reply(ErrorCode::Malformed, &format!("unexpected {other:?} message"), Some(message.header())))?;
            }
        }
    }
}

/// State of one channel (one guest thread).
struct ChannelState {
    /// The error of an earlier asynchronous call, not yet reported.
    deferred: Option<i128>,
    /// The guest process the channel belongs to: its objects, kept buffers
    /// and zero-copy region, and its callbacks' route.
    tenant: Arc<Tenant>,
    /// The last reply's buffer, reused for the next.
    reply_buf: Vec<u8>,
    /// Shadow buffers of earlier calls, reused (see `Decoder::spare`).
    spare: Vec<Vec<u8>>,
}

impl ChannelState {
    fn new(tenant: Arc<Tenant>) -> ChannelState {
        ChannelState { deferred: None, tenant, reply_buf: Vec::new(), spare: Vec::new() }
    }
}

type Refusal = (ErrorCode, String);

fn malformed(e: impl std::fmt::Display) -> Refusal {
    (ErrorCode::Malformed, e.to_string())
}

fn handle_error(e: HandleError) -> Refusal {
    (ErrorCode::InvalidHandle, e.to_string())
}

/// Where an out buffer's bytes are after the call.
#[derive(Clone, Copy)]
enum Place {
    Shadow(usize),
    Retained(u64),
    /// In the zero-copy region, where the guest reads it itself.
    Shared,
    /// A kept buffer that never came to be (see `Decoder::buffer`).
    Missing,
}

struct OutEntry<'p> {
    place: Place,
    len: u64,
    /// Elements to translate back (handles inside the buffer).
    walk: Option<(&'p Ty, u64, &'p Value)>,
    /// Positions of nested pointers, blanked before the bytes go back.
    pointers: Vec<u64>,
}

/// One call's memory: the message's data area (read-only) and shadow
/// buffers, plus the guest process's state for kept buffers and metadata.
struct Frame<'a> {
    shared: &'a Shared,
    /// The guest process of the channel: its handles, kept buffers,
    /// metadata and process region.
    tenant: &'a Tenant,
    message: Message<'a>,
    /// The channel's zero-copy region, if its transport has one.
    region: Option<&'a dyn SharedRegion>,
    /// Inline for the usual few: the list itself is not worth a heap allocation a call.
    shadows: SmallVec<[Vec<u8>; 4]>,
    /// Sizing a buffer the vendor library returned: its memory may be read.
    vendor_reads: bool,
    /// Handle ids this call issued, in order (for the record log).
    issued: Vec<u64>,
    /// Replaying: the ids the recorded call issued, to give again.
    rebind: Option<VecDeque<u64>>,
    /// A buffer of the call is in the zero-copy region (not recordable).
    used_region: bool,
    /// The kept buffers this call uses, `(address, key)`: what its
    /// `register_buf` statements can register.
    kept: SmallVec<[(u64, u64); 2]>,
    /// Keys of the kept buffers this call created: a call that fails gave
    /// the vendor nothing to hold, and runs no `register_buf` that a later
    /// call could free them through, so they go with it.
    created: SmallVec<[u64; 2]>,
    /// That region, found on the first buffer that names it; held for the
    /// call, so it stays mapped while the vendor uses it.
    process_region: Option<Arc<ProcessRegion>>,
}

impl Frame<'_> {
    /// The process region of the channel's guest process.
    fn process_region(&mut self) -> Result<&ProcessRegion, Refusal> {
        if self.process_region.is_none() {
            let found = lock(&self.tenant.region).clone();
            self.process_region =
                Some(found.ok_or_else(|| malformed("a process-region buffer from a guest process without a zero-copy region"))?);
        }
        Ok(self.process_region.as_deref().expect("found above"))
    }

    /// The guest's id for a vendor object, issued (or, replaying, rebound)
    /// and noted for the record log.
    fn issue(&mut self, object: u64, kind: u32) -> Result<u64, Refusal> {
        if object == 0 {
            return Ok(0);
        }
        let mut handles = lock(&self.tenant.handles);
        let id = match self.rebind.as_mut().and_then(VecDeque::pop_front) {
            Some(recorded) => match handles.insert_as(object as usize, kind, recorded) {
                Ok(()) => recorded,
                // the object already has an id (a device returned again): keep it
                Err(HandleError::Rebound(_)) => {
                    let id = handles.insert(object as usize, kind).map_err(handle_error)?;
                    if id != recorded {
                        // its id's slot holds another object: the guest's id would be wrong
                        self.shared.log(format_args!("replay could not give object id {recorded:#x} back (it is {id:#x} now)"));
                    }
                    id
                }
                Err(e) => return Err(handle_error(e)),
            },
            None => handles.insert(object as usize, kind).map_err(handle_error)?,
        };
        self.issued.push(id);
        Ok(id)
    }
}

fn find(base: *const u8, len: usize, addr: u64, n: usize) -> Option<usize> {
    let start = base as u64;
    let off = addr.checked_sub(start)?;
    let end = off.checked_add(n as u64)?;
    (end <= len as u64).then_some(off as usize)
}

impl Host for Frame<'_> {
    fn read(&self, addr: u64, dst: &mut [u8]) -> Result<(), EvalError> {
        let n = dst.len();
        let data = self.message.data_bytes();
        if let Some(off) = find(data.as_ptr(), data.len(), addr, n) {
            dst.copy_from_slice(&data[off..off + n]);
            return Ok(());
        }
        for s in &self.shadows {
            if let Some(off) = find(s.as_ptr(), s.len(), addr, n) {
                dst.copy_from_slice(&s[off..off + n]);
                return Ok(());
            }
        }
        // metadata before kept buffers: conditions read it on every call,
        // and it is found by one lookup where kept buffers are scanned
        if lock(&self.tenant.metadata).read(addr, dst) {
            return Ok(());
        }
        for r in lock(&self.tenant.retained).values() {
            if let Some(off) = find(r.bytes.as_ptr(), r.bytes.len(), addr, n) {
                dst.copy_from_slice(&r.bytes[off..off + n]);
                return Ok(());
            }
        }
        let process_region = self.process_region.as_deref().map(|r| r as &dyn SharedRegion);
        for region in [self.region, process_region].into_iter().flatten() {
            // a shared buffer's bytes, read through the region's checks
            if let Ok(base) = region.region_ptr(0, region.region_len()) {
                if let Some(off) = find(base.as_ptr(), region.region_len() as usize, addr, n) {
                    return region.read_region(off as u64, dst).map_err(|_| EvalError::OutOfBounds { addr, len: n as u64 });
                }
            }
        }
        if addr == 0 {
            return Err(EvalError::Null);
        }
        if self.vendor_reads {
            native::read_vendor(addr, dst);
            return Ok(());
        }
        Err(EvalError::OutOfBounds { addr, len: n as u64 })
    }

    fn write(&mut self, addr: u64, src: &[u8]) -> Result<(), EvalError> {
        // the spec only assigns to metadata
        if lock(&self.tenant.metadata).write(addr, src) {
            return Ok(());
        }
        Err(EvalError::OutOfBounds { addr, len: src.len() as u64 })
    }

    fn metadata(&mut self, key: u64) -> Result<u64, EvalError> {
        let plan = &self.shared.plan;
        let size = plan.metadata.as_ref().map_or(0, |t| plan.size_of(t)).max(1) as usize;
        Ok(lock(&self.tenant.metadata).get_or_create(key, size))
    }

    fn library(&mut self, function: LibraryFn, args: &[V]) -> Result<V, EvalError> {
        match function {
            // registries live in the guest, which names their buffers by
            // key; the server notes which registry holds each buffer it
            // keeps, so that a guest can free one only through it
            LibraryFn::RegisterBuf => {
                let arg = |i: usize| args.get(i).map_or(0, |v| v.as_u64());
                let (registry, key, addr) = (arg(0) as u32, arg(1), arg(2));
                // the call's own kept buffer (a scan of every kept buffer
                // would cost each read in proportion to the reads pending)
                let kept = self.kept.iter().find(|(a, _)| *a == addr && addr != 0).map(|(_, k)| *k);
                if let Some(buffer) = kept {
                    lock(&self.tenant.kept_registries).register(registry, key, buffer);
                }
                Ok(V::Int(0))
            }
            _ => Err(EvalError::Unavailable("a buffer registry")),
        }
    }
}

/// An address no buffer has: what a non-null out buffer's pointer is
/// before its shadow exists. Conditions such as `this != 0` see it as
/// non-null, as the guest did; reading through it fails.
const PENDING: u64 = u64::MAX - 0xfff;

/// The value expressions see for a buffer before it is prepared.
fn provisional(descriptor: BufferRef<'_>) -> V {
    match descriptor {
        BufferRef::Null => V::Ptr(0),
        BufferRef::Inline(bytes) => V::Ptr(bytes.as_ptr() as u64),
        _ => V::Ptr(PENDING),
    }
}

/// Decodes, checks and runs one call.
struct Decoder<'a, 'p> {
    plan: &'p Plan,
    frame: Frame<'a>,
    outs: Vec<OutEntry<'p>>,
    /// Retained buffers to free after the call (`deallocate`).
    release: Vec<u64>,
    /// The registry entry the slot being decoded takes its buffers from
    /// (`get_bufs(registry, key)`): the only kept buffers it may free.
    claim: Option<(u32, u64)>,
    max: u64,
    /// Shadows of earlier calls of the channel, to reuse: a fresh large
    /// allocation costs a page fault per page on every call.
    spare: Vec<Vec<u8>>,
}

impl<'a, 'p> Decoder<'a, 'p> {
    fn shadow(&mut self, len: u64) -> (usize, u64) {
        let len = len as usize;
        let bytes = match self.spare.iter().position(|b| b.capacity() >= len) {
            Some(i) => {
                let mut bytes = self.spare.swap_remove(i);
                // zeroed, as a fresh one: what the vendor does not write goes back as zeros
                bytes.clear();
                bytes.resize(len, 0);
                bytes
            }
            None => vec![0u8; len],
        };
        let addr = bytes.as_ptr() as u64;
        self.frame.shadows.push(bytes);
        (self.frame.shadows.len() - 1, addr)
    }

    fn handle(&self, id: u64, kind: u32) -> Result<u64, Refusal> {
        if id == 0 {
            return Ok(0);
        }
        lock(&self.frame.tenant.handles).get(id, kind).map(|o| o as u64).map_err(handle_error)
    }

    /// Prepares the buffer a guest's descriptor names; returns the address
    /// the vendor library gets.
    #[allow(clippy::too_many_arguments)]
    fn buffer(
        &mut self,
        env: &Env<'_>,
        leaf: &'p Leaf,
        descriptor: BufferRef<'a>,
        key: u64,
        size: &'p crate::plan::Expr,
        element_ty: &'p Ty,
        element: &'p Value,
    ) -> Result<u64, Refusal> {
        let plan = self.plan;
        if descriptor == BufferRef::Null {
            return Ok(0);
        }
        let stride = stride(plan, &leaf.ty);
        let this = provisional(descriptor);
        let env = Env { this: Some((this, None)), ..*env };
        let retained_len = (key != 0).then(|| lock(&self.frame.tenant.retained).get(&key).map(|r| r.bytes.len() as u64)).flatten();
        let expected = match eval(plan, size, &env, &mut self.frame) {
            Ok(count) => byte_len(count.as_int(), stride, self.max)
                .ok_or_else(|| malformed(format!("a buffer of {} elements is over the limit", count.as_int())))?,
            // sizes kept by the guest (registries): the buffer the server kept decides
            Err(EvalError::Unavailable(_)) => match (descriptor, retained_len) {
                // data the guest sends from its own registries: its length is the guest's word
                (BufferRef::Inline(bytes), _) if (bytes.len() as u64).is_multiple_of(stride) => bytes.len() as u64,
                (_, Some(len)) => len,
                (BufferRef::Out { .. }, None) if leaf.output => {
                    // the guest registered a buffer whose asynchronous call the
                    // server refused (its error is deferred): nothing to bring back
                    self.outs.push(OutEntry { place: Place::Missing, len: 0, walk: None, pointers: Vec::new() });
                    return Ok(0);
                }
                _ => return Err(malformed("a buffer whose size only the guest knows, and that the server does not hold")),
            },
            Err(e) => return Err(malformed(e)),
        };
        let copy_in = leaf.input && !leaf.no_copy;
        let keep = leaf.lifetime != Lifetime::Call;
        let (place, addr) = match descriptor {
            BufferRef::Inline(bytes) if copy_in => {
                if bytes.len() as u64 != expected {
                    return Err(malformed(format!("an in buffer of {} bytes where the spec gives {expected}", bytes.len())));
                }
                if keep {
                    let addr = self.retain(env, leaf, key, expected, Some(bytes))?;
                    (Place::Retained(key), addr)
                } else if needs_walk(element) || leaf.output {
                    let (index, addr) = self.shadow(expected);
                    self.frame.shadows[index].copy_from_slice(bytes);
                    (Place::Shadow(index), addr)
                } else {
                    // read in place from the message: no staging copy
                    (Place::Shadow(usize::MAX), bytes.as_ptr() as u64)
                }
            }
            BufferRef::Out { len } if !copy_in => {
                if len != expected {
                    return Err(malformed(format!("an out buffer of {len} bytes where the spec gives {expected}")));
                }
                match retained_len {
                    Some(have) if have >= expected => {
                        let addr = lock(&self.frame.tenant.retained).get(&key).map_or(0, |r| r.bytes.as_ptr() as u64);
                        self.frame.kept.push((addr, key));
                        (Place::Retained(key), addr)
                    }
                    _ if keep => (Place::Retained(key), self.retain(env, leaf, key, expected, None)?),
                    _ => {
                        let (index, addr) = self.shadow(expected);
                        (Place::Shadow(index), addr)
                    }
                }
            }
            BufferRef::Shared { offset, len } => {
                let region = self.frame.region.ok_or_else(|| malformed("a shared buffer on a channel without a zero-copy region"))?;
                if len != expected {
                    return Err(malformed(format!("a shared buffer of {len} bytes where the spec gives {expected}")));
                }
                if keep || leaf.deallocate || leaf.no_copy || needs_walk(element) {
                    return Err(malformed("a shared buffer where the server must keep or translate the bytes"));
                }
                // the vendor reads and writes the region in place
                self.frame.used_region = true;
                (Place::Shared, region.region_ptr(offset, len).map_err(malformed)?.as_ptr() as u64)
            }
            BufferRef::Process { offset, len } => {
                // the application's own memory, allocated with zerocopy_alloc
                if len != expected {
                    return Err(malformed(format!("a process-region buffer of {len} bytes where the spec gives {expected}")));
                }
                if keep || leaf.deallocate || leaf.no_copy || needs_walk(element) {
                    return Err(malformed("a process-region buffer where the server must keep or translate the bytes"));
                }
                self.frame.used_region = true;
                let region = self.frame.process_region()?;
                (Place::Shared, region.region_ptr(offset, len).map_err(malformed)?.as_ptr() as u64)
            }
            other => {
                return Err(malformed(format!(
                    "{} where the spec expects {}",
                    other.name(),
                    if copy_in { "an in buffer" } else { "an out buffer" }
                )))
            }
        };
        if leaf.deallocate && key != 0 {
            let held = match self.claim {
                Some((registry, claimed)) if retained_len.is_some() => {
                    lock(&self.frame.tenant.kept_registries).holds(registry, claimed, key)
                }
                _ => true,
            };
            if held {
                self.release.push(key);
            } else {
                // the vendor may still be writing it: it stays
                self.frame.shared.log(format_args!("a call named a kept buffer that its registry entry does not hold; it is not freed"));
            }
        }
        let out_index = (leaf.output && !leaf.no_copy).then(|| {
            let walk = needs_walk(element).then_some((element_ty, stride, element));
            self.outs.push(OutEntry { place, len: expected, walk, pointers: Vec::new() });
            self.outs.len() - 1
        });
        if copy_in && needs_walk(element) {
            let Place::Shadow(index) = place else { return Err(malformed("kept buffers holding pointers are not served yet")) };
            if let (Value::Leaf(leaf), Ty::Ptr(_)) = (element, element_ty) {
                if let Kind::Handle { kind } = leaf.kind {
                    // an array of handle ids (a kernel's memory object):
                    // translated in place, as `element` would one by one
                    for at in (0..expected as usize).step_by(8) {
                        let word = |s: &[u8]| s.get(at..at + 8).map_or(0, |w| u64::from_le_bytes(w.try_into().unwrap_or([0; 8])));
                        let object = self.handle(word(&self.frame.shadows[index]), kind)?;
                        if let Some(slot) = self.frame.shadows[index].get_mut(at..at + 8) {
                            slot.copy_from_slice(&object.to_le_bytes());
                        }
                    }
                    return Ok(addr);
                }
            }
            let mut indices: SmallVec<[u64; 4]> = SmallVec::from_slice(env.indices);
            for i in 0..expected / stride {
                indices.push(i);
                let env = Env { indices: &indices, ..env };
                self.element(&env, index, i * stride, element_ty, element, out_index)?;
                indices.pop();
            }
        }
        Ok(addr)
    }

    fn retain(&mut self, env: Env<'_>, leaf: &Leaf, key: u64, len: u64, bytes: Option<&[u8]>) -> Result<u64, Refusal> {
        if key == 0 {
            return Err(malformed("a kept buffer without its key"));
        }
        let coupled = match &leaf.lifetime {
            Lifetime::Coupled(owner) => Some(eval(self.plan, owner, &env, &mut self.frame).map_err(malformed)?.as_u64()),
            _ => None,
        };
        let mut retained = lock(&self.frame.tenant.retained);
        if let Some(held) = retained.get(&key) {
            if held.bytes.len() as u64 != len {
                // the vendor may still hold the old bytes (an asynchronous
                // call's destination): they are never freed under it
                return Err(malformed(format!(
                    "a kept buffer of {len} bytes at a key that holds one of {} bytes not yet freed",
                    held.bytes.len()
                )));
            }
        }
        let entry = retained.entry(key).or_insert_with(|| {
            self.frame.created.push(key);
            Retained { bytes: vec![0u8; len as usize].into_boxed_slice(), coupled }
        });
        if let Some(bytes) = bytes {
            entry.bytes.copy_from_slice(bytes);
        }
        entry.coupled = coupled;
        let addr = entry.bytes.as_ptr() as u64;
        self.frame.kept.push((addr, key));
        Ok(addr)
    }

    /// Translates one element of shadow `index` at offset `at`.
    fn element(&mut self, env: &Env<'_>, index: usize, at: u64, ty: &'p Ty, value: &'p Value, out: Option<usize>) -> Result<(), Refusal> {
        let plan = self.plan;
        let addr = self.frame.shadows[index].as_ptr() as u64 + at;
        let this = load(plan, addr, ty, &self.frame).map_err(malformed)?;
        let env = Env { this: Some((this, Some(addr))), ..*env };
        let leaf = select(plan, value, &env, &mut self.frame).map_err(malformed)?;
        let word = |at: u64, w: u64, frame: &mut Frame<'_>| {
            if let Some(slot) = frame.shadows[index].get_mut(at as usize..at as usize + 8) {
                slot.copy_from_slice(&w.to_le_bytes());
            }
        };
        match &leaf.kind {
            Kind::Buffer { element, .. } if matches!(ty, Ty::Array(..)) => {
                // an array inside a struct: its elements are right here
                if let Ty::Array(element_ty, len) = ty {
                    if needs_walk(element) {
                        let stride = plan.size_of(element_ty).max(1);
                        let mut indices: SmallVec<[u64; 4]> = SmallVec::from_slice(env.indices);
                        for i in 0..*len {
                            indices.push(i);
                            let env = Env { indices: &indices, ..env };
                            self.element(&env, index, at + i * stride, element_ty, element, out)?;
                            indices.pop();
                        }
                    }
                }
            }
            Kind::Handle { kind } => {
                let object = self.handle(this.as_u64(), *kind)?;
                word(at, object, &mut self.frame);
            }
            Kind::Buffer { size, element } => {
                let token = this.as_u64();
                let pointer = if token == 0 {
                    0
                } else {
                    let offset = token - 1;
                    let descriptor = self.frame.message.nested_buffer(offset).map_err(malformed)?;
                    let key = self.frame.message.nested_key(offset).map_err(malformed)?;
                    // sibling fields that size this buffer must see a pointer, not the token
                    word(at, provisional(descriptor).as_u64(), &mut self.frame);
                    self.buffer(&env, leaf, descriptor, key, size, pointee(&leaf.ty), element)?
                };
                word(at, pointer, &mut self.frame);
                if let Some(out) = out {
                    self.outs[out].pointers.push(at);
                }
            }
            Kind::Struct { fields } => {
                let Ty::Record(r) = leaf.ty else { return Err(malformed("struct description of a non-struct")) };
                let record = plan.records.get(r as usize).ok_or_else(|| malformed("unknown record"))?;
                for (field, value) in record.fields.iter().zip(fields) {
                    let env = Env { sibling: Some((addr, r)), ..env };
                    self.element(&env, index, at + field.offset, &field.ty, value, out)?;
                }
            }
            Kind::Callback { .. } if this.as_u64() != 0 => return Err(malformed("callbacks inside buffers are not forwarded yet")),
            _ => {}
        }
        Ok(())
    }
}

/// What a call comes with besides its message.
struct Arrival<'a> {
    /// The message's bytes, for the record log.
    raw: &'a [u8],
    region: Option<&'a dyn SharedRegion>,
    /// Replaying: the ids the recorded call issued.
    rebind: Option<VecDeque<u64>>,
}

fn handle_call<'a>(
    shared: &'a Shared,
    channel: &mut ChannelState,
    message: &Message<'a>,
    max: u64,
    arrival: Arrival<'a>,
) -> Result<Option<Vec<u8>>, Refusal> {
    let mut once = SmallVec::new();
    let result = run_call(shared, channel, message, max, arrival, &mut once);
    if !once.is_empty() {
        // the call failed or was refused: the library will never call them
        release_unfired(&shared.registrations, &once, &|m| shared.log(m));
    }
    result
}

/// The `once` callback registrations a call made; it empties the list when
/// the vendor call succeeds.
type OnceRegistrations = SmallVec<[u64; 1]>;

fn run_call<'a>(
    shared: &'a Shared,
    channel: &mut ChannelState,
    message: &Message<'a>,
    max: u64,
    arrival: Arrival<'a>,
    once: &mut OnceRegistrations,
) -> Result<Option<Vec<u8>>, Refusal> {
    let Arrival { raw, region, rebind } = arrival;
    let plan = &shared.plan;
    let tenant: &Tenant = &channel.tenant;
    let header = *message.header();
    let id = header.function;
    let f: &Function =
        plan.functions.get(id as usize).ok_or_else(|| (ErrorCode::UnknownFunction, format!("no function {id} in this spec")))?;
    let address = shared.address(id as usize).ok_or_else(|| (ErrorCode::UnknownFunction, format!("{} is not served", f.name)))?;
    let is_async = matches!(f.mode, CallMode::Async { .. });
    if header.flags.contains(crate::wire::Flags::ASYNC) != is_async {
        return Err(malformed("the call's async flag disagrees with the spec"));
    }
    let shapes = &shared.slots[id as usize];
    let n = f.params.len();
    let mut decoder = Decoder {
        plan,
        frame: Frame {
            shared,
            tenant,
            message: *message,
            region,
            shadows: SmallVec::new(),
            vendor_reads: false,
            issued: Vec::new(),
            rebind,
            used_region: false,
            kept: SmallVec::new(),
            created: SmallVec::new(),
            process_region: None,
        },
        outs: Vec::new(),
        release: Vec::new(),
        claim: None,
        max,
        spare: std::mem::take(&mut channel.spare),
    };

    // 1. what every slot holds, as expressions see it
    let mut scalars = message.scalars();
    let mut values: PerSlot<V> = SmallVec::with_capacity(shapes.len());
    let mut descriptors: PerSlot<(usize, BufferRef<'_>)> = SmallVec::new();
    let mut keys: PerSlot<(usize, u64)> = SmallVec::new();
    for (i, shape) in shapes.iter().enumerate() {
        let ty = if i < n { &f.params[i].ty } else { &f.contextual[i - n].ty };
        let position = shared.offsets[id as usize][i];
        let v = match shape {
            SlotShape::Void => V::Int(0),
            SlotShape::Buffer => {
                let d = scalars.buffer().map_err(malformed)?;
                keys.push((i, message.buffer_key_at(position).map_err(malformed)?));
                descriptors.push((i, d));
                provisional(d)
            }
            SlotShape::Int { size, .. } | SlotShape::Float { size } => {
                let raw = match size {
                    1 => u64::from(scalars.u8().map_err(malformed)?),
                    2 => u64::from(scalars.u16().map_err(malformed)?),
                    4 => u64::from(scalars.u32().map_err(malformed)?),
                    _ => scalars.u64().map_err(malformed)?,
                };
                V::from_raw(raw, ty)
            }
            SlotShape::Word | SlotShape::Handle => V::Ptr(scalars.u64().map_err(malformed)?),
        };
        values.push(v);
    }
    scalars.finish().map_err(malformed)?;
    // arguments are `values[..n]`, contextual arguments the rest

    // 2. translate and check, in order
    let mut raws: PerSlot<u64> = filled(0, n);
    let mut leaves: PerSlot<Option<&Leaf>> = filled(None, shapes.len());
    // the registration each userdata argument stands for
    let mut userdata: PerSlot<Option<u64>> = filled(None, n);
    // handles passed in that the call is recorded with (`obj_record`)
    let mut record_objects = Vec::new();
    for i in 0..shapes.len() {
        let (ty, value) = if i < n { (&f.params[i].ty, &f.params[i].value) } else { (&f.contextual[i - n].ty, &f.contextual[i - n].value) };
        let v = values[i];
        decoder.claim = if i < n {
            None
        } else {
            registry_claim(plan, &f.contextual[i - n].init, &Env::new(&values[..n], &values[n..]), &mut decoder.frame)
        };
        let env = || Env { this: Some((v, None)), ..Env::new(&values[..n], &values[n..]) };
        let leaf = match value {
            Value::Leaf(leaf) => leaf,
            Value::If { .. } => select(plan, value, &env(), &mut decoder.frame).map_err(malformed)?,
        };
        leaves[i] = Some(leaf);
        if leaf.obj_record && matches!(leaf.kind, Kind::Handle { .. }) && v.as_u64() != 0 {
            record_objects.push(v.as_u64());
        }
        let raw = match (&leaf.kind, shapes[i]) {
            (Kind::Handle { kind }, _) => decoder.handle(v.as_u64(), *kind)?,
            (Kind::Callback { callback }, _) if v.as_u64() != 0 => {
                let Some(callback) = *callback else {
                    return Err(malformed("a callback whose type has no `callback` declaration in the spec cannot be forwarded"));
                };
                let trampoline = (shared.library.trampoline)(callback);
                let mut registrations = lock(&shared.registrations);
                if trampoline == 0 || !registrations.has_route(tenant.process) {
                    return Err(malformed("a callback from a guest process without a callback route"));
                }
                let id = if leaf.lifetime == Lifetime::Once {
                    let id = registrations.register_once(tenant.process, v.as_u64(), callback);
                    once.push(id);
                    id
                } else {
                    registrations.register(tenant.process, v.as_u64(), callback)
                };
                if let Some(u) = userdata_of(plan, header.function, i) {
                    userdata[u] = Some(id);
                }
                trampoline as u64
            }
            (Kind::Userdata { .. }, _) => 0,
            (Kind::Buffer { size, element }, SlotShape::Buffer) => {
                let d = descriptors.iter().find(|(j, _)| *j == i).map(|(_, d)| *d).unwrap_or(BufferRef::Null);
                let key = keys.iter().find(|(j, _)| *j == i).map_or(0, |(_, k)| *k);
                let addr = decoder.buffer(&env(), leaf, d, key, size, pointee(&leaf.ty), element)?;
                values[i] = V::Ptr(addr);
                addr
            }
            (Kind::Opaque, SlotShape::Buffer) if !matches!(leaf.ty, Ty::Record(_)) => {
                // a word in a buffer slot: the key of a null descriptor
                keys.iter().find(|(j, _)| *j == i).map_or(0, |(_, k)| *k)
            }
            (_, SlotShape::Buffer) => {
                // a struct passed by value: its bytes, as they came
                let d = descriptors.iter().find(|(j, _)| *j == i).map(|(_, d)| *d).unwrap_or(BufferRef::Null);
                match d {
                    BufferRef::Inline(bytes) if bytes.len() as u64 == plan.size_of(ty) => bytes.as_ptr() as u64,
                    _ => return Err(malformed("a struct argument of the wrong size")),
                }
            }
            _ => v.to_raw(ty),
        };
        if f.replaced_in_guest && matches!(leaf.kind, Kind::Opaque) && matches!(leaf.ty, Ty::Ptr(_)) && raw != 0 {
            // a function the guest replaces need not describe its values, so
            // an undescribed pointer would reach the vendor as a raw address
            return Err(malformed(format!(
                "`{}` is replaced in the guest and its argument `{}` is an undescribed pointer: the server does not pass it on",
                f.name,
                if i < n { f.params[i].name.as_str() } else { f.contextual[i - n].name.as_str() }
            )));
        }
        if i < n {
            raws[i] = raw;
        }
    }

    for (raw, id) in raws.iter_mut().zip(&userdata) {
        if let Some(id) = id {
            *raw = *id;
        }
    }

    // 3. the call
    let ret_raw = native::call(shared.library.dispatch, id, address, &raws);

    // 4. results
    let (params, contextual) = values.split_at(n);
    let env = Env::new(params, contextual);
    let ret_leaf = select(plan, &f.return_value, &env, &mut decoder.frame).map_err(malformed)?;
    let mut ret = V::from_raw(ret_raw, &f.ret);
    if let Kind::Handle { kind } = ret_leaf.kind {
        ret = V::Ptr(decoder.frame.issue(ret_raw, kind)?);
    }
    // a buffer the vendor returned (a string it owns): copied into the reply
    let mut ret_bytes = None;
    if let Ty::Record(r) = f.ret {
        // a struct returned by value, boxed by the dispatcher
        let (size, align) = plan.records.get(r as usize).map_or((0, 1), |r| (r.size, r.align));
        ret_bytes = Some(native::take_boxed(ret_raw, size, align));
    } else if let Kind::Buffer { size, .. } = &ret_leaf.kind {
        if ret_raw != 0 {
            let env = Env { this: Some((V::Ptr(ret_raw), None)), ..env };
            decoder.frame.vendor_reads = true;
            let count = eval(plan, size, &env, &mut decoder.frame);
            decoder.frame.vendor_reads = false;
            let len = byte_len(count.map_err(malformed)?.as_int(), stride(plan, &ret_leaf.ty), max)
                .ok_or_else(|| malformed("a returned buffer over the limit"))?;
            let mut bytes = vec![0u8; len as usize];
            native::read_vendor(ret_raw, &mut bytes);
            ret_bytes = Some(bytes);
        }
    }
    let returns_status = f.ret == plan.api.error_type;
    let success = !returns_status || ret.as_int() == plan.api.success;
    if success {
        once.clear();
        for (i, leaf) in leaves.iter().enumerate().take(n) {
            if let Some(Leaf { kind: Kind::Handle { kind }, deallocate: true, .. }) = leaf {
                let id = params[i].as_u64();
                if id != 0 {
                    let _ = lock(&tenant.handles).remove(id, *kind);
                    let mut freed = Vec::new();
                    lock(&tenant.retained).retain(|key, r| {
                        let coupled = r.coupled == Some(id);
                        if coupled {
                            freed.push(*key);
                        }
                        !coupled
                    });
                    let mut registries = lock(&tenant.kept_registries);
                    for key in freed {
                        registries.forget(key);
                    }
                    lock(&tenant.metadata).remove(id);
                    shared.record(tenant, Entry::Forget(id));
                }
            }
        }
    }
    let mut outs = Vec::with_capacity(decoder.outs.len());
    let mut pointed: Vec<(u32, u64, Vec<u8>)> = Vec::new();
    for out in &decoder.outs {
        let mut bytes = match out.place {
            Place::Shared | Place::Missing => {
                outs.push(OutBytes::Nothing);
                continue;
            }
            Place::Shadow(index) if out.walk.is_none() => {
                // sent from the shadow itself, nested pointers blanked in place
                if let Some(shadow) = decoder.frame.shadows.get_mut(index) {
                    blank(shadow, &out.pointers);
                }
                outs.push(OutBytes::Shadow(index));
                continue;
            }
            Place::Shadow(index) => decoder.frame.shadows.get(index).map(|s| s.to_vec()).unwrap_or_default(),
            Place::Retained(key) if decoder.release.contains(&key) => {
                // freed by this call: its bytes move into the reply
                let mut bytes = lock(&tenant.retained).remove(&key).map(|r| r.bytes.into_vec()).unwrap_or_default();
                bytes.truncate(out.len as usize);
                bytes
            }
            Place::Retained(key) => {
                lock(&tenant.retained).get(&key).map(|r| r.bytes[..(out.len as usize).min(r.bytes.len())].to_vec()).unwrap_or_default()
            }
        };
        if let Some((ty, stride, element)) = out.walk {
            let mut walk = OutWalk { pointers: &out.pointers, max, pointed: Vec::new() };
            translate_out(shared, &env, &mut decoder.frame, &mut bytes, ty, stride, element, &mut walk)?;
            let index = outs.len() as u32;
            pointed.extend(walk.pointed.into_iter().map(|(at, data)| (index, at, data)));
        }
        blank(&mut bytes, &out.pointers);
        outs.push(OutBytes::Owned(bytes));
    }
    let created = if success { &[][..] } else { &decoder.frame.created[..] };
    if !decoder.release.is_empty() || !created.is_empty() {
        let mut retained = lock(&tenant.retained);
        let mut registries = lock(&tenant.kept_registries);
        for key in decoder.release.iter().chain(created) {
            retained.remove(key);
            registries.forget(*key);
        }
    }
    // statements record what a call did: a failed call did nothing (the
    // guest skips them too; an asynchronous call's it ran when queued)
    if success {
        for action in &f.actions {
            eval(plan, action, &env, &mut decoder.frame).map_err(malformed)?;
        }
    }
    if success && shared.recorded[id as usize] && shared.recorder.is_some() {
        if decoder.frame.used_region {
            shared.log(format_args!("a call of {} used the zero-copy region and is not recorded for replay", f.name));
        } else {
            let issued = std::mem::take(&mut decoder.frame.issued);
            record_objects.extend(issued.iter().copied().filter(|id| *id != 0));
            shared.record(tenant, Entry::Record { objects: record_objects, issued, message: raw.to_vec() });
        }
    }
    let shadows = std::mem::take(&mut decoder.frame.shadows);
    let message = if let CallMode::Async { .. } = f.mode {
        if !success {
            channel.deferred.get_or_insert(ret.as_int());
        }
        None
    } else {
        if returns_status && success {
            if let Some(code) = channel.deferred.take() {
                ret = V::Int(code);
            }
        }
        let outs: Vec<Option<&[u8]>> = outs
            .iter()
            .map(|o| match o {
                OutBytes::Nothing => None,
                OutBytes::Shadow(index) => shadows.get(*index).map(Vec::as_slice),
                OutBytes::Owned(bytes) => Some(bytes.as_slice()),
            })
            .collect();
        let buf = std::mem::take(&mut channel.reply_buf);
        let answer = Answer { ret, ret_bytes: ret_bytes.as_deref(), outs: &outs, pointed: &pointed };
        Some(reply(shared, id, &header, answer, buf).map_err(malformed)?)
    };
    // keep the largest shadows for the channel's next calls
    let mut spare = decoder.spare;
    if !shadows.is_empty() {
        spare.extend(shadows);
        spare.sort_unstable_by_key(|b| std::cmp::Reverse(b.capacity()));
        spare.truncate(SPARE_SHADOWS);
    }
    channel.spare = spare;
    Ok(message)
}

/// A call's per-slot temporaries: on the stack for functions of up to 16
/// parameters, so that a call allocates nothing it does not keep (seven
/// small heap allocations a call were a third of the server's own cost).
type PerSlot<T> = SmallVec<[T; 16]>;

/// `n` copies of `x`, on the stack up to 16 (`resize` pushes one by one).
fn filled<T: Copy>(x: T, n: usize) -> PerSlot<T> {
    if n <= 16 {
        SmallVec::from_buf_and_len([x; 16], n)
    } else {
        smallvec::smallvec![x; n]
    }
}

/// The registry entry a contextual argument takes its buffers from, when
/// it is `get_bufs(registry, key)` (the key as the server sees it); a key
/// the server cannot evaluate claims nothing.
fn registry_claim(plan: &Plan, init: &crate::plan::Expr, env: &Env<'_>, frame: &mut Frame<'_>) -> Option<(u32, u64)> {
    let ExprKind::Library(LibraryFn::GetBufs, args) = &init.kind else { return None };
    let (Some(ExprKind::Registry(registry)), Some(key)) = (args.first().map(|a| &a.kind), args.get(1)) else { return None };
    let key = eval(plan, key, env, frame).map_or(u64::MAX, V::as_u64);
    Some((*registry, key))
}

/// How many shadows a channel keeps for reuse.
const SPARE_SHADOWS: usize = 4;

/// Where an out buffer's bytes are when the reply is written.
enum OutBytes {
    Nothing,
    Shadow(usize),
    Owned(Vec<u8>),
}

/// Zeroes the nested pointers of an out buffer: the guest restores its own.
fn blank(bytes: &mut [u8], pointers: &[u64]) {
    for at in pointers {
        if let Some(slot) = bytes.get_mut(*at as usize..*at as usize + 8) {
            slot.fill(0);
        }
    }
}

/// Offset in the scalar area of each value's slot (0 for `void`), computed
/// once per function so a call does not recompute the layout.
fn slot_offsets(shapes: &[SlotShape]) -> Vec<u32> {
    let slots: Vec<Slot> = shapes.iter().filter_map(|s| s.slot()).collect();
    let mut offsets = Layout::of(&slots).0.into_iter();
    shapes.iter().map(|s| if s.slot().is_some() { offsets.next().unwrap_or(0) } else { 0 }).collect()
}

/// Turns the object pointers in an out buffer's elements into handle ids.
/// What the walk of one out buffer's elements needs and finds.
struct OutWalk<'o> {
    /// Offsets of the guest's own nested pointers (sent in, restored by it).
    pointers: &'o [u64],
    /// The most bytes one buffer may take.
    max: u64,
    /// Data the library's pointers in the buffer point to, by the pointer's
    /// offset: a `const char **` answered with one of the library's constant
    /// strings travels as a copy, never as the server's address.
    pointed: Vec<(u64, Vec<u8>)>,
}

#[allow(clippy::too_many_arguments)]
fn translate_out(
    shared: &Shared,
    env: &Env<'_>,
    frame: &mut Frame<'_>,
    bytes: &mut [u8],
    ty: &Ty,
    stride: u64,
    element: &Value,
    walk: &mut OutWalk<'_>,
) -> Result<(), Refusal> {
    let count = bytes.len() as u64 / stride.max(1);
    for i in 0..count {
        translate_value(shared, env, frame, bytes, (i * stride) as usize, ty, element, walk)?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn translate_value(
    shared: &Shared,
    env: &Env<'_>,
    frame: &mut Frame<'_>,
    bytes: &mut [u8],
    at: usize,
    ty: &Ty,
    value: &Value,
    walk: &mut OutWalk<'_>,
) -> Result<(), Refusal> {
    let plan = &shared.plan;
    let word = |bytes: &[u8]| bytes.get(at..at + 8).map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8]))).unwrap_or(0);
    let this = match ty {
        Ty::Ptr(_) => V::Ptr(word(bytes)),
        _ => V::Int(0),
    };
    let env = Env { this: Some((this, None)), ..*env };
    let leaf = select(plan, value, &env, frame).map_err(malformed)?;
    match &leaf.kind {
        Kind::Handle { kind } => {
            let object = word(bytes);
            let id = frame.issue(object, *kind)?;
            if let Some(slot) = bytes.get_mut(at..at + 8) {
                slot.copy_from_slice(&id.to_le_bytes());
            }
        }
        Kind::Struct { fields } => {
            if let Ty::Record(r) = leaf.ty {
                if let Some(record) = plan.records.get(r as usize) {
                    for (field, value) in record.fields.iter().zip(fields) {
                        translate_value(shared, &env, frame, bytes, at + field.offset as usize, &field.ty, value, walk)?;
                    }
                }
            }
        }
        Kind::Buffer { size, .. } if matches!(ty, Ty::Ptr(_)) && !walk.pointers.contains(&(at as u64)) => {
            // a pointer the library wrote, into its own memory
            let pointer = word(bytes);
            if pointer != 0 {
                let env = Env { this: Some((V::Ptr(pointer), None)), ..env };
                frame.vendor_reads = true;
                let count = eval(plan, size, &env, frame);
                frame.vendor_reads = false;
                let len = byte_len(count.map_err(malformed)?.as_int(), stride(plan, &leaf.ty), walk.max)
                    .ok_or_else(|| malformed("a buffer the library points to over the limit"))?;
                let mut data = vec![0u8; len as usize];
                native::read_vendor(pointer, &mut data);
                walk.pointed.push((at as u64, data));
            }
            if let Some(slot) = bytes.get_mut(at..at + 8) {
                slot.fill(0);
            }
        }
        _ => {}
    }
    Ok(())
}

/// What a reply carries back (see the wire chapter).
struct Answer<'a> {
    ret: V,
    ret_bytes: Option<&'a [u8]>,
    outs: &'a [Option<&'a [u8]>],
    /// Copies of what the library's pointers in out buffers point to: the
    /// out buffer's index, the pointer's offset, the bytes.
    pointed: &'a [(u32, u64, Vec<u8>)],
}

fn reply(shared: &Shared, id: u32, to: &Header, answer: Answer<'_>, buf: Vec<u8>) -> Result<Vec<u8>, crate::wire::WriteError> {
    let Answer { ret, ret_bytes, outs, pointed } = answer;
    let shape = shared.ret[id as usize];
    let mut slots: Vec<Slot> = shape.slot().into_iter().collect();
    slots.push(Slot::U32);
    slots.extend(std::iter::repeat_n(Slot::Buffer, outs.len()));
    slots.push(Slot::U32);
    for _ in pointed {
        slots.extend([Slot::U32, Slot::U64, Slot::Buffer]);
    }
    let (_, scalar_len) = Layout::of(&slots);
    let header = Header { function: id, call_id: to.call_id, thread: to.thread, ..Header::new(MsgKind::Reply) };
    let mut w = Writer::reuse(buf, header, scalar_len);
    let raw = shared.plan.functions.get(id as usize).map_or(0, |f| ret.to_raw(&f.ret));
    match shape {
        SlotShape::Void => {}
        SlotShape::Buffer => match ret_bytes {
            Some(bytes) => _ = w.buffer(bytes),
            None => _ = w.null(),
        },
        SlotShape::Int { size: 1, .. } => _ = w.u8(raw as u8),
        SlotShape::Int { size: 2, .. } => _ = w.u16(raw as u16),
        SlotShape::Int { size: 4, .. } | SlotShape::Float { size: 4 } => _ = w.u32(raw as u32),
        _ => _ = w.u64(raw),
    }
    w.u32(outs.len() as u32);
    for out in outs {
        match out {
            Some(bytes) => _ = w.buffer(bytes),
            None => _ = w.null(),
        }
    }
    w.u32(pointed.len() as u32);
    for (out, at, data) in pointed {
        w.u32(*out).u64(*at).buffer(data);
    }
    w.finish()
}
